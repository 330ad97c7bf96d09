"""REST under /api/: the picture, entities, tracks, replay, alerts, messages, markers, node health."""

from __future__ import annotations

import secrets
from typing import Annotated

import msgspec
from litestar import Request, Router, delete, get, post, put
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from edge.api.guards import NodeDep, authorize, principal_of
from edge.auth import Role
from edge.node import EdgeNode
from edge.scene import (
    ENTITY_KINDS,
    EVENT_KINDS,
    Alert,
    AlertAck,
    AlertClear,
    AlertRecord,
    AlertStatus,
    Audit,
    Entity,
    Event,
    FenceFor,
    Marker,
    Message,
    Position,
    Removed,
    Scene,
    Severity,
    Shape,
    Snapshot,
    TrackPoint,
)
from edge.scene.model import Color, EntityId, Lat, Lon, Name, Text

VIEW = {"role": Role.VIEWER}
ACT = {"role": Role.PILOT}
ADMIN = {"role": Role.ADMIN}


class NewAlert(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An alert raised by an operator."""

    title: Annotated[Name, msgspec.Meta(min_length=1)]
    text: Text = ""
    severity: Severity = Severity.WARNING
    entity_id: EntityId | None = None  # the Alert's own type: a looser one let "" into the journal (fuzz)
    pos: Position | None = None


class NewMessage(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A text message from an operator."""

    text: Annotated[Text, msgspec.Meta(min_length=1)]
    to: Name = "all"


class NewMarker(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A drawing on the map."""

    name: Name = ""
    shape: Shape = Shape.POINT
    points: Annotated[list[tuple[Lat, Lon]], msgspec.Meta(min_length=1, max_length=1000)]
    radius_m: Annotated[float, msgspec.Meta(gt=0.0, le=1e6)] | None = None
    color: Color = "#ff6600"
    category: Name = "annotation"
    fence_entry: bool = False
    fence_exit: bool = False
    fence_for: FenceFor = FenceFor.BOTH


class JournalHealth(msgspec.Struct, frozen=True):
    """Whether the journal can store: when it cannot, events are refused (503) rather than acknowledged."""

    ok: bool
    reason: str | None = None  # what SQLite said (disk full, read-only file system, I/O error)
    since: float | None = None  # when it stopped storing (Unix time)
    refused: int = 0  # writes refused since the node started


class Health(msgspec.Struct, frozen=True):
    """The node's components and counters."""

    node_id: str
    components: dict[str, dict[str, object]]
    entities: int
    subscribers: int
    states_applied: int
    states_stale: int
    states_future: int
    events_applied: int
    events_duplicate: int
    journal_commits: int
    journal: JournalHealth | None = None


def _scene(node: EdgeNode) -> Scene:
    assert node.scene is not None  # the API only runs inside a started node
    return node.scene


def _event_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def health_of(node: EdgeNode) -> Health:
    """What /healthz and /api/node report."""
    scene = _scene(node)
    c = scene.counters
    return Health(
        node_id=node.node_id,
        components=node.health(),
        entities=len(scene.entities()),
        subscribers=scene.subscribers,
        states_applied=c.states_applied,
        states_stale=c.states_stale,
        states_future=c.states_future,
        events_applied=c.events_applied,
        events_duplicate=c.events_duplicate,
        journal_commits=node.journal.commits,
        journal=JournalHealth(
            ok=node.journal.unavailable is None,
            reason=node.journal.unavailable,
            since=node.journal.unavailable_since,
            refused=node.journal.refused,
        ),
    )


@get("/scene", opt=VIEW, sync_to_thread=False)
def scene_now(node: NodeDep) -> Snapshot:
    """The whole picture now."""
    return _scene(node).snapshot()


@get("/entities", opt=VIEW, sync_to_thread=False)
def list_entities(node: NodeDep, kind: FromQuery[str | None] = None) -> list[Entity]:
    """Every entity, or those of one kind (unit, vehicle, feed, node, marker)."""
    if kind is not None and kind not in ENTITY_KINDS:
        raise ValidationException(f"kind must be one of {', '.join(ENTITY_KINDS)}")
    return _scene(node).entities(kind)


@get("/entities/{entity_id:str}", opt=VIEW, sync_to_thread=False, raises=[NotFoundException])
def get_entity(node: NodeDep, entity_id: FromPath[str]) -> Entity:
    """One entity's current value."""
    entity = _scene(node).get(entity_id)
    if entity is None:
        raise NotFoundException(f"no entity {entity_id!r} in the picture")
    return entity


@post("/entities", opt=ADMIN, status_code=HTTP_200_OK)
async def put_entity(node: NodeDep, data: JSONBody[Entity], request: Request) -> Entity:  # type: ignore[type-arg]
    """Put an entity into the picture (integrations, manual positions); last value wins."""
    kind = data.__struct_config__.tag
    if not data.id.startswith(f"{kind}:"):
        raise ValidationException(f"id of a {kind} must start with '{kind}:'")
    scene = _scene(node)
    if not scene.apply_state(data):
        raise ValidationException("the picture holds a newer value for this entity (or ts is far in the future)")
    await _audit(node, request, "put-entity", data.id)
    return data


@get("/entities/{entity_id:str}/track", opt=VIEW)
async def get_track(
    node: NodeDep,
    entity_id: FromPath[str],
    since: Annotated[float, QueryParameter(ge=0)],
    until: Annotated[float | None, QueryParameter(ge=0)] = None,
) -> list[TrackPoint]:
    """An entity's downsampled positions between two times (seconds since the epoch)."""
    end = until if until is not None else node.clock()
    _check_span(since, end)
    return await node.journal.track(entity_id, since, end)


@get("/replay", opt=VIEW)
async def replay(node: NodeDep, at: Annotated[float, QueryParameter(ge=0)]) -> Snapshot:
    """The picture as it was at time ``at`` (seconds since the epoch), from the journal."""
    return await node.journal.picture_at(at)


@get("/events", opt=VIEW)
async def list_events(
    node: NodeDep,
    *,
    since: Annotated[float, QueryParameter(ge=0)],
    until: Annotated[float | None, QueryParameter(ge=0)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 1000,
    kind: FromQuery[list[str] | None] = None,
    newest_first: FromQuery[bool] = False,
) -> list[Event]:
    """Journaled events between two times (optionally only some kinds), oldest first unless asked."""
    end = until if until is not None else node.clock()
    _check_span(since, end)
    unknown = sorted(set(kind or ()) - set(EVENT_KINDS))
    if unknown:
        raise ValidationException(f"unknown event kind(s) {', '.join(unknown)}; known: {', '.join(EVENT_KINDS)}")
    return await node.journal.events_between(since, end, limit, kinds=kind or (), newest_first=newest_first)


@get("/alerts", opt=VIEW, sync_to_thread=False)
def list_alerts(node: NodeDep, status: FromQuery[AlertStatus | None] = None) -> list[AlertRecord]:
    """Alerts with their lifecycle state, optionally only those in one state."""
    return [r for r in _scene(node).alerts() if status is None or r.status is status]


@post("/alerts", opt=ACT, status_code=HTTP_201_CREATED)
async def raise_alert(node: NodeDep, data: JSONBody[NewAlert], request: Request) -> AlertRecord:  # type: ignore[type-arg]
    """Raise an alert; answered once it is committed to the journal."""
    who = principal_of(request)
    alert = Alert(
        id=_event_id("alert"),
        origin=node.node_id,
        ts=node.clock(),
        severity=data.severity,
        title=data.title,
        text=data.text or f"raised by {who.label}",
        entity_id=data.entity_id,
        pos=data.pos,
    )
    await _scene(node).append(alert)
    return _record(node, alert.id)


@post("/alerts/{alert_id:str}/ack", opt=ACT, status_code=HTTP_200_OK, raises=[NotFoundException])
async def ack_alert(node: NodeDep, alert_id: FromPath[str], request: Request) -> AlertRecord:  # type: ignore[type-arg]
    """Acknowledge an alert; answered once the acknowledgement is committed."""
    _record(node, alert_id)
    who = principal_of(request)
    ack = AlertAck(id=_event_id("ack"), origin=node.node_id, ts=node.clock(), alert_id=alert_id, by=who.label)
    await _scene(node).append(ack)
    return _record(node, alert_id)


@post("/alerts/{alert_id:str}/clear", opt=ACT, status_code=HTTP_200_OK, raises=[NotFoundException])
async def clear_alert(node: NodeDep, alert_id: FromPath[str], request: Request) -> AlertRecord:  # type: ignore[type-arg]
    """Clear (resolve) an alert; answered once committed."""
    _record(node, alert_id)
    who = principal_of(request)
    clear = AlertClear(id=_event_id("clear"), origin=node.node_id, ts=node.clock(), alert_id=alert_id, by=who.label)
    await _scene(node).append(clear)
    return _record(node, alert_id)


@get("/messages", opt=VIEW, sync_to_thread=False)
def list_messages(node: NodeDep) -> list[Message]:
    """The most recent messages, oldest first."""
    return _scene(node).messages()


@post("/messages", opt=ACT, status_code=HTTP_201_CREATED)
async def send_message(node: NodeDep, data: JSONBody[NewMessage], request: Request) -> Message:  # type: ignore[type-arg]
    """Send a message; answered with the numbered message once it is committed."""
    who = principal_of(request)
    message = Message(
        id=_event_id("msg"), origin=node.node_id, ts=node.clock(), sender=who.label, to=data.to, text=data.text
    )
    stored = await _scene(node).append(message)
    assert isinstance(stored, Message)
    return stored


@get("/markers", opt=VIEW, sync_to_thread=False)
def list_markers(node: NodeDep) -> list[Entity]:
    """Every marker (drawing) in the picture."""
    return _scene(node).entities("marker")


@post("/markers", opt=ACT, status_code=HTTP_201_CREATED)
async def add_marker(node: NodeDep, data: JSONBody[NewMarker], request: Request) -> Marker:  # type: ignore[type-arg]
    """Draw a marker; answered once it is written to the journal."""
    marker = _marker(node, f"marker:{node.node_id}:{secrets.token_hex(6)}", data)
    await _store_marker(node, marker)
    await _audit(node, request, "draw", marker.id)
    return marker


@put("/markers/{marker_id:str}", opt=ACT, status_code=HTTP_200_OK, raises=[NotFoundException])
async def edit_marker(
    node: NodeDep,
    marker_id: FromPath[str],
    data: JSONBody[NewMarker],
    request: Request,  # type: ignore[type-arg]
) -> Marker:
    """Redraw a marker (shape, label, colour, category, geofence rules); it keeps its id."""
    if not isinstance(_scene(node).get(marker_id), Marker):
        raise NotFoundException(f"no marker {marker_id!r}")
    marker = _marker(node, marker_id, data)
    await _store_marker(node, marker)
    await _audit(node, request, "edit-marker", marker_id)
    return marker


@delete("/markers/{marker_id:str}", opt=ACT, status_code=HTTP_200_OK, raises=[NotFoundException])
async def remove_marker(node: NodeDep, marker_id: FromPath[str], request: Request) -> Removed:  # type: ignore[type-arg]
    """Remove a marker."""
    scene = _scene(node)
    if not isinstance(scene.get(marker_id), Marker):
        raise NotFoundException(f"no marker {marker_id!r}")
    removed = Removed(id=marker_id, origin=node.node_id, ts=node.clock())
    scene.apply_state(removed)
    await scene.flush(history=True)
    await _audit(node, request, "erase", marker_id)
    return removed


class WhoAmI(msgspec.Struct, frozen=True):
    """The caller's token: its label and role (what the page may offer)."""

    label: str
    role: str


@get("/whoami", opt=VIEW, sync_to_thread=False)
def whoami(request: Request) -> WhoAmI:  # type: ignore[type-arg]
    """Who the bearer token says the caller is."""
    who = principal_of(request)
    return WhoAmI(label=who.label, role=who.role.name.lower())


@get("/node", opt=VIEW, sync_to_thread=False)
def node_health(node: NodeDep) -> Health:
    """This node's components and counters."""
    return health_of(node)


def _record(node: EdgeNode, alert_id: FromPath[str]) -> AlertRecord:
    record = _scene(node).alert(alert_id)
    if record is None:
        raise NotFoundException(f"no alert {alert_id!r}")
    return record


def _check_span(since: float, until: float) -> None:
    if until < since:
        raise ValidationException("until must not be before since")


def _marker(node: EdgeNode, marker_id: str, data: NewMarker) -> Marker:
    _check_marker(data)
    return Marker(
        id=marker_id,
        origin=node.node_id,
        ts=node.clock(),
        name=data.name,
        pos=Position(lat=data.points[0][0], lon=data.points[0][1]),
        shape=data.shape,
        points=data.points,
        radius_m=data.radius_m,
        color=data.color,
        category=data.category,
        fence_entry=data.fence_entry,
        fence_exit=data.fence_exit,
        fence_for=data.fence_for,
    )


async def _store_marker(node: EdgeNode, marker: Marker) -> None:
    scene = _scene(node)
    if not scene.apply_state(marker):
        raise ValidationException("the picture holds a newer value for this marker")
    await scene.flush(history=True)  # an operator's drawing is durable before we say it exists


def _check_marker(data: NewMarker) -> None:
    need = {Shape.POINT: 1, Shape.CIRCLE: 1, Shape.LINE: 2, Shape.POLYGON: 3}[data.shape]
    if len(data.points) < need:
        raise ValidationException(f"a {data.shape.value} needs at least {need} point(s)")
    if data.shape is Shape.CIRCLE and data.radius_m is None:
        raise ValidationException("a circle needs radius_m")
    if (data.fence_entry or data.fence_exit) and data.shape not in (Shape.POLYGON, Shape.CIRCLE):
        raise ValidationException("only a polygon or a circle can be a geofence")


async def _audit(node: EdgeNode, request: Request, action: str, target: str) -> None:  # type: ignore[type-arg]
    who = principal_of(request)
    await _scene(node).append(
        Audit(
            id=_event_id("audit"), origin=node.node_id, ts=node.clock(), actor=who.label, action=action, target=target
        )
    )


api_router = Router(
    path="/api",
    guards=[authorize],
    route_handlers=[
        scene_now,
        list_entities,
        get_entity,
        put_entity,
        get_track,
        replay,
        list_events,
        list_alerts,
        raise_alert,
        ack_alert,
        clear_alert,
        list_messages,
        send_message,
        list_markers,
        add_marker,
        edit_marker,
        remove_marker,
        whoami,
        node_health,
    ],
)
