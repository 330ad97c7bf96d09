"""Fuzz the radio framings: NMEA, Hytera HRNP/HDAP, MOTOTRBO records with LRRP/ARS/TMS, the binary framer.

Each codec is a stream parser fed in chunks: it must never raise, never spin, hold a bounded buffer,
give a bounded number of events, and take a valid frame again after any garbage (resync). The inner
message parsers (HDAP, LRRP, ARS, TMS) are also fed directly, where only their documented error
(``RadioError``) may come out; their mutated messages are also sealed into valid outer frames so the
fuzz reaches them through the codec, past the outer checksum.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from fuzz.draw import Draw
from fuzz.harness import Target, bounded, target
from fuzz.mutate import chunked, cuts, mutated, stream
from radio.test_binary import FRAMING, ONE_OF_EACH
from radio.test_hytera import (
    HRNP_CAPTURES,
    LP_ANSWER,
    RCP_REPEATER_STATUS,
    RRS_ANSWER,
    TMP_ACK,
    TMP_ACK_OPTION,
    TMP_PRIVATE,
)
from radio.test_mototrbo import (
    ARS_ANSWER_30_MIN,
    ARS_ANSWER_CSBK,
    ARS_DEREGISTRATION,
    ARS_REGISTRATION_11,
    ARS_USER_REGISTRATION,
    LRRP_RADIOREFERENCE,
    LRRP_SAMPLE_TOKEN_6B,
    LRRP_SPEC_ERROR,
    LRRP_SPEC_REPORT,
    LRRP_SPEC_STOP_ANSWER,
    LRRP_SPEC_TRIGGERED_REPORT,
    LRRP_SPEC_TRIGGERED_REQUEST,
    LRRP_TRBONET_REQUEST,
    RADIO,
    TMS_ACK_53,
    TMS_ACK_NO_SEQ,
    TMS_AVAILABILITY,
    TMS_TEXT_AHOJ,
)
from radio.test_nmea import CORPUS

from edge.radio import mototrbo_ars, mototrbo_lrrp, mototrbo_tms
from edge.radio.binary import BinaryCodec, BinaryGateway
from edge.radio.framing import Codec, RadioError
from edge.radio.hdap import HdapMessage
from edge.radio.hytera import MAX_FRAME, HrnpFrame, HrnpOpcode
from edge.radio.hytera_codec import HyteraCodec
from edge.radio.mototrbo import MotoTrboCodec
from edge.radio.mototrbo_records import MAX_PAYLOAD, Datagram, Service
from edge.radio.nmea import MAX_SENTENCE, NmeaCodec

T0 = 1_700_000_000.0

# -- corpora ---------------------------------------------------------------------------------------


def _nmea_corpus() -> list[bytes]:
    lines: list[bytes] = []
    for log in sorted(CORPUS.glob("*.log")):
        for raw in Path(log).read_bytes().splitlines():
            if raw[:1] in (b"$", b"!") and len(lines) < 400:
                lines.append(raw + b"\r\n")
    return lines


NMEA = _nmea_corpus()
HDAP = [bytes.fromhex(x) for x in (LP_ANSWER, TMP_PRIVATE, TMP_ACK, TMP_ACK_OPTION, RRS_ANSWER, RCP_REPEATER_STATUS)]
HRNP = [bytes.fromhex(x) for x in HRNP_CAPTURES] + [
    bytes(HrnpFrame(HrnpOpcode.DATA, m, src=0x10, dst=0x20, packet_number=1)) for m in HDAP
]
LRRP = [bytes.fromhex(x) for x in (LRRP_SPEC_REPORT, LRRP_SPEC_ERROR, LRRP_SPEC_TRIGGERED_REQUEST,
                                   LRRP_SPEC_TRIGGERED_REPORT, LRRP_SPEC_STOP_ANSWER, LRRP_SAMPLE_TOKEN_6B,
                                   LRRP_RADIOREFERENCE, LRRP_TRBONET_REQUEST)]
ARS = [bytes.fromhex(x) for x in (ARS_REGISTRATION_11, ARS_DEREGISTRATION, ARS_USER_REGISTRATION, ARS_ANSWER_30_MIN,
                                  ARS_ANSWER_CSBK)]
TMS = [bytes.fromhex(x) for x in (TMS_TEXT_AHOJ, TMS_ACK_53, TMS_AVAILABILITY, TMS_ACK_NO_SEQ)]
TRBO_PAYLOADS = {Service.LRRP: LRRP, Service.ARS: ARS, Service.TMS: TMS}
TRBO = [bytes(Datagram(s, RADIO, p)) for s, ps in TRBO_PAYLOADS.items() for p in ps]
BINARY = [BinaryGateway(FRAMING).encode(e) for e in ONE_OF_EACH]


def _hdap_resealed(payload: bytes) -> bytes:
    """A mutated HDAP message inside a valid HRNP data frame, so it reaches the HDAP decoders."""
    return bytes(HrnpFrame(HrnpOpcode.DATA, payload, src=0x10, dst=0x20, packet_number=7))


def _hdap_sealed_inside(d: Draw) -> bytes:
    """A valid HDAP envelope around a mutated HDAP payload, inside a valid HRNP frame: past both checksums."""
    msg = HdapMessage.parse(d.choice(HDAP))
    payload = mutated(d, [msg.payload])
    opcode = msg.opcode if d.bool() else d.int(0, 0xFFFF)
    return _hdap_resealed(bytes(HdapMessage(msg.service, opcode, payload[:0xFFFF], msg.reliable)))


def _trbo_sealed(d: Draw) -> bytes:
    service = d.choice(list(TRBO_PAYLOADS))
    payload = mutated(d, TRBO_PAYLOADS[service])[:MAX_PAYLOAD]
    return bytes(Datagram(service, RADIO, payload))


def _binary_resealed(frame: bytes) -> bytes:
    """The example framing's length and CRC put right around a mutated body."""
    from radio.test_binary import reseal  # noqa: PLC0415 -- one helper, kept beside the example it fits

    return reseal(frame[:-2]) if len(frame) >= 6 else frame


# -- the property every radio codec keeps ----------------------------------------------------------------


def first_counted(make: Callable[[], Codec], corpus: Sequence[bytes]) -> bytes:
    """The first frame of ``corpus`` that a fresh codec counts as a good frame: the resync probe."""
    for frame in corpus:
        codec = make()
        codec.feed(frame, T0)
        if codec.frames:
            return frame
    raise AssertionError("no frame of the corpus is taken")


def fuzz_codec(codec: Codec, data: bytes, cut_at: Sequence[int], valid: bytes, max_held: int) -> None:
    """Feed ``data`` in chunks, then a valid frame enough times to get past any half-frame garbage left."""
    events = []
    now = T0
    for chunk in chunked(data, cut_at):
        events += codec.feed(chunk, now)
        now += 0.01
        held = getattr(codec, "pending", None)
        held = codec.buffered if held is None else held  # type: ignore[attr-defined]  # the binary framer's name
        assert held <= max_held, f"{held} bytes held"
    assert len(events) <= len(data), f"{len(events)} events from {len(data)} bytes"
    before = codec.frames
    for _ in range(max_held // len(valid) + 2):  # enough to push out any half-frame the garbage left
        codec.feed(valid, now)
        if codec.frames > before:
            break
    assert codec.frames > before, "a valid frame after the garbage was not taken (no resync)"
    assert len(codec.outbox) <= 1024  # what the codec owes back stays bounded too


def codec_target(name: str, make: Callable[[], Codec], inputs: Callable[[Draw], bytes], valid: bytes,
                 max_held: int) -> Target:
    """A stream codec fed what ``inputs`` draws, in chunks, then checked for resync."""
    valid = first_counted(make, [valid])

    def run(d: Draw) -> None:
        fuzz_codec(make(), inputs(d), cuts(d), valid, max_held)

    return target(name, max_len=8192)(run)


def _hytera_inputs(d: Draw) -> bytes:
    kind = d.int(0, 2)
    if kind == 0:
        return stream(d, HRNP)
    if kind == 1:
        return b"".join(_hdap_sealed_inside(d) for _ in range(d.int(0, 4)))
    return _hdap_resealed(mutated(d, HDAP))


def _trbo_inputs(d: Draw) -> bytes:
    return stream(d, TRBO) if d.bool() else b"".join(_trbo_sealed(d) for _ in range(d.int(0, 4)))


def _binary_inputs(d: Draw) -> bytes:
    if d.bool():
        return stream(d, BINARY)
    return b"".join(_binary_resealed(mutated(d, BINARY)) for _ in range(d.int(0, 6)))


NMEA_CODEC = codec_target("radio.nmea", NmeaCodec, lambda d: stream(d, NMEA), first_counted(NmeaCodec, NMEA),
                          MAX_SENTENCE + 3)
HYTERA_CODEC = codec_target("radio.hytera", HyteraCodec, _hytera_inputs, HRNP[-1], MAX_FRAME)
TRBO_CODEC = codec_target("radio.mototrbo", MotoTrboCodec, _trbo_inputs, TRBO[0], MAX_PAYLOAD + 12)
BINARY_CODEC = codec_target("radio.binary", lambda: BinaryCodec(FRAMING), _binary_inputs, BINARY[0],
                            FRAMING.max_frame_bytes)


def test_nmea() -> None:
    bounded(NMEA_CODEC)


def test_hytera_hrnp_hdap() -> None:
    bounded(HYTERA_CODEC)


def test_mototrbo_records() -> None:
    bounded(TRBO_CODEC)


def test_binary_framer() -> None:
    bounded(BINARY_CODEC)


# -- the inner message parsers, fed directly --------------------------------------------------------------


def message_target(name: str, parse: Callable[[bytes], object], corpus: list[bytes]) -> Target:
    """Random bytes or a mutated message into ``parse``; only ``RadioError`` may come out."""

    def run(d: Draw) -> object:
        return parse(d.bytes(600) if d.bool() else mutated(d, corpus))

    return target(name, allowed=(RadioError,))(run)


def _lrrp(data: bytes) -> object:
    messages, _error = mototrbo_lrrp.parse(data)  # never raises: what it could read, and why it stopped
    for m in messages:
        if m.lat is not None and m.lon is not None:
            m.fix("1001")
    return messages


HDAP_MESSAGE = message_target("radio.hdap", HdapMessage.parse, HDAP)
HRNP_FRAME = message_target("radio.hrnp_frame", HrnpFrame.parse, HRNP)
LRRP_MESSAGE = message_target("radio.lrrp", _lrrp, LRRP)
ARS_MESSAGE = message_target("radio.ars", mototrbo_ars.parse, ARS)
TMS_MESSAGE = message_target("radio.tms", mototrbo_tms.parse, TMS)


def test_hdap_message() -> None:
    bounded(HDAP_MESSAGE)


def test_hrnp_frame() -> None:
    bounded(HRNP_FRAME)


def test_lrrp() -> None:
    bounded(LRRP_MESSAGE)


def test_ars() -> None:
    bounded(ARS_MESSAGE)


def test_tms() -> None:
    bounded(TMS_MESSAGE)
