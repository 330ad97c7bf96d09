"""Fuzz the H.264 bitstream reading that camera, RTSP and WHIP bytes go through before the relay.

Corpus: a few access units and the avcC record of a real libx264 stream (PyAV, made here). Only
``BitstreamError`` may come out; a converted access unit stays within a bounded size of its input.
"""

from __future__ import annotations

import contextlib
import fractions

import av
import numpy as np
from fuzz.draw import Draw
from fuzz.harness import bounded, target
from fuzz.mutate import mutated

from media import h264


def _stream() -> tuple[list[bytes], bytes]:
    """Annex-B access units (a keyframe, P- and B-frames) and the stream's avcC extradata."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = 64, 48, "yuv420p"
    codec.time_base = fractions.Fraction(1, 25)
    codec.options = {"bframes": "2", "g": "4"}
    units: list[bytes] = []
    for n in range(6):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), n * 40, np.uint8), format="rgb24")
        frame.pts = n
        units += [bytes(p) for p in codec.encode(frame.reformat(format="yuv420p"))]
    units += [bytes(p) for p in codec.encode(None)]
    sps_pps = b"".join(h264.START + n for n in h264.nal_units(units[0]) if h264.nal_type(n) in (7, 8))
    sps, pps = [n for n in h264.nal_units(sps_pps)]
    avcc = bytes((1, sps[1], sps[2], sps[3], 0xFF, 0xE1)) + len(sps).to_bytes(2, "big") + sps + b"\x01" + \
        len(pps).to_bytes(2, "big") + pps
    return units, avcc


ANNEXB, AVCC_CONFIG = _stream()
AVCC = [b"".join(len(n).to_bytes(4, "big") + n for n in h264.nal_units(u)) for u in ANNEXB]


def _read(annexb: bytes, avcc: bytes, extradata: bytes, length_size: int) -> None:
    list(h264.nal_units(annexb))
    h264.is_keyframe(annexb)
    h264.has_b_slices(annexb)
    for nal in h264.nal_units(annexb):
        if h264.nal_type(nal) in (h264.NAL_SLICE, h264.NAL_IDR):
            with contextlib.suppress(h264.BitstreamError):
                assert 0 <= h264.slice_type(nal) <= 4
    try:
        _size, sets = h264.parameter_sets_of(extradata)
    except h264.BitstreamError:
        sets = b""
    try:
        out = h264.to_annexb(avcc, length_size, sets)
    except h264.BitstreamError:
        return
    assert len(out) <= len(avcc) + len(sets) + 4 * len(avcc)  # a start code for at most each byte


@target("media.h264")
def h264_bitstream(d: Draw) -> None:
    """Annex-B, AVCC and avcC extradata: random, or mutated from the libx264 stream."""
    annexb = d.bytes(600) if d.bool() else mutated(d, ANNEXB)
    avcc = d.bytes(600) if d.bool() else mutated(d, AVCC)
    extradata = d.bytes(80) if d.bool() else mutated(d, [AVCC_CONFIG])
    _read(annexb, avcc, extradata, d.int(1, 4))


def test_h264_bitstream() -> None:
    bounded(h264_bitstream)
