"""Recording a feed to MP4 by remuxing its access units: no decode, no encode.

The file is fragmented MP4 (``frag_keyframe+empty_moov+default_base_moof``): the header is written
first and each GOP is appended as a self-contained fragment, so a recorder killed mid-way (kill -9,
a power cut) leaves a playable file missing at most the GOP in progress. The recording starts at a
keyframe; its SPS/PPS become the track's ``avcC`` (FFmpeg's MP4 muxer turns the Annex-B samples
into length-prefixed ones). Timestamps are rebased to start at zero and kept strictly increasing.

The muxer runs in a thread fed by a bounded queue: :meth:`Recorder.write` is called on the loop (a
relay listener) and only enqueues. Measured at 720p30 with 1 s GOPs: muxing a unit takes ~6 us (p50),
but the call that completes a fragment writes the whole GOP and took up to 32 ms, and SD cards stall
far longer — too much for the event loop. If the writer falls ``queue_size`` units behind, the recording
skips to the next keyframe (counted in ``dropped``) instead of growing memory.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av

from media import h264
from media.relay import VIDEO_TIME_BASE, AccessUnit, Relay
from media.sources import StreamInfo

log = logging.getLogger(__name__)

MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}


@dataclass(slots=True)
class RecordingStats:
    """What a recording holds so far."""

    frames: int = 0
    bytes: int = 0
    dropped: int = 0  # access units skipped because the writer fell behind
    started: float | None = None  # wall clock of the first frame
    duration_s: float = 0.0


class Recorder:
    """One feed's MP4 recording; see the module doc. ``write`` on the loop, ``aclose`` to finish."""

    def __init__(self, path: Path | str, info: StreamInfo, *, queue_size: int = 300) -> None:
        self.path = Path(path)
        self.info = info
        self.stats = RecordingStats()
        self.error: str | None = None
        self._queue: queue.Queue[AccessUnit | None] = queue.Queue(queue_size)
        self._waiting_for_key = True
        self._detach: list[Callable[[], None]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"recorder {self.path.name}", daemon=True)
        self._thread.start()

    def attach(self, relay: Relay) -> None:
        """Record every access unit ``relay`` publishes from now on (until :meth:`aclose`)."""
        self._detach.append(relay.listen(self.write))

    def write(self, unit: AccessUnit) -> None:
        """Queue one access unit (never blocks); the recording starts at the first keyframe."""
        if self._closed or (self._waiting_for_key and not unit.keyframe):
            return
        try:
            self._queue.put_nowait(unit)
            self._waiting_for_key = False
        except queue.Full:
            self.stats.dropped += 1
            self._waiting_for_key = True

    async def aclose(self) -> None:
        """Stop listening, write what is queued and close the file; safe to call twice."""
        for detach in self._detach:
            detach()
        self._detach.clear()
        if not self._closed:
            self._closed = True
            await asyncio.to_thread(self._queue.put, None)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        try:
            self._mux()
        except (av.error.FFmpegError, OSError, h264.BitstreamError) as exc:
            self.error = f"recording to {self.path.name} failed: {exc}"
            log.warning("%s", self.error)
            while self._queue.get() is not None:  # let writers and aclose() through
                pass

    def _mux(self) -> None:
        first = self._queue.get()
        if first is None:
            return
        data = bytes(first.packet)
        sps_pps = b"".join(
            h264.START + n for n in h264.nal_units(data) if h264.nal_type(n) in (h264.NAL_SPS, h264.NAL_PPS)
        )
        width, height = self._dimensions(first)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(self.path), "w", format="mp4", options=MP4_OPTIONS) as container:
            stream = container.add_stream("h264")
            stream.width, stream.height = width, height
            stream.time_base = VIDEO_TIME_BASE
            stream.codec_context.extradata = sps_pps
            origin, last = first.packet.pts or 0, -1
            unit: AccessUnit | None = first
            while unit is not None:
                packet = av.Packet(bytes(unit.packet))
                pts = max((unit.packet.pts or 0) - origin, last + 1)
                packet.pts = packet.dts = last = pts
                packet.time_base = VIDEO_TIME_BASE
                packet.stream = stream
                packet.is_keyframe = unit.keyframe
                container.mux(packet)
                self._note(unit, pts)
                unit = self._queue.get()

    def _dimensions(self, keyframe: AccessUnit) -> tuple[int, int]:
        """The picture size: from the feed's info, or by decoding the first keyframe once."""
        if self.info.width and self.info.height:
            return self.info.width, self.info.height
        codec = av.CodecContext.create("h264", "r")
        for frame in [*codec.decode(av.Packet(bytes(keyframe.packet))), *codec.decode(None)]:
            return frame.width, frame.height
        raise h264.BitstreamError("the first keyframe does not decode")

    def _note(self, unit: AccessUnit, pts: int) -> None:
        if self.stats.started is None:
            self.stats.started = unit.captured or time.time()
        self.stats.frames += 1
        self.stats.bytes += unit.size
        self.stats.duration_s = pts / 90000
