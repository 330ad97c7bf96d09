"""Scenario files: the format, its checks, the shipped incidents, and a timeline played deterministically."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import msgspec
import pytest
from kit import FIELDKIT

from edge.config import ConfigError
from sim import PdtGatewayEmulator, RadioWorld
from sim.fleet_plan import plan_fleet
from sim.scenario import Scenario, load_scenario, parse_scenario, resolve, shipped
from sim.sides import side_for
from sim.sitl import Mode, Vehicle
from sim.sitl.fleet import FleetPilot
from sim.teams import plan_units
from sim.timeline import Targets, TimelinePlayer, schedule

SHIPPED = ["city-highrise-fire", "forest-fire", "river-flood"]
T0 = 1_800_000_000.0


def fieldkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FIELDKIT, *args], capture_output=True, text=True, timeout=60)


def test_three_incidents_ship_and_check_clean() -> None:
    assert sorted(shipped()) == SHIPPED
    for name in SHIPPED:
        out = fieldkit("scenario", "check", name)
        assert out.returncode == 0, out.stderr
        s = load_scenario(resolve(name))
        events = {e.event for e in s.timeline}
        # every kind of fault the issue names is played by at least one shipped incident (checked below)
        assert {"emergency", "gps_loss", "battery_failsafe", "gateway_unplug", "camera_stall", "link_cut"} <= events
        assert len(s.teams) >= 4 and len(s.fleet()) == 3 and len(s.kits) == 3
    forest = load_scenario(resolve("forest-fire"))
    relay = next(d for d in forest.fleet() if d.name == "relay1")
    assert relay.kind == "tethered" and "森林" in forest.teams[1].name
    flood = load_scenario(resolve("river-flood"))
    assert flood.night and all(flood.camera(d) == "thermal" for d in flood.fleet())  # before dawn: thermal
    assert resolve(None) == shipped()["city-highrise-fire"]  # `fieldkit sim` plays the city by default


def test_check_reports_every_problem_with_its_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        """
units = 4
talkgroups = ["9001 指挥 Command", "9002 一中队 Team 1"]
[[teams]]
name = "一中队 Team 1"
talkgroup = "9009"
units = 2
members = [{ alias = "一中队-01" }]
[[drones]]
name = "uav1"
[[drones]]
name = "tether1"
kind = "tethered"
patrol = { lat = 36.7, lon = 119.1 }
[[kits]]
id = "kit-1"
lat = 36.7
lon = 119.1
links = ["kit-9"]
[[timeline]]
at_s = 5
event = "gps_loss"
drone = "uav7"
[[timeline]]
at_s = 6
event = "camera_stall"
feed = "tether1"
duration_s = 10
[[timeline]]
at_s = 7
event = "battery_failsafe"
drone = "uav1"
duration_s = 4
[[timeline]]
at_s = 8
event = "emergency"
unit = "二中队-01"
""",
        encoding="utf-8",
    )
    out = fieldkit("scenario", "check", str(bad))
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"fieldkit: scenario {bad} has 9 problem(s):",
        "  units: give either a unit count or [[teams]], not both",
        "  teams[0].talkgroup: 9009 is not one of the talkgroups (9001, 9002)",
        "  teams[0]: give either units (a count) or [[teams[0].members]]",
        "  drones[1]: a tethered drone hovers over its ground station (no mission or patrol)",
        "  kits[0].links: 'kit-9' is not another kit (kit-1)",
        "  timeline[0].duration_s: required for gps_loss",
        "  timeline[0].drone: no drone 'uav7' (uav1, tether1)",
        "  timeline[2].duration_s: battery_failsafe does not last (it happens once)",
        "  timeline[3].unit: no unit '二中队-01' (give an alias or a radio id)",
    ]  # timeline[1] is fine: the tethered drone's camera is a feed like any other


def test_type_problems_carry_their_path_inside_tables() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_scenario(
            {
                "time_of_day": "25:00",
                "drones": [{"name": "uav1", "kind": "blimp"}, {"name": "bad name"}],
                "teams": [{"name": "A, B", "talkgroup": "9001", "units": 1}],
                "timeline": [{"at_s": 1, "event": "meteor"}],
            }
        )
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "time_of_day",
        "drones[0].kind",
        "drones[1].name",
        "teams[0].name",
        "timeline[0].event",
    ]
    assert "must be one of multirotor, tethered (got 'blimp')" in problems[1]


def test_older_flat_files_still_load(tmp_path: Path) -> None:
    old = tmp_path / "old.toml"
    old.write_text('units = 12\nframing = "nmea"\ndrones = false\nalarm_interval_s = 6.0\n', encoding="utf-8")
    s = load_scenario(old)
    assert s.fleet() == [] and not s.teams and not s.timeline
    plans = plan_units(s)
    assert [p.radio_id for p in plans] == list(range(1001, 1013))
    assert plans[0].alias == "指挥-01" and plans[4].vehicle and plans[1].team == "一中队"
    assert [d.name for d in Scenario().fleet()] == ["uav1", "uav2", "uav3"]  # `drones = true`: the default fleet


def test_teams_give_ids_aliases_routes_and_vehicles() -> None:
    s = parse_scenario(
        {
            "talkgroups": ["9001 指挥 Command", "9002 攻坚 Attack"],
            "teams": [
                {"name": "指挥部 Command", "talkgroup": "9001", "members": [{"alias": "指挥长 IC", "radio_id": 1002}]},
                {
                    "name": "奎文中队 Kuiwen",
                    "alias_prefix": "攻坚",
                    "talkgroup": "9002",
                    "units": 3,
                    "vehicles": 1,
                    "route": [[36.70, 119.16], [36.71, 119.16]],
                },
            ],
        }
    )
    plans = plan_units(s)
    assert [(p.radio_id, p.alias, p.vehicle) for p in plans] == [
        (1002, "指挥长 IC", False),
        (1001, "攻坚-01", False),
        (1003, "攻坚-02", False),  # 1002 is taken by the explicit member
        (1004, "攻坚-03", True),
    ]
    world = RadioWorld(s, start=T0)
    walker = world.by_unit["1001"]
    assert walker.target == (36.71, 119.16) and walker.talkgroup == "9002 攻坚 Attack"
    assert world.roster_csv().splitlines()[1] == "1002,指挥长 IC,指挥部 Command,9001"


def _play(name: str, tmp: Path, seed: int | None = None) -> tuple[bytes, list[tuple[object, ...]], list[object]]:
    """Play a shipped scenario's whole timeline on a stepped clock: gateway bytes, vehicle states, steps."""
    s = load_scenario(resolve(name))
    if seed is not None:
        s = msgspec.structs.replace(s, seed=seed)
    now = T0
    world = RadioWorld(s, start=T0)
    gateway = PdtGatewayEmulator(world, side_for(s.framing), tmp / f"tty-{seed}", clock=lambda: now, seed=s.seed)
    reader = os.open(gateway.plug(), os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    plans = plan_fleet(s)
    vehicles = [Vehicle(p.config, T0) for p in plans]
    pilot = FleetPilot(vehicles, launch=lambda k, v, t: plans[k].launch(v, t))
    units = {r.unit: r for r in world.radios} | {r.alias: r for r in world.radios}
    targets = Targets(gateway, units, {p.name: v for p, v in zip(plans, vehicles, strict=True)})
    player = TimelinePlayer(schedule(s.timeline), targets, lambda: now, start=T0)
    wire, states = bytearray(), []
    try:
        while player.played == [] or len(player.played) < len(player.steps):
            now += 0.5
            for event in world.step(now):
                gateway.emit(event)
            for v in vehicles:
                v.step(now)
            pilot.step(now)
            for at_s, step, _ in player.play_due(now):
                flights = [
                    (v.mode.name, v.gps.enabled, round(v.alt_rel_m, 3), v.estimated_position()) for v in vehicles
                ]
                states.append((at_s, step, *flights))
            with contextlib.suppress(BlockingIOError):
                wire += os.read(reader, 1 << 20)
    finally:
        os.close(reader)
        gateway.unplug()
    return bytes(wire), states, player.played


def test_same_seed_same_incident_and_every_fault_acts(tmp_path: Path) -> None:
    wire, states, played = _play("forest-fire", tmp_path)
    again = _play("forest-fire", tmp_path)
    assert (wire, states, played) == again, "same scenario, same seed: the same bytes, flights and steps"
    other, other_states, _ = _play("forest-fire", tmp_path, seed=99)
    assert other != wire and other_states != states, "another seed, another incident"
    outcomes = {step: outcome for _, step, outcome in played}
    assert outcomes["emergency (unit=森林二-05)"].startswith("sent by 森林二-05")
    assert outcomes["gps_loss (drone=scout1)"] == "GPS fix lost"
    assert outcomes["battery_failsafe (drone=scout2)"] == "battery drained below the critical voltage"
    assert outcomes["link_cut (kits=relay-kit / team1-kit)"].startswith("recorded")
    by_step = {s[1]: s[2:] for s in states}
    scout1, scout2, relay1 = 1, 2, 0  # fleet order in the file: relay1, scout1, scout2
    assert by_step["gps_loss (drone=scout1)"][scout1][1] is False
    assert by_step["gps_loss ends (drone=scout1)"][scout1][1] is True
    # the critical battery failsafe lands scout2 (checked at the next step, 20 s later)
    assert by_step["gateway_unplug"][scout2][0] == Mode.LAND.name
    assert by_step["tether_power_loss (drone=relay1)"][relay1][0] == Mode.GUIDED.name


@pytest.mark.parametrize("name", ["city-highrise-fire", "river-flood"])
def test_every_shipped_timeline_replays_exactly(name: str, tmp_path: Path) -> None:
    """Same seed, same gateway bytes, flights and steps (no media service here: camera stalls are only logged)."""
    first = _play(name, tmp_path)
    assert first == _play(name, tmp_path)
    assert len(first[2]) == len(schedule(load_scenario(resolve(name)).timeline))
