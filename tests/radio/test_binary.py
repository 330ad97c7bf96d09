"""The configurable binary framer: checksums, the example PDT framing both ways, drops, and description checks.

Frames the tests compare against are built here by hand (struct, binascii) from the layout the
description claims, so a codec that writes and reads the same wrong layout still fails.
"""

from __future__ import annotations

import binascii
import copy
import functools
import logging
import re
import struct
import tomllib
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.radio.binary import EXAMPLE, BinaryCodec, BinaryFraming, BinaryGateway, FramingError, Poll, check, load
from edge.radio.binary_description import ChecksumKind
from edge.radio.checksums import CHECKSUMS, ones16
from edge.radio.events import (
    Alarm,
    AlarmKind,
    CallEnd,
    CallStart,
    CallType,
    Delivery,
    Fix,
    FixMode,
    Presence,
    RadioEvent,
    Status,
    Text,
)
from edge.radio.framing import EncodeError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DOC = Path(__file__).resolve().parents[2] / "docs" / "RADIO_BINARY.md"

# ---- checksums --------------------------------------------------------------------------------------------

# CRC check values (CRC of b"123456789") from the CRC RevEng catalogue; the sums worked by hand:
# the bytes are 0x31..0x39, summing to 0x1DD; their XOR is 0x31; as big-endian words with a zero pad,
# 0x3132 + 0x3334 + 0x3536 + 0x3738 + 0x3900 = 0x109D4, folded 0x09D5, complemented 0xF62A.
CHECK_VALUES = {
    "sum8": (0xDD, 1),
    "xor8": (0x31, 1),
    "sum16": (0x01DD, 2),
    "ones16": (0xF62A, 2),
    "crc16-ccitt-false": (0x29B1, 2),
    "crc16-xmodem": (0x31C3, 2),
    "crc16-kermit": (0x2189, 2),
    "crc16-x25": (0x906E, 2),
    "crc16-modbus": (0x4B37, 2),
    "crc16-arc": (0xBB3D, 2),
    "crc32": (0xCBF43926, 4),
}


@pytest.mark.parametrize("name", sorted(CHECK_VALUES))
def test_checksum_check_value(name: str) -> None:
    value, size = CHECK_VALUES[name]
    assert CHECKSUMS[name].compute(b"123456789") == value
    assert CHECKSUMS[name].size == size


def test_every_checksum_has_a_check_value_and_a_name_in_descriptions() -> None:
    assert set(CHECKSUMS) == set(CHECK_VALUES)
    assert set(get_args(ChecksumKind)) == {"none", *CHECKSUMS}


def test_internet_checksum_matches_rfc_1071_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2, whose complement is 220d.
    assert ones16(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


# ---- the example PDT framing -------------------------------------------------------------------------------


FRAMING = load(EXAMPLE)


def example_codec() -> BinaryCodec:
    return BinaryCodec(FRAMING)


def reseal(body: bytes) -> bytes:
    """An example-framing frame from start bytes to payload end, with its length and CRC put right."""
    frame = bytearray(body + b"\x00\x00")
    frame[2:4] = (len(frame) - 4).to_bytes(2, "big")
    return bytes(frame[:-2]) + binascii.crc_hqx(bytes(frame[2:-2]), 0xFFFF).to_bytes(2, "big")


def test_example_location_frame_is_laid_out_as_documented() -> None:
    body = b"\xaa\x55\x00\x00\x01" + struct.pack(
        ">IiihHHBBI", 1001, 301234567, -1207654321, -12, 150, 905, 8, 2, 1700000000
    )
    frame = reseal(body)
    expected = Fix(
        unit="1001",
        lat=301234567 * 1e-7,
        lon=-1207654321 * 1e-7,
        alt_msl_m=-12.0,
        speed_mps=150 * 0.01,
        course_deg=905 * 0.1,
        satellites=8,
        mode=FixMode.THREE_D,
        ts=1700000000.0,
    )
    codec = example_codec()
    assert codec.feed(frame, 0.0) == [expected]
    assert codec.encode(expected) == frame
    assert frame.hex(" ").startswith("aa 55 00 1b 01 00 00 03 e9")


unit_ids = st.integers(0, 2**32 - 1).map(str)
words = st.text(alphabet="abcXYZ 019,.救援队撤离你好消防\uff0c\u3002", max_size=40)  # with Chinese punctuation
EXAMPLE_EVENTS: st.SearchStrategy[RadioEvent] = st.one_of(
    st.builds(
        lambda unit, lat, lon, alt, speed, course, sats, mode, ts: Fix(
            unit=unit,
            lat=lat * 1e-7,
            lon=lon * 1e-7,
            alt_msl_m=float(alt),
            speed_mps=speed * 0.01,
            course_deg=course * 0.1,
            satellites=sats,
            mode=mode,
            ts=float(ts),
        ),
        unit_ids,
        st.integers(-900_000_000, 900_000_000),
        st.integers(-1_800_000_000, 1_800_000_000),
        st.integers(-(2**15), 2**15 - 1),
        st.integers(0, 2**16 - 1),
        st.integers(0, 3599),
        st.integers(0, 255),
        st.sampled_from(FixMode),
        st.integers(0, 2**32 - 1),
    ),
    st.builds(Text, src=unit_ids, dst=unit_ids, text=words, group=st.booleans(), msg_id=st.integers(0, 65535)),
    st.builds(Delivery, msg_id=st.integers(0, 65535), unit=unit_ids, ok=st.booleans()),
    st.builds(Presence, unit=unit_ids, online=st.booleans()),
    st.builds(CallStart, caller=unit_ids, talkgroup=unit_ids, call_type=st.sampled_from(CallType)),
    st.builds(CallEnd, caller=unit_ids, talkgroup=unit_ids),
    st.builds(Alarm, unit=unit_ids, kind=st.sampled_from(AlarmKind), cleared=st.booleans()),
    st.builds(Status, unit=unit_ids, battery_pct=st.integers(0, 100).map(float), status=words),
)
ONE_OF_EACH: list[RadioEvent] = [
    Fix(
        unit="1001",
        lat=30.25,
        lon=120.125,
        alt_msl_m=8.0,
        speed_mps=1.5,
        course_deg=90.5,
        satellites=6,
        mode=FixMode.TWO_D,
        ts=1e9,
    ),
    Text(src="1001", dst="9", text="请求支援 at gate 3", group=True, msg_id=41),
    Delivery(msg_id=41, unit="1002", ok=True),
    Delivery(msg_id=42, unit="1002", ok=False),
    Presence(unit="1003", online=True),
    Presence(unit="1003", online=False),
    CallStart(caller="1001", talkgroup="9", call_type=CallType.PRIVATE),
    CallEnd(caller="1001", talkgroup="9"),
    Alarm(unit="1004", kind=AlarmKind.LONE_WORKER, cleared=True),
    Status(unit="1004", battery_pct=17.0, status="电量低"),
]


def test_every_inbound_message_of_the_example_round_trips() -> None:
    codec = example_codec()
    frames = [codec.encode(event) for event in ONE_OF_EACH]
    assert codec.feed(b"".join(frames), 0.0) == ONE_OF_EACH
    assert codec.frames == len(ONE_OF_EACH)
    assert dict(codec.drops.counts) == {}
    types = {frame[4] for frame in frames}
    inbound = [m for m in FRAMING.messages if m.direction == "in"]
    assert types == {m.match[0].value for m in inbound}  # every inbound message was exercised


def test_outbound_text_and_poll_reach_the_gateway() -> None:
    codec, gateway = example_codec(), BinaryGateway(FRAMING)
    text = codec.encode_text("9", "全体撤离到集合点", group=True, msg_id=7)
    poll = codec.encode_poll("1001")
    assert text is not None and poll is not None
    assert text[4] == 0x81 and poll[4] == 0x82
    assert text[12:13] == bytes([len("全体撤离到集合点".encode("gbk"))])
    assert gateway.feed(text + poll, 0.0) == [
        Text(src="", dst="9", text="全体撤离到集合点", group=True, msg_id=7),
        Poll(unit="1001"),
    ]
    assert codec.feed(text + poll, 0.0) == []  # the node's own requests are not inbound messages
    assert codec.drops["unsupported"] == 2


def test_gbk_text_is_gbk_on_the_wire() -> None:
    codec = example_codec()
    frame = codec.encode(Text(src="1", dst="2", text="消防", group=False, msg_id=1))
    assert frame[16] == 4 and frame[17:21] == "消防".encode("gbk") == bytes.fromhex("cffbb7c0")


@SETTINGS
@given(events=st.lists(EXAMPLE_EVENTS, min_size=1, max_size=12), data=st.data())
def test_any_chunking_yields_the_same_events(events: list[RadioEvent], data: st.DataObject) -> None:
    codec = example_codec()
    stream = b"".join(codec.encode(e) for e in events)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    decoder = example_codec()
    out = [event for chunk in chunks for event in decoder.feed(chunk, 0.0)]
    assert out == events
    assert decoder.buffered == 0 and dict(decoder.drops.counts) == {}


def garbage(frames: list[bytes]) -> st.SearchStrategy[bytes]:
    """Line noise, much of it frame-like (start bytes, frame prefixes, frames with one byte changed), but no frame."""
    pieces = st.one_of(
        st.binary(max_size=24),
        st.sampled_from([b"\xaa\x55", b"\xaa", b"\xaa\x55\x01\xff", b"\xaa\x55\x00\x05"]),
        st.sampled_from(frames).flatmap(lambda f: st.integers(1, len(f) - 1).map(lambda n: f[:n])),
        st.builds(
            lambda f, i, x: f[: i % len(f)] + bytes([f[i % len(f)] ^ x]) + f[i % len(f) + 1 :],
            st.sampled_from(frames),
            st.integers(0, 200),
            st.integers(1, 255),
        ),
    )
    return st.lists(pieces, max_size=4).map(b"".join).filter(lambda g: not example_codec().feed(g, 0.0))


@SETTINGS
@given(events=st.lists(EXAMPLE_EVENTS, min_size=1, max_size=8), data=st.data())
def test_frames_embedded_in_garbage_are_all_recovered(events: list[RadioEvent], data: st.DataObject) -> None:
    codec = example_codec()
    frames = [codec.encode(e) for e in events]
    stream = b"".join(data.draw(garbage(frames)) + frame for frame in frames) + data.draw(garbage(frames))
    decoder = example_codec()
    # A bogus length in the garbage can hold later frames back until the partial frame goes stale.
    out = decoder.feed(stream, 0.0) + decoder.feed(b"", 10.0)
    assert out == events
    assert decoder.buffered < 2


noise = st.lists(
    st.one_of(st.binary(max_size=64), st.sampled_from([b"\xaa\x55", b"\xaa\x55\x00", b"\x7e", b"\x7e\x04\x10"])),
    max_size=30,
).map(b"".join)


@SETTINGS
@given(blob=noise, data=st.data())
def test_random_bytes_never_raise_and_every_byte_is_counted(blob: bytes, data: st.DataObject) -> None:
    for framing in (FRAMING, little_endian(), header_checksum()):
        codec = BinaryCodec(framing)
        cuts = sorted(data.draw(st.lists(st.integers(0, len(blob)), max_size=8)))
        for a, b in zip([0, *cuts], [*cuts, len(blob)], strict=True):
            codec.feed(blob[a:b], 0.0)
        codec.feed(b"", 60.0)  # whatever waits is stale by now
        assert codec.buffered < len(framing.start.replace(" ", "")) // 2
        if codec.frames == 0:  # random bytes almost never make a frame; when they do, its bytes are not counted
            dropped = sum(n for kind, n in codec.drops.counts.items() if kind.endswith("_bytes"))
            assert dropped + codec.buffered == len(blob)


# ---- drops, by kind ------------------------------------------------------------------------------------------


def test_each_kind_of_drop_is_counted_and_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    codec = example_codec()
    good = codec.encode(Presence(unit="5", online=True))
    bad_crc = good[:-1] + bytes([good[-1] ^ 1])
    oversize = b"\xaa\x55\xff\xff"
    too_short = b"\xaa\x55\x00\x00"
    unknown_type = reseal(b"\xaa\x55\x00\x00\x42" + b"\x00" * 4)
    bad_gbk = reseal(b"\xaa\x55\x00\x00\x02" + struct.pack(">IIBHB", 1, 2, 0, 3, 2) + b"\xff\xff")
    bad_alarm_kind = reseal(b"\xaa\x55\x00\x00\x08" + struct.pack(">IBB", 1, 9, 0))
    stream = b"junk" + bad_crc + bad_crc + oversize + too_short + unknown_type + bad_gbk + bad_alarm_kind + good
    with caplog.at_level(logging.DEBUG, logger="edge.radio.binary"):
        assert codec.feed(stream, 0.0) == [Presence(unit="5", online=True)]
    counts = dict(codec.drops.counts)
    assert {k: v for k, v in counts.items() if not k.endswith("_bytes")} == {
        "garbage": 5,
        "bad_checksum": 2,
        "oversize": 1,
        "bad_length": 1,
        "unsupported": 1,
        "bad_field": 2,
    }
    assert counts["unsupported_bytes"] == len(unknown_type)
    assert counts["bad_field_bytes"] == len(bad_gbk) + len(bad_alarm_kind)
    assert counts["garbage_bytes"] + sum(counts[f"{k}_bytes"] for k in ("bad_checksum", "oversize", "bad_length")) == (
        len(stream) - len(good) - len(unknown_type) - len(bad_gbk) - len(bad_alarm_kind)
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 6  # once per kind; repeats go to debug
    assert sum("bad_checksum" in w for w in warnings) == 1
    assert any("bad_field" in w and "text.text: not gbk text" in w for w in warnings)
    assert any("no value for raw 9" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)


def test_a_frame_that_takes_too_long_to_arrive_is_stale() -> None:
    codec = example_codec()
    frame = codec.encode(CallEnd(caller="7", talkgroup="9"))
    assert codec.feed(frame[:10], 100.0) == []
    assert codec.feed(frame[10:], 102.9) == [CallEnd(caller="7", talkgroup="9")]  # within stale_after_s = 3
    assert codec.feed(frame[:10], 200.0) == []
    assert codec.feed(frame[10:], 203.5) == []
    assert codec.drops["stale"] == 1
    assert codec.feed(frame, 203.5) == [CallEnd(caller="7", talkgroup="9")]


def test_a_partial_frame_goes_stale_on_an_empty_feed() -> None:
    codec = example_codec()
    frame = codec.encode(CallEnd(caller="7", talkgroup="9"))
    codec.feed(frame[:10], 0.0)
    assert codec.feed(b"", 3.0) == [] and codec.buffered == 10
    codec.feed(b"", 3.5)
    assert dict(codec.drops.counts) == {"stale": 1, "stale_bytes": 1, "garbage": 1, "garbage_bytes": 9}  # no AA left
    assert codec.buffered == 0


def test_encode_refuses_what_the_framing_cannot_carry() -> None:
    codec = example_codec()
    with pytest.raises(EncodeError, match=r"text\.text: '🚒' cannot be written in gbk"):
        codec.encode_text("1", "🚒", group=False, msg_id=1)
    with pytest.raises(EncodeError, match="300 bytes of text do not fit a 1-byte prefix"):
        codec.encode_text("1", "x" * 300, group=False, msg_id=1)
    with pytest.raises(EncodeError, match=r"presence\.unit: 'R12' is not a number"):
        codec.encode(Presence(unit="R12", online=True))
    with pytest.raises(EncodeError, match=r"presence\.unit: '4294967296' does not fit in a u32"):
        codec.encode(Presence(unit="4294967296", online=True))
    other = BinaryCodec(little_endian())
    with pytest.raises(EncodeError, match="no message for Delivery events"):
        other.encode(Delivery(msg_id=1, unit="1", ok=True))
    assert other.encode_text("1", "hi", group=False, msg_id=1) is None
    assert other.encode_poll("1") is None


# ---- a second layout: little-endian, payload length, xor8, tail, UTF-16LE, BCD, masks ---------------------------

LITTLE_ENDIAN = """
name = "le-xor"
start = "7E"
tail = "0D"
endian = "little"
header_bytes = 3          # 7E, length, message type

[length]
offset = 1
size = 1
counts = "payload"

[checksum]
kind = "xor8"
covers_from = 1

[[messages]]
name = "fix"
event = "fix"
match = [{ offset = 2, value = 0x10 }]
fields = [
  { to = "unit", offset = 3, type = "u24" },
  { to = "lat", offset = 6, type = "i32", scale = 1e-6 },
  { to = "lon", offset = 10, type = "i32", scale = 1e-6, add = 100.0 },
  { to = "alt_msl_m", offset = 14, type = "f32" },
  { to = "ts", offset = 18, type = "u64", scale = 0.001 },
  { to = "mode", offset = 26, type = "u8" },                 # 1, 2, 3 as fieldkit's FixMode
]

[[messages]]
name = "text"
event = "text"
match = [{ offset = 2, value = 0x20 }]
fields = [
  { to = "src", offset = 3, type = "bcd", size = 4 },
  { to = "dst", offset = 7, type = "u24" },
  { to = "text", offset = 10, type = "text", encoding = "utf-16le", terminator = "0000" },
]

[[messages]]
name = "alarm"
event = "alarm"
match = [{ offset = 2, value = 0x30 }, { offset = 6, value = 0x80, mask = 0x80 }]
fields = [{ to = "unit", offset = 3, type = "u24" }]
set = { cleared = false }

[[messages]]
name = "alarm-cleared"
event = "alarm"
match = [{ offset = 2, value = 0x30 }, { offset = 6, value = 0x00, mask = 0x80 }]
fields = [{ to = "unit", offset = 3, type = "u24" }]
set = { cleared = true }

[[messages]]
name = "status"
event = "status"
match = [{ offset = 2, value = 0x40 }]
fields = [
  { to = "unit", offset = 3, type = "u24" },
  { to = "battery_pct", offset = 6, type = "u8", scale = 0.5 },
  { to = "status", offset = 7, type = "text", size = 8 },
]
"""

HEADER_CHECKSUM = """
name = "header-sum"       # like HRNP: a checksum in the header over the whole frame, itself as zeros
start = "7E"
endian = "little"
header_bytes = 6

[length]
offset = 1
size = 2

[checksum]
kind = "ones16"
at = 3
covers_to = "end"

[[messages]]
name = "register"
event = "presence"
match = [{ offset = 5, value = 1 }]
fields = [{ to = "unit", offset = 6, type = "u32" }]
set = { online = true }
"""


@functools.cache
def little_endian() -> BinaryFraming:
    return msgspec.convert(tomllib.loads(LITTLE_ENDIAN), BinaryFraming)


@functools.cache
def header_checksum() -> BinaryFraming:
    return msgspec.convert(tomllib.loads(HEADER_CHECKSUM), BinaryFraming)


def xor_frame(type_: int, payload: bytes) -> bytes:
    body = bytes([len(payload), type_]) + payload
    check = 0
    for byte in body:
        check ^= byte
    return b"\x7e" + body + bytes([check, 0x0D])


def test_second_layout_fix_is_laid_out_as_described() -> None:
    payload = (70001).to_bytes(3, "little") + struct.pack("<iifQB", 39_904_200, 16_407_400, 43.5, 1_700_000_000_123, 2)
    frame = xor_frame(0x10, payload)
    expected = Fix(
        unit="70001",
        lat=39_904_200 * 1e-6,
        lon=16_407_400 * 1e-6 + 100.0,
        alt_msl_m=43.5,
        ts=1_700_000_000_123 * 0.001,
        mode=FixMode.TWO_D,
    )
    codec = BinaryCodec(little_endian())
    assert check(tomllib.loads(LITTLE_ENDIAN)) == []
    assert codec.feed(frame, 0.0) == [expected]
    assert codec.encode(expected) == frame
    assert codec.feed(frame[:-3] + b"\x09" + bytes([frame[-2] ^ 2 ^ 9]) + frame[-1:], 0.0) == []  # mode 9
    assert codec.drops["bad_field"] == 1


def test_second_layout_utf16_text_bcd_sender_and_masked_alarms() -> None:
    text = "撤离 to 3号门"
    payload = bytes.fromhex("00120345") + (9).to_bytes(3, "little") + text.encode("utf-16le") + b"\x00\x00"
    frame = xor_frame(0x20, payload)
    raised = xor_frame(0x30, (5).to_bytes(3, "little") + b"\x81")
    cleared = xor_frame(0x30, (5).to_bytes(3, "little") + b"\x01")
    padded = xor_frame(0x20, payload + "junk".encode("utf-16le"))  # after the terminator: ignored
    codec = BinaryCodec(little_endian())
    assert codec.feed(frame + padded + raised + cleared, 0.0) == [
        Text(src="00120345", dst="9", text=text),
        Text(src="00120345", dst="9", text=text),
        Alarm(unit="5", cleared=False),
        Alarm(unit="5", cleared=True),
    ]
    assert codec.encode(Text(src="00120345", dst="9", text=text)) == frame
    assert codec.encode(Alarm(unit="5", cleared=True))[6] & 0x80 == 0
    assert codec.encode(Alarm(unit="5", cleared=False))[6] & 0x80 == 0x80


def test_fixed_size_text_is_padded_with_zero_bytes() -> None:
    frame = xor_frame(0x40, (12).to_bytes(3, "little") + bytes([151]) + b"ON DUTY\x00")
    codec = BinaryCodec(little_endian())
    assert codec.feed(frame, 0.0) == [Status(unit="12", battery_pct=75.5, status="ON DUTY")]
    assert codec.encode(Status(unit="12", battery_pct=75.5, status="ON DUTY")) == frame
    with pytest.raises(EncodeError, match=r"status\.status: 9 bytes of text do not fit in 8"):
        codec.encode(Status(unit="12", status="ON PATROL"))


def test_a_values_table_maps_unlisted_raw_values_by_its_star_entry() -> None:
    codec = example_codec()
    frames = [reseal(b"\xaa\x55\x00\x00\x03" + struct.pack(">IHB", 1002, 42, result)) for result in (0, 1, 7, 255)]
    assert [e.ok for e in codec.feed(b"".join(frames), 0.0) if isinstance(e, Delivery)] == [True, False, False, False]


def test_second_layout_checks_its_tail_after_its_checksum() -> None:
    frame = xor_frame(0x30, (5).to_bytes(3, "little") + b"\x81")
    codec = BinaryCodec(little_endian())
    assert codec.feed(frame[:-1] + b"\x0a", 0.0) == []
    assert codec.feed(frame[:-2] + bytes([frame[-2] ^ 0x40]) + frame[-1:], 0.0) == []
    assert codec.drops["bad_tail"] == 1 and codec.drops["bad_checksum"] == 1


LE_EVENTS = st.one_of(
    st.builds(
        lambda unit, lat, lon, alt, ts, mode: Fix(
            unit=unit,
            lat=lat * 1e-6,
            lon=lon * 1e-6 + 100.0,
            alt_msl_m=struct.unpack("<f", alt)[0],
            ts=ts * 0.001,
            mode=mode,
        ),
        st.integers(0, 2**24 - 1).map(str),
        st.integers(-90_000_000, 90_000_000),
        st.integers(-180_000_000, 180_000_000),
        st.floats(-500, 9000, width=32).map(lambda x: struct.pack("<f", x)),
        st.integers(0, 2**42),
        st.sampled_from(FixMode),
    ),
    st.builds(
        Text,
        src=st.text("0123456789", min_size=1, max_size=8),
        dst=st.integers(0, 2**24 - 1).map(str),
        text=st.text(alphabet="abc 12救援队撤离", max_size=30),
    ),
    st.builds(Alarm, unit=st.integers(0, 2**24 - 1).map(str), cleared=st.booleans()),
)


@SETTINGS
@given(events=st.lists(LE_EVENTS, min_size=1, max_size=10), data=st.data())
def test_second_layout_any_chunking_yields_the_same_events(events: list[RadioEvent], data: st.DataObject) -> None:
    codec = BinaryCodec(little_endian())
    stream = b"".join(codec.encode(e) for e in events)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    out = [e for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True) for e in codec.feed(stream[a:b], 0.0)]
    assert out == events


def test_header_checksum_covers_the_whole_frame_with_itself_as_zeros() -> None:
    frame = bytearray(b"\x7e\x0a\x00\x00\x00\x01" + (1234).to_bytes(4, "little"))
    frame[3:5] = ones16(bytes(frame)).to_bytes(2, "little")
    codec = BinaryCodec(header_checksum())
    assert codec.feed(bytes(frame), 0.0) == [Presence(unit="1234", online=True)]
    assert codec.encode(Presence(unit="1234", online=True)) == bytes(frame)
    frame[9] ^= 0x10
    assert codec.feed(bytes(frame), 0.0) == []
    assert codec.drops["bad_checksum"] == 1


# ---- description checks ----------------------------------------------------------------------------------------


def example_data() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def field(message: int, index: int, **change: Any) -> Any:
    return lambda d: d["messages"][message]["fields"][index].update(change)


P = "radio.binary"
INVALID = [
    (lambda d: d.update(start="AA5"), [f"{P}.start: 'AA5' is not hex bytes (write them like \"AA55\")"]),
    (lambda d: d.update(start=""), [f"{P}.start: give at least one start byte"]),
    (
        lambda d: d.update(colour="red"),
        [
            f"{P}.colour: unknown option (known here: checksum, endian, header_bytes, length, max_frame_bytes, "
            "messages, name, stale_after_s, start, tail)"
        ],
    ),
    (lambda d: d.pop("length"), [f"{P}.length: required"]),
    (lambda d: d["length"].update(size=3), [f"{P}.length.size: must be one of 1, 2, 4 (got 3)"]),
    (
        lambda d: d["length"].update(offset=1),
        [f"{P}.length.offset: the length field (bytes 1..2) overlaps the start bytes (bytes 0..1)"],
    ),
    (
        lambda d: d["checksum"].update(at=-1),
        [f"{P}.checksum.at: -1 puts the 2-byte checksum past the end of the frame or into the tail"],
    ),
    (
        lambda d: d.update(max_frame_bytes=5),
        [f"{P}.max_frame_bytes: 5 is less than the shortest frame (6 bytes: 4 before the payload, 2 after it)"],
    ),
    (lambda d: d.update(messages="x"), [f"{P}.messages: expected a list, got text (got 'x')"]),
    (lambda d: d["messages"][0].pop("event"), [f"{P}.messages[0].event: required"]),
    (
        field(0, 0, offset=-1),
        [f"{P}.messages[0].fields[0].offset: expected a whole number >= 0 (got -1)"],
    ),
    (
        lambda d: d["messages"][0]["fields"].append({"to": "latitude", "offset": 30, "type": "i32"}),
        [
            f"{P}.messages[0].fields[9].to: fix has no field 'latitude' (known: alt_msl_m, course_deg, hdop, lat, "
            "lon, mode, satellites, speed_mps, ts, unit)"
        ],
    ),
    (field(0, 0, type="f32"), [f"{P}.messages[0].fields[0]: a f32 field cannot fill fix.unit, which is text"]),
    (
        field(5, 2, values=None),
        [
            f"{P}.messages[5].fields[2]: a u8 field cannot fill call_start.call_type, which is one of group, "
            "private, emergency, all (add values to map raw values)"
        ],
    ),
    (
        field(5, 2, values={"0": "grp"}),
        [
            f"{P}.messages[5].fields[2].values.0: 'grp' cannot fill call_start.call_type, which is one of group, "
            "private, emergency, all"
        ],
    ),
    (field(0, 2, offset=11), [f"{P}.messages[0].fields[2]: bytes 11..14 overlap fields[1] (bytes 9..12)"]),
    (
        field(0, 2, offset=510),
        [
            f"{P}.messages[0].fields[2]: bytes 510..513 run past the payload of the longest frame "
            "(max_frame_bytes 512 less 2 after the payload)"
        ],
    ),
    (
        field(8, 0, offset=3),
        [f"{P}.messages[8].fields[0]: bytes 3..6 overlap the length field (bytes 2..3)"],
    ),
    (field(0, 0, scale=2.0), [f"{P}.messages[0].fields[0]: scale and add apply only to number fields without values"]),
    (field(1, 4, size=10), [f"{P}.messages[1].fields[4]: give a size or a prefix, not both"]),
    (
        field(1, 4, encoding="utf-16le", terminator="00"),
        [f"{P}.messages[1].fields[4].terminator: utf-16le text needs a terminator of whole 2-byte code units"],
    ),
    (field(0, 0, encoding="gbk"), [f"{P}.messages[0].fields[0].encoding: applies only to text fields"]),
    (
        lambda d: d["messages"][1]["fields"].append({"to": "ts", "offset": 40, "type": "u32"}),
        [
            f"{P}.messages[1].fields[4]: a text field without a size must come after every other field and match "
            "(they end at byte 43)"
        ],
    ),
    (
        lambda d: d["messages"][2]["fields"].pop(),
        [f"{P}.messages[2]: a delivery event needs ok (map a field or set a value)"],
    ),
    (
        lambda d: d["messages"][3].update(set={"online": "yes"}),
        [f"{P}.messages[3].set.online: 'yes' cannot fill presence.online, which is true or false"],
    ),
    (
        lambda d: d["messages"][0]["match"][0].update(value=0x1FF),
        [f"{P}.messages[0].match[0].value: 0x1ff does not fit in 1 byte"],
    ),
    (
        lambda d: d["messages"][0]["match"][0].update(value=0x12, mask=0xF0),
        [f"{P}.messages[0].match[0].value: 0x12 has bits outside mask 0xf0"],
    ),
    (
        lambda d: d["messages"][0].update(match=[]),
        [f"{P}.messages[0].match: empty, so it takes every inbound frame and messages[1] is never used"],
    ),
    (
        lambda d: d["messages"][-1].update(direction="in"),
        [f'{P}.messages[10].event: poll is a request the node sends; mark the message direction = "out"'],
    ),
    (
        lambda d: d["messages"][0].update(direction="out"),
        [f"{P}.messages[0].direction: only text and poll messages can be sent to the gateway"],
    ),
    (
        lambda d: d["messages"][1].update(name="location"),
        [f"{P}.messages[1].name: 'location' is already used by messages[0]"],
    ),
]


@pytest.mark.parametrize(("change", "problems"), INVALID, ids=[p[0] for _, p in INVALID])
def test_description_problems_are_reported_with_their_key_path(change: Any, problems: list[str]) -> None:
    data = example_data()
    assert check(copy.deepcopy(data)) == []
    change(data)
    assert check(data) == problems


def test_every_problem_is_reported_at_once() -> None:
    data = example_data()
    field(0, 0, type="f32")(data)
    field(1, 4, size=10)(data)
    data["messages"][3]["set"] = {"online": "yes"}
    assert len(check(data)) == 3


def test_a_codec_refuses_an_invalid_description() -> None:
    data = example_data()
    data["messages"][2]["fields"].pop()
    with pytest.raises(FramingError) as caught:
        BinaryCodec(msgspec.convert(data, BinaryFraming))
    assert caught.value.problems == [f"{P}.messages[2]: a delivery event needs ok (map a field or set a value)"]


def test_load_names_the_file_and_uses_top_level_key_paths(tmp_path: Path) -> None:
    bad = tmp_path / "vendor.toml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace('start = "AA 55"', 'start = "AA 5G"'), encoding="utf-8")
    with pytest.raises(FramingError) as caught:
        load(bad)
    assert caught.value.problems == ["start: 'AA 5G' is not hex bytes (write them like \"AA55\")"]
    assert str(caught.value).startswith(str(bad))


def test_the_guide_shows_the_example_as_node_configuration() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    configs = [tomllib.loads(b) for b in blocks if b.lstrip().startswith("[radio.binary]")]
    assert len(configs) == 1
    section = configs[0]["radio"]["binary"]
    assert check(section) == []
    assert section == example_data()
