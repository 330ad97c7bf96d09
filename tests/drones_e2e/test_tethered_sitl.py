"""A tethered SITL (``python -m sim.sitl --tethered``) through the node: its tether in the picture, and
the ground-power alert when a ground station turns the simulated ground power off over MAVLink.

The ground station is a pymavlink peer on the node's ``udp-listen`` endpoint: its PARAM_SET of the
simulator parameter ``SIM_TETH_PWR`` crosses the router to the SITL (over TCP), and the SITL's
PARAM_VALUE comes back the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from drones_e2e.rig import SPEEDUP, api, command, poll, ready_to_arm, routing_node
from drones_io.mavpeer import MavPeer, Rig, until
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from edge.auth import Role

SYSID = 3
TETHER_M = 60.0
VOLTS = 48.0  # the SITL ground station's supply (sim.sitl.tether.TetherConfig)


async def tether_alerts(rig: Rig) -> dict[str, dict[str, Any]]:
    """This vehicle's drone alerts by condition (``tether-power``, ...), from GET /api/alerts."""
    async with api(rig, Role.VIEWER) as http:
        r = await http.get("/api/alerts")
    r.raise_for_status()
    mine = [a for a in r.json() if a["alert"]["entity_id"] == f"vehicle:kit-test:{SYSID}"]
    return {a["alert"]["id"].split(":")[3]: a for a in mine}


def said_power_lost(record: dict[str, Any]) -> bool:
    """The SITL's own STATUSTEXT (severity CRITICAL), which the node raises as an alert too."""
    return "Tether: ground power lost" in record["alert"]["title"]


async def poll_alerts(rig: Rig, check: Callable[[dict[str, dict[str, Any]]], bool]) -> dict[str, dict[str, Any]]:
    """Poll GET /api/alerts until this vehicle's alerts pass ``check`` (bounded)."""
    deadline = time.monotonic() + 10.0
    while not check(found := await tether_alerts(rig)):
        assert time.monotonic() < deadline, f"alerts now: {found}"
        await asyncio.sleep(0.1)
    return found


async def set_param(gcs: MavPeer, name: bytes, value: float) -> None:
    """PARAM_SET through the router; returns when the SITL's PARAM_VALUE echo came back with ``value``."""
    before = len(gcs.of_type("PARAM_VALUE", SYSID))
    gcs.send(mavlink.MAVLink_param_set_message(SYSID, 1, name, value, mavlink.MAV_PARAM_TYPE_REAL32))

    def echoed() -> bool:
        values = gcs.of_type("PARAM_VALUE", SYSID)[before:]
        return any(m.param_id == name.decode() and m.param_value == value for m in values)

    await until(echoed, 10.0, f"PARAM_VALUE {name.decode()} = {value} back at the ground station")


@pytest.mark.timeout(120)
async def test_tethered_vehicle_carries_its_tether_and_raises_ground_power_lost(tmp_path: Path, sitl: Any) -> None:
    args = ("--tethered", "--tether-length", str(TETHER_M), "--tcp", "0", "--sysid", str(SYSID))
    with sitl(*args, "--speedup", str(SPEEDUP)) as s:
        assert s.tcp is not None
        endpoints = [
            {"name": "sitl", "kind": "tcp-client", "host": s.tcp[0], "port": s.tcp[1]},
            {"name": "gcs", "kind": "udp-listen", "port": 0},
        ]
        tether = {"tethered_sysids": [SYSID], "tether_max_length_m": TETHER_M, "tether_ceiling_margin_m": 5.0}
        async with routing_node(tmp_path, endpoints, **tether) as rig:
            gcs = MavPeer(255, 190, "gcs")
            await gcs.udp(("127.0.0.1", await rig.port_of("gcs")))
            gcs.heartbeat()
            try:
                grounded = await poll(rig, SYSID, ready_to_arm, 30.0, "vehicle ready in the picture")
                assert (grounded["tethered"], grounded["tether_ceiling_m"]) == (True, TETHER_M)
                assert (grounded["tether_power"], grounded["tether_v"]) == (True, VOLTS)
                assert grounded["tether_length_m"] == 0.0  # on the ground, the winch holds the line in

                r = await command(rig, SYSID, {"command": "takeoff", "alt_m": 30})
                assert (r.status_code, r.json()["result"]) == (200, "accepted"), r.text
                up = await poll(
                    rig, SYSID, lambda v: v["pos"]["alt_rel_m"] >= 29.0 and v["tether_length_m"] >= 29.0, 30.0,
                    "climbed, paying out the tether",
                )  # fmt: skip
                assert up["tether_length_m"] <= TETHER_M and up["tether_tension_n"] > grounded["tether_tension_n"]
                assert up["tether_power"] is True and not await tether_alerts(rig)

                await set_param(gcs, b"SIM_TETH_PWR", 0.0)
                lost = await poll(rig, SYSID, lambda v: v["tether_power"] is False, 10.0, "ground power lost")
                assert lost["tether_v"] == 0.0 and lost["armed"]
                alerts = await poll_alerts(rig, lambda a: "tether-power" in a and any(map(said_power_lost, a.values())))
                power = alerts["tether-power"]
                assert (power["status"], power["alert"]["severity"]) == ("raised", "emergency")
                assert power["alert"]["title"] == f"drone {SYSID}: tether power"

                await set_param(gcs, b"SIM_TETH_PWR", 1.0)
                await poll(rig, SYSID, lambda v: v["tether_power"] is True, 10.0, "ground power back")
                cleared = await poll_alerts(rig, lambda a: a["tether-power"]["status"] == "cleared")
                assert cleared["tether-power"]["cleared_by"] == f"vehicle:kit-test:{SYSID}"
            finally:
                await gcs.aclose()
