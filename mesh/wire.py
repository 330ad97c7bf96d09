"""Mesh payloads: compact msgpack arrays for every scene change, and the catch-up replies (pure, no I/O).

Each struct is ``array_like`` (no field names on the wire) and tagged by a small integer, so one
byte says what follows. The field order below *is* the wire format. A field added later goes at
the end *with a default*: a newer kit then reads an older kit's shorter array, and an older kit
ignores the extra trailing items of a newer one (msgspec does both), so mixed versions interwork.

Positions (``pos``, a drone's ``home``, marker points) are scaled integers, the only lossy step
(see ``quantise``): latitude and longitude in 1e-7 degree (about 1.1 cm), altitudes in
centimetres. Other floats go as msgpack integers when they hold a whole number and as float64
otherwise, which is exact. A live state payload leaves out its id and origin, which its key
``fk/<origin>/state/<kind>/<id>`` already carries, and its trailing fields that hold the model's
default (a radio unit's position update is ``[1, ts, [lat_e7, lon_e7]]``, 22 bytes); events and
catch-up records carry everything.
"""

from __future__ import annotations

import hashlib
import math
from typing import Annotated, Any, Final, TypeVar

import msgspec
from msgspec import Meta, Struct

from edge.scene.model import (
    Alert,
    AlertAck,
    AlertClear,
    Audit,
    Call,
    Color,
    EntityId,
    Event,
    Feed,
    FenceFor,
    Marker,
    Message,
    Name,
    Node,
    NodeHealth,
    NodeLink,
    NodeRole,
    Position,
    Receipt,
    Removed,
    Severity,
    Shape,
    StateChange,
    Text,
    Timestamp,
    Unit,
    Uplink,
    Vehicle,
)

from .errors import WireError

LatE7 = Annotated[int, Meta(ge=-900_000_000, le=900_000_000)]
LonE7 = Annotated[int, Meta(ge=-1_800_000_000, le=1_800_000_000)]
Cm = Annotated[int, Meta(ge=-(2**31), lt=2**31)]
EventId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9._:-]+$", max_length=120)]
Seq = Annotated[int, Meta(ge=0, le=2**63 - 1)]
C = TypeVar("C", StateChange, Event)
T = TypeVar("T")


class QPos(Struct, frozen=True, array_like=True):
    """A position as scaled integers: ``[lat_e7, lon_e7, alt_msl_cm, alt_rel_cm]``."""

    lat_e7: LatE7
    lon_e7: LonE7
    alt_msl_cm: Cm | None = None
    alt_rel_cm: Cm | None = None


# -- state bodies (no id, no origin) ----------------------------------------------------------


class _Body(Struct, frozen=True, array_like=True, tag_field="k"):
    ts: Timestamp
    pos: QPos | None = None


# Every field after ``ts`` has the scene model's default, so ``encode_state`` leaves trailing
# defaults off the array (a unit's position update is ``[1, ts, pos]``) and a reader fills them in.


class UnitBody(_Body, tag=1, frozen=True, array_like=True):
    """A radio unit."""

    name: Name = ""
    team: Name | None = None
    talkgroup: Name | None = None
    status: Name | None = None
    online: bool = True
    talking: bool = False
    talking_on: Name | None = None
    talking_since: Timestamp | None = None
    heading_deg: float | None = None
    speed_mps: float | None = None
    battery_pct: float | None = None
    emergency: bool = False


class VehicleBody(_Body, tag=2, frozen=True, array_like=True):
    """A drone."""

    name: Name = ""
    mode: Name | None = None
    armed: bool = False
    heading_deg: float | None = None
    ground_speed_mps: float | None = None
    battery_pct: float | None = None
    battery_v: float | None = None
    tethered: bool = False
    link_ok: bool = True
    sysid: Annotated[int, Meta(ge=0, le=255)] | None = None
    autopilot: Name | None = None
    vehicle_type: Name | None = None
    roll_deg: float | None = None
    pitch_deg: float | None = None
    yaw_deg: float | None = None
    climb_mps: float | None = None
    battery_a: float | None = None
    gps_fix: Name | None = None
    satellites: int | None = None
    ekf_ok: bool | None = None
    home: QPos | None = None
    mission_seq: int | None = None
    link_loss_pct: float | None = None
    last_heard_ts: Timestamp | None = None
    tether_length_m: float | None = None
    tether_tension_n: float | None = None
    tether_power: bool | None = None
    tether_v: float | None = None
    tether_ceiling_m: float | None = None
    # Wire only: which full state this is, for the position deltas that follow it (mesh/posdelta.py).
    pos_gen: Annotated[int, Meta(ge=0, le=2**63 - 1)] | None = None


class FeedBody(_Body, tag=3, frozen=True, array_like=True):
    """A video feed."""

    name: Name = ""
    state: Name = "idle"
    codec: Name | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    viewers: int = 0
    vehicle_id: EntityId | None = None
    heading_deg: float | None = None
    fov_deg: float | None = None
    source: Name | None = None
    url: Text | None = None
    bitrate_kbps: float | None = None
    range_m: float | None = None
    thermal: bool = False
    recording: bool = False
    snapshot_ts: Timestamp | None = None
    error: Text | None = None
    profiles: Annotated[list[Name], Meta(max_length=8)] = []  # "main" and narrow-link variants


class UplinkW(Struct, frozen=True, array_like=True):
    """An uplink of a kit: ``[name, [addr, ...]]``."""

    name: Name
    addrs: Annotated[list[Name], Meta(max_length=16)] = []


class NodeHealthW(Struct, frozen=True, array_like=True):
    """A kit's health as an array (``NodeHealth``'s fields in order)."""

    cpu_pct: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    mem_pct: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    mem_total_mb: Annotated[int, Meta(ge=0)] | None = None
    power: Name | None = None
    battery_pct: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    uplinks: Annotated[list[UplinkW], Meta(max_length=32)] = []


class NodeLinkW(Struct, frozen=True, array_like=True):
    """One mesh link as an array (``NodeLink``'s fields in order)."""

    peer: Name
    up: bool
    rtt_ms: Annotated[float, Meta(ge=0.0)] | None = None
    loss_pct: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    rx_bps: Annotated[float, Meta(ge=0.0)] | None = None
    tx_bps: Annotated[float, Meta(ge=0.0)] | None = None


class NodeBody(_Body, tag=4, frozen=True, array_like=True):
    """A field kit."""

    name: Name = ""
    role: NodeRole = NodeRole.EDGE
    version: Name = ""
    components: Annotated[dict[Name, Name], Meta(max_length=200)] = {}
    health: NodeHealthW | None = None
    links: Annotated[list[NodeLinkW], Meta(max_length=64)] = []


class MarkerBody(_Body, tag=5, frozen=True, array_like=True):
    """An operator's drawing; its points are scaled like positions."""

    name: Name = ""
    shape: Shape = Shape.POINT
    points: Annotated[list[tuple[LatE7, LonE7]], Meta(max_length=1000)] = []
    radius_m: Annotated[float, Meta(ge=0.0, le=1e6)] | None = None
    color: Color = "#ff6600"
    category: Name = "annotation"
    fence_entry: bool = False
    fence_exit: bool = False
    fence_for: FenceFor = FenceFor.BOTH


class RemovedBody(_Body, tag=6, frozen=True, array_like=True):
    """A tombstone."""

    name: Name = ""


StateBody = UnitBody | VehicleBody | FeedBody | NodeBody | MarkerBody | RemovedBody

# -- events (self-contained) ------------------------------------------------------------------


class _EventW(Struct, frozen=True, array_like=True, tag_field="k"):
    id: EventId
    origin: Name
    seq: Seq
    ts: Timestamp


class AlertW(_EventW, tag=16, frozen=True, array_like=True):
    """An alert."""

    severity: Severity
    title: Name
    text: Text
    entity_id: EntityId | None
    pos: QPos | None


class AlertAckW(_EventW, tag=17, frozen=True, array_like=True):
    """An acknowledgement."""

    alert_id: Annotated[str, Meta(max_length=120)]
    by: Name


class AlertClearW(_EventW, tag=18, frozen=True, array_like=True):
    """A clear."""

    alert_id: Annotated[str, Meta(max_length=120)]
    by: Name


class MessageW(_EventW, tag=19, frozen=True, array_like=True):
    """A text message."""

    sender: Name
    to: Name
    text: Text
    via: Name


class ReceiptW(_EventW, tag=20, frozen=True, array_like=True):
    """A delivery receipt."""

    message_id: Annotated[str, Meta(max_length=120)]
    recipient: Name
    ok: bool
    attempts: int
    reason: Name


class CallW(_EventW, tag=21, frozen=True, array_like=True):
    """An ended voice call."""

    caller: EntityId
    talkgroup: Name
    call_type: Name
    start_ts: Timestamp
    duration_s: Annotated[float, Meta(ge=0.0)]


class AuditW(_EventW, tag=22, frozen=True, array_like=True):
    """An operator action."""

    actor: Name
    action: Name
    target: Name
    result: Name


EventW = AlertW | AlertAckW | AlertClearW | MessageW | ReceiptW | CallW | AuditW

# -- catch-up replies ---------------------------------------------------------------------------


class StateRecord(Struct, frozen=True, array_like=True):
    """One entity (or tombstone) in a catch-up reply."""

    id: EntityId
    origin: Name
    body: StateBody


class OriginSummary(Struct, frozen=True, array_like=True):
    """What a node holds from one origin: its journal heads and a digest of that origin's entities."""

    contiguous: Seq  # every seq 1..contiguous is held
    max_seq: Seq  # the highest seq held
    entities: int  # how many live entities of that origin are held
    digest: int  # order-independent digest over (id, ts) of those entities (see ``state_digest``)


class Summary(Struct, frozen=True, array_like=True):
    """Reply to ``?summary``: per origin, what the replier holds; digests cover entities with ``ts <= cutoff``."""

    node: Name
    cutoff: float
    origins: Annotated[dict[Name, OriginSummary], Meta(max_length=10_000)]


class EventPage(Struct, frozen=True, array_like=True):
    """Reply to ``?origin=<o>;since=<seq>``: events of ``origin`` after ``since``, in seq order."""

    origin: Name
    events: list[EventW]
    more: bool  # ask again from the last seq for the rest


class StatePage(Struct, frozen=True, array_like=True):
    """Reply to ``?state``: entities ordered by id after ``after``; ``next_after`` is set while more remain."""

    records: list[StateRecord]
    next_after: EntityId | None


_BODY: Final[dict[type[Any], type[Any]]] = {
    Unit: UnitBody,
    Vehicle: VehicleBody,
    Feed: FeedBody,
    Node: NodeBody,
    Marker: MarkerBody,
    Removed: RemovedBody,
    Alert: AlertW,
    AlertAck: AlertAckW,
    AlertClear: AlertClearW,
    Message: MessageW,
    Receipt: ReceiptW,
    Call: CallW,
    Audit: AuditW,
}
_MODEL: Final[dict[type[Any], type[Any]]] = {w: m for m, w in _BODY.items()}
_POSITIONS = ("pos", "home")  # Position fields, sent as QPos
WIRE_ONLY = frozenset({"pos_gen"})  # on the wire, not in the scene
_SPECIAL = frozenset({*_POSITIONS, "points", "health", "links", *WIRE_ONLY})

_encoder = msgspec.msgpack.Encoder()
_body_decoder = msgspec.msgpack.Decoder(StateBody)
_event_decoder = msgspec.msgpack.Decoder(EventW)
_summary_decoder = msgspec.msgpack.Decoder(Summary)
_event_page_decoder = msgspec.msgpack.Decoder(EventPage)
_state_page_decoder = msgspec.msgpack.Decoder(StatePage)
MAX_BATCH = 1000  # entities in one live state batch
_batch_decoder = msgspec.msgpack.Decoder(Annotated[list[tuple[EntityId, StateBody]], Meta(max_length=MAX_BATCH)])

# -- positions --------------------------------------------------------------------------------


def _e7(deg: float) -> int:
    return round(deg * 1e7)


MAX_ALT_M = 2e7  # within Cm's 32 bits; past any altitude a thing on or above the earth has


def _cm(m: float | None) -> int | None:
    """An altitude in centimetres; one past ``MAX_ALT_M`` (or NaN) travels as unknown.

    Such a value came from a bad source (found by fuzzing CoT: ``hae="-1e308"``): rounding it raised
    OverflowError in the publisher, and past 32 bits every peer would have refused the whole body.
    """
    return None if m is None or not -MAX_ALT_M < m < MAX_ALT_M else round(m * 100)


def _m(cm: int | None) -> float | None:
    return None if cm is None else cm / 100


def _qpos(pos: Position | None) -> QPos | None:
    if pos is None:
        return None
    return QPos(_e7(pos.lat), _e7(pos.lon), _cm(pos.alt_msl_m), _cm(pos.alt_rel_m))


def _dpos(q: QPos | None) -> Position | None:
    if q is None:
        return None
    return Position(lat=q.lat_e7 / 1e7, lon=q.lon_e7 / 1e7, alt_msl_m=_m(q.alt_msl_cm), alt_rel_m=_m(q.alt_rel_cm))


def quantise_position(pos: Position | None) -> Position | None:
    """``pos`` as it comes out of the wire: 1e-7 degree, 1 cm."""
    return _dpos(_qpos(pos))


def quantise(change: C) -> C:
    """``change`` with its positions (and marker points) on the wire's grid: what a round trip gives back."""
    values: dict[str, Any] = {}
    for f in _POSITIONS:
        pos = getattr(change, f, None)
        if pos is not None:
            values[f] = quantise_position(pos)
    if isinstance(change, Marker):
        values["points"] = [(_e7(lat) / 1e7, _e7(lon) / 1e7) for lat, lon in change.points]
    return msgspec.structs.replace(change, **values) if values else change


# -- conversion -------------------------------------------------------------------------------


def _compact(value: Any) -> Any:
    # A float holding a whole number travels as an int (1-5 bytes instead of 9); it decodes back
    # into the float field as the same value, so this is exact.
    if type(value) is float and math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _wire_values(change: Any, wire: type[Any]) -> dict[str, Any]:
    values = {f: _compact(getattr(change, f)) for f in wire.__struct_fields__ if f not in _SPECIAL}
    for f in _POSITIONS:
        if f in wire.__struct_fields__:
            values[f] = _qpos(getattr(change, f))
    if isinstance(change, Marker):
        values["points"] = [(_e7(lat), _e7(lon)) for lat, lon in change.points]
    if isinstance(change, Node):
        values["health"] = _health_w(change.health)
        values["links"] = [NodeLinkW(*map(_compact, msgspec.structs.astuple(x))) for x in change.links]
    return values


def _health_w(h: NodeHealth | None) -> NodeHealthW | None:
    if h is None:
        return None
    uplinks = [UplinkW(u.name, u.addrs) for u in h.uplinks]
    cpu, mem, battery = _compact(h.cpu_pct), _compact(h.mem_pct), _compact(h.battery_pct)
    return NodeHealthW(cpu, mem, h.mem_total_mb, h.power, battery, uplinks)


def _health(w: NodeHealthW | None) -> NodeHealth | None:
    if w is None:
        return None
    uplinks = [Uplink(name=u.name, addrs=u.addrs) for u in w.uplinks]
    return NodeHealth(
        cpu_pct=w.cpu_pct,
        mem_pct=w.mem_pct,
        mem_total_mb=w.mem_total_mb,
        power=w.power,
        battery_pct=w.battery_pct,
        uplinks=uplinks,
    )


def _model_values(wire: Any) -> dict[str, Any]:
    values = {f: getattr(wire, f) for f in wire.__struct_fields__ if f not in _SPECIAL}
    for f in _POSITIONS:
        if f in wire.__struct_fields__:
            values[f] = _dpos(getattr(wire, f))
    if isinstance(wire, MarkerBody):
        values["points"] = [(lat / 1e7, lon / 1e7) for lat, lon in wire.points]
    if isinstance(wire, NodeBody):
        values["health"] = _health(wire.health)
        values["links"] = [NodeLink(**msgspec.structs.asdict(x)) for x in wire.links]
    return values


def state_body(change: StateChange) -> StateBody:
    """The wire body of a state change (without its id and origin)."""
    wire = _BODY[type(change)]
    body: StateBody = wire(**_wire_values(change, wire))
    return body


def state_from_body(body: StateBody, entity_id: str, origin: str) -> StateChange:
    """The state change a body describes, given the id and origin its key or record carries."""
    change: StateChange = _MODEL[type(body)](id=entity_id, origin=origin, **_model_values(body))
    return change


def event_wire(event: Event) -> EventW:
    """The wire form of an event."""
    wire = _BODY[type(event)]
    value: EventW = wire(**_wire_values(event, wire))
    return value


def event_from_wire(wire: EventW) -> Event:
    """The event a wire form describes."""
    event: Event = _MODEL[type(wire)](**_model_values(wire))
    return event


def kind_of(value: StateBody | EventW | StateChange | Event) -> str:
    """The scene kind (``unit``, ``alert``…) of a body, wire event or scene change."""
    model = _MODEL.get(type(value), type(value))
    tag: str = model.__struct_config__.tag
    return tag


# -- bytes ------------------------------------------------------------------------------------


def encode_state(change: StateChange, pos_gen: int | None = None) -> bytes:
    """A live state payload (id and origin travel in the key), trailing defaults left off.

    ``pos_gen`` marks a vehicle's full state as the base of the position deltas that follow it.
    """
    body = state_body(change)
    if pos_gen is not None and isinstance(body, VehicleBody):
        body = msgspec.structs.replace(body, pos_gen=pos_gen)
    return _encoder.encode(_trimmed(body))


def _trimmed(value: Struct) -> list[Any]:
    """``value`` as the array msgspec would write, without the trailing items equal to their defaults."""
    cls = type(value)
    fields = cls.__struct_fields__
    defaults = cls.__struct_defaults__
    first_default = len(fields) - len(defaults)
    items = [_trimmed(v) if isinstance(v, QPos) else v for v in msgspec.structs.astuple(value)]
    n = len(items)
    while n > first_default and _is_default(items[n - 1], defaults[n - 1 - first_default]):
        n -= 1
    tag = cls.__struct_config__.tag
    return [tag, *items[:n]] if tag is not None else items[:n]


def _is_default(item: Any, default: Any) -> bool:
    if type(default).__name__ == "Factory":  # msgspec's holder of a mutable default ({} or [])
        default = default.factory()
    return bool(item == default) and type(item) is type(default)


def decode_state(data: bytes, entity_id: str, origin: str) -> StateChange:
    """Read a live state payload received on ``fk/<origin>/state/<kind>/<entity_id>``."""
    return state_from_body(_decode(_body_decoder, data), entity_id, origin)


def encode_state_batch(items: list[tuple[str, bytes]]) -> bytes:
    """Several live state payloads (``encode_state``) of one node with their entity ids: ``[[id, body], ...]``.

    One sample for a batch pays Zenoh's framing and the key once instead of per entity (a radio
    position: 57 B on the wire alone, about 40 B in a batch; measured in benchmarks/mesh_sync.py).
    """
    return _encoder.encode([(entity_id, msgspec.Raw(body)) for entity_id, body in items])


def decode_state_batch(data: bytes, origin: str) -> list[StateChange]:
    """Read a live state batch received on ``fk/<origin>/state``."""
    return [change for change, _ in decode_state_batch_gens(data, origin)]


def decode_state_batch_gens(data: bytes, origin: str) -> list[tuple[StateChange, int | None]]:
    """``decode_state_batch`` with each vehicle's ``pos_gen`` (None for every other body)."""
    return [
        (state_from_body(body, entity_id, origin), getattr(body, "pos_gen", None))
        for entity_id, body in _decode(_batch_decoder, data)
    ]


def encode_event(event: Event) -> bytes:
    """A live event payload."""
    return _encoder.encode(event_wire(event))


def decode_event(data: bytes) -> Event:
    """Read a live event payload."""
    return event_from_wire(_decode(_event_decoder, data))


def encode_reply(reply: Summary | EventPage | StatePage) -> bytes:
    """A catch-up reply."""
    return _encoder.encode(reply)


def decode_summary(data: bytes) -> Summary:
    """Read a ``?summary`` reply."""
    return _decode(_summary_decoder, data)


def decode_event_page(data: bytes) -> EventPage:
    """Read an events reply."""
    return _decode(_event_page_decoder, data)


def decode_state_page(data: bytes) -> StatePage:
    """Read a state reply."""
    return _decode(_state_page_decoder, data)


def state_record(change: StateChange) -> StateRecord:
    """A catch-up record of one entity."""
    return StateRecord(change.id, change.origin, state_body(change))


def _decode(decoder: msgspec.msgpack.Decoder[T], data: bytes) -> T:
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise WireError(str(exc)) from exc


# -- state digests ----------------------------------------------------------------------------


def state_digest(entities: list[tuple[str, float]]) -> int:
    """An order-independent 64-bit digest of ``(id, ts)`` pairs: equal sets give equal digests."""
    total = 0
    for entity_id, ts in entities:
        total = (total + _mix(entity_id, ts)) & 0xFFFF_FFFF_FFFF_FFFF
    return total


def _mix(entity_id: str, ts: float) -> int:
    # blake2b over the id and the float's exact text: stable across processes (hash() is salted).
    digest = hashlib.blake2b(f"{entity_id}|{ts.hex()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")
