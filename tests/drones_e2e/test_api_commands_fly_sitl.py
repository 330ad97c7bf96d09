"""Our own API commands fly a SITL vehicle through the node's router; a viewer's reach nothing.

The SITL runs in this process (``SitlEndpoint`` on a loopback UDP port, 8x speed) so the test can
count what the vehicle itself received; the node reaches it over real UDP (``udp-connect``). Every
check of the flight is made on the picture (GET /api/vehicles), and on the audit trail
(GET /api/events?kind=audit).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from drones_e2e.rig import audits, command, metres, offset, poll, ready_to_arm, routing_node, vehicle_id
from drones_io.mavpeer import Rig, until

from edge.auth import Role
from sim.clock import SimClock
from sim.sitl import Mode, SitlEndpoint, Vehicle, VehicleConfig

SYSID = 4
COMMANDS = ("COMMAND_LONG", "COMMAND_INT")
SPEEDUP = 8.0  # no wall-clock peer here but the node, whose command timeouts the SITL answers well within


@pytest.fixture
async def flight(tmp_path: Path) -> AsyncIterator[tuple[Rig, Vehicle]]:
    clock = SimClock(speedup=SPEEDUP)
    vehicle = Vehicle(VehicleConfig(sysid=SYSID, speedup=SPEEDUP, gps_lock_s=1.0), clock())
    async with SitlEndpoint([vehicle], clock) as sitl:
        await sitl.start(udp_port=0)
        assert sitl.udp_address is not None
        host, port = sitl.udp_address
        async with routing_node(tmp_path, [{"name": "sitl", "kind": "udp-connect", "host": host, "port": port}]) as rig:
            await poll(rig, SYSID, ready_to_arm, 30.0, "vehicle ready to arm in the picture")
            yield rig, vehicle


def commands_received(vehicle: Vehicle) -> int:
    return sum(vehicle.received[kind] for kind in COMMANDS)


async def refused_for_a_viewer(rig: Rig, vehicle: Vehicle, bodies: list[dict[str, Any]]) -> None:
    """Each body gets 403 with a viewer's token and 401 with none; the vehicle hears nothing of it."""
    before = (commands_received(vehicle), vehicle.mode, vehicle.armed)
    for body in bodies:
        assert (await command(rig, SYSID, body, Role.VIEWER)).status_code == 403, body
        assert (await command(rig, SYSID, body, None)).status_code == 401, body
    # Our heartbeats take the same path a command would: two more arriving means none was in flight.
    beats = vehicle.received["HEARTBEAT"]
    await until(lambda: vehicle.received["HEARTBEAT"] >= beats + 2, 5.0, "two more of the node's heartbeats")
    assert (commands_received(vehicle), vehicle.mode, vehicle.armed) == before


async def accepted(rig: Rig, body: dict[str, Any]) -> dict[str, Any]:
    r = await command(rig, SYSID, body)
    assert r.status_code == 200, r.text
    outcome: dict[str, Any] = r.json()
    assert outcome["result"] == "accepted", outcome
    return outcome


@pytest.mark.timeout(150)
async def test_takeoff_goto_rtl_land_from_the_api_fly_the_sitl(flight: tuple[Rig, Vehicle]) -> None:
    rig, vehicle = flight
    everything: list[dict[str, Any]] = [
        {"command": "takeoff", "alt_m": 20},
        {"command": "arm"},
        {"command": "goto", "lat": 36.701, "lon": 119.161, "alt_m": 20},
        {"command": "rtl"},
        {"command": "land"},
    ]
    await refused_for_a_viewer(rig, vehicle, everything)
    assert (vehicle.mode, vehicle.armed, commands_received(vehicle)) == (Mode.STABILIZE, False, 0)

    takeoff = await accepted(rig, {"command": "takeoff", "alt_m": 20})
    assert [s["step"] for s in takeoff["steps"]] == ["set mode GUIDED", "arm", "takeoff to 20 m"]
    up = await poll(rig, SYSID, lambda v: v["pos"]["alt_rel_m"] >= 19.0, 30.0, "climbed to 19 m")
    assert (up["mode"], up["armed"]) == ("GUIDED", True) and vehicle.alt_rel_m >= 19.0

    # A viewer cannot bring it down, even in flight.
    await refused_for_a_viewer(rig, vehicle, [{"command": "land"}, {"command": "rtl"}])
    assert vehicle.mode.name == "GUIDED"

    home = (up["home"]["lat"], up["home"]["lon"])
    target = offset(*home, north_m=120.0, east_m=60.0)
    start_m = metres((up["pos"]["lat"], up["pos"]["lon"]), target)
    await accepted(rig, {"command": "goto", "lat": target[0], "lon": target[1], "alt_m": 25})
    there = await poll(
        rig, SYSID, lambda v: metres((v["pos"]["lat"], v["pos"]["lon"]), target) < 5.0, 60.0, "arrived at the target"
    )
    assert start_m > 100.0 and there["mode"] == "GUIDED" and abs(there["pos"]["alt_rel_m"] - 25.0) < 1.5

    await accepted(rig, {"command": "rtl"})
    returning = await poll(rig, SYSID, lambda v: v["mode"] == "RTL", 10.0, "mode RTL")
    assert returning["armed"] and vehicle.mode is Mode.RTL
    await poll(rig, SYSID, lambda v: metres((v["pos"]["lat"], v["pos"]["lon"]), home) < 60.0, 60.0, "heading home")

    await accepted(rig, {"command": "land"})
    await poll(rig, SYSID, lambda v: v["mode"] == "LAND", 10.0, "mode LAND")
    down = await poll(rig, SYSID, lambda v: not v["armed"], 90.0, "landed and disarmed")
    assert down["pos"]["alt_rel_m"] < 0.5 and not vehicle.armed

    trail = await audits(rig)
    assert {(a["actor"], a["target"], a["result"]) for a in trail} == {("pilot tester", vehicle_id(SYSID), "accepted")}
    assert [a["action"] for a in trail] == [
        "drone takeoff alt_m=20.0",
        f"drone goto alt_m=25.0 lat={target[0]} lon={target[1]}",
        "drone rtl",
        "drone land",
    ]
    # What the vehicle heard: DO_SET_MODE, ARM, NAV_TAKEOFF, DO_REPOSITION (as COMMAND_INT), RTL, LAND, once each.
    assert (vehicle.received["COMMAND_LONG"], vehicle.received["COMMAND_INT"]) == (5, 1)
