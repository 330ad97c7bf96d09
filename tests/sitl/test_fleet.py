"""The incident fleet for ``fieldkit sim``: two patrolling multirotors and a hovering tethered drone."""

from __future__ import annotations

import pytest

from sim.sitl import Mode, Vehicle
from sim.sitl.fleet import FleetPilot, incident_fleet

START = 1_000_000.0


def fly(vehicles: list[Vehicle], pilot: FleetPilot, start: float, seconds: float, dt: float = 0.5) -> float:
    now = start
    for k in range(round(seconds / dt)):
        now += dt
        for v in vehicles:
            v.step(now)
        if k % 2 == 0:
            pilot.step(now)
    return now


def test_fleet_patrols_and_hovers_then_relaunches_after_a_battery_failsafe() -> None:
    configs = incident_fleet(seed=3)
    assert [c.sysid for c in configs] == [1, 2, 3] and [c.tether is not None for c in configs] == [False, False, True]
    vehicles = [Vehicle(c, START) for c in configs]
    pilot = FleetPilot(vehicles, turnaround_s=30)
    now = fly(vehicles, pilot, START, 240)
    one, two, tethered = vehicles
    for v in (one, two):
        assert v.armed and v.mode is Mode.AUTO and v.guidance.auto.seq >= 3  # past the takeoff and a waypoint
        assert v.alt_rel_m > 25
    assert tethered.mode is Mode.GUIDED and tethered.alt_rel_m == pytest.approx(50, abs=0.5)
    assert len(one.mission_items) == 10  # takeoff, 8 waypoints, DO_JUMP

    one.fail_battery(critical=True)
    now = fly(vehicles, pilot, now, 200)
    assert one.failsafe.battery_critical is False  # a fresh battery after landing...
    assert one.armed and one.mode is Mode.AUTO  # ...and back on patrol
    assert tethered.battery.remaining_pct == 100  # ground power the whole time
