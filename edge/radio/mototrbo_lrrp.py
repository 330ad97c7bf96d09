"""MOTOTRBO LRRP (Location Request/Response Protocol, UDP 4001): tokenised location requests and reports.

LRRP is XML made small by MBXML tokens. A datagram holds one or more documents::

    document id   uintvar: 0x05 Immediate-Location-Request, 0x07 Immediate-Location-Report,
                  0x09 Triggered-Location-Request, 0x0B Triggered-Location-Answer,
                  0x0D Triggered-Location-Report, 0x0F/0x11 Triggered-Location-Stop-Request/-Answer,
                  0x13 Unsolicited-Location-Report, 0x14/0x15 Location-Protocol-Request/-Report
                  (odd ids carry no constant table; even ids, which do, are not decoded)
    length        uintvar: bytes of tokens that follow
    tokens        a token id, then its value; which ids mean what depends on the document

Report tokens (answers and reports)::

    0x22 request-id    uintvar length, opaque bytes     0x23 request-id, one byte
    0x24 request-id    uintvar offset into a constant table (skipped)
    0x34 info-time     5 bytes: year 14 bits, month 4, day 5, hour 5, minute 6, second 6 (UTC)
    0x37 result        uintvar result code               0x38 result, code 0 (success)
    0x39 operation-error  uintvar result code, uintvar length, opaque
    0x51 circle-2d     lat, long, radius ufloatvar (m)
    0x55 circle-3d     lat, long, radius ufloatvar, altitude sfloatvar (m), altitude-acc ufloatvar
    0x66 point-2d      lat, long                         0x69 point-3d  lat, long, altitude sfloatvar
    0x56 direction-hor u8, units of 2 degrees           0x6C speed-hor  ufloatvar (m/s)
    0x70 speed-vrt     sfloatvar (m/s, not used)         0x36 protocol-version uintvar; 0x65 lev-conf u8

lat and long are signed 32-bit (two's complement): lat * 90 / 2^31 degrees, long * 180 / 2^31.
uintvar is 7 bits per byte, most significant first, bit 7 set on all but the last byte; sintvar
is the same with bit 6 of the first byte the sign; ufloatvar is a uintvar integer part followed by
a uintvar fraction over 128^(its length in bytes); sfloatvar has a sintvar integer part.

Sources: OK-DMR/ok-dmrlib ``motorola/mbxml.py`` and ``motorola/lrrp.py`` (token tables, encodings,
and the specification's examples in ``tests/dmrlib/motorola/test_lrrp.py``); pboyd04/Moto.Net
``Mototrbo/LRRP/*.cs`` and rick51231/node-dmr-lib ``src/Protocols/LRRP.js`` (document ids, circle
and point layouts, the TRBOnet request ``51 54 62 57``); DSheirer/sdrtrunk ``ip/lrrp/token/Heading.java``
(direction * 2); arancormonk/dsd-neo's LRRP coordinate test (two's complement for both axes; the
other sources read unsigned, which agrees in the northern and eastern hemispheres). Where sources
disagree on a token (0x54, 0x6A) it is not decoded: an unknown token ends a document's decoding,
since its length cannot be known.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass

from .events import Fix, FixMode
from .framing import EncodeError, RadioError
from .mototrbo_records import MalformedError, UnsupportedError


class Document(enum.IntEnum):
    """LRRP document ids (the no-constant-table forms)."""

    IMMEDIATE_REQUEST = 0x05
    IMMEDIATE_REPORT = 0x07
    TRIGGERED_REQUEST = 0x09
    TRIGGERED_ANSWER = 0x0B
    TRIGGERED_REPORT = 0x0D
    TRIGGERED_STOP_REQUEST = 0x0F
    TRIGGERED_STOP_ANSWER = 0x11
    UNSOLICITED_REPORT = 0x13
    PROTOCOL_REQUEST = 0x14
    PROTOCOL_REPORT = 0x15


REPORTS = frozenset({Document.IMMEDIATE_REPORT, Document.TRIGGERED_REPORT, Document.UNSOLICITED_REPORT})
ANSWERS = frozenset({Document.TRIGGERED_ANSWER, Document.TRIGGERED_STOP_ANSWER, Document.PROTOCOL_REPORT})
REQUESTS = frozenset({Document.IMMEDIATE_REQUEST, Document.TRIGGERED_REQUEST, Document.TRIGGERED_STOP_REQUEST,
                      Document.PROTOCOL_REQUEST})
_DOCUMENTS = frozenset(int(d) for d in Document)
# What we ask for: ret-info with accuracy and time, altitude, horizontal speed and direction (TRBOnet).
QUERY_INFO = bytes((0x51, 0x54, 0x62, 0x57))
SUCCESS = 0
NO_RESULT = -1
MAX_VAR_BYTES = 5  # a uintvar holds 32 bits
_LAT_UNIT = 90 / 2**31
_LON_UNIT = 180 / 2**31

# Request-document tokens and how long their values are (ok-dmrlib's query-request table).
_NONE, _U8, _UINTVAR, _UFLOAT = "none", "u8", "uintvar", "ufloat"
_REQUEST_TOKENS = {
    0x24: _UINTVAR, 0x31: _UINTVAR, 0x33: _NONE, 0x34: _NONE, 0x3F: _UINTVAR, 0x42: _UINTVAR,
    0x4A: _UINTVAR, 0x50: _NONE, 0x51: _NONE, 0x52: _NONE, 0x53: _NONE, 0x54: _NONE, 0x55: _UINTVAR,
    0x56: _UFLOAT, 0x57: _NONE, 0x5F: _UINTVAR, 0x60: _UFLOAT, 0x61: _U8, 0x62: _NONE, 0x64: _NONE,
    0x66: _NONE, 0x67: _UINTVAR, 0x68: _UFLOAT, 0x69: _NONE, 0x71: _UINTVAR, 0x72: _UFLOAT, 0x73: _U8,
    0x74: _NONE, 0x76: _NONE,
}


@dataclass(frozen=True, slots=True)
class LrrpMessage:
    """One decoded LRRP document; fields the document did not carry are None."""

    document: Document
    request_id: int | None = None
    result: int = NO_RESULT  # NO_RESULT when the document had no result token
    ts: float | None = None
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None
    radius_m: float | None = None
    speed_mps: float | None = None
    course_deg: float | None = None
    interval_s: int | None = None  # a triggered request's periodic interval
    unknown_token: int | None = None  # the token that ended decoding early, if one did

    def fix(self, unit: str) -> Fix:
        """The position this report gives ``unit`` (none when the radio reported a failure)."""
        if self.result not in (NO_RESULT, SUCCESS) or self.lat is None or self.lon is None:
            return Fix(unit=unit, ts=self.ts)
        mode = FixMode.THREE_D if self.alt_m is not None else FixMode.TWO_D
        return Fix(unit=unit, ts=self.ts, lat=self.lat, lon=self.lon, alt_msl_m=self.alt_m,
                   speed_mps=self.speed_mps, course_deg=self.course_deg, mode=mode)


class _Reader:
    """A cursor over one document's tokens; every read past the end raises MalformedError."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise MalformedError(f"LRRP token runs {self.pos + n - self.end} bytes past its document")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def uintvar(self) -> int:
        value = 0
        for _ in range(MAX_VAR_BYTES):
            b = self.byte()
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                return value
        raise MalformedError(f"LRRP uintvar longer than {MAX_VAR_BYTES} bytes")

    def sintvar(self) -> tuple[int, bool]:
        """Magnitude and sign: the first byte holds the sign (bit 6) and 6 value bits."""
        b = self.byte()
        value, negative, n = b & 0x3F, bool(b & 0x40), 1
        while b & 0x80:
            if n == MAX_VAR_BYTES:
                raise MalformedError(f"LRRP sintvar longer than {MAX_VAR_BYTES} bytes")
            b = self.byte()
            value, n = (value << 7) | (b & 0x7F), n + 1
        return value, negative

    def _fraction(self) -> float:
        start = self.pos
        value = self.uintvar()
        return float(value / 128 ** (self.pos - start))

    def ufloat(self) -> float:
        return self.uintvar() + self._fraction()

    def sfloat(self) -> float:
        whole, negative = self.sintvar()
        value = whole + self._fraction()
        return -value if negative else value

    def position(self) -> tuple[float, float]:
        raw = self.take(8)  # signed 32 bits span exactly -90..90 and -180..180: no value is out of range
        return (int.from_bytes(raw[0:4], "big", signed=True) * _LAT_UNIT,
                int.from_bytes(raw[4:8], "big", signed=True) * _LON_UNIT)


def parse(payload: bytes) -> tuple[list[LrrpMessage], RadioError | None]:
    """The documents in one LRRP datagram, and what stopped decoding short of its end, if anything.

    The problem is a MalformedError (the layout breaks) or an UnsupportedError (a document id not
    decoded); documents before it are kept, since a datagram can carry several.
    """
    out: list[LrrpMessage] = []
    head = _Reader(payload, 0, len(payload))
    try:
        while head.pos < len(payload):
            doc_id = head.uintvar()
            length = head.uintvar()
            if head.pos + length > len(payload):
                raise MalformedError(f"LRRP document says {length} bytes, {len(payload) - head.pos} follow")
            if doc_id not in _DOCUMENTS:
                raise UnsupportedError(f"LRRP document 0x{doc_id:02X} is not decoded")
            body = _Reader(payload, head.pos, head.pos + length)
            document = Document(doc_id)
            out.append(_request(document, body) if document in REQUESTS else _report(document, body))
            head.pos += length
    except (MalformedError, UnsupportedError) as exc:
        return out, exc
    if not out:
        return out, MalformedError("empty LRRP datagram")
    return out, None


def _request_id(r: _Reader, token: int) -> int:
    if token == 0x23:
        return r.byte()
    raw = r.take(r.uintvar())
    if len(raw) > 8:
        raise MalformedError(f"LRRP request id of {len(raw)} bytes")
    return int.from_bytes(raw, "big")


def _report(document: Document, r: _Reader) -> LrrpMessage:
    f: dict[str, float | int | None] = {}
    unknown: int | None = None
    while r.pos < r.end:
        token = r.byte()
        if token in (0x22, 0x23):
            f["request_id"] = _request_id(r, token)
        elif token == 0x24:
            r.uintvar()  # request id from a constant table: not kept
        elif token == 0x34:
            f["ts"] = _info_time(r.take(5))
        elif token == 0x37:
            f["result"] = r.uintvar()
        elif token == 0x38:
            f["result"] = SUCCESS
        elif token == 0x39:
            f["result"] = r.uintvar()
            r.take(r.uintvar())
        elif token in (0x51, 0x55, 0x66, 0x69):
            f["lat"], f["lon"] = r.position()
            if token in (0x51, 0x55):
                f["radius_m"] = r.ufloat()
            if token in (0x55, 0x69):
                f["alt_m"] = r.sfloat()
            if token == 0x55:
                r.ufloat()  # altitude accuracy
        elif token == 0x56:
            f["course_deg"] = float(r.byte() * 2 % 360)
        elif token == 0x6C:
            f["speed_mps"] = r.ufloat()
        elif token == 0x70:
            r.sfloat()  # vertical speed
        elif token == 0x36:
            r.uintvar()
        elif token == 0x65:
            r.byte()
        else:
            unknown = token
            break
    return LrrpMessage(document, unknown_token=unknown, **f)  # type: ignore[arg-type]


def _request(document: Document, r: _Reader) -> LrrpMessage:
    request_id: int | None = None
    interval: int | None = None
    while r.pos < r.end:
        token = r.byte()
        kind = _REQUEST_TOKENS.get(token)
        if token in (0x22, 0x23):
            request_id = _request_id(r, token)
        elif token == 0x31:
            interval = r.uintvar()
        elif kind == _U8:
            r.byte()
        elif kind == _UINTVAR:
            r.uintvar()
        elif kind == _UFLOAT:
            r.ufloat()
        elif kind is None:
            return LrrpMessage(document, request_id=request_id, interval_s=interval, unknown_token=token)
    return LrrpMessage(document, request_id=request_id, interval_s=interval)


def _info_time(raw: bytes) -> float | None:
    v = int.from_bytes(raw, "big")
    try:
        when = dt.datetime(v >> 26, (v >> 22) & 0xF, (v >> 17) & 0x1F, (v >> 12) & 0x1F, (v >> 6) & 0x3F,
                           v & 0x3F, tzinfo=dt.UTC)
    except ValueError:
        return None  # a radio without a time yet sends zeros
    return when.timestamp()


# -- encoders -------------------------------------------------------------------------------------


def uintvar(value: int) -> bytes:
    """``value`` (0 .. 2^32-1) as an MBXML uintvar."""
    if not 0 <= value <= 0xFFFFFFFF:
        raise EncodeError(f"{value} does not fit an LRRP uintvar")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def sintvar(magnitude: int, *, negative: bool) -> bytes:
    """An MBXML sintvar: ``magnitude`` with the sign in bit 6 of the first byte (so -0 exists)."""
    if not 0 <= magnitude < 2**31:
        raise EncodeError(f"{magnitude} does not fit an LRRP sintvar")
    groups = [magnitude & 0x7F]
    magnitude >>= 7
    while magnitude:
        groups.append(magnitude & 0x7F)
        magnitude >>= 7
    groups.reverse()
    if groups[0] & 0x40:
        groups.insert(0, 0)  # the first byte has room for 6 bits only
    out = [g | 0x80 for g in groups[:-1]] + [groups[-1]]
    if negative:
        out[0] |= 0x40
    return bytes(out)


def ufloat(value: float) -> bytes:
    """A non-negative value as ufloatvar with one fraction byte (1/128 resolution)."""
    whole, fraction = divmod(round(value * 128), 128)
    return uintvar(whole) + uintvar(fraction)


def sfloat(value: float) -> bytes:
    """A value as sfloatvar with one fraction byte."""
    whole, fraction = divmod(round(abs(value) * 128), 128)
    return sintvar(whole, negative=value < 0) + uintvar(fraction)


def _document(document: Document, tokens: bytes) -> bytes:
    return uintvar(document) + uintvar(len(tokens)) + tokens


def _id_token(request_id: int) -> bytes:
    if not 0 <= request_id <= 0xFFFFFFFF:
        raise EncodeError(f"LRRP request id {request_id} does not fit in 32 bits")
    return b"\x22\x04" + request_id.to_bytes(4, "big")


def immediate_request(request_id: int) -> bytes:
    """Immediate-Location-Request: where are you now, with time, accuracy, altitude, speed and direction."""
    return _document(Document.IMMEDIATE_REQUEST, _id_token(request_id) + QUERY_INFO)


def triggered_request(request_id: int, interval_s: int) -> bytes:
    """Triggered-Location-Request: report every ``interval_s`` seconds until told to stop."""
    return _document(Document.TRIGGERED_REQUEST, _id_token(request_id) + QUERY_INFO + b"\x34\x31"
                     + uintvar(interval_s))


def answer(document: Document, request_id: int, result: int = SUCCESS) -> bytes:
    """A bare answer (the radio end): request id and result, as Triggered-Location-Answer."""
    code = b"\x38" if result == SUCCESS else b"\x37" + uintvar(result)
    return _document(document, _id_token(request_id) + code)


def report(fix: Fix, *, request_id: int, document: Document = Document.TRIGGERED_REPORT,
           result: int = SUCCESS) -> bytes:
    """A location report (the radio end): time, position, speed and direction as ``fix`` has them."""
    tokens = _id_token(request_id)
    if result != SUCCESS:
        tokens += b"\x37" + uintvar(result)
    if fix.ts is not None:
        tokens += b"\x34" + _info_time_bytes(fix.ts)
    if result == SUCCESS and fix.lat is not None and fix.lon is not None:
        position = _lat(fix.lat) + _lon(fix.lon)
        tokens += (b"\x69" + position + sfloat(fix.alt_msl_m)) if fix.alt_msl_m is not None else b"\x66" + position
        if fix.speed_mps is not None:
            tokens += b"\x6c" + ufloat(max(0.0, fix.speed_mps))
        if fix.course_deg is not None:
            tokens += b"\x56" + bytes((round(fix.course_deg % 360 / 2) % 180,))
    return _document(document, tokens)


def _lat(lat: float) -> bytes:
    if not -90.0 <= lat <= 90.0:
        raise EncodeError(f"latitude {lat} is out of range")
    return max(-(2**31), min(2**31 - 1, round(lat / _LAT_UNIT))).to_bytes(4, "big", signed=True)


def _lon(lon: float) -> bytes:
    if not math.isfinite(lon):
        raise EncodeError(f"longitude {lon} is not a number")
    raw = round(((lon + 180.0) % 360.0 - 180.0) / _LON_UNIT)
    return ((raw + 2**31) % 2**32 - 2**31).to_bytes(4, "big", signed=True)


def _info_time_bytes(ts: float) -> bytes:
    t = dt.datetime.fromtimestamp(ts, dt.UTC)
    v = (t.year << 26) | (t.month << 22) | (t.day << 17) | (t.hour << 12) | (t.minute << 6) | t.second
    return v.to_bytes(5, "big")
