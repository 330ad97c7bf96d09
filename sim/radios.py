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

_M_PER_DEG_LAT = 111_320.0
_TEXTS = (
    "到达指定位置 In position",
    "需要增援 Need reinforcement",
    "水源已建立 Water supply established",
    "发现被困人员 Trapped person found",
    "道路受阻 Road blocked",
    "电量低 Battery low",
)


def talkgroup_number(talkgroup: str) -> str:
    """``"9001 指挥 Command"`` -> ``"9001"``."""
    return talkgroup.split(maxsplit=1)[0]


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
        self.radios = [self._radio(i, start) for i in range(scenario.units)]
        self.by_unit = {r.unit: r for r in self.radios}

    def roster_csv(self) -> str:
        """The roster a comms team would load for these radios."""
        lines = ["radio_id,alias,team,talkgroup"]
        lines += [f"{r.radio_id},{r.alias},{r.team},{talkgroup_number(r.talkgroup)}" for r in self.radios]
        return "\n".join(lines) + "\n"

    def _point(self) -> tuple[float, float]:
        s = self.scenario
        r = s.radius_m * math.sqrt(self._rng.random())
        a = self._rng.random() * 2 * math.pi
        dlat = r * math.cos(a) / _M_PER_DEG_LAT
        dlon = r * math.sin(a) / (_M_PER_DEG_LAT * math.cos(math.radians(s.home_lat)))
        return s.home_lat + dlat, s.home_lon + dlon

    def _radio(self, i: int, start: float) -> Radio:
        s = self.scenario
        tg = s.talkgroups[i % len(s.talkgroups)]
        words = tg.split()
        team = words[1] if len(words) > 1 else tg
        driving = i % 5 == 4  # every fifth radio rides in a vehicle
        lat, lon = self._point()
        return Radio(
            radio_id=1001 + i,
            alias=f"{team}-{i // len(s.talkgroups) + 1:02d}",
            team=team,
            talkgroup=tg,
            speed_mps=s.drive_speed_mps if driving else s.walk_speed_mps,
            lat=lat,
            lon=lon,
            target=self._point(),
            next_report=start + self._rng.random() * s.report_interval_s,
            battery_pct=round(60 + 40 * self._rng.random(), 1),
        )

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
        if self.radios and now >= self._next_alarm:
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
            radio.target = self._point()
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
        radio = self._rng.choice(calm)
        radio.emergency_until = now + self.scenario.alarm_clear_s
        return [self.fix(radio, now), Alarm(unit=radio.unit, ts=now)]

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
