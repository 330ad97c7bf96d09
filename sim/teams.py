"""Teams and their radios: who carries which radio, on which talkgroup, and where they move.

A scenario either lists ``[[teams]]`` (a count of units or named members, a home talkgroup, a route
to walk in a loop or an area to work in) or, as older scenario files do, only a unit count spread
over the talkgroups. Both become the same list of :class:`UnitPlan`, so the radio world has one
way of building radios.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from msgspec import Meta, Struct

if TYPE_CHECKING:
    from .scenario import Scenario

Lat = Annotated[float, Meta(ge=-90, le=90)]
Lon = Annotated[float, Meta(ge=-180, le=180)]
Point = tuple[Lat, Lon]
# A roster is CSV: names must not break its lines or columns.
RosterName = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[^,\r\n]+$")]
RadioId = Annotated[int, Meta(ge=1, le=16_777_215)]  # 24-bit DMR/PDT radio id
FIRST_RADIO_ID = 1001


class Area(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A circle on the ground: where a team works or a drone patrols."""

    lat: Lat
    lon: Lon
    radius_m: Annotated[float, Meta(gt=0, le=50_000)] = 300.0


class Member(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One named radio in a team."""

    alias: RosterName
    radio_id: RadioId | None = None  # default: the next free id from 1001
    vehicle: bool = False  # rides in a vehicle (drive speed) rather than on foot


class Team(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A team on one talkgroup: ``units`` radios named from ``alias_prefix``, or explicit ``members``."""

    name: RosterName
    talkgroup: Annotated[str, Meta(pattern=r"^\d{1,8}$")]  # its number, one of the scenario's talkgroups
    units: Annotated[int, Meta(ge=0, le=1000)] = 0
    members: list[Member] = []
    alias_prefix: str = ""  # default: the team name's first word
    vehicles: Annotated[int, Meta(ge=0, le=1000)] = 0  # how many of ``units`` ride in vehicles
    route: list[Point] = []  # waypoints walked in a loop (each unit starts at a different one)
    area: Area | None = None  # or: wander in this circle (default: the scenario's)


@dataclass(frozen=True)
class UnitPlan:
    """One radio as the world will create it."""

    radio_id: int
    alias: str
    team: str
    talkgroup: str  # the full talkgroup label, e.g. "9002 一中队 Team 1"
    vehicle: bool
    route: tuple[tuple[float, float], ...]
    area: tuple[float, float, float]  # lat, lon, radius_m
    order: int  # position within its team (where on the route it starts)


def talkgroup_number(talkgroup: str) -> str:
    """``"9001 指挥 Command"`` -> ``"9001"``."""
    return talkgroup.split(maxsplit=1)[0]


def plan_units(scenario: Scenario) -> list[UnitPlan]:
    """Every radio of the scenario, with ids given out in order (explicit ids kept)."""
    home = (scenario.home_lat, scenario.home_lon, scenario.radius_m)
    if not scenario.teams:
        return _legacy(scenario, home)
    labels = {talkgroup_number(t): t for t in scenario.talkgroups}
    taken = {m.radio_id for t in scenario.teams for m in t.members if m.radio_id is not None}
    next_id = FIRST_RADIO_ID
    plans: list[UnitPlan] = []
    for team in scenario.teams:
        area = (team.area.lat, team.area.lon, team.area.radius_m) if team.area else home
        prefix = team.alias_prefix or team.name.split()[0]
        members = team.members or [
            Member(alias=f"{prefix}-{k + 1:02d}", vehicle=k >= team.units - team.vehicles) for k in range(team.units)
        ]
        for k, member in enumerate(members):
            radio_id = member.radio_id
            if radio_id is None:
                while next_id in taken:
                    next_id += 1
                radio_id = next_id
                taken.add(radio_id)
            plans.append(
                UnitPlan(
                    radio_id=radio_id,
                    alias=member.alias,
                    team=team.name,
                    talkgroup=labels.get(team.talkgroup, team.talkgroup),
                    vehicle=member.vehicle,
                    route=tuple(team.route),
                    area=area,
                    order=k,
                )
            )
    return plans


def _legacy(scenario: Scenario, home: tuple[float, float, float]) -> list[UnitPlan]:
    """Older scenario files: ``units`` radios dealt round the talkgroups, every fifth in a vehicle."""
    plans = []
    for i in range(scenario.units):
        tg = scenario.talkgroups[i % len(scenario.talkgroups)]
        words = tg.split()
        team = words[1] if len(words) > 1 else tg
        alias = f"{team}-{i // len(scenario.talkgroups) + 1:02d}"
        plans.append(UnitPlan(FIRST_RADIO_ID + i, alias, team, tg, i % 5 == 4, (), home, i))
    return plans
