"""What a feed's analysis found, turned into alert episodes: one alert per episode, cleared when it ends.

A hotspot on a thermal camera is a warning at the place it was seen on the ground (the blob's
centroid projected through the camera's pose, :mod:`media.geo`); motion is for information. An
episode starts with the first finding and ends when nothing of that kind was found for
``clear_after_s`` (findings only arrive when something is found, so the end is noticed by time).
Alert ids are ``video:<node>:<feed>:<kind>:<start ms>``: a re-sent alert is the same event.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.scene import Alert, AlertClear, Feed, Position, Severity
from media.analysis import Finding
from media.geo import CameraPose, image_to_ground

DEFAULT_ALTITUDE_M = 30.0  # a fixed camera's height above what it looks at, when nothing says


@dataclass(frozen=True, slots=True)
class _Said:
    """What an alert says."""

    severity: Severity
    title: str
    text: str
    where: Position | None


@dataclass
class _Episode:
    alert_id: str
    last_seen: float


class FindingAlerts:
    """Open hotspot/motion episodes of this node's feeds."""

    def __init__(self, node_id: str, *, clear_after_s: float = 20.0) -> None:
        self.node_id = node_id
        self.clear_after_s = clear_after_s
        self._open: dict[tuple[str, str], _Episode] = {}

    def found(self, name: str, feed: Feed, finding: Finding, now: float, alt_agl_m: float | None) -> list[Alert]:
        """Alerts for the episodes ``finding`` starts (none for an episode already open)."""
        raised = []
        if finding.hotspots:
            spot = max(finding.hotspots, key=lambda h: h.area_px)
            where = ground(feed, finding, spot.x, spot.y, alt_agl_m)
            text = f"{len(finding.hotspots)} hot area(s), largest {spot.area_px:.0f} px"
            if where is not None:
                text += f" at {where.lat:.5f}, {where.lon:.5f}"
            title = f"Hotspot seen by {feed.name}"
            raised += self._note(name, "hotspot", feed, now, _Said(Severity.WARNING, title, text, where))
        if finding.motion is not None:
            x, y, w, h = finding.motion.box
            where = ground(feed, finding, x + w / 2, y + h / 2, alt_agl_m)
            text = f"{finding.motion.blobs} moving object(s), {finding.motion.changed:.0%} of the picture"
            title = f"Motion seen by {feed.name}"
            raised += self._note(name, "motion", feed, now, _Said(Severity.INFO, title, text, where))
        return raised

    def _note(self, name: str, kind: str, feed: Feed, now: float, said: _Said) -> list[Alert]:
        episode = self._open.get((name, kind))
        if episode is not None:
            episode.last_seen = now
            return []
        alert_id = f"video:{self.node_id}:{name}:{kind}:{int(now * 1000)}"
        self._open[(name, kind)] = _Episode(alert_id, now)
        return [
            Alert(
                id=alert_id,
                origin=self.node_id,
                ts=now,
                severity=said.severity,
                title=said.title[:200],
                text=said.text,
                entity_id=feed.id,
                pos=said.where,
            )
        ]

    def expired(self, now: float) -> list[AlertClear]:
        """Clears for the episodes nothing has been found for lately."""
        ended = [key for key, ep in self._open.items() if now - ep.last_seen > self.clear_after_s]
        clears = []
        for key in ended:
            episode = self._open.pop(key)
            clears.append(
                AlertClear(
                    id=f"{episode.alert_id}:clear", origin=self.node_id, ts=now, alert_id=episode.alert_id, by=key[0]
                )
            )
        return clears

    def forget(self, alert_id: str) -> None:
        """An alert the journal refused: let the next finding raise it again."""
        self._open = {k: v for k, v in self._open.items() if v.alert_id != alert_id}


def ground(feed: Feed, finding: Finding, x: float, y: float, alt_agl_m: float | None) -> Position | None:
    """Where pixel ``(x, y)`` of the feed's picture lies on flat ground (nadir camera), if the feed is placed."""
    if feed.pos is None:
        return None
    pose = CameraPose(
        lat=feed.pos.lat,
        lon=feed.pos.lon,
        alt_agl_m=alt_agl_m if alt_agl_m and alt_agl_m > 0 else DEFAULT_ALTITUDE_M,
        heading_deg=feed.heading_deg or 0.0,
        hfov_deg=feed.fov_deg or 70.0,
    )
    point = image_to_ground(x, y, finding.width, finding.height, pose)
    return None if point is None else Position(lat=point[0], lon=point[1])
