"""The configurable binary framer: a vendor framing described in configuration, both ways, sans-I/O.

``BinaryCodec(description)`` is the node's side (a ``Codec``): gateway bytes in, radio events out,
and our text/poll requests out where the description has an outbound template for them.
``BinaryGateway`` is the other side, for the simulated gateway and tests: it encodes the events a
gateway sends and decodes the node's requests. The description language is in
binary_description.py; docs/RADIO_BINARY.md is the operator's guide.
"""

from __future__ import annotations

import logging
import math
import struct
from bisect import bisect_right
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import msgspec

from .binary_description import (
    EVENTS,
    TARGETS,
    BinaryFraming,
    FieldSpec,
    FramingError,
    Layout,
    MessageSpec,
    Poll,
    Target,
    check,
    encoding_of,
    fixed_width,
    hex_bytes,
    layout,
    load,
    parse,
    resolve,
    source_kind,
    unit_bytes,
    validate,
)
from .checksums import CHECKSUMS
from .events import RadioEvent, Text
from .framing import DropCounter, EncodeError

__all__ = [
    "EXAMPLE",
    "BinaryCodec",
    "BinaryFraming",
    "BinaryGateway",
    "FramingError",
    "Poll",
    "check",
    "load",
    "parse",
]

_log = logging.getLogger(__name__)

EXAMPLE = Path(__file__).parent / "framings" / "example-pdt.toml"
"""A complete description of a plausible PDT gateway framing (docs/RADIO_BINARY.md walks through it)."""

Direction = Literal["in", "out"]
Event = RadioEvent | Poll


class _FieldError(Exception):
    """A field of a frame cannot be decoded; the frame is dropped as ``bad_field``."""


# ---- finding frames in a byte stream --------------------------------------------------------------------


class _Framer:
    """Cuts checked frames out of a byte stream: resync by one byte, length caps, staleness by arrival time."""

    def __init__(self, framing: BinaryFraming, drops: DropCounter) -> None:
        lay = layout(framing)
        self._lay, self._drops, self._framing = lay, drops, framing
        self._endian: Literal["big", "little"] = framing.length.endian or framing.endian
        counts = framing.length.counts
        self._base = {"frame": 0, "after": lay.length_end, "payload": lay.min_frame}[counts] + framing.length.adjust
        self._checksum = CHECKSUMS[framing.checksum.kind].compute if lay.checksum_size else None
        self._sum_endian: Literal["big", "little"] = framing.checksum.endian or framing.endian
        to = framing.checksum.covers_to
        self._cover_from = framing.checksum.covers_from
        self._cover_to = lay.checksum_at if to == "checksum" else None if to == "end" else to  # None: frame end
        self._buf = bytearray()
        self._consumed = 0  # bytes removed from the front of _buf so far
        self._mark_at: list[int] = [0]  # stream positions where a feed's data began ...
        self._mark_time: list[float] = [-math.inf]  # ... and when it arrived

    def frames(self, data: bytes, now: float) -> list[bytes]:
        """Complete, checked frames, in order; everything else is counted in the drops."""
        buf = self._buf
        if data:
            self._mark_at.append(self._consumed + len(buf))
            self._mark_time.append(now)
            buf += data
        out: list[bytes] = []
        pos, n = 0, len(buf)
        start, lay, stale = self._lay.start, self._lay, self._framing.stale_after_s
        while pos < n:
            found = buf.find(start, pos)
            if found < 0:
                keep = _split_start(buf, pos, start)
                self._garbage(keep - pos)
                pos = keep
                break
            self._garbage(found - pos)
            pos = found
            size = self._frame_size(buf, pos, n)
            if size is not None and not lay.min_frame <= size <= self._framing.max_frame_bytes:
                kind = "oversize" if size > self._framing.max_frame_bytes else "bad_length"
                self._resync(kind, f"length field says {size} bytes")
                pos += 1
                continue
            if size is None or n - pos < size:
                if now - self._arrival(pos) <= stale:
                    break
                self._resync("stale", f"{n - pos} bytes of a frame waited over {stale:g} s")
                pos += 1
                continue
            if self._arrival(pos + size - 1) - self._arrival(pos) > stale:
                self._resync("stale", f"a {size}-byte frame took over {stale:g} s to arrive")
                pos += 1
                continue
            frame = bytes(buf[pos : pos + size])
            problem = self._verify(frame)
            if problem:
                self._resync(problem, f"a {size}-byte frame")
                pos += 1
                continue
            out.append(frame)
            pos += size
        self._forget(pos)
        return out

    @property
    def buffered(self) -> int:
        """Bytes held while a frame completes."""
        return len(self._buf)

    def _resync(self, kind: str, detail: str) -> None:
        # Only the first byte goes: a real frame may start inside the rejected one.
        self._drops.drop(kind, 1, f"{detail}; rescanning from the next byte")

    def _garbage(self, nbytes: int) -> None:
        if nbytes:
            self._drops.drop("garbage", nbytes)

    def _frame_size(self, buf: bytearray, pos: int, n: int) -> int | None:
        first = pos + self._framing.length.offset
        end = pos + self._lay.length_end
        if end > n:
            return None
        return self._base + int.from_bytes(buf[first:end], self._endian)

    def _arrival(self, index: int) -> float:
        return self._mark_time[bisect_right(self._mark_at, self._consumed + index) - 1]

    def _forget(self, pos: int) -> None:
        if not pos:
            return
        del self._buf[:pos]
        self._consumed += pos
        keep = bisect_right(self._mark_at, self._consumed) - 1
        del self._mark_at[:keep], self._mark_time[:keep]

    def _verify(self, frame: bytes) -> str | None:
        """Why a frame of the right length is no frame (checksum first, then tail), or None."""
        if self._checksum is not None:
            at = resolve(self._lay.checksum_at, len(frame))
            stored = int.from_bytes(frame[at : at + self._lay.checksum_size], self._sum_endian)
            if self._checksum(self._covered(frame)) != stored:
                return "bad_checksum"
        if self._lay.tail and not frame.endswith(self._lay.tail):
            return "bad_tail"
        return None

    def seal(self, frame: bytearray) -> bytes:
        """Write the checksum into a frame whose checksum bytes are zero."""
        if self._checksum is not None:
            at = resolve(self._lay.checksum_at, len(frame))
            value = self._checksum(self._covered(bytes(frame)))
            frame[at : at + self._lay.checksum_size] = value.to_bytes(self._lay.checksum_size, self._sum_endian)
        return bytes(frame)

    def _covered(self, frame: bytes) -> bytes:
        """The bytes the checksum covers, with its own bytes as zeros where they fall inside."""
        size = len(frame)
        first, end = self._cover_from, size if self._cover_to is None else resolve(self._cover_to, size)
        at = resolve(self._lay.checksum_at, size)
        if first < at + self._lay.checksum_size and at < end:  # e.g. a header checksum over the whole frame (HRNP)
            data = bytearray(frame[first:end])
            lo, hi = max(at, first) - first, min(at + self._lay.checksum_size, end) - first
            data[lo:hi] = bytes(hi - lo)
            return bytes(data)
        return frame[first:end]


def _split_start(buf: bytearray, pos: int, start: bytes) -> int:
    """Where a start split across chunks may begin at the end of ``buf[pos:]`` (else its end)."""
    for k in range(min(len(start) - 1, len(buf) - pos), 0, -1):
        if buf.endswith(start[:k]):
            return len(buf) - k
    return len(buf)


# ---- reading and writing one field ----------------------------------------------------------------------


class _Field:
    """One compiled field: reads its bytes into an event value and writes an event value back."""

    def __init__(self, spec: FieldSpec, target: Target, endian: Literal["big", "little"], kind: str) -> None:
        self.spec, self.target, self.endian, self.to = spec, target, endian, spec.to
        self.source = source_kind(spec.type)
        self.width = fixed_width(spec)
        self.signed = spec.type.startswith("i")
        self.terminator = hex_bytes(spec.terminator) or b""
        self.unit = unit_bytes(spec) if spec.type == "text" else 1
        self.numeric = spec.scale != 1.0 or spec.add != 0.0
        self.name = f"{kind}.{spec.to}"
        self.float_format = struct.Struct(("<" if endian == "little" else ">") + ("f" if spec.type == "f32" else "d"))
        self.values: dict[str, Any] | None = None
        self.raws: dict[Any, str] = {}
        if spec.values is not None:
            self.values = {k: msgspec.convert(v, type=target.type) for k, v in spec.values.items()}
            for key, value in self.values.items():
                if key != "*":
                    self.raws.setdefault(value, key)
        self.read: Callable[[bytes, int], Any] = self._integer_reader() or self._read
        """The event value this field holds in a frame whose payload ends at ``end``."""

    # reading

    def _integer_reader(self) -> Callable[[bytes, int], Any] | None:
        """A reader for the commonest case, an integer read straight into an event field (the hot path)."""
        category = self.target.category
        if self.source != "int" or self.values is not None or category == "enum":
            return None
        first, last, endian, signed = self.spec.offset, self.spec.offset + self.spec_width, self.endian, self.signed
        scale, add, short = self.spec.scale, self.spec.add, f"{self.name}: frame ends before bytes {first}..{last - 1}"
        convert: Callable[[int], Any] = {"text": str, "integer": int, "bool": bool, "number": float}[category]
        if self.numeric:
            convert = lambda raw: raw * scale + add  # noqa: E731 - the value a vendor's fixed-point number means

        def read(frame: bytes, end: int) -> Any:
            if last > end:
                raise _FieldError(short)
            return convert(int.from_bytes(frame[first:last], endian, signed=signed))

        return read

    def _read(self, frame: bytes, end: int) -> Any:
        raw = self._raw(frame, end)
        if self.values is not None:
            key = raw if self.source == "text" else str(int(raw))
            if key not in self.values and "*" not in self.values:
                raise _FieldError(f"{self.name}: no value for raw {raw!r}")
            return self.values.get(key, self.values.get("*"))
        category = self.target.category
        if category == "text":
            return str(raw)
        if category == "number":
            return float(raw) * self.spec.scale + self.spec.add if self.numeric else float(raw)
        if category == "integer":
            return int(raw)
        if category == "bool":
            return raw != 0
        return self.target.type(raw)  # an enum: ValueError for a raw value it lacks

    def _raw(self, frame: bytes, end: int) -> Any:
        first = self.spec.offset
        if self.width is not None and first + self.width > end:
            raise _FieldError(f"{self.name}: frame ends before bytes {first}..{first + self.width - 1}")
        if self.source == "int":
            return int.from_bytes(frame[first : first + self.spec_width], self.endian, signed=self.signed)
        if self.source == "float":
            value: float = self.float_format.unpack_from(frame, first)[0]
            if not math.isfinite(value):
                raise _FieldError(f"{self.name}: {value} is not a finite number")
            return value
        if self.source == "bcd":
            digits = frame[first : first + self.spec_width].hex().replace("f", "")
            if not digits.isdigit():
                raise _FieldError(f"{self.name}: {frame[first : first + self.spec_width].hex()} is not BCD digits")
            return digits if self.target.category == "text" and self.values is None else int(digits)
        return self._text(frame, end)

    @property
    def spec_width(self) -> int:
        """Bytes of a fixed-width field."""
        return self.width or 0

    def _text(self, frame: bytes, end: int) -> str:
        first, prefix = self.spec.offset, self.spec.prefix
        if prefix:
            if first + prefix > end:
                raise _FieldError(f"{self.name}: frame ends before the length prefix")
            count = int.from_bytes(frame[first : first + prefix], self.endian)
            first += prefix
            last = first + count
            if last > end:
                raise _FieldError(f"{self.name}: {count} bytes of text run past the payload")
        else:
            last = first + self.width if self.width is not None else end
            if first > end:
                raise _FieldError(f"{self.name}: frame ends before the text")
        chunk = frame[first:last]
        if self.terminator:
            chunk = chunk[: _find_aligned(chunk, self.terminator, self.unit)]
        if not prefix:
            chunk = _strip_padding(chunk, self.unit)
        try:
            return chunk.decode(encoding_of(self.spec))
        except UnicodeDecodeError as exc:
            raise _FieldError(f"{self.name}: not {encoding_of(self.spec)} text ({exc.reason})") from None

    # writing

    def write(self, value: Any) -> bytes:
        """The bytes this field takes for an event value (zeros for an unset one)."""
        if value is None:
            return bytes(self.spec.prefix) if self.width is None else bytes(self.width)
        raw = self._unmap(value)
        if self.source == "int":
            try:
                return int(raw).to_bytes(self.spec_width, self.endian, signed=self.signed)
            except OverflowError:
                raise EncodeError(f"{self.name}: {value!r} does not fit in a {self.spec.type}") from None
        if self.source == "float":
            return self.float_format.pack(raw)
        if self.source == "bcd":
            return self._bcd(raw, value)
        return self._encode_text(str(raw))

    def _unmap(self, value: Any) -> Any:
        if self.values is not None:
            if value not in self.raws:
                raise EncodeError(f"{self.name}: no raw value is mapped to {value!r}")
            key = self.raws[value]
            return key if self.source == "text" else int(key)
        category = self.target.category
        if category == "number":
            scaled = (value - self.spec.add) / self.spec.scale
            return scaled if self.source == "float" else round(scaled)
        if category == "enum":
            return value.value
        if category == "text" and self.source != "text":
            if not (value.isdigit() and value.isascii()):
                raise EncodeError(f"{self.name}: {value!r} is not a number")
            return value if self.source == "bcd" else int(value)
        return int(value) if category in ("bool", "integer") else value

    def _bcd(self, raw: Any, value: Any) -> bytes:
        digits = raw if isinstance(raw, str) else str(raw)
        size = self.spec_width
        if not digits.isdigit() or len(digits) > 2 * size:
            raise EncodeError(f"{self.name}: {value!r} does not fit in {size} BCD bytes")
        # Text keeps its digits as written: pad with the 0xF filler; numbers pad with leading zeros.
        text = isinstance(raw, str) and self.target.category == "text"
        return bytes.fromhex(digits.ljust(2 * size, "f") if text else digits.rjust(2 * size, "0"))

    def _encode_text(self, text: str) -> bytes:
        encoding = encoding_of(self.spec)
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:
            raise EncodeError(f"{self.name}: {text!r} cannot be written in {encoding}") from None
        if self.terminator and _find_aligned(data, self.terminator, self.unit) < len(data):
            raise EncodeError(f"{self.name}: the text contains the terminator {self.terminator.hex()}")
        if self.spec.prefix:
            if len(data) >= 1 << (8 * self.spec.prefix):
                raise EncodeError(f"{self.name}: {len(data)} bytes of text do not fit a {self.spec.prefix}-byte prefix")
            return len(data).to_bytes(self.spec.prefix, self.endian) + data
        if self.width is not None:
            if len(data) > self.width:
                raise EncodeError(f"{self.name}: {len(data)} bytes of text do not fit in {self.width}")
            return data.ljust(self.width, b"\x00")
        return data + self.terminator


def _find_aligned(data: bytes, needle: bytes, unit: int) -> int:
    """Index of the first occurrence of ``needle`` on a code-unit boundary, else ``len(data)``."""
    found = data.find(needle)
    while found >= 0 and found % unit:
        found = data.find(needle, found + 1)
    return found if found >= 0 else len(data)


def _strip_padding(data: bytes, unit: int) -> bytes:
    """Without trailing NUL code units (fixed-size text is padded with them)."""
    if unit == 1:
        return data.rstrip(b"\x00")
    end = len(data)
    while end >= 2 and not end % 2 and data[end - 2 : end] == b"\x00\x00":
        end -= 2
    return data[:end]


# ---- the message table --------------------------------------------------------------------------------


class _Key(NamedTuple):
    """Which bytes a condition looks at."""

    offset: int
    size: int
    endian: Literal["big", "little"]
    mask: int

    def read(self, frame: bytes) -> int:
        """The masked value of these bytes."""
        return int.from_bytes(frame[self.offset : self.offset + self.size], self.endian) & self.mask


class _Condition(NamedTuple):
    """A match condition: the bytes ``key`` looks at must equal ``value``."""

    offset: int
    size: int
    endian: Literal["big", "little"]
    mask: int
    value: int

    @property
    def key(self) -> _Key:
        """The bytes this condition looks at."""
        return _Key(self.offset, self.size, self.endian, self.mask)


def _mask(mask: int | None, size: int) -> int:
    return mask if mask is not None else (1 << 8 * size) - 1


class _Entry:
    """One compiled message: how to recognise its frames, decode them and write them."""

    def __init__(self, framing: BinaryFraming, message: MessageSpec) -> None:
        self.message, self.name = message, message.name
        self.cls = _event_class(message.event)
        targets = TARGETS[message.event]
        self.conditions = [
            _Condition(m.offset, m.size, m.endian or framing.endian, _mask(m.mask, m.size), m.value)
            for m in message.match
        ]
        self.fields = [_Field(f, targets[f.to], f.endian or framing.endian, message.event) for f in message.fields]
        self.constants = {k: msgspec.convert(v, type=targets[k].type) for k, v in message.constants.items()}
        self.defaults: dict[str, Any] = {}
        if message.event == "text" and "src" not in {f.to for f in message.fields} | set(self.constants):
            self.defaults["src"] = ""  # an outbound text: the sender is the node itself

    def matches(self, frame: bytes, end: int) -> bool:
        """Whether a frame meets every condition."""
        return all(c.offset + c.size <= end and c.key.read(frame) == c.value for c in self.conditions)

    def decode(self, frame: bytes, end: int) -> Event:
        """The event a matching frame carries; _FieldError if a field cannot be read."""
        values = dict(self.defaults)
        values.update(self.constants)
        try:
            for field in self.fields:
                values[field.to] = field.read(frame, end)
        except (ValueError, struct.error) as exc:  # UnicodeDecodeError and enum lookups are ValueErrors
            raise _FieldError(str(exc)) from None
        event: Event = self.cls(**values)
        return event

    def accepts(self, event: Event) -> bool:
        """Whether this message can carry the event (its kind, and the values this message fixes)."""
        return type(event) is self.cls and all(getattr(event, k) == v for k, v in self.constants.items())

    def encode(self, event: Event, lay: Layout, framing: BinaryFraming, framer: _Framer) -> bytes:
        """The whole frame for an event."""
        parts = [(f.spec.offset, f.write(getattr(event, f.to))) for f in self.fields]
        fixed = [m.offset + m.size for m in self.message.match] + [lay.header]
        size = max(fixed + [o + len(b) for o, b in parts]) + lay.trailer
        if size > framing.max_frame_bytes:
            raise EncodeError(f"{self.name}: {size} bytes exceed max_frame_bytes {framing.max_frame_bytes}")
        frame = bytearray(size)
        frame[: len(lay.start)] = lay.start
        for offset, data in parts:
            frame[offset : offset + len(data)] = data
        for offset, width, endian, mask, value in self.conditions:
            old = int.from_bytes(frame[offset : offset + width], endian)
            frame[offset : offset + width] = ((old & ~mask) | value).to_bytes(width, endian)
        if lay.tail:
            frame[size - len(lay.tail) :] = lay.tail
        _write_length(frame, lay, framing)
        return framer.seal(frame)


def _write_length(frame: bytearray, lay: Layout, framing: BinaryFraming) -> None:
    spec = framing.length
    count = {"frame": len(frame), "after": len(frame) - lay.length_end, "payload": len(frame) - lay.min_frame}
    value = count[spec.counts] - spec.adjust
    if not 0 <= value < 1 << (8 * spec.size):
        raise EncodeError(f"length {value} does not fit the {spec.size}-byte length field")
    frame[spec.offset : lay.length_end] = value.to_bytes(spec.size, spec.endian or framing.endian)


def _event_class(kind: str) -> Callable[..., Event]:
    cls: Callable[..., Event] = EVENTS[kind]  # type: ignore[assignment]  # every EVENTS class is an Event
    return cls


class _Table:
    """The message table of one direction, with a direct lookup when every entry keys on the same bytes."""

    def __init__(self, entries: Sequence[_Entry]) -> None:
        self.entries = list(entries)
        keys = {e.conditions[0].key if len(e.conditions) == 1 else None for e in self.entries}
        self.key = keys.pop() if len(keys) == 1 else None
        self.lookup: dict[int, _Entry] = {}
        if self.key is not None:
            for entry in self.entries:
                self.lookup.setdefault(entry.conditions[0].value, entry)

    def find(self, frame: bytes, end: int) -> _Entry | None:
        """The first entry whose conditions the frame meets."""
        if self.key is not None:
            if self.key.offset + self.key.size > end:
                return None
            return self.lookup.get(self.key.read(frame))
        return next((e for e in self.entries if e.matches(frame, end)), None)


# ---- the two sides ------------------------------------------------------------------------------------


_COMPILED: dict[tuple[str, bytes], tuple[Layout, dict[Direction, _Table]]] = {}


def _compiled(description: BinaryFraming, path: str) -> tuple[Layout, dict[Direction, _Table]]:
    """The checked layout and message tables of a description, built once per description.

    They hold no state of a link, so every codec of one description shares them: a reconnect or a new
    fuzz input then costs a framer, not a validation and a compile (~3 ms for the example).
    """
    key = (path, msgspec.json.encode(description))
    if key not in _COMPILED:
        if len(_COMPILED) >= 64:  # a node has a few descriptions; tests and tools may make many
            _COMPILED.clear()
        problems = validate(description, path)
        if problems:
            raise FramingError(path or description.name, problems)
        directions: tuple[Direction, ...] = ("in", "out")
        entries = {d: [_Entry(description, m) for m in description.messages if m.direction == d] for d in directions}
        _COMPILED[key] = layout(description), {d: _Table(e) for d, e in entries.items()}
    return _COMPILED[key]


class _Endpoint:
    """What both sides share: the framer, the tables and the drop counters."""

    receives: Direction = "in"

    def __init__(self, description: BinaryFraming, *, name: str | None = None, path: str = "radio.binary") -> None:
        self._lay, self._tables = _compiled(description, path)
        self.name = name or description.name
        self.description = description
        self.drops = DropCounter(self.name, _log)
        self.frames = 0  # frames decoded into events
        self.outbox: list[bytes] = []  # a described framing has no session of its own: nothing owed
        self._framer = _Framer(description, self.drops)

    @property
    def buffered(self) -> int:
        """Bytes held while a frame completes (fewer than ``max_frame_bytes`` between feeds)."""
        return self._framer.buffered

    def _decode(self, data: bytes, now: float) -> list[Event]:
        events: list[Event] = []
        table = self._tables[self.receives]
        for frame in self._framer.frames(data, now):
            end = len(frame) - self._lay.trailer
            entry = table.find(frame, end)
            if entry is None:
                self.drops.drop(
                    "unsupported", len(frame), f"no message matches {frame[: self._lay.header + 4].hex()}..."
                )
                continue
            try:
                events.append(entry.decode(frame, end))
            except _FieldError as exc:
                self.drops.drop("bad_field", len(frame), f"{entry.name}: {exc}")
                continue
            self.frames += 1
        return events

    def _encode(self, event: Event, direction: Direction) -> bytes | None:
        entries = self._tables[direction].entries
        for entry in entries:
            if entry.accepts(event):
                return entry.encode(event, self._lay, self.description, self._framer)
        if any(type(event) is e.cls for e in entries):
            raise EncodeError(f"{self.name}: no {direction} message carries {event!r}")
        return None

    def encode(self, event: RadioEvent) -> bytes:
        """The frame a gateway sends for this event (by the first inbound message that carries it)."""
        frame = self._encode(event, "in")
        if frame is None:
            raise EncodeError(f"{self.name}: no message for {type(event).__name__} events")
        return frame


class BinaryCodec(_Endpoint):
    """The node's side of a described framing: decodes inbound messages, encodes outbound templates."""

    receives: Direction = "in"

    def feed(self, data: bytes, now: float) -> list[RadioEvent]:
        """Events completed by this chunk; never raises on input (drops are counted in ``drops``)."""
        return [e for e in self._decode(data, now) if not isinstance(e, Poll)]

    def encode_text(self, dst: str, text: str, *, group: bool, msg_id: int) -> bytes | None:
        """A text for a unit or talkgroup, or None without an outbound text message."""
        return self._encode(Text(src="", dst=dst, text=text, group=group, msg_id=msg_id), "out")

    def encode_poll(self, unit: str) -> bytes | None:
        """A location request, or None without an outbound poll message."""
        return self._encode(Poll(unit=unit), "out")


class BinaryGateway(_Endpoint):
    """The gateway's side, for the simulated gateway and tests: decodes the node's requests."""

    receives: Direction = "out"

    def feed(self, data: bytes, now: float) -> list[Text | Poll]:
        """Requests completed by this chunk; never raises on input."""
        return [e for e in self._decode(data, now) if isinstance(e, Text | Poll)]
