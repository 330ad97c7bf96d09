"""CoT in: one XML event -> a checked ``CotEvent`` -> scene changes (pure, no I/O).

Parsing uses defusedxml with DTDs forbidden, so entity expansion ("billion laughs") and external
entities are refused before anything is expanded or fetched; anything unparsable, with coordinates
out of range or with unreadable times is rejected with a reason the caller counts.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime

import msgspec
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from edge.scene import Alert, AlertClear, Change, Feed, Message, Position, Severity, Unit, id_part

from .cot import ALL_CHAT, UNKNOWN

OURS = re.compile(r"^(unit|vehicle|feed|node|marker):")  # uids we emit are our entity ids


class CotRejected(Exception):
    """An event that cannot be taken in; ``reason`` is the counter it goes to."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class CotEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What fieldkit reads from one CoT event."""

    uid: str
    type: str
    how: str = ""
    time: float
    start: float
    stale: float
    lat: float
    lon: float
    hae: float | None = None
    callsign: str = ""
    team: str | None = None
    role: str | None = None
    battery_pct: float | None = None
    course_deg: float | None = None
    speed_mps: float | None = None
    remarks: str = ""
    link_uid: str | None = None
    chat_room: str | None = None
    chat_sender: str | None = None
    chat_sender_uid: str | None = None
    message_id: str | None = None
    emergency: str | None = None
    emergency_cancel: bool = False
    video_url: str | None = None
    sensor_azimuth_deg: float | None = None
    sensor_fov_deg: float | None = None
    sensor_range_m: float | None = None
    control_versions: tuple[int, ...] = ()  # TakControl: versions offered (t-x-takp-v) or asked for (t-x-takp-q)
    control_status: bool | None = None  # TakControl: the answer (t-x-takp-r)


def parse_time(text: str | None) -> float:
    """A CoT timestamp as seconds since the epoch."""
    if not text:
        raise CotRejected("bad_time", "missing")
    try:
        value = datetime.fromisoformat(text.strip()).timestamp()
    except ValueError as exc:
        raise CotRejected("bad_time", text[:40]) from exc
    if not math.isfinite(value) or value < 0:
        raise CotRejected("bad_time", text[:40])
    return value


def _float(text: str | None, reason: str) -> float:
    try:
        value = float(text or "")
    except ValueError as exc:
        raise CotRejected(reason, (text or "")[:40]) from exc
    if not math.isfinite(value):
        raise CotRejected(reason, text or "")
    return value


def _opt_float(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def parse_event(data: bytes) -> CotEvent:
    """Read one event document; raise ``CotRejected`` with a reason for anything unusable."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CotRejected("forbidden_xml", type(exc).__name__) from exc
    except ET.ParseError as exc:
        raise CotRejected("bad_xml", str(exc)[:80]) from exc
    except (LookupError, ValueError) as exc:  # encoding="TTF-8" / "utf-32" / "rot13" in the declaration (fuzz)
        raise CotRejected("bad_xml", f"unusable encoding: {exc}"[:80]) from exc
    if root.tag != "event":
        raise CotRejected("not_event", root.tag[:40])
    uid, cot_type = root.get("uid", ""), root.get("type", "")
    if not uid or not cot_type or len(uid) > 200 or len(cot_type) > 60:
        raise CotRejected("missing_attribute", "uid/type")
    point = root.find("point")
    if point is None:
        raise CotRejected("missing_attribute", "point")
    lat, lon = _float(point.get("lat"), "bad_point"), _float(point.get("lon"), "bad_point")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise CotRejected("bad_point", f"{lat},{lon}")
    hae = _opt_float(point.get("hae"))
    when = parse_time(root.get("time"))
    start = parse_time(root.get("start") or root.get("time"))
    stale = parse_time(root.get("stale"))
    if stale < start:
        raise CotRejected("bad_time", "stale before start")
    fields: dict[str, object] = {}
    detail = root.find("detail")
    if detail is not None:
        fields = _detail(detail)
    return CotEvent(
        uid=uid,
        type=cot_type,
        how=root.get("how", "")[:20],
        time=when,
        start=start,
        stale=stale,
        lat=lat,
        lon=lon,
        hae=None if hae is None or abs(hae) >= UNKNOWN else hae,  # -1e308 too (fuzz: it broke the mesh wire)
        **fields,  # type: ignore[arg-type]
    )


def _detail(detail: ET.Element) -> dict[str, object]:
    out: dict[str, object] = {}
    if (contact := detail.find("contact")) is not None:
        out["callsign"] = contact.get("callsign", "")[:200]
    if (group := detail.find("__group")) is not None:
        out["team"], out["role"] = group.get("name"), group.get("role")
    if (status := detail.find("status")) is not None:
        battery = _opt_float(status.get("battery"))
        out["battery_pct"] = max(0.0, min(100.0, battery)) if battery is not None else None
    if (track := detail.find("track")) is not None:
        out["course_deg"], out["speed_mps"] = _opt_float(track.get("course")), _opt_float(track.get("speed"))
    if (remarks := detail.find("remarks")) is not None:
        out["remarks"] = (remarks.text or "")[:2000]
    if (link := detail.find("link")) is not None and link.get("uid"):
        out["link_uid"] = link.get("uid")
    if (chat := detail.find("__chat")) is not None:
        out["chat_room"] = chat.get("chatroom") or chat.get("id")
        out["chat_sender"] = chat.get("senderCallsign")
        out["message_id"] = chat.get("messageId")
        if (grp := chat.find("chatgrp")) is not None:
            out["chat_sender_uid"] = grp.get("uid0")
    if (emergency := detail.find("emergency")) is not None:
        out["emergency"] = emergency.get("type") or (emergency.text or "").strip() or "911 Alert"
        out["emergency_cancel"] = emergency.get("cancel", "").lower() == "true"
    if (video := detail.find("__video")) is not None:
        out["video_url"] = _video_url(video)
    if (control := detail.find("TakControl")) is not None:
        out["control_versions"] = tuple(
            int(v) for c in control if (v := c.get("version", "")).isdigit() and len(v) < 4
        )[:8]
        if (answer := control.find("TakResponse")) is not None:
            out["control_status"] = answer.get("status", "").lower() == "true"
    if (sensor := detail.find("sensor")) is not None:
        out["sensor_azimuth_deg"] = _opt_float(sensor.get("azimuth"))
        fov, reach = _opt_float(sensor.get("fov")), _opt_float(sensor.get("range"))
        out["sensor_fov_deg"] = fov if fov is not None and 0.0 < fov <= 360.0 else None
        out["sensor_range_m"] = reach if reach is not None and 0.0 < reach <= 1e6 else None
    return out


def _video_url(video: ET.Element) -> str | None:
    """The URL of an ATAK ``__video``: its ``url``, or rebuilt from its ``ConnectionEntry``."""
    url = video.get("url", "")
    entry = video.find("ConnectionEntry")
    if "://" not in url and entry is not None and entry.get("protocol") and entry.get("address"):
        address, port, path = entry.get("address", ""), entry.get("port", "-1"), entry.get("path", "")
        if "://" in address:
            return address[:500]
        url = f"{entry.get('protocol')}://{address}{'' if port in ('', '-1') else ':' + port}{path}"
    return url[:500] if "://" in url else None


def is_ours(event: CotEvent) -> bool:
    """True for what fieldkit itself sent (echoed back by a client or server): never taken in twice."""
    uids = (event.uid, event.link_uid or "", event.chat_sender_uid or "")
    return any(OURS.match(u) for u in uids)


class Inbound:
    """Turns TAK clients' events into scene changes; remembers their open emergencies."""

    def __init__(self, node_id: str, geoid_separation_m: float | None = None) -> None:
        self.node_id = node_id
        self.geoid_separation_m = geoid_separation_m
        self._open: dict[str, str] = {}  # uid of the emergency's sender -> our alert id

    def restore(self, open_alert_ids: Iterable[str]) -> None:
        """Remember TAK emergencies still open in the picture (after a restart)."""
        for alert_id in open_alert_ids:
            if alert_id.startswith("tak-911-"):
                self._open[alert_id[len("tak-911-") :].rsplit("-", 1)[0]] = alert_id

    def changes(self, event: CotEvent, now: float) -> list[Change]:
        """The scene changes one event means (empty for what fieldkit does not take in)."""
        ts = min(event.time, now)
        # CoT heights are above the ellipsoid; ours are above sea level: unknown unless we know the difference.
        known = event.hae is not None and self.geoid_separation_m is not None
        msl = event.hae - self.geoid_separation_m if known else None  # type: ignore[operator]
        pos = Position(lat=event.lat, lon=event.lon, alt_msl_m=msl)
        if event.type == "b-t-f":
            return self._chat(event, ts)
        if event.type in ("b-a-o-tbl", "b-a-o-can") or event.type.startswith("b-a-o-"):
            return self._emergency(event, ts, pos)
        out: list[Change] = []
        if event.type.startswith("a-"):
            out.append(self._unit(event, ts, pos))
        if event.video_url:
            out.append(self._feed(event, ts, pos))
        return out

    def _unit(self, event: CotEvent, ts: float, pos: Position) -> Unit:
        return Unit(
            id=f"unit:tak:{id_part(event.uid)}",
            origin=self.node_id,
            ts=ts,
            name=(event.callsign or event.uid)[:200],
            pos=pos,
            team=event.team[:200] if event.team else None,
            status=event.role[:200] if event.role else None,
            heading_deg=event.course_deg,
            speed_mps=event.speed_mps,
            battery_pct=event.battery_pct,
        )

    def _feed(self, event: CotEvent, ts: float, pos: Position) -> Feed:
        return Feed(
            id=f"feed:tak:{id_part(event.uid)}",
            origin=self.node_id,
            ts=ts,
            name=(event.callsign or event.uid)[:200],
            pos=pos,
            state="live",
            source="tak",
            url=event.video_url,
            heading_deg=event.sensor_azimuth_deg,
            fov_deg=event.sensor_fov_deg,
            range_m=event.sensor_range_m,
        )

    def _chat(self, event: CotEvent, ts: float) -> list[Change]:
        text = event.remarks.strip()
        if not text:
            return []
        room = event.chat_room or ALL_CHAT
        raw_id = event.message_id or event.uid
        return [
            Message(
                id=f"tak-{id_part(raw_id)}"[:120],
                origin=self.node_id,
                ts=ts,
                sender=(event.chat_sender or event.callsign or event.chat_sender_uid or "TAK user")[:200],
                to="all" if room == ALL_CHAT else room[:200],
                text=text,
                via="tak",
            )
        ]

    def _emergency(self, event: CotEvent, ts: float, pos: Position) -> list[Change]:
        who = event.link_uid or event.uid.removesuffix("-9-1-1")
        key = id_part(who)
        held = self._open.get(key)
        if event.type == "b-a-o-can" or event.emergency_cancel:
            if held is None:
                return []
            del self._open[key]
            by = (event.callsign or who)[:200]
            return [AlertClear(id=f"{held}-clear"[:120], origin=self.node_id, ts=ts, alert_id=held, by=by)]
        if held is not None:
            return []  # ATAK repeats its 911 alert until cancelled: one alert
        alert_id = f"tak-911-{key}-{int(ts)}"[:120]
        self._open[key] = alert_id
        callsign = (event.callsign or who).removesuffix("-Alert")
        return [
            Alert(
                id=alert_id,
                origin=self.node_id,
                ts=ts,
                severity=Severity.EMERGENCY,
                title=f"{event.emergency or '911 Alert'}: {callsign}"[:200],
                text=event.remarks,
                entity_id=f"unit:tak:{key}",
                pos=pos,
            )
        ]
