"""How an operator describes a vendor's binary framing in configuration: frozen structs, and their checks.

A description says where frames start and end (start bytes, a length field, an optional tail), how
they are checked (a checksum over a byte range), and a table of messages, each matched by bytes at
fixed offsets and mapped field by field onto one radio event (events.py). Every offset counts from
the first start byte (0); a negative offset counts back from the end of the frame. ``check`` reports
every problem with its key path; docs/RADIO_BINARY.md is the guide.
"""

from __future__ import annotations

import enum
import itertools
import string
import tomllib
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

import msgspec
from msgspec import Meta, Struct

from .checksums import CHECKSUMS
from .events import Alarm, CallEnd, CallStart, Delivery, Fix, Presence, Status, Text
from .framing import RadioError


def _doc(text: str) -> Meta:
    return Meta(description=text)


Endian = Literal["big", "little"]
FieldType = Literal[
    "u8", "u16", "u24", "u32", "u64", "i8", "i16", "i24", "i32", "i64", "f32", "f64", "bcd", "text"
]  # fmt: skip
Encoding = Literal["ascii", "gbk", "gb18030", "utf-8", "utf-16le", "utf-16be"]
EventKind = Literal["fix", "text", "delivery", "presence", "call_start", "call_end", "alarm", "status", "poll"]
ChecksumKind = Literal[
    "none", "sum8", "xor8", "sum16", "ones16", "crc16-ccitt-false", "crc16-xmodem", "crc16-kermit",
    "crc16-x25", "crc16-modbus", "crc16-arc", "crc32",
]  # fmt: skip
Scalar = bool | int | float | str
Offset = Annotated[int, Meta(ge=0, le=65535)]


class Poll(Struct, frozen=True, kw_only=True):
    """A request for a unit's position, sent by the node to the gateway."""

    unit: str


EVENTS: dict[str, type[Struct]] = {
    "fix": Fix,
    "text": Text,
    "delivery": Delivery,
    "presence": Presence,
    "call_start": CallStart,
    "call_end": CallEnd,
    "alarm": Alarm,
    "status": Status,
    "poll": Poll,
}
OUTBOUND = ("text", "poll")  # what the node can ask a gateway to carry


class LengthSpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The length field: where it is and what it counts."""

    offset: Annotated[Offset, _doc("First byte of the length field, counted from the first start byte.")]
    size: Annotated[Literal[1, 2, 4], _doc("Bytes in the length field.")] = 2
    endian: Annotated[Endian | None, _doc("Byte order of the length field; unset means the framing's `endian`.")] = None
    counts: Annotated[
        Literal["frame", "payload", "after"],
        _doc(
            "What the length counts: the whole `frame` from the first start byte to the last tail byte; the "
            "`payload` between `header_bytes` and the checksum/tail; or every byte `after` the length field."
        ),
    ] = "frame"
    adjust: Annotated[
        int, _doc("Added to the field's value to get the count (e.g. -2 if the vendor's length includes a CRC).")
    ] = 0


class ChecksumSpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The checksum: its kind, where it sits and which bytes it covers."""

    kind: Annotated[ChecksumKind, _doc("Checksum algorithm, or `none`.")] = "none"
    at: Annotated[
        int | None,
        _doc("Where the checksum sits: >= 0 from the frame start, < 0 from its end; unset means just before the tail."),
    ] = None
    covers_from: Annotated[Offset, _doc("First covered byte, from the frame start (0 includes the start bytes).")] = 0
    covers_to: Annotated[
        int | Literal["checksum", "end"],
        _doc(
            "End of the covered bytes (exclusive): `checksum` = up to the checksum, `end` = to the end of the frame, "
            "or an offset (< 0 from the end). Checksum bytes inside the range count as zeros."
        ),
    ] = "checksum"
    endian: Annotated[Endian | None, _doc("Byte order of the checksum; unset means the framing's `endian`.")] = None


class MatchSpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One condition a frame must meet to be this message: ``(bytes at offset) & mask == value``."""

    offset: Annotated[Offset, _doc("First byte compared, from the frame start.")]
    value: Annotated[int, Meta(ge=0), _doc("Value the (masked) bytes must have.")]
    size: Annotated[Literal[1, 2, 4], _doc("Bytes compared.")] = 1
    mask: Annotated[Annotated[int, Meta(ge=0)] | None, _doc("Bits compared; unset compares them all.")] = None
    endian: Annotated[Endian | None, _doc("Byte order; unset means the framing's `endian`.")] = None


class FieldSpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One value read from a frame into a field of the event."""

    to: Annotated[str, _doc("The event field it fills (`unit`, `lat`, `text`, ...).")]
    offset: Annotated[Offset, _doc("First byte, from the frame start.")]
    type: Annotated[FieldType, _doc("Wire type: integers, floats, packed BCD digits or text.")]
    size: Annotated[
        Annotated[int, Meta(ge=1, le=4096)] | None,
        _doc("Bytes, for `bcd` and fixed-size `text` (unset: to the payload end)."),
    ] = None
    endian: Annotated[Endian | None, _doc("Byte order; unset means the framing's `endian`.")] = None
    scale: Annotated[float, _doc("Number fields: value = raw * scale + add (e.g. 1e-7 for degrees).")] = 1.0
    add: Annotated[float, _doc("Number fields: added after scaling.")] = 0.0
    encoding: Annotated[Encoding | None, _doc("Text fields: character encoding; unset means ascii.")] = None
    prefix: Annotated[Literal[0, 1, 2, 4], _doc("Text fields: bytes of a length prefix just before the text.")] = 0
    terminator: Annotated[str, _doc("Text fields: hex bytes that end the text (e.g. `00`, `0000` for UTF-16).")] = ""
    values: Annotated[
        dict[str, Scalar] | None,
        _doc('Raw value (as text) to event value, e.g. `{ "0" = "group", "1" = "private" }`; `"*"` = any other.'),
    ] = None


class MessageSpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One entry of the message table: which frames it matches and the event they become."""

    name: Annotated[str, _doc("Name for logs and docs."), Meta(min_length=1, max_length=60)]
    event: Annotated[EventKind, _doc("The radio event these frames become (or, sent by us, `text` or `poll`).")]
    direction: Annotated[
        Literal["in", "out"], _doc("`in`: gateway to node (decoded); `out`: node to gateway (an encode template).")
    ] = "in"
    match: Annotated[list[MatchSpec], _doc("Conditions, all of which a frame must meet; empty matches any.")] = (
        msgspec.field(default_factory=list)
    )
    fields: Annotated[list[FieldSpec], _doc("How frame bytes fill the event's fields.")] = msgspec.field(
        default_factory=list
    )
    constants: Annotated[dict[str, Scalar], _doc("Event fields with a fixed value, e.g. `{ online = true }`.")] = (
        msgspec.field(default_factory=dict, name="set")
    )


class BinaryFraming(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A vendor's binary framing and its message table (``[radio.binary]``)."""

    name: Annotated[str, _doc("Name of the framing, for logs."), Meta(min_length=1, max_length=60)] = "binary"
    start: Annotated[str, _doc('Start bytes in hex, e.g. "7E" or "AA 55".')]
    tail: Annotated[str, _doc("Tail bytes in hex that end every frame; empty for none.")] = ""
    endian: Annotated[Endian, _doc("Byte order wherever a part does not give its own.")] = "big"
    header_bytes: Annotated[
        Offset | None, _doc("Bytes before the payload (for `length.counts = payload`); unset: end of the length field.")
    ] = None
    length: Annotated[LengthSpec, _doc("The length field.")]
    checksum: Annotated[ChecksumSpec, _doc("The checksum.")] = msgspec.field(default_factory=ChecksumSpec)
    max_frame_bytes: Annotated[int, Meta(ge=4, le=65536), _doc("Longer frames are dropped as `oversize`.")] = 1024
    stale_after_s: Annotated[
        float, Meta(gt=0, le=3600), _doc("A frame whose bytes take longer than this to arrive is dropped as `stale`.")
    ] = 3.0
    messages: Annotated[list[MessageSpec], _doc("The message table, tried in order.")] = msgspec.field(
        default_factory=list
    )


class FramingError(RadioError):
    """A framing description has problems; ``problems`` lists every one with its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


# ---- reading hex and the derived layout -------------------------------------------------------------


def hex_bytes(text: str) -> bytes | None:
    """Bytes written as hex, spaces allowed ("AA 55"); None if that is not what the text is."""
    compact = "".join(text.split())
    if len(compact) % 2 or any(c not in string.hexdigits for c in compact):
        return None
    return bytes.fromhex(compact)


class Layout(NamedTuple):
    """The numbers a codec needs, derived from a valid description."""

    start: bytes
    tail: bytes
    length_end: int  # first byte after the length field
    header: int  # first byte of the payload
    trailer: int  # bytes after the payload (checksum at the end, tail)
    checksum_size: int
    checksum_at: int  # < 0 counts from the end

    @property
    def min_frame(self) -> int:
        """The shortest frame this framing allows."""
        return self.header + self.trailer


def layout(framing: BinaryFraming) -> Layout:
    """Derived numbers of a description (meaningful once ``validate`` found no problems)."""
    tail = hex_bytes(framing.tail) or b""
    length_end = framing.length.offset + framing.length.size
    size = CHECKSUMS[framing.checksum.kind].size if framing.checksum.kind != "none" else 0
    at = framing.checksum.at if framing.checksum.at is not None else -(size + len(tail))
    trailer = max(len(tail), -at if size and at < 0 else 0)
    header = framing.header_bytes if framing.header_bytes is not None else length_end
    return Layout(hex_bytes(framing.start) or b"", tail, length_end, header, trailer, size, at)


def resolve(offset: int, frame_len: int) -> int:
    """A frame offset as an index: negative offsets count from the end."""
    return offset if offset >= 0 else frame_len + offset


# ---- what each event field takes ---------------------------------------------------------------------


class Target(NamedTuple):
    """An event field a description can fill: its category and type."""

    category: Literal["text", "number", "integer", "bool", "enum"]
    type: Any
    required: bool


def _target(tp: Any, required: bool) -> Target:
    if get_origin(tp) in (Union, types.UnionType):
        tp = next(a for a in get_args(tp) if a is not type(None))
    if tp is bool:
        return Target("bool", tp, required)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return Target("enum", tp, required)
    category = {str: "text", int: "integer", float: "number"}[tp]
    return Target(category, tp, required)  # type: ignore[arg-type]


TARGETS: dict[str, dict[str, Target]] = {
    kind: {f.name: _target(f.type, f.required) for f in msgspec.structs.fields(cls)} for kind, cls in EVENTS.items()
}
FIXED_SIZE = {"u8": 1, "i8": 1, "u16": 2, "i16": 2, "u24": 3, "i24": 3, "u32": 4, "i32": 4, "u64": 8, "i64": 8}
FIXED_SIZE |= {"f32": 4, "f64": 8}


def source_kind(field_type: str) -> Literal["int", "float", "bcd", "text"]:
    """What a wire type yields before mapping: an integer, a float, BCD digits or text."""
    if field_type in ("f32", "f64"):
        return "float"
    if field_type in ("bcd", "text"):
        return field_type  # type: ignore[return-value]
    return "int"


def fills(source: str, target: Target) -> bool:
    """Whether a raw value of this kind can fill the target without a ``values`` table."""
    if target.category == "enum":
        return source == ("int" if issubclass(target.type, int) else "text")
    allowed = {"text": "int bcd text", "number": "int float bcd", "integer": "int bcd", "bool": "int"}
    return source in allowed[target.category].split()


def what(target: Target) -> str:
    """A target's type in plain words."""
    if target.category == "enum":
        return "one of " + ", ".join(str(m.value) for m in target.type)
    return {"text": "text", "number": "a number", "integer": "a whole number", "bool": "true or false"}[target.category]


def encoding_of(spec: FieldSpec) -> str:
    """The codec name of a text field's encoding."""
    return spec.encoding or "ascii"


def unit_bytes(spec: FieldSpec) -> int:
    """Bytes per code unit of a text field's encoding (terminators and padding align to it)."""
    return 2 if encoding_of(spec).startswith("utf-16") else 1


def fixed_width(spec: FieldSpec) -> int | None:
    """Bytes a field takes, or None when it runs to a prefix-given length or the payload end."""
    if spec.type in FIXED_SIZE:
        return FIXED_SIZE[spec.type]
    if spec.type == "text" and spec.prefix:
        return None
    return spec.size


# ---- structure checks with key paths -----------------------------------------------------------------


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path and not key.startswith("[") else f"{path}{key}"


def check(data: Any, path: str = "radio.binary") -> list[str]:
    """Every problem of a description given as TOML data, each prefixed by its key path."""
    from edge.config import check as check_options  # noqa: PLC0415 - edge.config imports this module

    problems = check_options(data, BinaryFraming, path)
    if problems:
        return problems
    return validate(msgspec.convert(data, type=BinaryFraming), path)


def parse(data: Any, path: str = "radio.binary") -> BinaryFraming:
    """A description from TOML data, or FramingError with every problem."""
    problems = check(data, path)
    if problems:
        raise FramingError(path or "framing", problems)
    return msgspec.convert(data, type=BinaryFraming)


def load(file: Path) -> BinaryFraming:
    """A description from a TOML file holding just the description (like framings/example-pdt.toml)."""
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FramingError(str(file), [f"cannot read: {exc}"]) from exc
    problems = check(data, "")
    if problems:
        raise FramingError(str(file), problems)
    return msgspec.convert(data, type=BinaryFraming)


# ---- meaning checks -------------------------------------------------------------------------------------


def _span(first: int, end: int) -> str:
    return f"bytes {first}..{end - 1}"


def validate(framing: BinaryFraming, path: str = "radio.binary") -> list[str]:
    """Every problem with what a well-formed description means, each prefixed by its key path."""
    problems = list(_frame_problems(framing, path))
    if problems:
        return problems  # message offsets are judged against the frame layout, so it must be sound first
    names: dict[str, int] = {}
    for i, message in enumerate(framing.messages):
        where = _at(path, f"messages[{i}]")
        if message.name in names:
            problems.append(f"{where}.name: {message.name!r} is already used by messages[{names[message.name]}]")
        names.setdefault(message.name, i)
        problems += _MessageCheck(framing, message, where).problems()
    problems += _shadowing(framing, path)
    if not framing.messages:
        problems.append(f"{_at(path, 'messages')}: describe at least one message")
    return problems


def _frame_problems(framing: BinaryFraming, path: str) -> Iterator[str]:
    start, tail = hex_bytes(framing.start), hex_bytes(framing.tail)
    for key, raw, parsed in (("start", framing.start, start), ("tail", framing.tail, tail)):
        if parsed is None:
            yield f'{_at(path, key)}: {raw!r} is not hex bytes (write them like "AA55")'
    if start == b"":
        yield f"{_at(path, 'start')}: give at least one start byte"
    if not start or tail is None:
        return
    lay = layout(framing)
    if framing.length.offset < len(start):
        yield (
            f"{_at(path, 'length.offset')}: the length field ({_span(framing.length.offset, lay.length_end)}) "
            f"overlaps the start bytes ({_span(0, len(start))})"
        )
    if lay.header < lay.length_end:
        yield f"{_at(path, 'header_bytes')}: {lay.header} ends inside the length field ({_span(0, lay.length_end)})"
    yield from _checksum_problems(framing, lay, _at(path, "checksum"))
    if framing.max_frame_bytes < lay.min_frame:
        yield (
            f"{_at(path, 'max_frame_bytes')}: {framing.max_frame_bytes} is less than the shortest frame "
            f"({lay.min_frame} bytes: {lay.header} before the payload, {lay.trailer} after it)"
        )


def _checksum_problems(framing: BinaryFraming, lay: Layout, path: str) -> Iterator[str]:
    spec = framing.checksum
    if spec.kind == "none":
        return
    size, at = lay.checksum_size, lay.checksum_at
    if at < 0 and at + size > -len(lay.tail):
        yield f"{path}.at: {at} puts the {size}-byte checksum past the end of the frame or into the tail"
        return
    if at >= 0 and (at < lay.length_end or at + size > lay.header):
        yield (
            f"{path}.at: a checksum at a fixed offset must sit after the length field and within the header "
            f"({_span(lay.length_end, lay.header)})"
            if lay.header > lay.length_end
            else f"{path}.at: {at} is not after the checksum-free header; set header_bytes to include it"
        )
        return
    first, end = _covered(spec, lay, lay.min_frame)
    if not first < end <= lay.min_frame:
        yield f"{path}: covers_from {spec.covers_from} and covers_to {spec.covers_to!r} leave no bytes to check"


def _covered(spec: ChecksumSpec, lay: Layout, frame_len: int) -> tuple[int, int]:
    """The covered byte range of a frame of this length, as indices."""
    if spec.covers_to == "checksum":
        end = resolve(lay.checksum_at, frame_len)
    elif spec.covers_to == "end":
        end = frame_len
    else:
        end = resolve(spec.covers_to, frame_len)
    return spec.covers_from, end


def _shadowing(framing: BinaryFraming, path: str) -> Iterator[str]:
    for direction in ("in", "out"):
        entries = [(i, m) for i, m in enumerate(framing.messages) if m.direction == direction]
        for (i, message), (j, _) in itertools.pairwise(entries):
            if not message.match:
                yield (
                    f"{_at(path, f'messages[{i}]')}.match: empty, so it takes every {direction}bound frame "
                    f"and messages[{j}] is never used"
                )


class _MessageCheck:
    """Checks one message-table entry; ``problems()`` lists what is wrong with it."""

    def __init__(self, framing: BinaryFraming, message: MessageSpec, path: str) -> None:
        self.framing, self.message, self.path = framing, message, path
        self.lay = layout(framing)
        self.targets = TARGETS[message.event]
        self.reserved = [(0, len(self.lay.start), "the start bytes")]
        self.reserved.append((framing.length.offset, self.lay.length_end, "the length field"))
        if framing.checksum.kind != "none" and self.lay.checksum_at >= 0:
            at = self.lay.checksum_at
            self.reserved.append((at, at + self.lay.checksum_size, "the checksum"))
        self.limit = framing.max_frame_bytes - self.lay.trailer  # where the payload ends in the longest frame

    def problems(self) -> list[str]:
        out = list(self._direction())
        for i, match in enumerate(self.message.match):
            out += self._match(match, f"{self.path}.match[{i}]")
        filled: dict[str, str] = {}
        for i, spec in enumerate(self.message.fields):
            out += self._field(spec, f"{self.path}.fields[{i}]", f"fields[{i}]", filled)
        out += self._constants(filled)
        out += self._overlaps()
        out += self._required(filled)
        return out

    def _direction(self) -> Iterator[str]:
        event, direction = self.message.event, self.message.direction
        if event == "poll" and direction == "in":
            yield f'{self.path}.event: poll is a request the node sends; mark the message direction = "out"'
        elif direction == "out" and event not in OUTBOUND:
            yield f"{self.path}.direction: only text and poll messages can be sent to the gateway"

    def _range(self, first: int, width: int, where: str) -> Iterator[str]:
        end = first + width
        if end > self.limit:
            yield (
                f"{where}: {_span(first, end)} run past the payload of the longest frame "
                f"(max_frame_bytes {self.framing.max_frame_bytes} less {self.lay.trailer} after the payload)"
            )
        for lo, hi, what_ in self.reserved:
            if first < hi and lo < end:
                yield f"{where}: {_span(first, end)} overlap {what_} ({_span(lo, hi)})"

    def _match(self, match: MatchSpec, where: str) -> Iterator[str]:
        yield from self._range(match.offset, match.size, where)
        top = 1 << (8 * match.size)
        for key, number in (("value", match.value), ("mask", match.mask)):
            if number is not None and number >= top:
                yield f"{where}.{key}: {number:#x} does not fit in {match.size} byte{'s' if match.size > 1 else ''}"
        if match.mask is not None and match.value & ~match.mask:
            yield f"{where}.value: {match.value:#x} has bits outside mask {match.mask:#x}"

    def _field(self, spec: FieldSpec, where: str, name: str, filled: dict[str, str]) -> list[str]:
        target = self.targets.get(spec.to)
        if target is None:
            known = ", ".join(sorted(self.targets))
            return [f"{where}.to: {self.message.event} has no field {spec.to!r} (known: {known})"]
        out = []
        if spec.to in filled:
            out.append(f"{where}.to: {spec.to} is already filled by {filled[spec.to]}")
        filled.setdefault(spec.to, name)
        out += _shape_problems(spec, where)
        out += _mapping_problems(spec, target, f"{self.message.event}.{spec.to}", where)
        width = fixed_width(spec)
        out += self._range(spec.offset, width if width is not None else spec.prefix, where)
        return out

    def _constants(self, filled: dict[str, str]) -> Iterator[str]:
        for key, value in self.message.constants.items():
            where = f"{self.path}.set.{key}"
            target = self.targets.get(key)
            if target is None:
                yield f"{where}: {self.message.event} has no field {key!r} (known: {', '.join(sorted(self.targets))})"
            elif key in filled:
                yield f"{where}: {key} is already filled by {filled[key]}"
            elif not _converts(value, target):
                yield f"{where}: {value!r} cannot fill {self.message.event}.{key}, which is {what(target)}"
            filled.setdefault(key, "set")

    def _overlaps(self) -> Iterator[str]:
        spans = []
        for i, spec in enumerate(self.message.fields):
            width = fixed_width(spec)
            spans.append((spec.offset, spec.offset + (width if width is not None else spec.prefix), i, width is None))
        for a in spans:
            for b in spans:
                if a[2] < b[2] and a[0] < b[1] and b[0] < a[1]:
                    yield (
                        f"{self.path}.fields[{b[2]}]: {_span(b[0], b[1])} overlap fields[{a[2]}] ({_span(a[0], a[1])})"
                    )
        last_end = max([m.offset + m.size for m in self.message.match] + [s[1] for s in spans if not s[3]], default=0)
        variable = [s for s in spans if s[3]]
        for first, *_ in variable[1:]:
            yield f"{self.path}: only one field may run to a length prefix or the payload end (another at byte {first})"
        for first, _, i, _ in variable[:1]:
            if first < last_end:
                yield (
                    f"{self.path}.fields[{i}]: a text field without a size must come after every other field "
                    f"and match (they end at byte {last_end - 1})"
                )

    def _required(self, filled: dict[str, str]) -> Iterator[str]:
        missing = [k for k, t in self.targets.items() if t.required and k not in filled]
        if self.message.event == "text" and self.message.direction == "out":
            missing = [k for k in missing if k != "src"]  # the node is the sender; the gateway knows who it is
        if missing:
            yield f"{self.path}: a {self.message.event} event needs {', '.join(missing)} (map a field or set a value)"


def _shape_problems(spec: FieldSpec, where: str) -> Iterator[str]:
    if spec.type in FIXED_SIZE and spec.size is not None and spec.size != FIXED_SIZE[spec.type]:
        yield f"{where}.size: {spec.type} is always {FIXED_SIZE[spec.type]} bytes"
    if spec.type == "bcd" and spec.size is None:
        yield f"{where}.size: a bcd field needs a size in bytes"
    if spec.type != "text":
        for key, given in (("encoding", spec.encoding), ("prefix", spec.prefix), ("terminator", spec.terminator)):
            if given:
                yield f"{where}.{key}: applies only to text fields"
        return
    if spec.size is not None and spec.prefix:
        yield f"{where}: give a size or a prefix, not both"
    terminator = hex_bytes(spec.terminator)
    if terminator is None:
        yield f'{where}.terminator: {spec.terminator!r} is not hex bytes (write them like "00")'
    elif len(terminator) % unit_bytes(spec):
        yield f"{where}.terminator: {encoding_of(spec)} text needs a terminator of whole 2-byte code units"
    if spec.size is not None and spec.size % unit_bytes(spec):
        yield f"{where}.size: {encoding_of(spec)} text takes an even number of bytes"


def _mapping_problems(spec: FieldSpec, target: Target, name: str, where: str) -> Iterator[str]:
    source = source_kind(spec.type)
    if (spec.scale != 1.0 or spec.add != 0.0) and (target.category != "number" or spec.values is not None):
        yield f"{where}: scale and add apply only to number fields without values"
    if spec.scale == 0.0:
        yield f"{where}.scale: cannot be 0"
    if spec.values is None:
        if not fills(source, target):
            hint = " (add values to map raw values)" if source != "float" else ""
            yield f"{where}: a {spec.type} field cannot fill {name}, which is {what(target)}{hint}"
        return
    if source == "float":
        yield f"{where}.values: a {spec.type} field cannot be mapped by values"
        return
    for key, value in spec.values.items():
        if source != "text" and key != "*" and not key.lstrip("-").isdigit():
            yield f'{where}.values: key {key!r} is not a whole number (or "*")'
        if not _converts(value, target):
            yield f"{where}.values.{key}: {value!r} cannot fill {name}, which is {what(target)}"


def _converts(value: Scalar, target: Target) -> bool:
    try:
        msgspec.convert(value, type=target.type)
    except msgspec.ValidationError:
        return False
    return True
