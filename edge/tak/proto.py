"""TAK Protocol version 1 (protobuf): our events encoded, and peers' events decoded (pure, no I/O).

The message is ATAK's ``TakMessage`` (``takmessage.proto`` in ATAK-CIV's commoncommo; the same
schema takproto ships): ``takControl`` = 1, ``cotEvent`` = 2, and in ``CotEvent`` type 1, access 2,
qos 3, opex 4, uid 5, sendTime 6, startTime 7, staleTime 8 (ms since the epoch), how 9, lat 10,
lon 11, hae 12, ce 13, le 14 (doubles), detail 15. ``Detail`` has ``xmlDetail`` = 1 (every detail
element without a typed field, as XML) and typed contact 2, __group 3, precisionlocation 4,
status 5, takv 6, track 7. The protocol's rule: an element goes to its typed field only if every
attribute it has fits there; otherwise it stays whole in ``xmlDetail``.

Two framings carry a message: **stream** (TCP/TLS) ``0xbf <varint length> <message>``, and **mesh**
(one UDP datagram) ``0xbf 0x01 0xbf <message>``. Written by hand rather than with the protobuf
runtime: 7 small messages, no generated code, and a decoder whose every length is bounds-checked.
Decoding rebuilds the event as XML and hands it to ``parse_event``, so one safe parser checks
everything that comes in, whatever its encoding.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from datetime import datetime
from xml.sax.saxutils import quoteattr

from .cot import cot_time
from .cotin import CotEvent, CotRejected, parse_event

MAGIC = 0xBF
MESH_HEADER = b"\xbf\x01\xbf"
MAX_TIME_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z, the last time ISO 8601 writes in four digits
_STRINGS = ("type", "access", "qos", "opex", "uid")  # CotEvent fields 1-5; how is 9
_TYPED: dict[str, tuple[int, tuple[str, ...]]] = {  # detail element -> (Detail field, its attributes in order)
    "contact": (2, ("endpoint", "callsign")),
    "__group": (3, ("name", "role")),
    "precisionlocation": (4, ("geopointsrc", "altsrc")),
    "status": (5, ("battery",)),
    "takv": (6, ("device", "platform", "os", "version")),
    "track": (7, ("speed", "course")),
}
_DOUBLES = {"track"}  # whose attributes are doubles; status.battery is a uint32, the rest strings
_BY_FIELD = {field: (tag, attrs) for tag, (field, attrs) in _TYPED.items()}  # Detail field -> element


# -- writing ------------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _bytes_field(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data if data else b""


def _str_field(field: int, text: str | None) -> bytes:
    return _bytes_field(field, text.encode()) if text else b""


def _double_field(field: int, value: float) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", value) if value else b""


def _uint_field(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value) if value else b""


def _ms(text: str | None) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000) if text else 0


def _typed(elem: ET.Element) -> bytes | None:
    """The typed Detail field for ``elem``, or None when it must stay in xmlDetail."""
    known = _TYPED.get(elem.tag)
    if known is None or len(elem) or (elem.text or "").strip() or not set(elem.attrib) <= set(known[1]):
        return None
    field, attrs = known
    parts = []
    for number, name in enumerate(attrs, start=1):
        value = elem.get(name)
        if value is None:
            continue
        try:
            if elem.tag in _DOUBLES:
                parts.append(_double_field(number, float(value)))
            elif elem.tag == "status":
                parts.append(_uint_field(number, int(value)))
            else:
                parts.append(_str_field(number, value))
        except ValueError:
            return None  # not a number: keep the element as written
    return _bytes_field(field, b"".join(parts)) or _varint(field << 3 | 2) + b"\x00"


def _detail(detail: ET.Element | None) -> bytes:
    if detail is None:
        return b""
    xml_parts: list[bytes] = []
    typed: list[bytes] = []
    done: set[str] = set()  # a second element of a typed kind stays in xmlDetail
    for child in detail:
        field = _typed(child) if child.tag not in done else None
        if field is None:
            xml_parts.append(ET.tostring(child, encoding="utf-8", xml_declaration=False))
        else:
            typed.append(field)
            done.add(child.tag)
    return _bytes_field(15, _bytes_field(1, b"".join(xml_parts)) + b"".join(typed)) or _varint(15 << 3 | 2) + b"\x00"


def encode(event: ET.Element, *, tak_control: bool = False) -> bytes:
    """One CoT event element as a serialized ``TakMessage`` (no framing).

    ``tak_control`` adds ``TakControl`` (we decode versions 1 to 1), which mesh senders must announce
    at least once a minute; we put it in every mesh datagram (6 bytes) rather than keep a timer.
    """
    parts = [_str_field(i, event.get(name)) for i, name in enumerate(_STRINGS, start=1)]
    parts += [_uint_field(6, _ms(event.get("time"))), _uint_field(7, _ms(event.get("start")))]
    parts += [_uint_field(8, _ms(event.get("stale"))), _str_field(9, event.get("how"))]
    point = event.find("point")
    if point is not None:
        for number, name in enumerate(("lat", "lon", "hae", "ce", "le"), start=10):
            parts.append(_double_field(number, float(point.get(name) or 0.0)))
    parts.append(_detail(event.find("detail")))
    control = _bytes_field(1, _uint_field(1, 1) + _uint_field(2, 1)) if tak_control else b""
    return control + _bytes_field(2, b"".join(parts))


def stream_frame(message: bytes) -> bytes:
    """A message framed for a TCP/TLS stream: ``0xbf``, its length as a varint, the message."""
    return bytes((MAGIC,)) + _varint(len(message)) + message


def mesh_frame(message: bytes) -> bytes:
    """A message framed for one UDP datagram (mesh SA): ``0xbf 0x01 0xbf`` then the message."""
    return MESH_HEADER + message


# -- reading ------------------------------------------------------------------------------------


def read_varint(data: bytes | bytearray, at: int) -> tuple[int, int] | None:
    """(value, next index) of the varint at ``at``; None if it runs past the data; raises if > 64 bits."""
    value = shift = 0
    while at < len(data):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift >= 64:
            raise CotRejected("bad_proto", "varint too long")
    return None


def _fields(data: bytes) -> dict[int, list[bytes | int | float]]:
    """Every field of one message by number; raises ``CotRejected`` on anything malformed."""
    out: dict[int, list[bytes | int | float]] = {}
    at = 0
    while at < len(data):
        key = read_varint(data, at)
        if key is None:
            raise CotRejected("bad_proto", "truncated key")
        tag, at = key
        number, wire = tag >> 3, tag & 7
        value: bytes | int | float
        if wire == 0:
            got = read_varint(data, at)
            if got is None:
                raise CotRejected("bad_proto", "truncated varint")
            value, at = got
        elif wire == 1:
            if at + 8 > len(data):
                raise CotRejected("bad_proto", "truncated double")
            value, at = struct.unpack_from("<d", data, at)[0], at + 8
        elif wire == 2:
            got = read_varint(data, at)
            if got is None or got[1] + got[0] > len(data):
                raise CotRejected("bad_proto", "length past the end")
            value, at = data[got[1] : got[1] + got[0]], got[1] + got[0]
        elif wire == 5:
            if at + 4 > len(data):
                raise CotRejected("bad_proto", "truncated fixed32")
            value, at = data[at : at + 4], at + 4
        else:
            raise CotRejected("bad_proto", f"wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _last(fields: dict[int, list[bytes | int | float]], number: int, kind: type) -> object:
    values = [v for v in fields.get(number, []) if isinstance(v, kind)]
    return values[-1] if values else None


def _text(fields: dict[int, list[bytes | int | float]], number: int) -> str:
    value = _last(fields, number, bytes)
    try:
        return value.decode() if isinstance(value, bytes) else ""
    except UnicodeDecodeError as exc:
        raise CotRejected("bad_proto", "string not UTF-8") from exc


def _time(fields: dict[int, list[bytes | int | float]], number: int) -> str:
    value = _last(fields, number, int)
    ms = value if isinstance(value, int) else 0
    if ms > MAX_TIME_MS:
        raise CotRejected("bad_time", str(ms))
    try:
        return cot_time(ms / 1000)
    except (OverflowError, OSError, ValueError) as exc:
        raise CotRejected("bad_time", str(value)) from exc


def _num(value: float) -> str:
    return repr(float(value))


def _typed_xml(tag: str, attrs: tuple[str, ...], data: bytes) -> str:
    fields = _fields(data)
    out = []
    for number, name in enumerate(attrs, start=1):
        if tag in _DOUBLES:
            value = _last(fields, number, float)
            text = _num(value) if isinstance(value, float) else None
        elif tag == "status":
            value = _last(fields, number, int)
            text = str(value) if isinstance(value, int) else None
        else:
            text = _text(fields, number) or None
        if text is not None:
            out.append(f" {name}={quoteattr(text)}")
    return f"<{tag}{''.join(out)}/>"


def decode(message: bytes) -> CotEvent:
    """A serialized ``TakMessage`` as a checked event; raises ``CotRejected`` for anything unusable."""
    return parse_event(to_xml(message))


def to_xml(message: bytes) -> bytes:
    """A serialized ``TakMessage`` as CoT XML (not yet checked: ``parse_event`` does that)."""
    event = _last(_fields(message), 2, bytes)
    if not isinstance(event, bytes):
        raise CotRejected("bad_proto", "no cotEvent")
    f = _fields(event)
    attrs = {name: _text(f, i) for i, name in enumerate(_STRINGS, start=1)}
    attrs |= {"time": _time(f, 6), "start": _time(f, 7), "stale": _time(f, 8), "how": _text(f, 9)}
    point = {name: _last(f, i, float) or 0.0 for i, name in enumerate(("lat", "lon", "hae", "ce", "le"), start=10)}
    head = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items() if v)
    xml = [f'<event version="2.0"{head}><point', *(f' {k}="{_num(v)}"' for k, v in point.items()), "/><detail>"]  # type: ignore[arg-type]
    detail = _last(f, 15, bytes)
    if isinstance(detail, bytes):
        parts = _fields(detail)
        for number, (tag, names) in _BY_FIELD.items():
            data = _last(parts, number, bytes)
            if isinstance(data, bytes):
                xml.append(_typed_xml(tag, names, data))
        xml.append(_text(parts, 1))  # untrusted XML: parse_event's safe parser judges it with the rest
    xml.append("</detail></event>")
    return "".join(xml).encode()


def decode_frame(frame: bytes) -> CotEvent:
    """A stream frame or a mesh datagram, decoded."""
    return decode(unframe(frame))


def unframe(frame: bytes) -> bytes:
    """The ``TakMessage`` inside a stream frame or a mesh datagram."""
    if frame.startswith(MESH_HEADER):
        return frame[len(MESH_HEADER) :]
    if frame[:1] == bytes((MAGIC,)):
        got = read_varint(frame, 1)
        if got is None or got[1] + got[0] != len(frame):
            raise CotRejected("bad_proto", "frame length")
        return frame[got[1] :]
    raise CotRejected("bad_proto", "no 0xbf header")


__all__ = ["decode", "decode_frame", "encode", "mesh_frame", "read_varint", "stream_frame", "to_xml", "unframe"]
