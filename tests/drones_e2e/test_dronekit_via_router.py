"""dronekit 2.9.2 flies our SITL *through* a fieldkit node, while the node shows the vehicle in its picture.

Three processes and a node: the SITL (``python -m sim.sitl``) and dronekit (``tests/sitl/dronekit_flight.py``,
the same script the direct test runs, wrapped by ``dronekit_counted.py``) are subprocesses; the node runs
in the test's loop and routes between its SITL endpoint and its ground-station endpoint. dronekit never
sees the SITL's address.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from drones_e2e.rig import SPEEDUP, dronekit_argv, links, poll, routing_node, script, vehicle_id, vehicles
from drones_io.mavpeer import Rig

SYSID = 7
HOME = (36.70, 119.16)


async def watch(rig: Rig, samples: list[dict[str, Any]], stop: asyncio.Event) -> None:
    """Sample the vehicle as GET /api/vehicles shows it, 4 times a second, until ``stop``."""
    while not stop.is_set():
        v = (await vehicles(rig)).get(vehicle_id(SYSID))
        if v is not None:
            pos = v["pos"] or {}
            samples.append({"mode": v["mode"], "armed": v["armed"], "alt": pos.get("alt_rel_m"), "link": v["link_ok"]})
        await asyncio.sleep(0.25)


@pytest.mark.timeout(200)
async def test_dronekit_flies_guided_mission_and_rtl_through_the_router(
    tmp_path: Path, sitl: Any, env: dict[str, str]
) -> None:
    with sitl("--port", "0", "--speedup", str(SPEEDUP), "--sysid", str(SYSID)) as s:
        assert s.udp is not None
        endpoints = [
            {"name": "sitl", "kind": "udp-connect", "host": s.udp[0], "port": s.udp[1]},
            {"name": "gcs", "kind": "udp-listen", "port": 0},
        ]
        async with routing_node(tmp_path, endpoints) as rig:
            started = time.monotonic()
            gcs_port = await rig.port_of("gcs")
            samples: list[dict[str, Any]] = []
            stop = asyncio.Event()
            watcher = asyncio.create_task(watch(rig, samples, stop))
            try:
                # dronekit's "udpout:" sends first (its heartbeat), so the node's udp-listen learns it as a peer
                async with script(*dronekit_argv(f"udpout:127.0.0.1:{gcs_port}"), env=env) as dronekit:
                    code = await dronekit.wait(180)
            finally:
                stop.set()
                await asyncio.wait_for(watcher, 10)
            landed = await poll(rig, SYSID, lambda v: not v["armed"], 5.0, "disarmed after landing")
            report = await links(rig)
            elapsed_s = time.monotonic() - started
        assert s.proc.poll() is None, "the SITL must survive the whole flight"

    steps = dronekit.steps()
    assert code == 0 and "done" in steps, dronekit.lines[-40:]
    assert steps["connected"]["params"] > 300
    caps = steps["capabilities"]
    assert caps["version"].startswith("APM:Copter-4.5") and caps["sysid"] == SYSID and caps["mission_int"]
    assert abs(steps["home"]["lat"] - HOME[0]) < 1e-4 and abs(steps["home"]["lon"] - HOME[1]) < 1e-4
    assert steps["uploaded"]["count"] == 5 and len(steps["downloaded"]["got"]) == 5
    assert steps["armed"]["mode"] == "GUIDED"
    assert steps["took_off"]["alt"] >= 19.0
    assert steps["arrived"]["distance_m"] < 3.0 and abs(steps["arrived"]["alt"] - 20) < 1
    assert steps["landed"]["home_distance_m"] < 2.0 and steps["landed"]["alt"] < 0.5

    # Meanwhile the node's picture followed the same flight, from the same frames it routed.
    assert samples and all(x["link"] for x in samples), samples[:5]
    assert any(x["mode"] == "GUIDED" and x["armed"] and (x["alt"] or 0) >= 19.0 for x in samples), samples
    rtl = [k for k, x in enumerate(samples) if x["mode"] == "RTL"]
    assert rtl and any(x["armed"] and (x["alt"] or 0) >= 19.0 for x in samples[rtl[0] :]), "RTL seen while flying"
    assert (landed["mode"], landed["armed"]) == ("RTL", False) and landed["pos"]["alt_rel_m"] < 0.5

    (gcs_peer,) = report["gcs"]["peers"]
    (sitl_peer,) = report["sitl"]["peers"]
    assert [255, 0] in gcs_peer["systems"] and [SYSID, 1] in sitl_peer["systems"]
    # Every frame dronekit sent reached the SITL, which got nothing else but our heartbeats (1 a second);
    # every frame of the SITL's reached dronekit, in order: mavutil saw no gap in any sequence.
    assert gcs_peer["frames_in"] <= sitl_peer["frames_out"] <= gcs_peer["frames_in"] + elapsed_s + 1, report
    assert steps["link"]["lost"] == 0 and steps["link"]["received"] > 2000, steps["link"]
    for peer in (gcs_peer, sitl_peer):
        assert peer["framer"]["bad_crc"] == peer["framer"]["garbage_bytes"] == 0 and peer["send_dropped"] == 0


async def test_dronekit_over_tcp_loads_parameters_and_round_trips_a_mission_through_the_router(
    tmp_path: Path, sitl: Any, env: dict[str, str]
) -> None:
    with sitl("--tcp", "0", "--speedup", str(SPEEDUP), "--sysid", str(SYSID)) as s:
        assert s.tcp is not None
        endpoints = [
            {"name": "sitl", "kind": "tcp-client", "host": s.tcp[0], "port": s.tcp[1]},
            {"name": "gcs", "kind": "tcp-server", "port": 0},
        ]
        async with routing_node(tmp_path, endpoints) as rig:
            gcs_port = await rig.port_of("gcs")
            async with script(*dronekit_argv(f"tcp:127.0.0.1:{gcs_port}", "--no-flight"), env=env) as dronekit:
                code = await dronekit.wait(100)
            picture = (await vehicles(rig))[vehicle_id(SYSID)]
    steps = dronekit.steps()
    assert code == 0 and "done" in steps, dronekit.lines[-40:]
    assert steps["connected"]["params"] > 300 and steps["capabilities"]["sysid"] == SYSID
    got = steps["downloaded"]["got"]
    assert [c[0] for c in got] == [22, 16, 16, 16, 20]  # NAV_TAKEOFF, three NAV_WAYPOINTs, RTL
    assert (picture["mode"], picture["armed"], picture["vehicle_type"]) == ("STABILIZE", False, "quadrotor")
