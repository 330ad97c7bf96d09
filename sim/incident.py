"""A simulated incident: radio units walking the scene, emergency alarms and text traffic.

``IncidentModel`` is pure and seeded (same seed, same incident); ``IncidentSim`` is the component
that steps it on the node's clock and hands its changes to the scene. Until the PDT gateway
emulator exists (issue #4) the units enter the picture here as scene changes rather than as
gateway bytes; they are marked ``status="simulated"`` so nobody mistakes them for real radios.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge.scene import Alert, AlertClear, Change, Message, Position, Severity, Unit

from .scenario import Scenario

if TYPE_CHECKING:
    from edge.node import EdgeNode

_M_PER_DEG_LAT = 111_320.0
_TEXTS = (
    "到达指定位置 In position",
    "需要增援 Need reinforcement",
    "水源已建立 Water supply established",
    "发现被困人员 Trapped person found",
    "道路受阻 Road blocked",
    "电量低 Battery low",
)


@dataclass
class _Walker:
    radio_id: int
    name: str
    talkgroup: str
    lat: float
    lon: float
    target: tuple[float, float]
    next_report: float
    battery_pct: float
    emergency_until: float | None = None


class IncidentModel:
    """Seeded, clock-free model of the incident: ``step(now)`` returns the changes due by ``now``."""

    def __init__(self, scenario: Scenario, *, origin: str, start: float) -> None:
        self.scenario = scenario
        self.origin = origin
        self._rng = random.Random(scenario.seed)
        self._prefix = f"sim{int(start)}"
        self._last = start
        self._next_alarm = start + scenario.alarm_interval_s / 3
        self._next_message = start + scenario.message_interval_s / 2
        self._alarms = 0
        self._messages = 0
        self.walkers = [self._walker(i, start) for i in range(scenario.units)]

    def _point(self) -> tuple[float, float]:
        s = self.scenario
        r = s.radius_m * math.sqrt(self._rng.random())
        a = self._rng.random() * 2 * math.pi
        dlat = r * math.cos(a) / _M_PER_DEG_LAT
        dlon = r * math.sin(a) / (_M_PER_DEG_LAT * math.cos(math.radians(s.home_lat)))
        return s.home_lat + dlat, s.home_lon + dlon

    def _walker(self, i: int, start: float) -> _Walker:
        tg = self.scenario.talkgroups[i % len(self.scenario.talkgroups)]
        team = tg.split()[1] if len(tg.split()) > 1 else tg
        lat, lon = self._point()
        return _Walker(
            radio_id=1001 + i,
            name=f"{team}-{i // len(self.scenario.talkgroups) + 1:02d}",
            talkgroup=tg,
            lat=lat,
            lon=lon,
            target=self._point(),
            next_report=start + self._rng.random() * self.scenario.report_interval_s,
            battery_pct=round(60 + 40 * self._rng.random(), 1),
        )

    def step(self, now: float) -> list[Change]:
        """Advance to ``now`` and return every state and event that became due."""
        dt = max(0.0, now - self._last)
        self._last = now
        changes: list[Change] = []
        for w in self.walkers:
            self._move(w, dt)
            if w.emergency_until is not None and now >= w.emergency_until:
                w.emergency_until = None
                changes.append(
                    AlertClear(
                        id=f"{self._prefix}-clear-{w.radio_id}-{int(now)}",
                        origin=self.origin,
                        ts=now,
                        alert_id=self._alarm_of(w),
                        by=w.name,
                    )
                )
                changes.append(self._report(w, now))
            elif now >= w.next_report:
                changes.append(self._report(w, now))
        if now >= self._next_alarm and self.walkers:
            self._next_alarm = now + self.scenario.alarm_interval_s
            changes.extend(self._alarm(now))
        if now >= self._next_message and self.walkers:
            self._next_message = now + self.scenario.message_interval_s
            changes.append(self._message(now))
        return changes

    def _move(self, w: _Walker, dt: float) -> None:
        if w.emergency_until is not None:
            return  # someone in trouble stays put
        coslat = math.cos(math.radians(w.lat))
        dy = (w.target[0] - w.lat) * _M_PER_DEG_LAT
        dx = (w.target[1] - w.lon) * _M_PER_DEG_LAT * coslat
        dist = math.hypot(dx, dy)
        step = self.scenario.walk_speed_mps * dt
        if dist <= step:
            w.lat, w.lon = w.target
            w.target = self._point()
            return
        w.lat += dy / dist * step / _M_PER_DEG_LAT
        w.lon += dx / dist * step / (_M_PER_DEG_LAT * coslat)

    def _report(self, w: _Walker, now: float) -> Unit:
        w.next_report = now + self.scenario.report_interval_s
        w.battery_pct = max(5.0, round(w.battery_pct - 0.01, 2))
        dy = (w.target[0] - w.lat) * _M_PER_DEG_LAT
        dx = (w.target[1] - w.lon) * _M_PER_DEG_LAT * math.cos(math.radians(w.lat))
        moving = w.emergency_until is None
        return Unit(
            id=f"unit:pdt:{w.radio_id}",
            origin=self.origin,
            ts=now,
            name=w.name,
            pos=Position(lat=round(w.lat, 7), lon=round(w.lon, 7)),
            talkgroup=w.talkgroup,
            status="simulated",
            heading_deg=round(math.degrees(math.atan2(dx, dy)) % 360, 1) if moving else None,
            speed_mps=self.scenario.walk_speed_mps if moving else 0.0,
            battery_pct=w.battery_pct,
            emergency=not moving,
        )

    def _alarm_of(self, w: _Walker) -> str:
        return f"{self._prefix}-alarm-{w.radio_id}-{self._alarms}"

    def _alarm(self, now: float) -> list[Change]:
        calm = [w for w in self.walkers if w.emergency_until is None]
        if not calm:
            return []
        w = self._rng.choice(calm)
        self._alarms += 1
        w.emergency_until = now + self.scenario.alarm_clear_s
        alert = Alert(
            id=self._alarm_of(w),
            origin=self.origin,
            ts=now,
            severity=Severity.EMERGENCY,
            title=f"紧急告警 Emergency: {w.name}",
            text=f"radio {w.radio_id} on {w.talkgroup} pressed emergency",
            entity_id=f"unit:pdt:{w.radio_id}",
            pos=Position(lat=round(w.lat, 7), lon=round(w.lon, 7)),
        )
        return [self._report(w, now), alert]

    def _message(self, now: float) -> Message:
        w = self._rng.choice(self.walkers)
        self._messages += 1
        return Message(
            id=f"{self._prefix}-msg-{self._messages}",
            origin=self.origin,
            ts=now,
            sender=w.name,
            to=w.talkgroup,
            text=self._rng.choice(_TEXTS),
        )


class IncidentSim:
    """Component: step the incident model on the node's clock and feed the scene."""

    name = "sim-incident"

    def __init__(self, node: EdgeNode, scenario: Scenario, *, tick_s: float = 0.5, speedup: float = 1.0) -> None:
        self.node = node
        self.scenario = scenario
        self._tick = tick_s / speedup
        self._model: IncidentModel | None = None

    async def run(self) -> None:
        scene = self.node.scene
        assert scene is not None
        if self._model is None:  # a restart after a failure continues the same incident
            self._model = IncidentModel(self.scenario, origin=self.node.node_id, start=self.node.clock())
        while True:
            changes = self._model.step(self.node.clock())
            events = [c for c in changes if not isinstance(c, Unit)]
            for change in changes:
                if isinstance(change, Unit):
                    scene.apply_state(change)
            if events:
                await scene.append_many(events)  # type: ignore[arg-type]
            await asyncio.sleep(self._tick)
