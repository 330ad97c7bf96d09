"""drones.codec against pymavlink's own parser, for every message of the ardupilotmega dialect."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from drones import EncodeError, MavFrame, MavFramer, decode, encode
from drones.dialect import MAVLINK_MSG_ID, MESSAGES

INT_RANGES = {
    "uint8_t": (0, 0xFF),
    "int8_t": (-0x80, 0x7F),
    "uint16_t": (0, 0xFFFF),
    "int16_t": (-0x8000, 0x7FFF),
    "uint32_t": (0, 0xFFFF_FFFF),
    "int32_t": (-0x8000_0000, 0x7FFF_FFFF),
    "uint64_t": (0, 0xFFFF_FFFF_FFFF_FFFF),
    "int64_t": (-0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF),
}
TEXT = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789 ", max_size=16)


def fields(cls: Any) -> list[tuple[str, int]]:
    """(type, count) per constructor argument; count 0 for a scalar, n for an array or a string."""
    wire = {name: k for k, name in enumerate(cls.ordered_fieldnames)}
    return [(t, cls.array_lengths[wire[name]]) for name, t in zip(cls.fieldnames, cls.fieldtypes, strict=True)]


def value(draw: Any, ftype: str, count: int) -> Any:
    if ftype == "char":
        return draw(TEXT).encode()[: max(count, 1)]
    if ftype in ("float", "double"):
        one = st.floats(width=32 if ftype == "float" else 64, allow_nan=False, allow_infinity=False)
    else:
        one = st.integers(*INT_RANGES[ftype])
    if count:
        return draw(st.lists(one, min_size=count, max_size=count))
    return draw(one)


@st.composite
def messages(draw: st.DrawFn) -> Any:
    cls = mavlink.mavlink_map[draw(st.sampled_from(sorted(mavlink.mavlink_map)))]
    # Zeros are common in real payloads and are what MAVLink 2 truncation removes.
    args = [value(draw, t, n) if draw(st.booleans()) else _zero(t, n) for t, n in fields(cls)]
    return cls(*args)


def _zero(ftype: str, count: int) -> Any:
    zero: Any = b"" if ftype == "char" else 0.0 if ftype in ("float", "double") else 0
    return [zero] * count if count and ftype != "char" else zero


def check_round_trip(msg: Any, *, mavlink1: bool) -> None:
    raw = encode(msg, 42, 7, 1, mavlink1=mavlink1)
    (ref,) = mavlink.MAVLink(None).parse_buffer(raw)
    frame = MavFrame.parse(raw)
    ours = decode(frame)
    assert ours == ref
    assert ours is not None and ours.get_msgbuf() == raw and ours.get_header().mlen == raw[1]
    info = MESSAGES[frame.msgid]
    assert frame.payload_len <= info.max_len
    assert encode(ours, 42, 7, 1, mavlink1=mavlink1) == raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=messages(), mavlink1=st.booleans())
def test_any_message_decodes_as_pymavlink_decodes_it(msg: Any, mavlink1: bool) -> None:
    check_round_trip(msg, mavlink1=mavlink1 and msg.get_msgId() <= 0xFF)


@pytest.mark.parametrize("msgid", sorted(mavlink.mavlink_map))
def test_every_message_of_the_dialect(msgid: int) -> None:
    cls = mavlink.mavlink_map[msgid]
    rnd = random.Random(msgid)

    def pick(ftype: str, count: int) -> Any:
        if ftype == "char":
            return "".join(rnd.choice("ABC_123") for _ in range(rnd.randint(1, max(count, 1)))).encode()
        one = (
            (lambda: rnd.uniform(-1e3, 1e3))
            if ftype in ("float", "double")
            else (lambda: rnd.randint(*INT_RANGES[ftype]))
        )
        return [one() for _ in range(count)] if count else one()

    msg = cls(*[pick(t, n) for t, n in fields(cls)])
    check_round_trip(msg, mavlink1=False)
    if msgid <= 0xFF:
        check_round_trip(msg, mavlink1=True)


def test_decode_refuses_what_it_cannot_know() -> None:
    heartbeat = mavlink.MAVLink_heartbeat_message(2, 3, 0, 0, 4, 3)
    frame = MavFramer().feed(encode(heartbeat, 0, 1, 1))[0]
    assert decode(frame._replace(crc_checked=False)) is None


def test_encode_errors_are_named() -> None:
    heartbeat = mavlink.MAVLink_heartbeat_message(2, 3, 0, 0, 4, 3)
    with pytest.raises(EncodeError, match="signing needs MAVLink 2"):
        encode(heartbeat, 0, 1, 1, mavlink1=True, signing_key=bytes(32))
    with pytest.raises(EncodeError, match="cannot pack HEARTBEAT"):
        encode(mavlink.MAVLink_heartbeat_message(300, 3, 0, 0, 4, 3), 0, 1, 1)
    big = mavlink.mavlink_map[MAVLINK_MSG_ID["GIMBAL_DEVICE_ATTITUDE_STATUS"]]
    with pytest.raises(EncodeError, match="beyond MAVLink 1's 255"):
        encode(big(1, 1, 0, 0, [1.0, 0.0, 0.0, 0.0], 0.0, 0.0, 0.0, 0), 0, 1, 1, mavlink1=True)
