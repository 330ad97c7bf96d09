"""MOTOTRBO LRRP, ARS and TMS: known answers from published bytes, the codec, the UDP link, properties.

Published bytes:
- LRRP: the specification's examples reproduced in OK-DMR/ok-dmrlib
  ``okdmr/tests/dmrlib/motorola/test_lrrp.py`` (request id 2468ACE0, 2003-06-30 07:30:00,
  12.345345 N 24.668866 E), one of its field samples, and the report a TETRA user posted on
  RadioReference ("Motorola LRRP Protocol", thread 370081: 44.645 N 10.959 E, after a 0x80 prefix
  that belongs to the carrier); TRBOnet's immediate request quoted in rick51231/node-dmr-lib.
- ARS and TMS: captures in ok-dmrlib ``test_ars.py`` and ``test_tms.py``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.radio import mototrbo_ars as ars
from edge.radio import mototrbo_lrrp as lrrp
from edge.radio import mototrbo_tms as tms
from edge.radio.events import Delivery, Fix, FixMode, Presence, RadioEvent, Text
from edge.radio.framing import EncodeError
from edge.radio.mototrbo import DUPLICATE_WINDOW_S, MotoTrboCodec
from edge.radio.mototrbo_link import MotoTrboLink, open_mototrbo
from edge.radio.mototrbo_records import (
    HEADER_LEN,
    MAX_PAYLOAD,
    Datagram,
    RecordError,
    Service,
    address,
    split,
    unit_of,
)

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- published bytes ---------------------------------------------------------------------------------
LRRP_SPEC_REPORT = "071A22042468ACE0341F4DBC778051118ECD8D118AD47B00636C0006"  # circle-2d, speed
LRRP_SPEC_ERROR = "070C22042468ACE0390503515355"  # operation-error, result 5
LRRP_SPEC_TRIGGERED_REQUEST = "090922042468ACE034313C"  # every 60 s
LRRP_SPEC_TRIGGERED_REPORT = "0D0F22042468ACE066118ECD8D118AD47B"  # point-2d
LRRP_SPEC_STOP_ANSWER = "110722042468ACE038"
LRRP_SAMPLE_TOKEN_6B = "1315232F341F4AD07B2E66474326660A4D56E46B0B5620"  # ok-dmrlib field sample
LRRP_RADIOREFERENCE = "1313232F341F8893000F663F7EBBBB07CB07555672"
LRRP_TRBONET_REQUEST = "0509220300000751546257"
ARS_REGISTRATION_11 = "0007F0200231310000"
ARS_DEREGISTRATION = "000131"
ARS_USER_REGISTRATION = "0010F5000231310939393939393939393900"
ARS_ANSWER_30_MIN = "0002BF01"
ARS_ANSWER_CSBK = "00033F1080"
TMS_TEXT_AHOJ = "000DE001019544610068006F006A00"  # sequence 85, address 01
TMS_ACK_53 = "00049F009520"
TMS_AVAILABILITY = "0003D00001"
TMS_ACK_NO_SEQ = "00021F00"

RADIO = address(1001, 12)  # 12.0.3.233
T0 = 1_700_000_000.0


def rec(service: Service, payload: bytes | str, ip: bytes = RADIO) -> bytes:
    """One record, as MotoTrboLink delivers a datagram."""
    return bytes(Datagram(service, ip, bytes.fromhex(payload) if isinstance(payload, str) else payload))


def outbox(codec: MotoTrboCodec) -> list[Datagram]:
    """What the codec owes the radios, parsed, and cleared as the adapter does."""
    out = [d for chunk in codec.outbox for d in split(chunk)]
    codec.outbox.clear()
    return out


def utc(ts: float | None) -> str:
    assert ts is not None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


# --- records -----------------------------------------------------------------------------------------


def test_record_layout_is_magic_service_address_length_payload() -> None:
    record = bytes(Datagram(Service.TMS, bytes((127, 0, 3, 233)), b"\x01\x02"))
    assert record.hex() == "5452424f" + "0fa7" + "7f0003e9" + "0002" + "0102"
    assert split(record) == [Datagram(Service.TMS, b"\x7f\x00\x03\xe9", b"\x01\x02")]


def test_radio_ids_are_the_last_three_octets() -> None:
    assert address(12045, 12) == bytes((12, 0, 47, 13))  # the MOTOTRBO System Planner's example
    assert address("9001", 225) == bytes((225, 0, 35, 41))
    assert unit_of(bytes((13, 0, 47, 13))) == "12045"  # the network octet is not part of the id
    for bad in ("abc", "0", str(1 << 24), "-5"):
        with pytest.raises(EncodeError):
            address(bad, 12)


@pytest.mark.parametrize("junk", ["", "5452424f0fa7", "5452424f0fa77f0003e900020102ff", "ff"])
def test_split_refuses_anything_but_whole_records(junk: str) -> None:
    if not junk:
        assert split(b"") == []
        return
    with pytest.raises(RecordError):
        split(bytes.fromhex(junk))


# --- LRRP known answers ------------------------------------------------------------------------------


def test_lrrp_spec_immediate_report_with_circle_and_speed() -> None:
    (m,), problem = lrrp.parse(bytes.fromhex(LRRP_SPEC_REPORT))
    assert problem is None
    assert (m.document, m.request_id, m.result) == (lrrp.Document.IMMEDIATE_REPORT, 0x2468ACE0, lrrp.NO_RESULT)
    assert utc(m.ts) == "2003-06-30T07:30:00+00:00"
    assert m.lat == pytest.approx(12.345345, abs=1e-6) and m.lon == pytest.approx(24.668866, abs=1e-6)
    assert (m.radius_m, m.speed_mps) == (99 / 128, 6 / 128)  # ufloatvar 00 63 and 00 06
    fix = m.fix("1001")
    assert (fix.unit, fix.mode, fix.alt_msl_m, fix.speed_mps) == ("1001", FixMode.TWO_D, None, 6 / 128)


def test_lrrp_radioreference_report_with_one_byte_request_id_and_direction() -> None:
    (m,), problem = lrrp.parse(bytes.fromhex(LRRP_RADIOREFERENCE))
    assert problem is None
    assert (m.document, m.request_id, m.course_deg) == (lrrp.Document.UNSOLICITED_REPORT, 0x2F, 228.0)
    assert (round(m.lat or 0, 3), round(m.lon or 0, 3)) == (44.645, 10.959)  # as the thread worked out
    assert utc(m.ts) == "2018-02-09T16:00:15+00:00"


def test_lrrp_spec_triggered_report_error_report_and_stop_answer() -> None:
    (report,), _ = lrrp.parse(bytes.fromhex(LRRP_SPEC_TRIGGERED_REPORT))
    assert (report.document, report.ts, report.radius_m) == (lrrp.Document.TRIGGERED_REPORT, None, None)
    assert report.lat == pytest.approx(12.345345, abs=1e-6)
    (error,), _ = lrrp.parse(bytes.fromhex(LRRP_SPEC_ERROR))
    assert (error.result, error.lat) == (5, None)
    assert error.fix("1001") == Fix(unit="1001")  # heard, no position
    (stop,), _ = lrrp.parse(bytes.fromhex(LRRP_SPEC_STOP_ANSWER))
    assert (stop.document, stop.result) == (lrrp.Document.TRIGGERED_STOP_ANSWER, lrrp.SUCCESS)


def test_lrrp_requests_from_the_spec_and_trbonet() -> None:
    (trig,), _ = lrrp.parse(bytes.fromhex(LRRP_SPEC_TRIGGERED_REQUEST))
    assert (trig.document, trig.request_id, trig.interval_s) == (lrrp.Document.TRIGGERED_REQUEST, 0x2468ACE0, 60)
    (imm,), _ = lrrp.parse(bytes.fromhex(LRRP_TRBONET_REQUEST))
    assert (imm.document, imm.request_id, imm.unknown_token) == (lrrp.Document.IMMEDIATE_REQUEST, 7, None)
    # Ours: the same query tokens with a 4-byte request id.
    assert lrrp.immediate_request(0x2468ACE0).hex() == "050a22042468ace051546257"
    assert lrrp.triggered_request(0x2468ACE0, 60).hex() == "090d22042468ace05154625734313c"


def test_lrrp_unknown_token_keeps_what_came_before_it() -> None:
    (m,), problem = lrrp.parse(bytes.fromhex(LRRP_SAMPLE_TOKEN_6B))
    assert problem is None and m.unknown_token == 0x6B
    assert (round(m.lat or 0, 4), round(m.lon or 0, 4)) == (50.1063, 14.4873)


def test_lrrp_signed_coordinates_south_and_west() -> None:
    fix = Fix(unit="7", lat=-33.87, lon=-58.38, mode=FixMode.TWO_D)
    raw = lrrp.report(fix, request_id=1)
    assert raw[8:17].hex() == "66" + (-33.87 / 90 * 2**31).__round__().to_bytes(4, "big", signed=True).hex() + (
        (-58.38 / 180 * 2**31).__round__().to_bytes(4, "big", signed=True).hex()
    )
    (m,), _ = lrrp.parse(raw)
    assert m.lat == pytest.approx(-33.87, abs=1e-7) and m.lon == pytest.approx(-58.38, abs=1e-7)


def test_lrrp_varints_match_mbxml() -> None:
    # ok-dmrlib test_mbxml: 0x3C -> 3C; 300 -> 82 2C; ufloatvar 0.77 -> 00 63 (one fraction byte).
    assert lrrp.uintvar(0x3C).hex() == "3c" and lrrp.uintvar(300).hex() == "822c"
    assert lrrp.ufloat(99 / 128).hex() == "0063"
    assert lrrp.sintvar(5, negative=True).hex() == "45"
    assert lrrp.sintvar(100, negative=False).hex() == "8064"  # bit 6 of a first byte is the sign
    with pytest.raises(EncodeError):
        lrrp.uintvar(1 << 32)


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ("07", "no length"),
        ("0710220424", "document longer than the datagram"),
        ("0706220424", "request id runs past its document"),
        ("0703668ECD", "point runs past its document"),
        ("0707378080808080800", "uintvar longer than 5 bytes"),
    ],
)
def test_lrrp_malformed(payload: str, why: str) -> None:
    messages, problem = lrrp.parse(bytes.fromhex(payload.ljust(len(payload) + len(payload) % 2, "0")))
    assert messages == [] and problem is not None, why


# --- ARS and TMS known answers -----------------------------------------------------------------------


def test_ars_captures() -> None:
    reg = ars.parse(bytes.fromhex(ARS_REGISTRATION_11))
    assert (reg.kind, reg.device_id) == (ars.ArsType.DEVICE_REGISTRATION, "11")
    assert ars.registration("11").hex().upper() == ARS_REGISTRATION_11
    assert ars.parse(bytes.fromhex(ARS_DEREGISTRATION)).kind == ars.ArsType.DEVICE_DEREGISTRATION
    assert ars.deregistration().hex() == ARS_DEREGISTRATION
    answer = ars.parse(bytes.fromhex(ARS_ANSWER_30_MIN))
    assert (answer.kind, answer.refresh, answer.failed) == (ars.ArsType.ANSWER, 1, False)
    assert ars.answer(refresh=1).hex().upper() == ARS_ANSWER_30_MIN
    assert ars.parse(bytes.fromhex(ARS_ANSWER_CSBK)).kind == ars.ArsType.ANSWER  # trailing 10 80 ignored
    assert ars.parse(bytes.fromhex(ARS_USER_REGISTRATION)).kind == ars.ArsType.USER_REGISTRATION


def test_tms_captures() -> None:
    m = tms.parse(bytes.fromhex(TMS_TEXT_AHOJ))
    assert (m.kind, m.seq, m.encoding, m.address, m.ack_requested, m.text()) == (
        tms.TmsKind.TEXT, 85, tms.UTF16LE, b"\x01", True, "ahoj"
    )
    assert tms.text("ahoj", 85, address=b"\x01").hex().upper() == TMS_TEXT_AHOJ
    ack = tms.parse(bytes.fromhex(TMS_ACK_53))
    assert (ack.kind, ack.seq) == (tms.TmsKind.ACK, 53)
    assert tms.ack(53).hex().upper() == TMS_ACK_53
    assert tms.parse(bytes.fromhex(TMS_AVAILABILITY)).kind is tms.TmsKind.AVAILABILITY
    assert tms.ack(None).hex().upper() == TMS_ACK_NO_SEQ


def test_tms_strips_a_leading_crlf_and_nul_padding() -> None:
    body = "\r\n撤离 Evacuate\x00\x00".encode("utf-16-le")
    msg = bytes((0xE0, 0x00, 0x81, 0x04)) + body  # sequence 1, UTF-16LE
    raw = len(msg).to_bytes(2, "big") + msg
    assert tms.parse(raw).text() == "撤离 Evacuate"


def test_tms_refuses_what_a_radio_cannot_show() -> None:
    assert len(tms.text("字" * 280, 0)) == 2 + 4 + 560  # length, header, address length, 2 headers
    for bad in ("字" * 281, "\ud800"):
        with pytest.raises(EncodeError):
            tms.text(bad, 0)
    with pytest.raises(EncodeError):
        tms.text("x", 128)


# --- the codec -----------------------------------------------------------------------------------------


def test_registration_is_answered_and_reported() -> None:
    codec = MotoTrboCodec()
    assert codec.feed(rec(Service.ARS, ARS_REGISTRATION_11), T0) == [Presence(unit="1001", online=True)]
    assert outbox(codec) == [Datagram(Service.ARS, RADIO, bytes.fromhex(ARS_ANSWER_30_MIN))]
    assert codec.feed(rec(Service.ARS, ARS_DEREGISTRATION), T0) == [Presence(unit="1001", online=False)]
    assert outbox(codec) == []


def test_registration_starts_periodic_reports_when_configured() -> None:
    codec = MotoTrboCodec(report_interval_s=30)
    codec.feed(rec(Service.ARS, ARS_REGISTRATION_11), T0)
    answer, request = outbox(codec)
    assert answer.service is Service.ARS
    assert (request.service, request.ip) == (Service.LRRP, RADIO)
    (m,), _ = lrrp.parse(request.payload)
    assert (m.document, m.interval_s) == (lrrp.Document.TRIGGERED_REQUEST, 30)


def test_reports_become_fixes_of_the_sending_radio() -> None:
    codec = MotoTrboCodec()
    events = codec.feed(rec(Service.LRRP, LRRP_SPEC_REPORT) + rec(Service.LRRP, LRRP_RADIOREFERENCE,
                                                                    ip=bytes((12, 0, 0, 7))), T0)
    assert [(e.unit, round(e.lat or 0, 3)) for e in events if isinstance(e, Fix)] == [("1001", 12.345), ("7", 44.645)]
    assert codec.frames == 2 and outbox(codec) == []


def test_poll_goes_to_the_radio_and_its_answer_is_a_fix() -> None:
    codec = MotoTrboCodec()
    (poll,) = split(codec.encode_poll("1001"))
    assert (poll.service, poll.ip) == (Service.LRRP, RADIO)
    (request,), _ = lrrp.parse(poll.payload)
    assert request.document is lrrp.Document.IMMEDIATE_REQUEST and request.request_id is not None
    fix = Fix(unit="1001", ts=T0, lat=36.7, lon=119.16, alt_msl_m=31.5, speed_mps=1.5, course_deg=44.0,
              mode=FixMode.THREE_D)
    answer = lrrp.report(fix, request_id=request.request_id, document=lrrp.Document.IMMEDIATE_REPORT)
    (got,) = codec.feed(rec(Service.LRRP, answer), T0)
    assert isinstance(got, Fix)
    assert (got.unit, got.ts, got.mode, got.alt_msl_m, got.speed_mps, got.course_deg) == (
        "1001", T0, FixMode.THREE_D, 31.5, 1.5, 44.0
    )
    assert got.lat == pytest.approx(36.7, abs=1e-7) and got.lon == pytest.approx(119.16, abs=1e-7)


def test_text_from_a_radio_is_acknowledged_and_a_repeat_reported_once() -> None:
    codec = MotoTrboCodec(local_id=1)
    body = "发现被困人员 Trapped person found"
    text = tms.text(body, 42)
    assert codec.feed(rec(Service.TMS, text), T0) == [Text(src="1001", dst="1", text=body)]
    assert outbox(codec) == [Datagram(Service.TMS, RADIO, tms.ack(42))]
    assert codec.feed(rec(Service.TMS, text), T0 + 5) == []  # our ack was lost; the radio sent it again
    assert outbox(codec) == [Datagram(Service.TMS, RADIO, tms.ack(42))]
    assert codec.drops.counts == {"duplicate": 1}
    assert len(codec.feed(rec(Service.TMS, text), T0 + 5 + DUPLICATE_WINDOW_S + 1)) == 1  # much later: new


def test_text_to_a_radio_keeps_its_number_on_retry_and_the_ack_settles_it() -> None:
    codec = MotoTrboCodec()
    (first,) = split(codec.encode_text("1001", "撤离到集结区 Evacuate", group=False, msg_id=500))
    (retry,) = split(codec.encode_text("1001", "撤离到集结区 Evacuate", group=False, msg_id=500))
    (other,) = split(codec.encode_text("1001", "second", group=False, msg_id=501))
    sent, again, next_one = (tms.parse(d.payload) for d in (first, retry, other))
    assert (first.service, first.ip, sent.ack_requested, sent.text()) == (
        Service.TMS, RADIO, True, "撤离到集结区 Evacuate"
    )
    assert sent.seq is not None and again.seq == sent.seq and next_one.seq == (sent.seq + 1) % 128
    assert codec.feed(rec(Service.TMS, tms.ack(sent.seq)), T0) == [Delivery(msg_id=500, unit="1001", ok=True)]
    assert codec.feed(rec(Service.TMS, tms.ack(next_one.seq)), T0) == [Delivery(msg_id=501, unit="1001", ok=True)]
    stranger = tms.ack((sent.seq + 5) % 128)
    assert codec.feed(rec(Service.TMS, stranger), T0) == []
    assert codec.feed(rec(Service.TMS, tms.ack(sent.seq), ip=address(1002, 12)), T0) == []  # not 1002's text
    assert codec.drops.counts == {"unmatched_ack": 2}


def test_sequence_numbers_come_round_after_128_texts() -> None:
    codec = MotoTrboCodec()
    seqs = [tms.parse(split(codec.encode_text("1001", "x", group=False, msg_id=i))[0].payload).seq
            for i in range(1, 130)]
    assert seqs[128] == seqs[0] and len(set(seqs[:128])) == 128
    (event,) = codec.feed(rec(Service.TMS, tms.ack(seqs[0])), T0)
    assert isinstance(event, Delivery) and event.msg_id == 129  # the number now belongs to the newest text


def test_group_text_goes_to_the_talkgroup_address_without_asking_for_an_ack() -> None:
    codec = MotoTrboCodec()
    (d,) = split(codec.encode_text("9001", "全体注意", group=True, msg_id=7))
    m = tms.parse(d.payload)
    assert (d.service, d.ip, m.ack_requested, m.text()) == (Service.TMS, bytes((225, 0, 35, 41)), False, "全体注意")


@pytest.mark.parametrize(("dst", "text"), [("abc", "hi"), ("0", "hi"), (str(1 << 24), "hi"), ("5", "x" * 281),
                                           ("5", "\udc00")])
def test_texts_that_cannot_be_sent_raise_encode_error(dst: str, text: str) -> None:
    codec = MotoTrboCodec()
    with pytest.raises(EncodeError):
        codec.encode_text(dst, text, group=False, msg_id=1)


def test_availability_is_acknowledged_without_an_event() -> None:
    codec = MotoTrboCodec()
    assert codec.feed(rec(Service.TMS, TMS_AVAILABILITY), T0) == []
    assert outbox(codec) == [Datagram(Service.TMS, RADIO, bytes.fromhex(TMS_ACK_NO_SEQ))]


def test_every_drop_is_counted_by_kind() -> None:
    codec = MotoTrboCodec(max_payload=64)
    stream = b"".join([
        b"noise",  # garbage: 5 bytes
        b"TRBO" + b"\x00\x16" + RADIO + b"\x00\x00",  # bad_header (port 22), then 11 bytes of garbage
        b"TRBO" + b"\x0f\xa1" + RADIO + b"\x00\x41",  # oversize (65 > 64), then 11 bytes of garbage
        rec(Service.TMS, "0005"),  # malformed: too short
        rec(Service.ARS, ARS_USER_REGISTRATION),  # unsupported
        rec(Service.LRRP, "06050000000000"),  # unsupported: a document with a constant table
        rec(Service.LRRP, LRRP_SAMPLE_TOKEN_6B),  # unknown_token (its position is still reported)
        rec(Service.LRRP, LRRP_SPEC_TRIGGERED_REQUEST),  # unsupported: a request, we are not a radio
        rec(Service.TMS, TMS_ACK_53),  # unmatched_ack
    ])
    events = codec.feed(stream, T0)
    assert [type(e).__name__ for e in events] == ["Fix"]
    assert codec.drops.counts == {
        "garbage": 3, "garbage_bytes": 5 + 11 + 11,
        "bad_header": 1, "bad_header_bytes": 1,
        "oversize": 1, "oversize_bytes": 1,
        "malformed": 1, "malformed_bytes": 2,
        "unsupported": 3, "unsupported_bytes": len(bytes.fromhex(ARS_USER_REGISTRATION)) + 7,
        "unknown_token": 1,
        "unmatched_ack": 1,
    }
    assert codec.frames == 6 and codec.pending == 0


def test_a_record_cut_short_goes_stale() -> None:
    codec = MotoTrboCodec()
    whole = rec(Service.ARS, ARS_REGISTRATION_11)
    assert codec.feed(whole[:7], T0) == [] and codec.pending == 7
    assert codec.feed(b"", T0 + 1) == [] and codec.pending == 7
    assert codec.feed(whole, T0 + 3) == [Presence(unit="1001", online=True)]
    assert codec.drops.counts == {"stale": 1, "stale_bytes": 7}


def test_outbox_keeps_the_newest_when_not_drained() -> None:
    codec = MotoTrboCodec(max_outbox=2)
    for n in range(3):
        codec.feed(rec(Service.ARS, ars.registration(str(n + 1)), ip=address(n + 1, 12)), T0)
    assert [d.ip for d in outbox(codec)] == [address(2, 12), address(3, 12)]
    assert codec.drops.counts == {"outbox_overflow": 1}


# --- properties ----------------------------------------------------------------------------------------

units = st.integers(1, (1 << 24) - 1)
fixes = st.builds(
    Fix,
    unit=st.just("1"),
    ts=st.integers(946_684_800, 4_000_000_000).map(float),
    lat=st.floats(-90, 90),
    lon=st.floats(-179.99, 179.99),
    alt_msl_m=st.none() | st.floats(-400, 9000),
    speed_mps=st.none() | st.floats(0, 300),
    course_deg=st.none() | st.integers(0, 179).map(lambda c: c * 2.0),
    mode=st.just(FixMode.TWO_D),
)


@PROPERTY
@given(fixes, st.integers(0, 0xFFFFFFFF), st.sampled_from(sorted(lrrp.REPORTS)))
def test_lrrp_report_round_trip(fix: Fix, request_id: int, document: lrrp.Document) -> None:
    (m,), problem = lrrp.parse(lrrp.report(fix, request_id=request_id, document=document))
    assert problem is None and (m.document, m.request_id, m.ts, m.course_deg) == (
        document, request_id, fix.ts, fix.course_deg
    )
    assert m.lat == pytest.approx(fix.lat, abs=1e-7) and m.lon == pytest.approx(fix.lon, abs=1e-7)
    for got, want in ((m.alt_m, fix.alt_msl_m), (m.speed_mps, fix.speed_mps)):
        assert (got is None) == (want is None)
        if got is not None and want is not None:
            assert got == pytest.approx(want, abs=1 / 256 + 1e-9)


@PROPERTY
@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 2**31 - 1), st.booleans(), st.floats(0, 1e6))
def test_varint_round_trips(u: int, s: int, negative: bool, f: float) -> None:
    assert lrrp._Reader(lrrp.uintvar(u), 0, 8).uintvar() == u
    assert lrrp._Reader(lrrp.sintvar(s, negative=negative), 0, 8).sintvar() == (s, negative)
    assert lrrp._Reader(lrrp.ufloat(f), 0, 16).ufloat() == pytest.approx(f, abs=1 / 256)


@PROPERTY
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=280).filter(
    lambda t: not t.startswith("\r\n") and not t.endswith("\x00")), st.integers(0, 127), st.booleans())
def test_tms_text_and_ack_round_trip(body: str, seq: int, ack_requested: bool) -> None:
    m = tms.parse(tms.text(body, seq, ack_requested=ack_requested))
    assert (m.kind, m.text(), m.seq, m.ack_requested) == (tms.TmsKind.TEXT, body, seq, ack_requested)
    a = tms.parse(tms.ack(seq))
    assert (a.kind, a.seq) == (tms.TmsKind.ACK, seq)


@PROPERTY
@given(units)
def test_ars_registration_round_trip(unit: int) -> None:
    assert ars.parse(ars.registration(str(unit))).device_id == str(unit)
    assert MotoTrboCodec().feed(rec(Service.ARS, ars.registration(str(unit)), ip=address(unit, 12)), T0) == [
        Presence(unit=str(unit), online=True)
    ]


def traffic() -> st.SearchStrategy[bytes]:
    """A record stream of every inbound kind from random radios."""
    one = st.one_of(
        st.builds(lambda u, f: rec(Service.LRRP, lrrp.report(f, request_id=1), ip=address(u, 12)), units, fixes),
        st.builds(lambda u: rec(Service.ARS, ars.registration(str(u)), ip=address(u, 12)), units),
        st.builds(lambda u: rec(Service.ARS, ars.deregistration(), ip=address(u, 12)), units),
        st.builds(lambda u, t, s: rec(Service.TMS, tms.text(t, s), ip=address(u, 12)), units,
                  st.text(max_size=20).map(lambda t: t.encode("utf-16-le", "replace").decode("utf-16-le", "replace")),
                  st.integers(0, 127)),
    )
    return st.lists(one, min_size=1, max_size=12).map(b"".join)


def chunks(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    edges = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for a, b in itertools.pairwise(edges):
        yield data[a:b]


@PROPERTY
@given(traffic(), st.lists(st.integers(0, 10_000), max_size=20))
def test_any_chunking_gives_the_same_events_and_replies(stream: bytes, cuts: list[int]) -> None:
    whole = MotoTrboCodec()
    expected = whole.feed(stream, T0)
    pieces = MotoTrboCodec()
    got: list[RadioEvent] = [e for piece in chunks(stream, cuts) for e in pieces.feed(piece, T0)]
    assert got == expected and pieces.outbox == whole.outbox and pieces.frames == whole.frames
    assert pieces.drops.counts == whole.drops.counts
    assert set(whole.drops.counts) <= {"duplicate"}  # the same radio, number and text twice in the stream


@PROPERTY
@given(st.binary(max_size=600))
def test_random_bytes_never_raise_and_every_byte_is_accounted_for(data: bytes) -> None:
    codec = MotoTrboCodec()
    codec.feed(data, T0)
    dropped = sum(v for k, v in codec.drops.counts.items() if k in ("garbage_bytes", "bad_header_bytes",
                                                                     "oversize_bytes"))
    if codec.frames == 0:
        assert dropped + codec.pending == len(data)
    codec.feed(b"", T0 + 10)  # whatever was held goes stale
    assert codec.pending == 0


@PROPERTY
@given(st.sampled_from(list(Service)), st.binary(max_size=80), st.binary(min_size=4, max_size=4))
def test_random_payloads_in_good_records_never_raise(service: Service, payload: bytes, ip: bytes) -> None:
    codec = MotoTrboCodec()
    codec.feed(bytes(Datagram(service, ip, payload)), T0)
    assert codec.frames == 1
    for chunk in codec.outbox:
        assert all(d.ip == ip for d in split(chunk))  # replies go to whoever sent


@PROPERTY
@given(traffic(), st.lists(st.binary(max_size=30), min_size=1, max_size=6))
def test_records_in_garbage_are_all_recovered(stream: bytes, noise: list[bytes]) -> None:
    clean = MotoTrboCodec()
    expected = clean.feed(stream, T0)
    records = split(stream)
    noisy_stream = b"".join(n.replace(b"TRBO", b"TRB") + bytes(r) for n, r in zip(noise * len(records), records,
                                                                                      strict=False))
    noisy = MotoTrboCodec()
    assert noisy.feed(noisy_stream, T0) == expected


# --- the link, on real loopback sockets ----------------------------------------------------------------


def free_ports(n: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


async def test_link_wraps_datagrams_with_the_sender_and_sends_records_to_their_radio() -> None:
    ports = dict(zip(Service, free_ports(3), strict=True))
    link = await open_mototrbo("127.0.0.1", ports)
    radio = {s: socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for s in Service}
    try:
        for s, sock in radio.items():
            sock.bind(("127.0.3.233", ports[s]))
            sock.settimeout(2)
        radio[Service.ARS].sendto(bytes.fromhex(ARS_REGISTRATION_11), ("127.0.0.1", ports[Service.ARS]))
        record = await asyncio.wait_for(link.read(), 2)
        assert split(record) == [Datagram(Service.ARS, bytes((127, 0, 3, 233)), bytes.fromhex(ARS_REGISTRATION_11))]

        codec = MotoTrboCodec(radio_network=127)
        await link.write(codec.encode_poll("1001") + codec.encode_text("1001", "好", group=False, msg_id=1))
        poll, sender = await asyncio.to_thread(radio[Service.LRRP].recvfrom, 2048)
        assert sender == ("127.0.0.1", ports[Service.LRRP]) and poll[0] == lrrp.Document.IMMEDIATE_REQUEST
        text, sender = await asyncio.to_thread(radio[Service.TMS].recvfrom, 2048)
        assert sender == ("127.0.0.1", ports[Service.TMS]) and tms.parse(text).text() == "好"

        await link.write(b"not a record")
        assert link.bad_writes == 1
    finally:
        for sock in radio.values():
            sock.close()
        await link.aclose()
        await link.aclose()


async def test_link_counts_datagrams_it_cannot_carry() -> None:
    ports = dict(zip(Service, free_ports(3), strict=True))
    link = await open_mototrbo("127.0.0.1", ports)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sender.sendto(b"x" * (MAX_PAYLOAD + 1), ("127.0.0.1", ports[Service.TMS]))
        sender.sendto(b"ok", ("127.0.0.1", ports[Service.TMS]))
        record = await asyncio.wait_for(link.read(), 2)
        assert split(record)[0].payload == b"ok" and len(record) == HEADER_LEN + 2
        assert link.dropped == 1
    finally:
        sender.close()
        await link.aclose()


async def test_link_refuses_a_port_in_use() -> None:
    (port,) = free_ports(1)
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", port))
    try:
        ports = dict(zip(Service, [*free_ports(2), port], strict=True))
        with pytest.raises(Exception, match="mototrbo TMS") as err:
            await open_mototrbo("127.0.0.1", ports)
        assert type(err.value).__name__ == "LinkError"
    finally:
        holder.close()


def test_link_description_names_every_port() -> None:
    link = MotoTrboLink("127.0.0.1", {Service.LRRP: 4001, Service.ARS: 4005, Service.TMS: 4007})
    assert link.description == "mototrbo lrrp 127.0.0.1:4001 ars 127.0.0.1:4005 tms 127.0.0.1:4007"
