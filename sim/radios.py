"""Simulated radios: people and vehicles moving around the incident, calling, texting, raising alarms.

``RadioWorld`` is pure and seeded (same seed, same incident) and speaks in radio events — what a
gateway would report. The gateway emulator (``sim/pdt_gateway.py``) puts those into bytes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from edge.radio import Alarm, CallEnd, CallStart, Fix, FixMode, RadioEvent, Status, Text

from .scenario import Scenario
from .teams import UnitPlan, plan_units, talkgroup_number

_M_PER_DEG_LAT = 111_320.0
_ROUTE_SPREAD_M = 30.0  # how far from its first waypoint a unit on a route starts
_TEXTS = (
    "到达指定位置 In position",
    "需要增援 Need reinforcement",
    "水源已建立 Water supply established",
    "发现被困人员 Trapped person found",
    "道路受阻 Road blocked",
    "电量低 Battery low",
)


@dataclass
class Radio:
    """One simulated radio and the person or vehicle carrying it."""

    radio_id: int
    alias: str
    team: str
    talkgroup: str
    speed_mps: float
    lat: float
    lon: float
    target: tuple[float, float]
    next_report: float
    battery_pct: float
    route: tuple[tuple[float, float], ...] = ()  # waypoints walked in a loop; empty: wander in ``area``
    area: tuple[float, float, float] = (0.0, 0.0, 0.0)  # lat, lon, radius_m
    leg: int = 0  # index in ``route`` of the current target
    emergency_until: float | None = None
    talking_until: float | None = None

    @property
    def unit(self) -> str:
        """The radio id as the gateway reports it."""
        return str(self.radio_id)


class RadioWorld:
    """Seeded model of the incident's radios: ``step(now)`` returns the radio events due by ``now``."""

    def __init__(self, scenario: Scenario, *, start: float) -> None:
        self.scenario = scenario
        self._rng = random.Random(scenario.seed)
        self._last = start
        self._next_alarm = start + scenario.alarm_interval_s / 3
        self._next_message = start + scenario.message_interval_s / 2
        self._next_call = start + scenario.call_interval_s / 2
        self.radios = [self._radio(plan, start) for plan in plan_units(scenario)]
        self.by_unit = {r.unit: r for r in self.radios}

    def roster_csv(self) -> str:
        """The roster a comms team would load for these radios."""
        lines = ["radio_id,alias,team,talkgroup"]
        lines += [f"{r.radio_id},{r.alias},{r.team},{talkgroup_number(r.talkgroup)}" for r in self.radios]
        return "\n".join(lines) + "\n"

    def _point(self, area: tuple[float, float, float]) -> tuple[float, float]:
        """A random point in the circle ``area`` (lat, lon, radius_m)."""
        lat, lon, radius_m = area
        r = radius_m * math.sqrt(self._rng.random())
        a = self._rng.random() * 2 * math.pi
        dlat = r * math.cos(a) / _M_PER_DEG_LAT
        dlon = r * math.sin(a) / (_M_PER_DEG_LAT * math.cos(math.radians(lat)))
        return lat + dlat, lon + dlon

    def _radio(self, plan: UnitPlan, start: float) -> Radio:
        s = self.scenario
        if plan.route:  # each unit starts near its own waypoint, heading for the next one
            leg = (plan.order + 1) % len(plan.route)
            lat, lon = self._point((*plan.route[plan.order % len(plan.route)], _ROUTE_SPREAD_M))
            target = plan.route[leg]
        else:
            leg = 0
            lat, lon = self._point(plan.area)
            target = self._point(plan.area)
        return Radio(
            radio_id=plan.radio_id,
            alias=plan.alias,
            team=plan.team,
            talkgroup=plan.talkgroup,
            speed_mps=s.drive_speed_mps if plan.vehicle else s.walk_speed_mps,
            lat=lat,
            lon=lon,
            target=target,
            next_report=start + self._rng.random() * s.report_interval_s,
            battery_pct=round(60 + 40 * self._rng.random(), 1),
            route=plan.route,
            area=plan.area,
            leg=leg,
        )

    def _next_target(self, radio: Radio) -> tuple[float, float]:
        if not radio.route:
            return self._point(radio.area)
        radio.leg = (radio.leg + 1) % len(radio.route)
        return radio.route[radio.leg]

    def step(self, now: float) -> list[RadioEvent]:
        """Advance to ``now`` and return every report that became due."""
        dt = max(0.0, now - self._last)
        self._last = now
        events: list[RadioEvent] = []
        for radio in self.radios:
            self._move(radio, dt)
            if radio.emergency_until is not None and now >= radio.emergency_until:
                radio.emergency_until = None
                events.append(Alarm(unit=radio.unit, cleared=True, ts=now))
            if radio.talking_until is not None and now >= radio.talking_until:
                radio.talking_until = None
                events.append(CallEnd(caller=radio.unit, talkgroup=talkgroup_number(radio.talkgroup), ts=now))
            if now >= radio.next_report:
                events += self._report(radio, now)
        if self.radios and self.scenario.alarm_interval_s and now >= self._next_alarm:
            self._next_alarm = now + self.scenario.alarm_interval_s
            events += self._alarm(now)
        if self.radios and now >= self._next_message:
            self._next_message = now + self.scenario.message_interval_s
            events.append(self._text(now))
        if self.radios and now >= self._next_call:
            self._next_call = now + self.scenario.call_interval_s * (0.5 + self._rng.random())
            events += self._call(now)
        return events

    def fix(self, radio: Radio, now: float) -> Fix:
        """Where a radio is now (also the answer to a location poll)."""
        coslat = math.cos(math.radians(radio.lat))
        dy = (radio.target[0] - radio.lat) * _M_PER_DEG_LAT
        dx = (radio.target[1] - radio.lon) * _M_PER_DEG_LAT * coslat
        moving = radio.emergency_until is None
        return Fix(
            unit=radio.unit,
            ts=now,
            lat=round(radio.lat, 7),
            lon=round(radio.lon, 7),
            alt_msl_m=30.0,
            speed_mps=radio.speed_mps if moving else 0.0,
            course_deg=round(math.degrees(math.atan2(dx, dy)) % 360, 1) if moving else None,
            mode=FixMode.THREE_D,
            satellites=9,
            hdop=0.9,
        )

    def _move(self, radio: Radio, dt: float) -> None:
        if radio.emergency_until is not None:
            return  # someone in trouble stays put
        coslat = math.cos(math.radians(radio.lat))
        dy = (radio.target[0] - radio.lat) * _M_PER_DEG_LAT
        dx = (radio.target[1] - radio.lon) * _M_PER_DEG_LAT * coslat
        dist = math.hypot(dx, dy)
        step = radio.speed_mps * dt
        if dist <= step:
            radio.lat, radio.lon = radio.target
            radio.target = self._next_target(radio)
            return
        radio.lat += dy / dist * step / _M_PER_DEG_LAT
        radio.lon += dx / dist * step / (_M_PER_DEG_LAT * coslat)

    def _report(self, radio: Radio, now: float) -> list[RadioEvent]:
        radio.next_report = now + self.scenario.report_interval_s
        radio.battery_pct = max(5.0, round(radio.battery_pct - 0.05, 2))
        events: list[RadioEvent] = [self.fix(radio, now)]
        if self._rng.random() < 0.2:
            events.append(Status(unit=radio.unit, battery_pct=radio.battery_pct, ts=now))
        return events

    def _alarm(self, now: float) -> list[RadioEvent]:
        calm = [r for r in self.radios if r.emergency_until is None]
        if not calm:
            return []
        return self.emergency(self._rng.choice(calm), now, self.scenario.alarm_clear_s)

    def emergency(self, radio: Radio, now: float, clear_after_s: float) -> list[RadioEvent]:
        """``radio``'s emergency button is pressed: it stops, reports where it is, and cancels later."""
        radio.emergency_until = now + clear_after_s
        return [self.fix(radio, now), Alarm(unit=radio.unit, ts=now)]

    def text_from(self, radio: Radio, text: str, now: float) -> Text:
        """A text from ``radio`` to its talkgroup."""
        msg_id = self._rng.randrange(1, 0xFFFF)
        return Text(src=radio.unit, dst=talkgroup_number(radio.talkgroup), group=True, text=text, msg_id=msg_id, ts=now)

    def _text(self, now: float) -> Text:
        radio = self._rng.choice(self.radios)
        return Text(
            src=radio.unit,
            dst=talkgroup_number(radio.talkgroup),
            group=True,
            text=self._rng.choice(_TEXTS),
            msg_id=self._rng.randrange(1, 0xFFFF),
            ts=now,
        )

    def _call(self, now: float) -> list[RadioEvent]:
        idle = [r for r in self.radios if r.talking_until is None]
        if not idle:
            return []
        radio = self._rng.choice(idle)
        radio.talking_until = now + 3 + self._rng.random() * 12
        return [CallStart(caller=radio.unit, talkgroup=talkgroup_number(radio.talkgroup), ts=now)]
