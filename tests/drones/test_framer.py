"""The header-level MAVLink framer against bytes pymavlink itself produced and parsed."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from drones import FrameError, MavFrame, MavFramer, decode, encode
from drones.signing import sign, timestamp_from_unix, verify

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEY = bytes(range(1, 33))
SIGN_TS = timestamp_from_unix(1_800_000_000.0)


class Sink:
    """What pymavlink's ``MAVLink.send`` writes, one packet per write."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.packets.append(bytes(data))


def sender(sysid: int, compid: int, *, key: bytes | None = None) -> tuple[mavlink.MAVLink, Sink]:
    sink = Sink()
    mav = mavlink.MAVLink(sink, srcSystem=sysid, srcComponent=compid)
    if key is not None:
        mav.signing.secret_key = key
        mav.signing.link_id = 3
        mav.signing.timestamp = SIGN_TS
        mav.signing.sign_outgoing = True
    return mav, sink


def samples() -> dict[str, bytes]:
    """One packet of each kind the issue names, sent by pymavlink's own ``send``."""
    vehicle, v_out = sender(1, 1)
    vehicle.seq = 250  # and let the sequence number wrap
    vehicle.heartbeat_send(2, 3, 217, 4, 4)
    vehicle.global_position_int_send(123_456, 367_000_000, 1_191_600_000, 80_000, 30_000, 500, -200, 10, 9000)
    vehicle.param_value_send(b"WPNAV_SPEED", 1000.0, 9, 1200, 517)
    vehicle.heartbeat_send(2, 3, 217, 4, 4, force_mavlink1=True)
    vehicle.sys_status_send(0x3F, 0x3F, 0x3F, 420, 15_800, 1_250, 76, 0, 0, 0, 0, 0, 0)
    vehicle.statustext_send(4, b"PreArm: GPS not healthy")
    gcs, g_out = sender(255, 190)
    gcs.command_long_send(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0)
    gcs.mission_item_int_send(1, 1, 3, 6, 16, 0, 1, 0, 2, 0, 0, 367_010_000, 1_191_610_000, 30.0, 0)
    gcs.command_long_send(1, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0)  # target_component 0 and confirmation 0: truncated
    gcs.mission_request_list_send(0, 0, 0)  # every field zero: one byte of payload left
    gcs.manual_control_send(1, 0, 0, 500, 0, 0)
    signer, s_out = sender(255, 190, key=KEY)
    signer.command_long_send(1, 1, 176, 0, 1, 4, 0, 0, 0, 0, 0)
    names = [
        "HEARTBEAT",
        "GLOBAL_POSITION_INT",
        "PARAM_VALUE",
        "HEARTBEAT v1",
        "SYS_STATUS",
        "STATUSTEXT",
        "COMMAND_LONG",
        "MISSION_ITEM_INT",
        "COMMAND_LONG truncated",
        "MISSION_REQUEST_LIST truncated",
        "MANUAL_CONTROL",
        "COMMAND_LONG signed",
    ]
    return dict(zip(names, v_out.packets + g_out.packets + s_out.packets, strict=True))


SAMPLES = samples()
UNSIGNED = [raw for name, raw in SAMPLES.items() if "signed" not in name]


def reference(raw: bytes, *, key: bytes | None = None) -> mavlink.MAVLink_message:
    parser = mavlink.MAVLink(None)
    if key is not None:
        parser.signing.secret_key = key
    (msg,) = parser.parse_buffer(raw)
    return msg


@pytest.mark.parametrize("name", list(SAMPLES))
def test_framer_agrees_with_pymavlink(name: str) -> None:
    raw = SAMPLES[name]
    framer = MavFramer(signing_key=KEY)
    (frame,) = framer.feed(raw)
    ref = reference(raw, key=KEY if name.endswith("signed") else None)
    header = ref.get_header()
    assert frame.raw == raw == bytes(frame)
    assert (frame.msgid, frame.sysid, frame.compid, frame.seq, frame.crc) == (
        ref.get_msgId(),
        ref.get_srcSystem(),
        ref.get_srcComponent(),
        ref.get_seq(),
        ref.get_crc(),
    )
    assert (frame.payload_len, frame.incompat_flags, frame.compat_flags) == (
        header.mlen,
        header.incompat_flags,
        header.compat_flags,
    )
    assert frame.version == (1 if name.endswith("v1") else 2)
    assert frame.signed == frame.signature_checked == ref.get_signed() == name.endswith("signed")
    if "target" in ref.get_fieldnames():  # MANUAL_CONTROL's name for its target system
        assert frame.target_system == ref.target
    else:
        assert frame.target_system == getattr(ref, "target_system", None)
    assert frame.target_component == getattr(ref, "target_component", None)
    assert frame.crc_checked
    assert decode(frame) == ref
    assert framer.pending == 0 and framer.stats.frames == 1 and framer.stats.garbage_bytes == 0


def test_targets_lost_to_truncation_read_as_broadcast() -> None:
    command = MavFrame.parse(SAMPLES["COMMAND_LONG truncated"])
    assert command.payload_len < 32 and (command.target_system, command.target_component) == (1, 0)
    request = MavFrame.parse(SAMPLES["MISSION_REQUEST_LIST truncated"])
    assert request.payload_len == 1 and (request.target_system, request.target_component) == (0, 0)
    heartbeat = MavFrame.parse(SAMPLES["HEARTBEAT"])
    assert (heartbeat.target_system, heartbeat.target_component) == (None, None)
    manual = MavFrame.parse(SAMPLES["MANUAL_CONTROL"])
    assert (manual.target_system, manual.target_component) == (1, None)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_codec_encode_gives_pymavlink_bytes(name: str) -> None:
    raw = SAMPLES[name]
    frame = MavFrame.parse(raw)
    msg = decode(frame)
    assert msg is not None
    signed = name.endswith("signed")
    again = encode(
        msg,
        frame.seq,
        frame.sysid,
        frame.compid,
        mavlink1=frame.version == 1,
        signing_key=KEY if signed else None,
        link_id=frame.link_id or 0,
        timestamp=frame.signature_timestamp or 0,
    )
    assert again == raw


def test_signed_frames_pass_untouched_without_a_key_and_are_checked_with_one() -> None:
    raw = SAMPLES["COMMAND_LONG signed"]
    (plain,) = MavFramer().feed(raw)
    assert plain.raw == raw and plain.signed and not plain.signature_checked
    assert (plain.link_id, plain.signature_timestamp) == (3, SIGN_TS)

    wrong = MavFramer(signing_key=bytes(32))
    assert wrong.feed(raw) == []
    assert (wrong.stats.bad_signature, wrong.stats.garbage_bytes) == (1, len(raw))

    strict = MavFramer(signing_key=KEY, accept_unsigned=False)
    assert [f.raw for f in strict.feed(SAMPLES["HEARTBEAT"] + raw + SAMPLES["HEARTBEAT v1"])] == [raw]
    assert strict.stats.unsigned == 2

    with pytest.raises(ValueError, match="32 bytes"):
        MavFramer(signing_key=b"short")


def test_signing_helpers_match_pymavlink() -> None:
    raw = SAMPLES["COMMAND_LONG signed"]
    assert verify(KEY, raw) and not verify(bytes(32), raw)
    assert sign(KEY, raw[:-13], 3, SIGN_TS) == raw
    tampered = raw[:-1] + bytes([raw[-1] ^ 0x01])
    assert not verify(KEY, tampered)


def test_unknown_msgid_is_forwarded_unchecked_or_dropped() -> None:
    payload = b"\x01\x02\x03"
    header = struct.pack("<BBBBBBBHB", 0xFD, len(payload), 0, 0, 9, 7, 1, 0xBEEF & 0xFFFF, 0x0B)
    raw = header + payload + b"\x00\x00"  # msgid 0x0BBEEF is in no dialect; its CRC cannot be checked
    forward = MavFramer()
    (frame,) = forward.feed(raw)
    assert (frame.msgid, frame.crc_checked, frame.target_system) == (0x0BBEEF, False, None)
    assert forward.stats.unknown_msgid == 1
    assert decode(frame) is None

    drop = MavFramer(forward_unknown=False)
    assert drop.feed(raw + SAMPLES["HEARTBEAT"]) == [MavFrame.parse(SAMPLES["HEARTBEAT"])]
    assert drop.stats.unknown_msgid == 1 and drop.stats.garbage_bytes == len(raw)


def test_unknown_incompat_flag_is_dropped() -> None:
    raw = bytearray(SAMPLES["HEARTBEAT"])
    raw[2] = 0x02
    framer = MavFramer()
    assert [f.raw for f in framer.feed(bytes(raw) + SAMPLES["GLOBAL_POSITION_INT"])] == [SAMPLES["GLOBAL_POSITION_INT"]]
    assert framer.stats.bad_flags == 1


def test_parse_wants_exactly_one_frame() -> None:
    assert MavFrame.parse(SAMPLES["HEARTBEAT"]).msgid == 0
    with pytest.raises(FrameError, match="2 frames"):
        MavFrame.parse(SAMPLES["HEARTBEAT"] * 2)
    with pytest.raises(FrameError, match=r"0 frames, 5 bytes left"):
        MavFrame.parse(SAMPLES["HEARTBEAT"][:5])
    with pytest.raises(FrameError, match="'garbage_bytes': 3"):
        MavFrame.parse(b"xyz")


def test_header_counters_and_partial_frames() -> None:
    framer = MavFramer()
    raw = SAMPLES["GLOBAL_POSITION_INT"]
    assert framer.feed(b"noise" + raw[:11]) == []
    assert (framer.pending, framer.stats.garbage_bytes) == (11, 5)
    assert [f.raw for f in framer.feed(raw[11:])] == [raw]
    assert framer.pending == 0


# -- properties ---------------------------------------------------------------------------------


@st.composite
def streams(draw: st.DrawFn) -> list[bytes]:
    return draw(st.lists(st.sampled_from(list(SAMPLES.values())), min_size=1, max_size=12))


@PROPERTY
@given(packets=streams(), cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=20))
def test_any_chunking_gives_the_same_frames(packets: list[bytes], cuts: list[int]) -> None:
    data = b"".join(packets)
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    framer = MavFramer(signing_key=KEY)
    frames = [f for a, b in itertools.pairwise(points) for f in framer.feed(data[a:b])]
    assert [f.raw for f in frames] == packets
    assert frames == MavFramer(signing_key=KEY).feed(data)
    assert framer.pending == 0 and framer.stats.frames == len(packets)
    assert {k: v for k, v in framer.stats.as_dict().items() if v and k != "frames"} == {}


@PROPERTY
@given(data=st.binary(max_size=2000), forward_unknown=st.booleans(), chunk=st.integers(1, 600))
def test_random_bytes_never_raise_and_every_byte_is_accounted_for(
    data: bytes, forward_unknown: bool, chunk: int
) -> None:
    framer = MavFramer(forward_unknown=forward_unknown)
    frames = [f for k in range(0, len(data), chunk) for f in framer.feed(data[k : k + chunk])]
    delivered = sum(len(f.raw) for f in frames)
    assert delivered + framer.stats.garbage_bytes + framer.pending == len(data)
    assert framer.stats.frames == len(frames)
    if not forward_unknown:
        assert all(f.crc_checked for f in frames)


@PROPERTY
@given(
    parts=st.lists(st.tuples(st.binary(max_size=60), st.sampled_from(UNSIGNED)), min_size=1, max_size=8),
    chunk=st.integers(1, 300),
)
def test_frames_in_garbage_are_all_recovered(parts: list[tuple[bytes, bytes]], chunk: int) -> None:
    # The tail stands for the stream going on: a false start marker in the garbage may claim up to
    # 280 bytes before its CRC can fail, and the real frames behind it are found on the rescan.
    data = b"".join(junk + packet for junk, packet in parts) + bytes(300)
    framer = MavFramer(forward_unknown=False)
    got = iter(f.raw for k in range(0, len(data), chunk) for f in framer.feed(data[k : k + chunk]))
    # Every real frame comes out, in order (a false frame from garbage would need a CRC collision).
    assert all(any(raw == packet for raw in got) for _, packet in parts)


@st.composite
def flips(draw: st.DrawFn) -> tuple[bytes, int, int]:
    raw = draw(st.sampled_from(UNSIGNED))
    position = draw(st.integers(0, len(raw) - 1))
    return raw, position, 1 << draw(st.integers(0, 7))


@PROPERTY
@given(flip=flips())
def test_a_bit_flip_is_caught_and_the_next_frame_survives(flip: tuple[bytes, int, int]) -> None:
    raw, position, bit = flip
    damaged = bytearray(raw)
    damaged[position] ^= bit
    follower = SAMPLES["GLOBAL_POSITION_INT"]
    framer = MavFramer(forward_unknown=False)
    frames = framer.feed(bytes(damaged) + follower + bytes(300))
    assert [f.raw for f in frames] == [follower]
    stats = framer.stats
    assert stats.bad_crc + stats.oversize + stats.bad_flags + stats.unknown_msgid + stats.garbage_bytes > 0
    v2 = raw[0] == 0xFD
    header_fields = (0, 1, 2, 7, 8, 9) if v2 else (0, 1, 5)  # marker, length, incompat flags, msgid
    if position not in header_fields:
        # The frame keeps its boundaries, so its CRC fails; the rescan through its bytes may then
        # reject more false starts (a flipped bit can make a 0xFD), hence "at least".
        assert stats.bad_crc >= 1
