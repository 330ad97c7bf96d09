"""HDAP Location Protocol (LP, service 0x08): position polls and reports.

Opcodes and payloads (big-endian; OK-DMR/dmr-kaitai ``location_protocol.ksy``; the A002 layout is
confirmed by the capture in ok-dmrlib ``tests/dmrlib/hytera/pdu/test_lp.py``)::

    A001 standard request (poll)   request id u32, radio IP
    A002 standard answer           request id u32, radio IP, result u16, GPS data
    B003 emergency report          radio IP, emergency type u8, GPS data
    C003 triggered report          request id u32, radio IP, time remaining (8 ASCII, ddhhmmss), GPS data
    D003 condition report          request id u32, radio IP, [result u16,] GPS data
    D004 condition report + RSSI   request id u32, radio IP, result u16, GPS data, RSSI s16

GPS data is 40 ASCII bytes, NMEA-like (dmr-kaitai ``gpsdata.ksy``)::

    status 1 (A valid, V none) | time 6 HHMMSS UTC | date 6 DDMMYY | N/S 1 | latitude 9 DDMM.MMMM |
    E/W 1 | longitude 10 DDDMM.MMMM | speed 3, knots | direction 3, degrees from north

D003 is read with or without the result field, told apart by the length: dmr-kaitai gives it none,
the other reports carry one. A003/A004 are left out: dmr-kaitai and ok-dmrlib disagree on them.
"""

from __future__ import annotations

import datetime as dt
import math

from msgspec import Struct

from .events import Alarm, AlarmKind, Fix, FixMode, RadioEvent
from .hdap import HdapMessage, HdapService, MalformedError, radio_ip, u32, unit_of

GPS_LEN = 40
KNOT_MPS = 1852 / 3600
STANDARD_REQUEST = 0xA001
STANDARD_ANSWER = 0xA002
EMERGENCY_REPORT = 0xB003
TRIGGERED_ANSWER = 0xC002
TRIGGERED_REPORT = 0xC003
TRIGGERED_STOP_ANSWER = 0xC005
CONDITION_ANSWER = 0xD002
CONDITION_REPORT = 0xD003
CONDITION_REPORT_RSSI = 0xD004
_ANSWERS = frozenset({TRIGGERED_ANSWER, TRIGGERED_STOP_ANSWER, CONDITION_ANSWER})


class PollRequest(Struct, frozen=True, kw_only=True):
    """A dispatcher's immediate location request, as the gateway end sees it."""

    unit: str
    request_id: int


def decode(msg: HdapMessage) -> list[RadioEvent] | None:
    """Events in an LP message; None for an opcode this decoder does not handle."""
    p = msg.payload
    op = msg.opcode
    if op == STANDARD_ANSWER:
        return [_answer(p, 8, expected=10 + GPS_LEN)]
    if op == TRIGGERED_REPORT:
        _need(p, 16 + GPS_LEN)
        return [decode_gps(p[16 : 16 + GPS_LEN], unit_of(p[4:8]))]
    if op == CONDITION_REPORT:
        gps_at = 10 if len(p) >= 10 + GPS_LEN else 8
        _need(p, gps_at + GPS_LEN)
        return [decode_gps(p[gps_at : gps_at + GPS_LEN], unit_of(p[4:8]))]
    if op == CONDITION_REPORT_RSSI:
        return [_answer(p, 8, expected=12 + GPS_LEN)]
    if op == EMERGENCY_REPORT:
        _need(p, 5 + GPS_LEN)
        unit = unit_of(p[0:4])
        return [Alarm(unit=unit, kind=AlarmKind.EMERGENCY), decode_gps(p[5 : 5 + GPS_LEN], unit)]
    if op in _ANSWERS or op == STANDARD_REQUEST:
        return []
    return None


def decode_request(msg: HdapMessage) -> PollRequest | None:
    """The poll in an LP standard request, for the gateway end; None for anything else."""
    if msg.opcode != STANDARD_REQUEST:
        return None
    _need(msg.payload, 8)
    return PollRequest(unit=unit_of(msg.payload[4:8]), request_id=int.from_bytes(msg.payload[0:4], "big"))


def _answer(p: bytes, result_at: int, *, expected: int) -> Fix:
    _need(p, result_at + 2)
    unit = unit_of(p[4:8])
    result = int.from_bytes(p[result_at : result_at + 2], "big")
    if result and len(p) < expected:
        return Fix(unit=unit)  # the radio answered without a position (e.g. 0x06, positioning failed)
    _need(p, expected)
    gps = p[result_at + 2 : result_at + 2 + GPS_LEN]
    fix = decode_gps(gps, unit)
    return fix if result == 0 else Fix(unit=unit, ts=fix.ts)


def _need(p: bytes, n: int) -> None:
    if len(p) < n:
        raise MalformedError(f"LP payload of {len(p)} bytes, needs {n}")


def decode_gps(raw: bytes, unit: str | None) -> Fix:
    """A Fix from the 40-byte GPS data block; MalformedError when a valid ('A') fix does not parse."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedError("LP GPS data is not ASCII") from None
    ts = _timestamp(text[7:13], text[1:7])
    if text[0] != "A":
        return Fix(unit=unit, ts=ts)
    try:
        lat = _degrees(text[14:23], 2, 90.0, text[13], "NS")
        lon = _degrees(text[24:34], 3, 180.0, text[23], "EW")
        speed = _number(text[34:37])
        course = _number(text[37:40])
    except ValueError as exc:
        raise MalformedError(f"LP GPS data {text!r}: {exc}") from None
    return Fix(unit=unit, ts=ts, lat=lat, lon=lon, mode=FixMode.TWO_D,
               speed_mps=None if speed is None else speed * KNOT_MPS,
               course_deg=None if course is None else course % 360.0)


def _degrees(field: str, deg_digits: int, limit: float, hemi: str, hemis: str) -> float:
    if hemi not in hemis:
        raise ValueError(f"hemisphere {hemi!r} is not one of {hemis}")
    degrees = int(field[:deg_digits])
    minutes = float(field[deg_digits:])
    value = degrees + minutes / 60.0
    if not (0.0 <= minutes < 60.0 and value <= limit):
        raise ValueError(f"{field!r} is out of range")
    return -value if hemi == hemis[1] else value


def _number(field: str) -> float | None:
    field = field.strip()
    if not field:
        return None
    value = float(field)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{field!r} is not a speed or direction")
    return value


def _timestamp(date: str, time: str) -> float | None:
    try:
        when = dt.datetime(2000 + int(date[4:6]), int(date[2:4]), int(date[0:2]),
                           int(time[0:2]), int(time[2:4]), int(time[4:6]), tzinfo=dt.UTC)
    except ValueError:
        return None  # no time yet (a radio without a fix sends zeros or blanks)
    return when.timestamp()


def encode_gps(fix: Fix) -> bytes:
    """The 40-byte GPS data block for ``fix`` (status V when it has no position)."""
    when = dt.datetime.fromtimestamp(fix.ts, dt.UTC) if fix.ts is not None else None
    time = when.strftime("%H%M%S") if when else "000000"
    date = when.strftime("%d%m%y") if when else "000000"
    if fix.lat is None or fix.lon is None or fix.mode is FixMode.NONE:
        return ("V" + time + date + "N" + "0000.0000" + "E" + "00000.0000" + "0.0" + "000").encode("ascii")
    knots = (fix.speed_mps or 0.0) / KNOT_MPS
    speed = f"{knots:.1f}" if knots < 9.95 else f"{min(round(knots), 999):03d}"
    course = round(fix.course_deg or 0.0) % 360
    text = (f"A{time}{date}{'S' if fix.lat < 0 else 'N'}{_ddmm(fix.lat, 2)}"
            f"{'W' if fix.lon < 0 else 'E'}{_ddmm(fix.lon, 3)}{speed}{course:03d}")
    return text.encode("ascii")


def _ddmm(value: float, deg_digits: int) -> str:
    # Round once, in units of 1e-4 minute, so 59.99996' carries into the degrees.
    units = round(abs(value) * 600_000)
    degrees, rest = divmod(units, 600_000)
    return f"{degrees:0{deg_digits}d}{rest // 10_000:02d}.{rest % 10_000:04d}"


def standard_answer(unit: str | int, fix: Fix, *, subnet: int, request_id: int = 0, result: int = 0) -> HdapMessage:
    """A002: a radio's answer to a poll (the gateway end)."""
    payload = u32(request_id, "request id") + radio_ip(unit, subnet) + result.to_bytes(2, "big") + encode_gps(fix)
    return HdapMessage(HdapService.LP, STANDARD_ANSWER, payload)


def triggered_report(unit: str | int, fix: Fix, *, subnet: int, request_id: int = 0,
                     remaining: str = "00000000") -> HdapMessage:
    """C003: a periodic report the radio sends on its own (the gateway end)."""
    payload = u32(request_id, "request id") + radio_ip(unit, subnet) + remaining.encode("ascii")[:8] + encode_gps(fix)
    return HdapMessage(HdapService.LP, TRIGGERED_REPORT, payload)


def emergency_report(unit: str | int, fix: Fix, *, subnet: int, emergency_type: int = 0) -> HdapMessage:
    """B003: the position a radio sends when its emergency key is pressed (the gateway end)."""
    payload = radio_ip(unit, subnet) + bytes((emergency_type & 0xFF,)) + encode_gps(fix)
    return HdapMessage(HdapService.LP, EMERGENCY_REPORT, payload)


def standard_request(unit: str | int, *, subnet: int, request_id: int) -> HdapMessage:
    """A001: ask a radio for its position now."""
    payload = u32(request_id, "request id") + radio_ip(unit, subnet)
    return HdapMessage(HdapService.LP, STANDARD_REQUEST, payload)
