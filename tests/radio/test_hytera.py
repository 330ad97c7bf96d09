"""Hytera HRNP + HDAP: known answers from published captures, session handling, property tests.

Captured bytes come from OK-DMR/ok-dmrlib's tests (``okdmr/tests/dmrlib/hytera/pdu/test_hrnp.py``,
``test_lp.py``, ``test_tmp.py``, ``test_rrs.py``, ``test_rcp.py``); they were recorded from Hytera
radios and repeaters. Frames of kinds no capture shows are written out field by field below.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.radio import hdap_control, hdap_location, hdap_registration, hdap_text
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
    Text,
)
from edge.radio.framing import EncodeError
from edge.radio.hdap import HdapMessage, HdapService, MalformedError, radio_ip, unit_of
from edge.radio.hdap_location import PollRequest
from edge.radio.hytera import HrnpError, HrnpFrame, HrnpFramer, HrnpOpcode, checksum, checksum_ok
from edge.radio.hytera_codec import HrnpState, HyteraCodec
from edge.radio.hytera_gateway import HyteraGateway

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- captures (ok-dmrlib test_hrnp.py) -------------------------------------------------------------
CONNECT_V4 = "7e0400fe20100000000c60e1"
CONNECT_V3 = "7e0300fe20100000000c60e2"
ACCEPT = "7e0400fd10200000000c70d2"
DATA_RCP_REQUEST = "7e0400002010000100189b6002040005006400000001c403"
DATA_RCP_REPLY = "7e040000102000010019d6240204800600000f690600012903"
DATA_RCP_CONFIG = "7e030000201000000018fefe02c910050002000101014f03"
DATA_CALL_REQUEST = "7E04000020100000001873890241080500006F0000007503"
# 225 bytes, odd length: ok-dmrlib's truncating checksum rejects it, RFC 1071 accepts it.
DATA_RCP_225 = (
    "7e0400001020000300e1c65702d482ce00000f6906000200440039002e00300030002e00300037002e00320031003000"
    "2e0069004d000000410039002e00300030002e00300038002e003300300038002e0069004d0000004f004b0030004400"
    "4d0052000000000000000000000000000000000000000000520044003900380035002d00300030003000300030003000"
    "300030002d003000300030003000300030002d00550031002d0030002d00460000000000000000003100320033003200"
    "3000410030003300310032000000000000000000000000000f6906000000001b03"
)
HRNP_CAPTURES = [
    CONNECT_V4,
    CONNECT_V3,
    ACCEPT,
    DATA_RCP_REQUEST,
    DATA_RCP_REPLY,
    DATA_RCP_CONFIG,
    DATA_CALL_REQUEST,
    DATA_RCP_225,
]

# --- HDAP captures ----------------------------------------------------------------------------------
LP_ANSWER = (
    "08a0020032000000010a2110dd0000"  # LP A002, 50 bytes, request 1, radio 10.33.16.221, result 0
    "41"
    "313833363438"
    "323631303135"
    "4e"
    "343731382e38303531"
    "45"
    "30313835342e34333837"
    "302e31"
    "313231"  # A 183648 261015 N 4718.8051 E 01854.4387 0.1 121
    "0b03"
)  # test_lp.py
TMP_PRIVATE = (
    "0980a10022000000010a01b2070a03640e"
    "4f004c004900560045005200200054004500530054007a03"
)  # "OLIVER TEST" 222222 -> 111111, test_tmp.py
TMP_ACK = "0980a2000D000000010a01b2070a030000003103"  # test_tmp.py
TMP_ACK_OPTION = "09c0a200120003000000020a01b2070a03000000010203e203"  # option field 01 02 03, test_tmp.py
RRS_ANSWER = "91008000090a0000500000000e103103"  # reliable, 10.0.0.80, ok, 3600 s, test_rrs.py
RCP_REPEATER_STATUS = "0245b810000100040004000000fd080000fa372300c303"  # RRS data, not voice, test_rcp.py

# --- frames of kinds without a published capture, field by field ------------------------------------
# 7e 04 00 00 10 20 | packet | length | checksum || HDAP header | opcode | length | payload | sum | 03
REGISTRATION_1001 = "7e0400001020000100176d8011000300040a0003e93503"
DEREGISTRATION_1001 = "7e0400001020000200176f7d11000100040a0003e93703"
# RCP B845 is little-endian: mode, status, service, call type, talkgroup, caller
CALL_START_1001_TG9 = "7e040000102000030023b03d0245b81000000000000100010009000000e90300002e03"
CALL_END_1001_TG9 = "7e040000102000040023b03c0245b81000000001000100010009000000e90300002d03"
RCP_ALARM_1001 = "7e040000102000050023b03b0245b81000000000000600050000000000e90300002e03"
LP_EMERGENCY_1001 = (
    "7e04000010200006"
    "0040"
    "07b8"
    "08"
    "b003"
    "002d"
    "0a0003e9"
    "00"
    "41"
    "323231333230"
    "313431313233"
    "53"
    "333335322e31323830"
    "45"
    "31353131322e35353830"
    "352e30"
    "323730"
    "41"
    "03"
)  # A 221320 141123 S 3352.1280 E 15112.5580 5.0 270
LP_TRIGGERED_1001 = (
    "7e04000010200007"
    "004b"
    "5f52"
    "08"
    "c003"
    "0038"
    "00000005"
    "0a0003e9"
    "3030303030303030"
    "41"
    "323231333230"
    "313431313233"
    "53"
    "333335322e31323830"
    "45"
    "31353131322e35353830"
    "352e30"
    "323730"
    "a1"
    "03"
)
GROUP_TEXT_1001_TG9 = "7e040000102000080023ae320900b10010000000030a0000090a0003e948006900b403"  # "Hi"
DELIVERY_FAILED_42 = "7e040000102000090020d70b0980a2000d0000002a0a0003e90a0000010ace03"  # result 0x0A no contact

DATA_ACK_1 = "7e04001020100001000c61ce"  # data ack from us (0x20) to the radio (0x10), packet 1

SYDNEY = Fix(
    unit="1001",
    ts=1_700_000_000.0,
    lat=-33.8688,
    lon=151.2093,
    speed_mps=5 * 1852 / 3600,
    course_deg=270.0,
    mode=FixMode.TWO_D,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def frame_of(message: HdapMessage, packet_number: int = 1) -> bytes:
    return bytes(HrnpFrame(HrnpOpcode.DATA, bytes(message), src=0x10, dst=0x20, packet_number=packet_number))


def rfc1071(data: bytes) -> int:
    """Word by word, as RFC 1071 section 4.1 writes it."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def feed_all(codec: HyteraCodec, data: bytes, now: float = 0.0) -> list[RadioEvent]:
    return codec.feed(data, now)


# --- checksum and HRNP frames -------------------------------------------------------------------


@pytest.mark.parametrize("capture", HRNP_CAPTURES)
def test_checksum_of_captured_frames(capture: str) -> None:
    frame = h(capture)
    assert checksum(frame) == int.from_bytes(frame[10:12], "big")
    assert checksum_ok(frame)
    assert bytes(HrnpFrame.parse(frame)) == frame


@PROPERTY
@given(st.binary(min_size=12, max_size=300))
def test_checksum_is_rfc1071(data: bytes) -> None:
    assert checksum(data) == rfc1071(data[:10] + b"\0\0" + data[12:])


def test_checksum_all_ones_words_fold_to_0xffff() -> None:
    # A non-zero multiple of 0xFFFF sums to 0xFFFF in one's complement, so the checksum is 0.
    data = b"\xff\xff" * 5 + b"\0\0" + b"\xff\xff"
    assert checksum(data) == rfc1071(data) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (h(CONNECT_V4)[:11], "HRNP frame too short: 11 bytes"),
        (b"\x7f" + h(CONNECT_V4)[1:], "HRNP frame must start with 0x7E, got 0x7F"),
        (h(CONNECT_V4)[:3] + b"\x55" + h(CONNECT_V4)[4:], "unknown HRNP opcode 0x55"),
        (h(DATA_RCP_REQUEST)[:-1], "HRNP length field says 24 bytes, got 23"),
        (h(CONNECT_V4)[:-1] + b"\xe2", "HRNP checksum 0x60e2 does not match 0x60e1"),
    ],
)
def test_frame_parse_errors(data: bytes, message: str) -> None:
    with pytest.raises(HrnpError) as info:
        HrnpFrame.parse(data)
    assert str(info.value) == message


@PROPERTY
@given(st.sampled_from(list(HrnpOpcode)), st.binary(max_size=200), st.integers(0, 0xFFFF), st.integers(0, 255))
def test_frame_round_trip(opcode: HrnpOpcode, payload: bytes, packet: int, src: int) -> None:
    frame = HrnpFrame(opcode, payload, src=src, dst=0x10, packet_number=packet)
    assert HrnpFrame.parse(bytes(frame)) == frame


def test_radio_ip_is_subnet_and_24_bit_id() -> None:
    assert radio_ip("1001", 10) == bytes((10, 0, 3, 233))
    assert unit_of(bytes((10, 0, 3, 233))) == "1001"
    assert unit_of(h("0a2110dd")) == "2167005"
    with pytest.raises(EncodeError, match="outside the 24-bit DMR range"):
        radio_ip(1 << 24, 10)
    with pytest.raises(EncodeError, match="is not a number"):
        radio_ip("ALPHA", 10)


# --- HDAP known answers -------------------------------------------------------------------------


@pytest.mark.parametrize("capture", [LP_ANSWER, TMP_PRIVATE, TMP_ACK, TMP_ACK_OPTION, RRS_ANSWER, RCP_REPEATER_STATUS])
def test_hdap_captures_parse_and_rebuild(capture: str) -> None:
    assert bytes(HdapMessage.parse(h(capture))) == h(capture)


def test_location_answer_capture() -> None:
    assert hdap_location.decode(HdapMessage.parse(h(LP_ANSWER))) == [
        Fix(
            unit="2167005",
            ts=1445884608.0,
            lat=47 + 18.8051 / 60,
            lon=18 + 54.4387 / 60,
            speed_mps=0.1 * 1852 / 3600,
            course_deg=121.0,
            mode=FixMode.TWO_D,
        )
    ]


def test_location_answer_encodes_to_capture() -> None:
    events = hdap_location.decode(HdapMessage.parse(h(LP_ANSWER)))
    assert events is not None
    [fix] = events
    assert isinstance(fix, Fix)
    assert bytes(hdap_location.standard_answer("2167005", fix, subnet=10, request_id=1)) == h(LP_ANSWER)


def test_text_capture_both_ways() -> None:
    assert hdap_text.decode(HdapMessage.parse(h(TMP_PRIVATE))) == [
        Text(src="222222", dst="111111", text="OLIVER TEST", msg_id=1)
    ]
    built = hdap_text.text(222222, 111111, "OLIVER TEST", group=False, msg_id=1, subnet=10, ack_required=False)
    assert bytes(built) == h(TMP_PRIVATE)


def test_text_ack_captures() -> None:
    assert hdap_text.decode(HdapMessage.parse(h(TMP_ACK))) == [Delivery(msg_id=1, unit="111111", ok=True)]
    assert hdap_text.decode(HdapMessage.parse(h(TMP_ACK_OPTION))) == [Delivery(msg_id=2, unit="111111", ok=True)]
    assert bytes(hdap_text.ack(1, 111111, src=196608, subnet=10)) == h(TMP_ACK)


def test_registration_answer_capture() -> None:
    message = HdapMessage.parse(h(RRS_ANSWER))
    assert message.reliable
    assert hdap_registration.decode(message) == []
    built = hdap_registration.registration_answer(bytes((10, 0, 0, 80)), valid_s=3600, reliable=True)
    assert bytes(built) == h(RRS_ANSWER)


def test_repeater_status_capture_is_data_not_a_call() -> None:
    message = HdapMessage.parse(h(RCP_REPEATER_STATUS))
    assert message.opcode == 0xB845
    assert hdap_control.CallTracker().decode(message) == []
    built = hdap_control.transmit_status(2308090, 2301, status=4, call_type=0, service=4, mode=1)
    assert bytes(built) == h(RCP_REPEATER_STATUS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (h(TMP_ACK)[:6], "HDAP message too short: 6 bytes"),
        (b"\x42" + h(TMP_ACK)[1:], "unknown HDAP service 0x42"),
        (h(TMP_ACK)[:-3] + h(TMP_ACK)[-2:], "HDAP length field says 13 payload bytes in a 19-byte message"),
        (h(TMP_ACK)[:-1] + b"\x04", "HDAP message ends with 0x04, not 0x03"),
        (h(TMP_ACK)[:-2] + b"\x32\x03", "HDAP checksum 0x32 does not match 0x31"),
    ],
)
def test_hdap_parse_errors(data: bytes, message: str) -> None:
    with pytest.raises(MalformedError) as info:
        HdapMessage.parse(data)
    assert str(info.value) == message


# --- complete frames of each kind through the codec ----------------------------------------------


@pytest.mark.parametrize(
    ("frame", "events"),
    [
        (REGISTRATION_1001, [Presence(unit="1001", online=True)]),
        (DEREGISTRATION_1001, [Presence(unit="1001", online=False)]),
        (GROUP_TEXT_1001_TG9, [Text(src="1001", dst="9", text="Hi", group=True, msg_id=3)]),
        (DELIVERY_FAILED_42, [Delivery(msg_id=42, unit="1001", ok=False)]),
        (LP_EMERGENCY_1001, [Alarm(unit="1001", kind=AlarmKind.EMERGENCY), SYDNEY]),
        (LP_TRIGGERED_1001, [SYDNEY]),
        (RCP_ALARM_1001, [Alarm(unit="1001")]),
        (CALL_START_1001_TG9, [CallStart(caller="1001", talkgroup="9", call_type=CallType.GROUP)]),
    ],
)
def test_complete_frame_of_each_kind(frame: str, events: list[RadioEvent]) -> None:
    codec = HyteraCodec()
    got = codec.feed(h(frame), 0.0)
    assert len(got) == len(events)
    for mine, expected in zip(got, events, strict=True):
        assert _close(mine, expected), (mine, expected)
    assert codec.frames == 1
    assert not codec.drops.counts


def test_gateway_builds_the_written_out_frames() -> None:
    gateway = HyteraGateway(dispatcher_id=1)
    built = [
        gateway.registration(1001),
        gateway.registration(1001, online=False),
        gateway.call_start(1001, 9),
        gateway.call_end(1001, 9),
        gateway.emergency_alarm(1001),
        gateway.emergency(1001, SYDNEY),
        gateway.triggered_location(1001, SYDNEY, request_id=5),
        gateway.text(1001, 9, "Hi", group=True, msg_id=3),
        gateway.delivery(42, 1001, ok=False),
    ]
    assert [b.hex() for b in built] == [
        REGISTRATION_1001,
        DEREGISTRATION_1001,
        CALL_START_1001_TG9,
        CALL_END_1001_TG9,
        RCP_ALARM_1001,
        LP_EMERGENCY_1001,
        LP_TRIGGERED_1001,
        GROUP_TEXT_1001_TG9,
        DELIVERY_FAILED_42,
    ]


def test_captured_frame_of_unknown_rcp_opcode_is_counted_unsupported_and_acked() -> None:
    codec = HyteraCodec()
    codec.outbox.clear()
    assert codec.feed(h(DATA_RCP_225), 0.0) == []
    assert codec.frames == 1
    assert dict(codec.drops.counts) == {"unsupported": 1, "unsupported_bytes": 213}
    assert codec.outbox == [h("7e04001020100003000c61cc")]  # data ack 0x20 -> 0x10, packet 3


# --- session --------------------------------------------------------------------------------------


def test_session_history() -> None:
    codec = HyteraCodec()
    history = [codec.state]
    assert codec.outbox == [h(CONNECT_V4)]
    codec.outbox.clear()
    codec.feed(h(ACCEPT), 0.0)
    history.append(codec.state)
    codec.feed(h(DATA_RCP_REPLY), 0.0)  # a data frame, packet number 1, from the radio
    assert codec.outbox == [h(DATA_ACK_1)]
    codec.outbox.clear()
    codec.feed(bytes(HrnpFrame(HrnpOpcode.CLOSE, src=0x10, dst=0x20, packet_number=9)), 0.0)
    history.append(codec.state)
    assert codec.outbox == [bytes(HrnpFrame(HrnpOpcode.CLOSE_ACK, src=0x20, dst=0x10, packet_number=9))]
    assert history == [HrnpState.CONNECTING, HrnpState.CONNECTED, HrnpState.CLOSED]


def test_reject_closes() -> None:
    codec = HyteraCodec()
    codec.feed(bytes(HrnpFrame(HrnpOpcode.REJECT, src=0x10, dst=0x20)), 0.0)
    assert codec.state is HrnpState.CLOSED


def test_handshake_and_requests_through_the_gateway_end() -> None:
    codec, gateway = HyteraCodec(local_id=1), HyteraGateway(dispatcher_id=1)
    assert gateway.feed(b"".join(codec.outbox), 0.0) == []
    codec.outbox.clear()
    assert gateway.connected
    codec.feed(b"".join(gateway.outbox), 0.0)
    gateway.outbox.clear()
    assert codec.state is HrnpState.CONNECTED

    sent = codec.encode_text("1001", "Évacuez \x03 ~ 撤离", group=False, msg_id=77) + codec.encode_poll("1001")
    assert gateway.feed(sent, 0.0) == [
        Text(src="1", dst="1001", text="Évacuez \x03 ~ 撤离", msg_id=77),
        PollRequest(unit="1001", request_id=1),
    ]
    assert len(gateway.outbox) == 2  # a data ack for each
    assert codec.feed(b"".join(gateway.outbox), 0.0) == []  # the acks need nothing
    assert codec.feed(gateway.delivery(77, "1001"), 0.0) == [Delivery(msg_id=77, unit="1001", ok=True)]


def test_registration_is_answered() -> None:
    codec = HyteraCodec()
    codec.outbox.clear()
    assert codec.feed(h(REGISTRATION_1001), 0.0) == [Presence(unit="1001", online=True)]
    data_ack, answer = codec.outbox
    assert data_ack == h(DATA_ACK_1)
    message = HdapMessage.parse(HrnpFrame.parse(answer).payload)
    assert (message.service, message.opcode, message.payload) == (HdapService.RRS, 0x80, h("0a0003e90000000e10"))


def test_private_text_to_us_is_acknowledged() -> None:
    codec, gateway = HyteraCodec(local_id=1), HyteraGateway(dispatcher_id=1)
    codec.outbox.clear()
    stream = gateway.text(2001, 1, "Need water", msg_id=7) + gateway.text(2001, 3, "not ours", msg_id=8)
    events = codec.feed(stream, 0.0)
    assert [e.msg_id for e in events if isinstance(e, Text)] == [7, 8]
    assert len(codec.outbox) == 3  # two data acks and one TMP ack
    assert gateway.feed(b"".join(codec.outbox), 0.0) == [Delivery(msg_id=7, unit="1", ok=True)]


def test_each_call_reported_once() -> None:
    codec, gateway = HyteraCodec(), HyteraGateway()
    stream = (
        gateway.call_start(1001, 9)
        + gateway.call_start(1001, 9)
        + gateway.call_end(1001, 9)
        + gateway.call_end(1001, 9)
        + gateway.data(hdap_control.transmit_status(1001, 9, status=4, call_type=1))
        + gateway.emergency_alarm(1002)
        + gateway.emergency_alarm(1002)
        + gateway.emergency_alarm(1002, end=True)
        + gateway.emergency_alarm(1002)
        + gateway.call_start(1003, 1004, CallType.PRIVATE)
        + gateway.call_start(1005, 9, CallType.EMERGENCY)
    )
    assert codec.feed(stream, 0.0) == [
        CallStart(caller="1001", talkgroup="9"),
        CallEnd(caller="1001", talkgroup="9"),
        Alarm(unit="1002"),
        Alarm(unit="1002"),
        CallStart(caller="1003", talkgroup="1004", call_type=CallType.PRIVATE),
        CallStart(caller="1005", talkgroup="9", call_type=CallType.EMERGENCY),
    ]


def test_location_answer_without_position() -> None:
    gateway = HyteraGateway()
    failed = hdap_location.standard_answer(1001, Fix(unit="1001"), subnet=10, result=6)
    no_fix = hdap_location.standard_answer(1001, Fix(unit="1001", ts=1_700_000_000.0), subnet=10)
    short = HdapMessage(HdapService.LP, 0xA002, failed.payload[:10])
    assert HyteraCodec().feed(gateway.data(failed) + gateway.data(no_fix) + gateway.data(short), 0.0) == [
        Fix(unit="1001"),
        Fix(unit="1001", ts=1_700_000_000.0),
        Fix(unit="1001"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dst": "1001", "text": "x" * 257, "group": False, "msg_id": 1}, "text of 257 UTF-16 units exceeds 256"),
        ({"dst": "ALPHA", "text": "hi", "group": False, "msg_id": 1}, "radio id 'ALPHA' is not a number"),
        ({"dst": "1001", "text": "hi", "group": False, "msg_id": -1}, "message id -1 does not fit in 32 bits"),
        (
            {"dst": "1001", "text": "\ud800", "group": False, "msg_id": 1},
            "text cannot be put in UTF-16: surrogates not allowed",
        ),
    ],
)
def test_encode_text_errors(kwargs: dict[str, object], message: str) -> None:
    codec = HyteraCodec()
    with pytest.raises(EncodeError) as info:
        codec.encode_text(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


# --- exact drop counters --------------------------------------------------------------------------


def test_bad_checksum_counted_once_then_resync() -> None:
    codec = HyteraCodec()
    bad = bytearray(h(REGISTRATION_1001))
    bad[11] ^= 0x01
    events = codec.feed(bytes(bad) + h(DEREGISTRATION_1001), 0.0)
    assert events == [Presence(unit="1001", online=False)]
    assert dict(codec.drops.counts) == {
        "bad_checksum": 1,
        "bad_checksum_bytes": 1,
        "garbage": 1,
        "garbage_bytes": len(bad) - 1,
    }


def test_oversize_length_counted() -> None:
    codec = HyteraCodec(max_frame=100)
    header = bytes((0x7E, 4, 0, 0, 0x10, 0x20, 0, 1)) + (101).to_bytes(2, "big") + b"\0\0"
    events = codec.feed(header + h(REGISTRATION_1001), 0.0)
    assert events == [Presence(unit="1001", online=True)]
    assert dict(codec.drops.counts) == {"oversize": 1, "oversize_bytes": 1, "garbage": 1, "garbage_bytes": 11}


@pytest.mark.parametrize("fake", [b"\x7e\x04\x00\x55\x10", b"\x7e\x10\x00\x00\x10"], ids=["opcode", "version"])
def test_bad_header_judged_before_the_whole_frame_arrives(fake: bytes) -> None:
    codec = HyteraCodec()
    # A 0x7E with an unknown opcode or version must not hold up the real frame behind it.
    assert codec.feed(fake + h(REGISTRATION_1001), 0.0) == [Presence(unit="1001", online=True)]
    assert dict(codec.drops.counts) == {"bad_header": 1, "bad_header_bytes": 1, "garbage": 1, "garbage_bytes": 4}


def test_stale_partial_dropped() -> None:
    codec = HyteraCodec(stale_after_s=3.0)
    partial = h(REGISTRATION_1001)[:15]
    assert codec.feed(partial, 100.0) == []
    assert codec.feed(b"", 102.0) == []  # not yet stale
    assert not codec.drops.counts
    assert codec.feed(h(DEREGISTRATION_1001), 104.0) == [Presence(unit="1001", online=False)]
    assert dict(codec.drops.counts) == {"stale": 1, "stale_bytes": 15}


def test_partial_completed_in_time_is_not_stale() -> None:
    codec = HyteraCodec(stale_after_s=3.0)
    frame = h(REGISTRATION_1001)
    codec.feed(frame[:15], 100.0)
    assert codec.feed(frame[15:], 102.9) == [Presence(unit="1001", online=True)]
    assert not codec.drops.counts


def test_malformed_hdap_in_good_frame_counted_and_acked() -> None:
    codec = HyteraCodec()
    codec.outbox.clear()
    payload = bytearray(h(TMP_ACK))
    payload[-2] ^= 0xFF
    assert codec.feed(bytes(HrnpFrame(HrnpOpcode.DATA, bytes(payload), src=0x10, dst=0x20, packet_number=4)), 0.0) == []
    assert dict(codec.drops.counts) == {"malformed": 1, "malformed_bytes": len(payload)}
    assert len(codec.outbox) == 1


def test_outbox_keeps_the_newest() -> None:
    codec, gateway = HyteraCodec(max_outbox=2), HyteraGateway()
    frames = [gateway.call_end(1001, n) for n in range(5)]
    codec.feed(b"".join(frames), 0.0)
    assert codec.outbox == [bytes(HrnpFrame.parse(f).ack()) for f in frames[-2:]]
    assert codec.drops["outbox_overflow"] == 4  # the connect request and three acks


# --- properties -------------------------------------------------------------------------------------

unit_ids = st.integers(1, 0xFFFFFF).map(str)
texts = st.text(st.characters(codec="utf-8"), max_size=60)  # no lone surrogates
fixes = st.builds(
    lambda unit, ts, lat, lon, knots, course: Fix(
        unit=unit,
        ts=float(ts),
        lat=lat,
        lon=lon,
        speed_mps=knots * 1852 / 3600,
        course_deg=float(course),
        mode=FixMode.TWO_D,
    ),
    unit_ids,
    st.integers(946_684_800, 4_102_444_799),  # 2000-01-01 .. 2099-12-31
    st.floats(-89.9999, 89.9999),
    st.floats(-179.9999, 179.9999),
    st.sampled_from([0.0, 0.1, 5.5, 9.9, 12.0, 150.0]),
    st.integers(0, 359),
)


@st.composite
def traffic(draw: st.DrawFn) -> tuple[list[bytes], list[RadioEvent]]:
    """Gateway frames and the events each must give (each message kind at least possible)."""
    gateway = HyteraGateway(dispatcher_id=1)
    frames: list[bytes] = []
    events: list[RadioEvent] = []
    for n in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["location", "triggered", "emergency", "text", "delivery", "presence", "call"]))
        unit = draw(unit_ids)
        if kind in ("location", "triggered", "emergency"):
            fix = draw(fixes)
            unit = fix.unit or unit
            build = {
                "location": gateway.location,
                "triggered": gateway.triggered_location,
                "emergency": gateway.emergency,
            }[kind]
            frames.append(build(unit, fix))
            events += [Alarm(unit=unit), fix] if kind == "emergency" else [fix]
        elif kind == "text":
            body, group, dst = draw(texts), draw(st.booleans()), draw(unit_ids)
            frames.append(gateway.text(unit, dst, body, group=group, msg_id=n))
            events.append(Text(src=unit, dst=dst, text=body.rstrip("\x00"), group=group, msg_id=n))
        elif kind == "delivery":
            ok, group = draw(st.booleans()), draw(st.booleans())
            frames.append(gateway.delivery(n, unit, ok=ok, group=group))
            events.append(Delivery(msg_id=n, unit=unit, ok=ok))
        elif kind == "presence":
            online = draw(st.booleans())
            frames.append(gateway.registration(unit, online=online))
            events.append(Presence(unit=unit, online=online))
        else:
            talkgroup = str(draw(st.integers(1, 0xFFFFFF)))
            frames.append(gateway.call_start(unit, talkgroup, CallType.GROUP) + gateway.call_end(unit, talkgroup))
            events += [CallStart(caller=unit, talkgroup=talkgroup), CallEnd(caller=unit, talkgroup=talkgroup)]
    return frames, events


def _close(a: RadioEvent, b: RadioEvent) -> bool:
    """Equal, positions within the 1e-4 minute and 0.1 knot of the GPS data block."""
    if isinstance(a, Fix) and isinstance(b, Fix):
        return (a.unit, a.ts, a.mode) == (b.unit, b.ts, b.mode) and all(
            (x is None and y is None) or (x is not None and y is not None and math.isclose(x, y, abs_tol=tol))
            for x, y, tol in [
                (a.lat, b.lat, 2e-6),
                (a.lon, b.lon, 2e-6),
                (a.course_deg, b.course_deg, 0.5),
                (a.speed_mps, b.speed_mps, 0.03),
            ]
        )
    return a == b


def assert_events(got: list[RadioEvent], expected: list[RadioEvent]) -> None:
    assert len(got) == len(expected), (got, expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert _close(mine, theirs), (mine, theirs)


@PROPERTY
@given(traffic(), st.randoms(use_true_random=False))
def test_any_chunking_gives_the_same_events(sample: tuple[list[bytes], list[RadioEvent]], rnd: random.Random) -> None:
    frames, expected = sample
    stream = b"".join(frames)
    reference = HyteraCodec()
    whole = reference.feed(stream, 0.0)
    assert_events(whole, expected)
    codec = HyteraCodec()
    pieces: list[RadioEvent] = []
    i = 0
    while i < len(stream):
        step = rnd.randint(1, 40)
        pieces += codec.feed(stream[i : i + step], 0.0)
        i += step
    assert pieces == whole
    assert not codec.drops.counts
    assert codec.frames == reference.frames >= len(frames)


@PROPERTY
@given(st.binary(max_size=600))
def test_random_bytes_never_raise_and_are_all_counted(data: bytes) -> None:
    codec = HyteraCodec()
    codec.feed(data, 0.0)
    codec.feed(data[::-1], 1.0)
    framer = HrnpFramer(HyteraCodec().drops)
    consumed = sum(len(bytes(f)) for f in framer.feed(data, 0.0))
    dropped = sum(n for kind, n in framer.drops.counts.items() if kind.endswith("_bytes"))
    assert consumed + dropped + framer.pending == len(data)


@PROPERTY
@given(traffic(), st.lists(st.binary(max_size=30).map(lambda b: b + bytes([0x7E, 0x03])), min_size=1, max_size=9))
def test_frames_between_garbage_are_all_recovered(
    sample: tuple[list[bytes], list[RadioEvent]], junk: list[bytes]
) -> None:
    frames, expected = sample
    stream = b"".join(junk[i % len(junk)] + frame for i, frame in enumerate(frames)) + junk[0]
    codec = HyteraCodec()
    events = codec.feed(stream, 0.0)
    now = 0.0
    while codec.pending:  # junk that looks like a long frame waits until it goes stale
        now += 10.0
        events += codec.feed(b"", now)
    assert_events(events, expected)


@PROPERTY
@given(fixes)
def test_location_round_trip(fix: Fix) -> None:
    gateway = HyteraGateway()
    assert fix.unit is not None
    for frame in (gateway.location(fix.unit, fix), gateway.triggered_location(fix.unit, fix)):
        assert_events(HyteraCodec().feed(frame, 0.0), [fix])


@PROPERTY
@given(unit_ids, unit_ids, texts, st.booleans(), st.integers(0, 0xFFFFFFFF))
def test_text_round_trip(src: str, dst: str, body: str, group: bool, msg_id: int) -> None:
    frame = HyteraGateway().text(src, dst, body, group=group, msg_id=msg_id)
    assert HyteraCodec(local_id=1).feed(frame, 0.0) == [
        Text(src=src, dst=dst, text=body.rstrip("\x00"), group=group, msg_id=msg_id)
    ]


@PROPERTY
@given(unit_ids, st.integers(0, 0xFFFFFFFF), st.booleans(), st.booleans())
def test_delivery_round_trip(unit: str, msg_id: int, ok: bool, group: bool) -> None:
    frame = HyteraGateway().delivery(msg_id, unit, ok=ok, group=group)
    assert HyteraCodec().feed(frame, 0.0) == [Delivery(msg_id=msg_id, unit=unit, ok=ok)]


@PROPERTY
@given(unit_ids, unit_ids, st.sampled_from(list(CallType)), st.booleans())
def test_call_and_presence_round_trip(caller: str, talkgroup: str, call_type: CallType, online: bool) -> None:
    gateway = HyteraGateway()
    stream = (
        gateway.registration(caller, online=online)
        + gateway.call_start(caller, talkgroup, call_type)
        + gateway.call_end(caller, talkgroup, call_type)
        + gateway.emergency_alarm(caller)
    )
    assert HyteraCodec().feed(stream, 0.0) == [
        Presence(unit=caller, online=online),
        CallStart(caller=caller, talkgroup=talkgroup, call_type=call_type),
        CallEnd(caller=caller, talkgroup=talkgroup),
        Alarm(unit=caller),
    ]


@PROPERTY
@given(st.text(st.sampled_from("\x03\x7e\u0303\u7e03\u037e a"), min_size=1, max_size=40))
def test_payload_full_of_tail_and_start_bytes(body: str) -> None:
    # Radio 197379 is 0x030303, message id 0x03030303: 0x03 everywhere, and 0x7E in the text.
    gateway = HyteraGateway(subnet=3)
    codec = HyteraCodec(subnet=3)
    frame = gateway.text(197379, 197379, body, msg_id=0x03030303)
    assert frame.count(0x03) >= 10
    got = codec.feed(frame[:7], 0.0) + codec.feed(frame[7:], 0.0)
    assert got == [Text(src="197379", dst="197379", text=body, msg_id=0x03030303)]
