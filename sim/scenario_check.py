"""What a scenario's types cannot say: cross-references, and which fields each timeline event needs.

Each problem starts with its key path (``timeline[3].drone: ...``), as ``edge.config.check`` does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .scenario import Scenario
from .scenario_items import NEEDS, DroneSpec, TimelineEntry
from .teams import UnitPlan, plan_units, talkgroup_number

_LASTING = {"gps_loss", "tether_power_loss", "gateway_unplug", "camera_stall", "link_cut", "emergency"}


def problems(s: Scenario, given: set[str]) -> list[str]:
    """Every cross-reference problem in ``s``; ``given`` are the top-level keys the file set."""
    found = _teams(s, given)
    fleet = s.fleet()
    found += _drones(s, fleet)
    found += _feeds(s, fleet)
    found += _kits(s)
    refs = _References(s, fleet, plan_units(s))
    for i, entry in enumerate(s.timeline):
        found += refs.check(entry, f"timeline[{i}]")
    return found


def _teams(s: Scenario, given: set[str]) -> list[str]:
    found = []
    if s.teams and "units" in given:
        found.append("units: give either a unit count or [[teams]], not both")
    numbers = [talkgroup_number(t) for t in s.talkgroups]
    found += [f"talkgroups: {n} is listed twice" for n, c in Counter(numbers).items() if c > 1]
    for i, team in enumerate(s.teams):
        where = f"teams[{i}]"
        if team.talkgroup not in numbers:
            found.append(f"{where}.talkgroup: {team.talkgroup} is not one of the talkgroups ({', '.join(numbers)})")
        if bool(team.units) == bool(team.members):
            found.append(f"{where}: give either units (a count) or [[{where}.members]]")
        if team.vehicles > team.units:
            found.append(f"{where}.vehicles: more than its {team.units} units")
        if team.members and team.vehicles:
            found.append(f"{where}.vehicles: only for a counted team (members say vehicle = true)")
        if team.route and team.area is not None:
            found.append(f"{where}: give a route or an area, not both")
        if len(team.route) == 1:
            found.append(f"{where}.route: needs at least two waypoints")
    if not found:
        plans = plan_units(s)
        found += [f"teams: radio id {r} is given twice" for r, c in Counter(p.radio_id for p in plans).items() if c > 1]
        found += [f"teams: alias {a!r} is given twice" for a, c in Counter(p.alias for p in plans).items() if c > 1]
    return found


def _drones(s: Scenario, fleet: list[DroneSpec]) -> list[str]:
    found = _twice("drones", [d.name for d in fleet], "name")
    found += _twice("drones", [d.sysid for d in fleet if d.sysid is not None], "sysid")
    for i, d in enumerate(fleet):
        if d.kind == "tethered" and (d.mission or d.patrol):
            found.append(f"drones[{i}]: a tethered drone hovers over its ground station (no mission or patrol)")
        if d.mission and d.patrol:
            found.append(f"drones[{i}]: give a mission or a patrol, not both")
    return found


def _feeds(s: Scenario, fleet: list[DroneSpec]) -> list[str]:
    cameras = [d.name for d in fleet if s.camera(d)]
    found = _twice("feeds", [f.name for f in s.feeds], "name")
    for i, feed in enumerate(s.feeds):
        if feed.name in cameras:
            found.append(f"feeds[{i}].name: {feed.name!r} is already a drone's camera")
    return found


def _kits(s: Scenario) -> list[str]:
    ids = [k.id for k in s.kits]
    found = _twice("kits", ids, "id")
    for i, kit in enumerate(s.kits):
        for link in kit.links:
            if link not in ids or link == kit.id:
                found.append(f"kits[{i}].links: {link!r} is not another kit ({', '.join(ids)})")
    return found


def _twice(table: str, values: Sequence[object], key: str) -> list[str]:
    return [f"{table}: {key} {v!r} is given twice" for v, c in Counter(values).items() if c > 1]


class _References:
    """Resolves what timeline entries name: units, drones, feeds, kits."""

    def __init__(self, s: Scenario, fleet: list[DroneSpec], units: list[UnitPlan]) -> None:
        self.units = {str(u.radio_id) for u in units} | {u.alias for u in units}
        self.drones = {d.name: d for d in fleet}
        self.feeds = {d.name for d in fleet if s.camera(d)} | {f.name for f in s.feeds}
        self.links = {frozenset((k.id, link)) for k in s.kits for link in k.links}
        self.kits = {k.id for k in s.kits}

    def check(self, e: TimelineEntry, where: str) -> list[str]:
        found = [f"{where}.{need}: required for {e.event}" for need in NEEDS[e.event] if not getattr(e, need)]
        if e.duration_s is not None and e.event not in _LASTING:
            found.append(f"{where}.duration_s: {e.event} does not last (it happens once)")
        if e.unit and e.unit not in self.units:
            found.append(f"{where}.unit: no unit {e.unit!r} (give an alias or a radio id)")
        if e.drone:
            drone = self.drones.get(e.drone)
            if drone is None:
                found.append(f"{where}.drone: no drone {e.drone!r} ({', '.join(self.drones) or 'none flying'})")
            elif e.event == "tether_power_loss" and drone.kind != "tethered":
                found.append(f"{where}.drone: {e.drone!r} is not tethered")
        if e.feed and e.feed not in self.feeds:
            found.append(f"{where}.feed: no feed {e.feed!r} ({', '.join(sorted(self.feeds)) or 'no cameras'})")
        if e.kits:
            found += self._link(e.kits, where)
        return found

    def _link(self, kits: list[str], where: str) -> list[str]:
        if len(kits) != 2 or any(k not in self.kits for k in kits):
            return [f"{where}.kits: name two of the kits ({', '.join(sorted(self.kits)) or 'none listed'})"]
        if frozenset(kits) not in self.links:
            return [f"{where}.kits: {kits[0]} and {kits[1]} have no link between them"]
        return []
