"""CoT out: the picture as Cursor-on-Target XML events (pure: values in, bytes out).

Event schema (MITRE CoT 2.0 as ATAK, TAK Server and FreeTAKServer use it): ``<event version uid
type how time start stale>`` with a ``<point lat lon hae ce le>`` and a free-form ``<detail>``.
Unknown height and errors are 9999999.0, the CoT "unknown" value. Times are UTC ISO 8601 with a Z.
Types are MIL-STD-2525 paths: ``a-f-G-U-C`` friendly ground combat unit (ATAK's default for a
person), ``a-f-G-U-U-S`` friendly ground signal (comms support) unit for a field kit,
``a-f-A-M-H-Q`` friendly rotary-wing drone (``a-f-A-M-F-Q`` fixed-wing), ``b-a-o-tbl`` / ``b-a-o-can``
an ATAK 911 alert and its cancel, ``b-t-f`` GeoChat, ``u-d-f`` a freehand line or polygon,
``u-d-c-c`` a circle, ``b-m-p-s-m`` a spot-map point, ``b-i-v`` a video feed, ``t-x-d-d`` a delete.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from edge.scene import (
    Alert,
    Entity,
    Feed,
    Marker,
    Message,
    Node,
    Position,
    Removed,
    Severity,
    Shape,
    StateChange,
    Unit,
    Vehicle,
)

UNKNOWN = 9999999.0  # CoT's value for an unknown hae, ce or le
# TAK's detail schemas type __chat senderCallsign as xs:NMTOKEN and remarks source as xs:NCName.
_NOT_NMTOKEN = re.compile(r"[^\w.:-]")
_NOT_NCNAME = re.compile(r"[^\w.-]")
ALL_CHAT = "All Chat Rooms"  # ATAK's room for messages to everyone
TAKV = {"device": "fieldkit", "platform": "fieldkit", "os": "linux", "version": "0.1.0"}


@dataclass(frozen=True, slots=True)
class CotOptions:
    """How our events are stamped: stale time, team colour, whether positions are simulated."""

    stale_s: float = 120.0
    team: str = "Cyan"
    simulated: bool = False  # this node's radios and drones are simulated (``node.simulated``)
    node_id: str = "fieldkit"
    geoid_separation_m: float | None = None  # WGS-84 ellipsoid minus geoid here, when configured


def _how(entity: Entity, opts: CotOptions, real: str) -> str:
    """``m-s`` for what this node simulates (a sim node's own entities, a sim feed), else ``real``."""
    if isinstance(entity, Feed) and entity.source == "sim":
        return "m-s"
    return "m-s" if opts.simulated and entity.origin == opts.node_id else real


def cot_time(ts: float) -> str:
    """A CoT timestamp: UTC, millisecond precision, ``Z`` suffix."""
    whole = int(ts)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((ts - whole) * 1000):03d}Z"


def _event(uid: str, cot_type: str, how: str, *, now: float, start: float, stale: float) -> ET.Element:
    return ET.Element(
        "event",
        {
            "version": "2.0",
            "uid": uid,
            "type": cot_type,
            "how": how,
            "time": cot_time(now),
            "start": cot_time(min(start, now)),
            "stale": cot_time(max(stale, now + 1.0)),
        },
    )


def hae(pos: Position | None, geoid_separation_m: float | None) -> float:
    """Height above the WGS-84 ellipsoid, as CoT wants, or UNKNOWN.

    We hold altitudes above mean sea level (MAVLink's, NMEA's). Sent as they are, ATAK would show
    them off by the geoid separation (-107 to +85 m around the world), so without a configured
    separation for the area the height goes out as unknown rather than wrong.
    """
    if pos is None or pos.alt_msl_m is None or geoid_separation_m is None:
        return UNKNOWN
    return pos.alt_msl_m + geoid_separation_m


def _point(event: ET.Element, pos: Position | None, opts: CotOptions | None = None) -> None:
    height = hae(pos, opts.geoid_separation_m if opts else None)
    ET.SubElement(
        event,
        "point",
        {
            "lat": f"{pos.lat:.7f}" if pos else "0.0",
            "lon": f"{pos.lon:.7f}" if pos else "0.0",
            "hae": f"{height:.1f}",
            "ce": f"{UNKNOWN:.1f}",
            "le": f"{UNKNOWN:.1f}",
        },
    )


def _common(detail: ET.Element, callsign: str, opts: CotOptions, *, role: str = "Team Member") -> None:
    # Some servers drop events without contact, __group and takv; ATAK shows them in its contacts.
    ET.SubElement(detail, "contact", {"callsign": callsign})
    ET.SubElement(detail, "__group", {"name": opts.team, "role": role})
    ET.SubElement(detail, "takv", TAKV)


def _status(detail: ET.Element, battery_pct: float | None) -> None:
    if battery_pct is not None:
        ET.SubElement(detail, "status", {"battery": str(round(max(0.0, min(100.0, battery_pct))))})


def _track(detail: ET.Element, course: float | None, speed: float | None) -> None:
    if course is not None or speed is not None:
        ET.SubElement(detail, "track", {"course": f"{(course or 0.0) % 360:.1f}", "speed": f"{speed or 0.0:.2f}"})


def _remarks(detail: ET.Element, text: str) -> None:
    if text:
        ET.SubElement(detail, "remarks").text = text


def entity_event(entity: Entity, now: float, opts: CotOptions, feeds: Sequence[Feed] = ()) -> ET.Element | None:
    """One entity as a CoT event, or None if it has no place on a TAK map (no position)."""
    if isinstance(entity, Unit):
        return _unit(entity, now, opts)
    if isinstance(entity, Vehicle):
        return _vehicle(entity, now, opts, [f for f in feeds if f.vehicle_id == entity.id])
    if isinstance(entity, Node):
        return _node(entity, now, opts)
    if isinstance(entity, Feed):
        return _feed(entity, now, opts)
    if isinstance(entity, Marker):
        return _marker(entity, now, opts)
    return None


def _unit(unit: Unit, now: float, opts: CotOptions) -> ET.Element | None:
    if unit.pos is None:
        return None
    stale = now + opts.stale_s if unit.online else now + 1.0
    event = _event(unit.id, "a-f-G-U-C", _how(unit, opts, "m-r"), now=now, start=unit.ts, stale=stale)
    _point(event, unit.pos, opts)
    detail = ET.SubElement(event, "detail")
    _common(detail, unit.name or unit.id.rsplit(":", 1)[-1], opts)
    _status(detail, unit.battery_pct)
    _track(detail, unit.heading_deg, unit.speed_mps)
    notes = [f"{k}: {v}" for k, v in (("team", unit.team), ("talkgroup", unit.talkgroup), ("status", unit.status)) if v]
    _remarks(detail, "; ".join(notes))
    return event


def _vehicle(vehicle: Vehicle, now: float, opts: CotOptions, feeds: list[Feed]) -> ET.Element | None:
    if vehicle.pos is None:
        return None
    fixed = "fixed" in (vehicle.vehicle_type or "") or "plane" in (vehicle.vehicle_type or "")
    cot_type = "a-f-A-M-F-Q" if fixed else "a-f-A-M-H-Q"
    event = _event(
        vehicle.id, cot_type, _how(vehicle, opts, "m-g"), now=now, start=vehicle.ts, stale=now + opts.stale_s
    )
    _point(event, vehicle.pos, opts)
    detail = ET.SubElement(event, "detail")
    _common(detail, vehicle.name or vehicle.id.rsplit(":", 1)[-1], opts)
    _status(detail, vehicle.battery_pct)
    _track(detail, vehicle.heading_deg, vehicle.ground_speed_mps)
    for feed in feeds[:1]:  # ATAK shows one video and one sensor cone per marker
        _video(detail, feed)
        _sensor(detail, feed)
    notes = [f"{k}: {v}" for k, v in (("mode", vehicle.mode), ("armed", vehicle.armed)) if v is not None]
    _remarks(detail, "; ".join(notes))
    return event


def _node(node: Node, now: float, opts: CotOptions) -> ET.Element | None:
    if node.pos is None:
        return None
    event = _event(node.id, "a-f-G-U-U-S", "h-e", now=now, start=node.ts, stale=now + opts.stale_s)
    _point(event, node.pos, opts)
    detail = ET.SubElement(event, "detail")
    _common(detail, node.name or node.id, opts, role="HQ")
    _remarks(detail, f"fieldkit {node.role.value} {node.version}".strip())
    return event


def _feed(feed: Feed, now: float, opts: CotOptions) -> ET.Element | None:
    if feed.pos is None:
        return None
    event = _event(feed.id, "b-i-v", _how(feed, opts, "m-g"), now=now, start=feed.ts, stale=now + opts.stale_s)
    _point(event, feed.pos, opts)
    detail = ET.SubElement(event, "detail")
    _common(detail, feed.name or feed.id, opts)
    _video(detail, feed)
    _sensor(detail, feed)
    if feed.vehicle_id:
        ET.SubElement(detail, "link", {"uid": feed.vehicle_id, "relation": "p-p", "type": "a-f-A-M-H-Q"})
    return event


def _video(detail: ET.Element, feed: Feed) -> None:
    """ATAK's ``__video``: the URL, and the same split into a ``ConnectionEntry`` (what ATAK 4.x reads)."""
    if not feed.url:
        return
    video = ET.SubElement(detail, "__video", {"uid": feed.id, "url": feed.url})
    parts = urlsplit(feed.url)
    ET.SubElement(
        video,
        "ConnectionEntry",
        {
            "uid": feed.id,
            "alias": feed.name or feed.id,
            "protocol": parts.scheme,
            "address": parts.hostname or "",
            "port": str(parts.port or -1),
            "path": parts.path + (f"?{parts.query}" if parts.query else ""),
            "networkTimeout": "12000",
            "bufferTime": "-1",
            "roverPort": "-1",
            "rtspReliable": "1" if parts.scheme == "rtsp" else "0",
            "ignoreEmbeddedKLV": "false",
        },
    )


def _sensor(detail: ET.Element, feed: Feed) -> None:
    """ATAK's ``sensor`` cone: azimuth true north, fov edge to edge, range in metres (ATAK caps it at 15 km)."""
    if feed.heading_deg is None or feed.fov_deg is None:
        return
    attrs = {"azimuth": f"{feed.heading_deg % 360:.1f}", "fov": f"{max(0.0, min(359.0, feed.fov_deg)):.1f}"}
    attrs["range"] = f"{min(15000.0, feed.range_m if feed.range_m is not None else 500.0):.0f}"
    attrs["model"] = "thermal" if feed.thermal else "eo"
    ET.SubElement(detail, "sensor", attrs)


def argb(color: str, alpha: int = 0xFF) -> str:
    """``#rrggbb`` as ATAK's signed 32-bit ARGB integer."""
    value = (alpha << 24) | int(color[1:], 16)
    return str(value - (1 << 32) if value >= 1 << 31 else value)


def _marker(marker: Marker, now: float, opts: CotOptions) -> ET.Element | None:
    points = marker.points or ([(marker.pos.lat, marker.pos.lon)] if marker.pos else [])
    if not points:
        return None
    centre = marker.pos or Position(lat=points[0][0], lon=points[0][1])
    # Drawings do not expire on their own: a day ahead, refreshed by the re-send loop anyway.
    stale = now + max(opts.stale_s, 86400.0)
    cot_type = {Shape.POINT: "b-m-p-s-m", Shape.LINE: "u-d-f", Shape.POLYGON: "u-d-f", Shape.CIRCLE: "u-d-c-c"}
    event = _event(marker.id, cot_type[marker.shape], "h-e", now=now, start=marker.ts, stale=stale)
    _point(event, centre, opts)
    detail = ET.SubElement(event, "detail")
    ET.SubElement(detail, "contact", {"callsign": marker.name or marker.category})
    ET.SubElement(detail, "strokeColor", {"value": argb(marker.color)})
    ET.SubElement(detail, "strokeWeight", {"value": "3.0"})
    if marker.shape in (Shape.LINE, Shape.POLYGON):
        ring = list(points) + ([points[0]] if marker.shape is Shape.POLYGON else [])  # ATAK closes by repeating
        for lat, lon in ring:
            ET.SubElement(detail, "link", {"point": f"{lat:.7f},{lon:.7f}"})
    if marker.shape is Shape.CIRCLE and marker.radius_m is not None:
        shape = ET.SubElement(detail, "shape")
        r = f"{marker.radius_m:.1f}"
        ET.SubElement(shape, "ellipse", {"major": r, "minor": r, "angle": "360"})
    if marker.shape is not Shape.POINT:
        ET.SubElement(detail, "fillColor", {"value": argb(marker.color, 0x60)})
        ET.SubElement(detail, "labels_on", {"value": "true"})
    _remarks(detail, marker.category)
    return event


def removed_event(removed: Removed, now: float) -> ET.Element:
    """Tell TAK clients an entity left the picture (``t-x-d-d`` with ``__forcedelete``)."""
    event = _event(f"{removed.id}:delete", "t-x-d-d", "h-e", now=now, start=removed.ts, stale=now + 20.0)
    _point(event, None)
    detail = ET.SubElement(event, "detail")
    ET.SubElement(detail, "link", {"uid": removed.id, "relation": "p-p", "type": "none"})
    ET.SubElement(detail, "__forcedelete")
    return event


def alert_event(alert: Alert, now: float, opts: CotOptions, *, cancel: bool = False) -> ET.Element | None:
    """An emergency alert as an ATAK 911 alert (``b-a-o-tbl``), or its cancel (``b-a-o-can``)."""
    if alert.severity is not Severity.EMERGENCY:
        return None
    uid = f"{alert.id}-9-1-1"
    event = _event(
        uid, "b-a-o-can" if cancel else "b-a-o-tbl", "h-e", now=now, start=alert.ts, stale=now + opts.stale_s
    )
    _point(event, alert.pos, opts)
    detail = ET.SubElement(event, "detail")
    source = alert.entity_id or f"node:{opts.node_id}"
    ET.SubElement(detail, "link", {"uid": source, "type": "a-f-G-U-C", "relation": "p-p"})
    ET.SubElement(detail, "contact", {"callsign": f"{alert.title}"[:80]})
    attrs = {"type": "911 Alert"} if not cancel else {"cancel": "true"}
    ET.SubElement(detail, "emergency", attrs).text = alert.title
    _remarks(detail, alert.text)
    return event


def message_event(message: Message, now: float, opts: CotOptions, pos: Position | None = None) -> ET.Element:
    """A text message as GeoChat (``b-t-f``) in ATAK's All Chat Rooms, or to one TAK contact."""
    sender_uid = f"node:{opts.node_id}" if not message.via else f"{message.via}:{message.sender}"
    sender_uid = _NOT_NMTOKEN.sub("_", sender_uid)  # a link uid is an xs:NMTOKEN
    room = ALL_CHAT if message.to == "all" else message.to
    uid = f"GeoChat.{sender_uid}.{room}.{message.id}"
    event = _event(uid, "b-t-f", "h-g-i-g-o", now=now, start=message.ts, stale=now + max(opts.stale_s, 86400.0))
    _point(event, pos, opts)
    detail = ET.SubElement(event, "detail")
    chat = ET.SubElement(
        detail,
        "__chat",
        {
            "parent": "RootContactGroup",
            "groupOwner": "false",
            "messageId": message.id,
            "chatroom": room,
            "id": room,
            "senderCallsign": _NOT_NMTOKEN.sub("_", message.sender) or "fieldkit",
        },
    )
    ET.SubElement(chat, "chatgrp", {"uid0": sender_uid, "uid1": room, "id": room})
    ET.SubElement(detail, "link", {"uid": sender_uid, "type": "a-f-G-U-C", "relation": "p-p"})
    remarks = ET.SubElement(
        detail,
        "remarks",
        {"source": _NOT_NCNAME.sub(".", f"BAO.F.ATAK.{sender_uid}"), "to": room, "time": cot_time(message.ts)},
    )
    remarks.text = message.text
    return event


def to_bytes(event: ET.Element) -> bytes:
    """One event as XML bytes (no declaration: events stream back to back)."""
    data: bytes = ET.tostring(event, encoding="utf-8", xml_declaration=False)
    return data


def state_events(change: StateChange, now: float, opts: CotOptions, feeds: Sequence[Feed] = ()) -> ET.Element | None:
    """The event for one state change (an entity, or the delete of a removed one)."""
    if isinstance(change, Removed):
        return removed_event(change, now)
    return entity_event(change, now, opts, feeds)
