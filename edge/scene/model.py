"""The scene's typed values: entities (last value wins) and events (append-only).

Every value is a frozen msgspec struct tagged by ``kind`` so one JSON/msgpack decoder reads any of
them. Coordinates are WGS-84 degrees; every unit is in the field name (DESIGN.md, "The scene").
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, Meta(ge=-180.0, le=180.0)]
Text = Annotated[str, Meta(max_length=2000)]
Name = Annotated[str, Meta(max_length=200)]
# Ids are namespaced: kind, then an owner (a radio system or a node), then a local name.
EntityId = Annotated[str, Meta(pattern=r"^[a-z]+:[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)*$", max_length=200)]
Timestamp = Annotated[float, Meta(ge=0.0)]  # seconds since the Unix epoch, UTC
Color = Annotated[str, Meta(pattern=r"^#[0-9a-fA-F]{6}$")]

_ID_PART = re.compile(r"[^A-Za-z0-9._-]")


def id_part(text: str) -> str:
    """Make ``text`` safe to stand in an id (other characters become ``-``)."""
    return _ID_PART.sub("-", text)[:64] or "-"


class Position(Struct, frozen=True, kw_only=True):
    """A WGS-84 fix; each altitude says what it is relative to."""

    lat: Lat
    lon: Lon
    alt_msl_m: float | None = None
    alt_rel_m: float | None = None


class _State(Struct, frozen=True, kw_only=True, tag_field="kind"):
    """Base of every entity: last value wins, ordered by ``(ts, origin)``."""

    id: EntityId
    origin: Name  # the node that observed this value
    ts: Timestamp  # when it was observed
    name: Name = ""
    pos: Position | None = None


class Unit(_State, tag="unit", kw_only=True, frozen=True):
    """A radio unit (PDT/DMR terminal) as reported through a radio gateway; ``ts`` is when last heard."""

    team: Name | None = None
    talkgroup: Name | None = None
    status: Name | None = None
    online: bool = True
    talking: bool = False
    talking_on: Name | None = None  # the talkgroup (or unit) of the call in progress; ``talkgroup`` stays home
    talking_since: Timestamp | None = None
    heading_deg: float | None = None
    speed_mps: float | None = None
    battery_pct: float | None = None
    emergency: bool = False


class Vehicle(_State, tag="vehicle", kw_only=True, frozen=True):
    """A drone; its id is ``vehicle:<node>:<sysid>``."""

    mode: Name | None = None
    armed: bool = False
    heading_deg: float | None = None
    ground_speed_mps: float | None = None
    battery_pct: float | None = None
    battery_v: float | None = None
    tethered: bool = False
    link_ok: bool = True
    # MAVLink telemetry (issue #3); ``pos`` carries alt_msl_m and alt_rel_m.
    sysid: Annotated[int, Meta(ge=0, le=255)] | None = None
    autopilot: Name | None = None  # "ardupilot", "px4", ...
    vehicle_type: Name | None = None  # MAV_TYPE in words: "quadrotor", "hexarotor", ...
    roll_deg: float | None = None
    pitch_deg: float | None = None
    yaw_deg: float | None = None
    climb_mps: float | None = None
    battery_a: float | None = None
    gps_fix: Name | None = None  # "no_gps", "no_fix", "2d", "3d", "dgps", "rtk_float", "rtk_fixed", ...
    satellites: int | None = None
    ekf_ok: bool | None = None
    home: Position | None = None
    mission_seq: int | None = None
    link_loss_pct: float | None = None  # from MAVLink sequence gaps over the last seconds
    last_heard_ts: Timestamp | None = None
    tether_length_m: float | None = None  # deployed
    tether_tension_n: float | None = None
    tether_power: bool | None = None  # ground power present
    tether_v: float | None = None
    tether_ceiling_m: float | None = None  # above home: the tether's length


class Feed(_State, tag="feed", kw_only=True, frozen=True):
    """A video feed; its id is ``feed:<node>:<name>``."""

    state: Name = "idle"
    codec: Name | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    viewers: int = 0
    vehicle_id: EntityId | None = None
    heading_deg: float | None = None
    fov_deg: float | None = None
    # Video (issue #5): where it comes from and how it is carried.
    source: Name | None = None  # sim, rtsp, rtp, mpegts, whip, tak
    url: Text | None = None  # a URL other tools (ATAK, VLC) can open, when there is one
    bitrate_kbps: float | None = None
    range_m: float | None = None  # how far the camera usefully sees, for the map cone
    thermal: bool = False
    recording: bool = False
    snapshot_ts: Timestamp | None = None  # when the newest snapshot was taken
    error: Text | None = None  # why the feed is not live, in plain words
    profiles: Annotated[list[Name], Meta(max_length=8)] = []  # "main" and narrow-link variants


class NodeRole(enum.Enum):
    """What a field kit is for."""

    EDGE = "edge"
    COMMAND_POST = "command-post"


class Uplink(Struct, frozen=True, kw_only=True):
    """A network interface of a kit that is up, with its addresses (reported, never bound to)."""

    name: Name
    addrs: Annotated[list[Name], Meta(max_length=16)] = []


class NodeHealth(Struct, frozen=True, kw_only=True):
    """How a kit's computer is doing; a field is None where the kit cannot read it."""

    cpu_pct: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    mem_pct: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    mem_total_mb: Annotated[int, Meta(ge=0)] | None = None
    power: Name | None = None  # "mains" or "battery"; None where /sys/class/power_supply says nothing
    battery_pct: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    uplinks: Annotated[list[Uplink], Meta(max_length=32)] = []


class NodeLink(Struct, frozen=True, kw_only=True):
    """One mesh link as the node that owns the entity measures it (see mesh/links.py)."""

    peer: Name
    up: bool
    rtt_ms: Annotated[float, Meta(ge=0.0)] | None = None
    loss_pct: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None  # unanswered queries, recent ones
    rx_bps: Annotated[float, Meta(ge=0.0)] | None = None  # bytes/s heard from the peer, since the last report
    tx_bps: Annotated[float, Meta(ge=0.0)] | None = None  # bytes/s sent the peer's way (mesh/links.py)


class Node(_State, tag="node", kw_only=True, frozen=True):
    """A field kit (or command post) running fieldkit."""

    role: NodeRole = NodeRole.EDGE
    version: Name = ""
    components: dict[Name, Name] = {}
    health: NodeHealth | None = None
    links: Annotated[list[NodeLink], Meta(max_length=64)] = []


class Shape(enum.Enum):
    """Geometry of a marker."""

    POINT = "point"
    LINE = "line"
    POLYGON = "polygon"
    CIRCLE = "circle"


class FenceFor(enum.Enum):
    """Whom a geofence watches."""

    UNITS = "units"
    DRONES = "drones"
    BOTH = "both"


class Marker(_State, tag="marker", kw_only=True, frozen=True):
    """An operator's drawing: point, line, polygon or circle; a polygon or circle may be a geofence.

    A geofence raises an alert when a watched entity enters it (``fence_entry``: a keep-out zone,
    which drones' planned go-tos are also checked against) or leaves it (``fence_exit``: a keep-in zone).
    """

    shape: Shape = Shape.POINT
    points: Annotated[list[tuple[Lat, Lon]], Meta(max_length=1000)] = []
    radius_m: Annotated[float, Meta(ge=0.0, le=1e6)] | None = None
    color: Color = "#ff6600"
    category: Name = "annotation"
    fence_entry: bool = False
    fence_exit: bool = False
    fence_for: FenceFor = FenceFor.BOTH


class Removed(_State, tag="removed", kw_only=True, frozen=True):
    """A tombstone: the entity ``id`` left the picture at ``ts`` (ordered like any state)."""


Entity = Unit | Vehicle | Feed | Node | Marker
StateChange = Unit | Vehicle | Feed | Node | Marker | Removed
ENTITY_KINDS: tuple[str, ...] = ("unit", "vehicle", "feed", "node", "marker")


class _Event(Struct, frozen=True, kw_only=True, tag_field="kind"):
    """Base of every event: append-only, idempotent by ``id``, numbered ``(origin, seq)``."""

    id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9._:-]+$", max_length=120)]
    origin: Name
    seq: Annotated[int, Meta(ge=0)] = 0  # 0 until the origin's journal numbers it
    ts: Timestamp


class Severity(enum.Enum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    EMERGENCY = "emergency"


class Alert(_Event, tag="alert", kw_only=True, frozen=True):
    """An alarm raised: it stays open until cleared and is re-announced until acknowledged."""

    severity: Severity = Severity.WARNING
    title: Name
    text: Text = ""
    entity_id: EntityId | None = None
    pos: Position | None = None


class AlertAck(_Event, tag="alert_ack", kw_only=True, frozen=True):
    """An operator acknowledged an alert."""

    alert_id: str
    by: Name


class AlertClear(_Event, tag="alert_clear", kw_only=True, frozen=True):
    """An alert was cleared (resolved), by an operator or by its source."""

    alert_id: str
    by: Name


class Message(_Event, tag="message", kw_only=True, frozen=True):
    """A text message, from an operator or a radio unit, to ``all``, a unit or a talkgroup.

    ``to`` is ``all``, an entity id (``unit:pdt:1001``) or a talkgroup (``talkgroup:pdt:9001``);
    a radio gateway carries those addressed to its system's units and talkgroups.
    """

    sender: Name
    to: Name = "all"
    text: Text
    via: Name = ""  # the network it came in over (e.g. "pdt"), empty when typed at a command post


class Receipt(_Event, tag="receipt", kw_only=True, frozen=True):
    """What became of a message sent out over a network (e.g. a radio text): delivered or failed."""

    message_id: str
    recipient: Name
    ok: bool
    attempts: int = 1
    reason: Name = ""


class Call(_Event, tag="call", kw_only=True, frozen=True):
    """A voice call that has ended: who keyed up, on which talkgroup, when and for how long."""

    caller: EntityId
    talkgroup: Name
    call_type: Name = "group"
    start_ts: Timestamp
    duration_s: Annotated[float, Meta(ge=0.0)]


class Audit(_Event, tag="audit", kw_only=True, frozen=True):
    """An operator action worth keeping: who did what, to what, with which result."""

    actor: Name
    action: Name
    target: Name = ""
    result: Name = ""


Event = Alert | AlertAck | AlertClear | Message | Receipt | Call | Audit
EVENT_KINDS: tuple[str, ...] = ("alert", "alert_ack", "alert_clear", "message", "receipt", "call", "audit")
Change = StateChange | Event


class AlertStatus(enum.Enum):
    """Where an alert is in its lifecycle: raised -> acknowledged -> cleared."""

    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class AlertRecord(Struct, frozen=True, kw_only=True):
    """An alert together with where it is in its lifecycle."""

    alert: Alert
    status: AlertStatus = AlertStatus.RAISED
    acked_by: Name | None = None
    acked_ts: Timestamp | None = None
    cleared_by: Name | None = None
    cleared_ts: Timestamp | None = None


class TrackPoint(Struct, frozen=True, array_like=True):
    """One downsampled position of an entity: ``[ts, lat, lon, alt_msl_m]`` on the wire."""

    ts: Timestamp
    lat: Lat
    lon: Lon
    alt_msl_m: float | None = None


class Delta(Struct, frozen=True, kw_only=True):
    """One item sent to a subscriber: a state change, an event, a reminder or a resync notice.

    ``op`` is ``state`` (``value`` is a StateChange), ``event`` (``value`` is an Event),
    ``reminder`` (``alert`` is re-announced because it is still unacknowledged) or ``resync``
    (the subscriber fell behind; a fresh snapshot follows).
    """

    op: Literal["state", "event", "reminder", "resync"]
    value: Change | None = None
    alert: AlertRecord | None = None


class Snapshot(Struct, frozen=True, kw_only=True):
    """The whole picture at one moment: entities, alerts (open or recent) and recent messages."""

    ts: Timestamp
    entities: list[Entity]
    alerts: list[AlertRecord]
    messages: list[Message]


def is_event(change: Change) -> bool:
    """True for append-only events, False for last-value-wins state."""
    return isinstance(change, _Event)


change_decoder_json = msgspec.json.Decoder(Change)
change_decoder_msgpack = msgspec.msgpack.Decoder(Change)
