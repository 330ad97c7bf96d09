"""Commands from the API to a scripted vehicle on real UDP: named results, retries, audit, roles."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from drones_io.mavpeer import COPTER_GUIDED, FakeVehicle, Rig, keep_talking, start_rig, stop_rig, until

from drones import CommandRequest
from edge.auth import Role

ARM, TAKEOFF, SET_MODE, REPOSITION, RTL, LAND = 400, 22, 176, 192, 20, 21
COPTER_RTL = 6


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await start_rig(tmp_path, [{"name": "veh", "kind": "udp-listen", "port": 0}])
    try:
        yield rig
    finally:
        await stop_rig(rig)


@pytest.fixture
async def vehicle(rig: Rig) -> AsyncIterator[FakeVehicle]:
    vehicle = FakeVehicle(1)
    await vehicle.udp(("127.0.0.1", await rig.port_of("veh")))
    talking = asyncio.create_task(keep_talking(vehicle, 0.05))
    await until(lambda: (v := rig.vehicle(1)) is not None and v.pos is not None, what="vehicle in the picture")
    try:
        yield vehicle
    finally:
        talking.cancel()
        await asyncio.gather(talking, return_exceptions=True)
        await vehicle.aclose()


def client(rig: Rig, role: Role | None = Role.PILOT) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {rig.tokens[role]}"} if role else {}
    return httpx.AsyncClient(base_url=rig.url, headers=headers, timeout=10)


async def command(rig: Rig, body: dict[str, Any], *, role: Role | None = Role.PILOT, sysid: int = 1) -> httpx.Response:
    async with client(rig, role) as http:
        return await http.post(f"/api/vehicles/vehicle:kit-test:{sysid}/commands", json=body)


async def audits(rig: Rig) -> list[dict[str, Any]]:
    async with client(rig) as http:
        r = await http.get("/api/events", params={"since": 0, "kind": "audit"})
    r.raise_for_status()
    return [e for e in r.json() if e["action"].startswith("drone ")]


async def test_arm_accepted(rig: Rig, vehicle: FakeVehicle) -> None:
    r = await command(rig, {"command": "arm"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["result"], body["command"], body["vehicle_id"]) == ("accepted", "arm", "vehicle:kit-test:1")
    assert body["steps"] == [{"step": "arm", "result": "accepted", "attempts": 1}]
    (sent,) = vehicle.commands
    assert (sent.get_type(), sent.command, sent.param1, sent.confirmation) == ("COMMAND_LONG", ARM, 1.0, 0)
    assert (sent.get_srcSystem(), sent.get_srcComponent(), sent.target_component) == (250, 190, 1)
    await until(lambda: rig.vehicle(1).armed, what="armed in the picture")
    (audit,) = await audits(rig)
    assert (audit["actor"], audit["action"], audit["target"], audit["result"]) == (
        "pilot tester",
        "drone arm",
        "vehicle:kit-test:1",
        "accepted",
    )


@pytest.mark.parametrize(
    ("mav_result", "status", "name"),
    [(2, 409, "denied"), (1, 409, "temporarily_rejected"), (3, 409, "unsupported"), (4, 409, "failed")],
)
async def test_refusals_are_named(rig: Rig, vehicle: FakeVehicle, mav_result: int, status: int, name: str) -> None:
    vehicle.acks[ARM] = mav_result
    r = await command(rig, {"command": "arm"})
    assert (r.status_code, r.json()["result"]) == (status, name)
    assert len(vehicle.commands) == 1, "an answer, even a refusal, ends the exchange"
    assert [a["result"] for a in await audits(rig)] == [name]


async def test_silence_is_retried_with_confirmation_then_timeout(rig: Rig, vehicle: FakeVehicle) -> None:
    vehicle.acks[ARM] = None
    r = await command(rig, {"command": "arm"})
    assert (r.status_code, r.json()["result"]) == (504, "timeout")
    assert r.json()["steps"] == [{"step": "arm", "result": "timeout", "attempts": 3}]
    assert [c.confirmation for c in vehicle.commands] == [0, 1, 2], "command_retries = 2, confirmation counted up"
    assert [a["result"] for a in await audits(rig)] == ["timeout"]


async def test_in_progress_waits_for_the_final_ack_without_resending(rig: Rig, vehicle: FakeVehicle) -> None:
    vehicle.acks[RTL] = 5  # IN_PROGRESS now, ACCEPTED 0.5 s later: past the 0.3 s timeout
    r = await command(rig, {"command": "rtl"})
    assert (r.status_code, r.json()["result"]) == (200, "accepted")
    assert len(vehicle.commands) == 1


async def test_takeoff_is_guided_arm_takeoff_for_arducopter(rig: Rig, vehicle: FakeVehicle) -> None:
    r = await command(rig, {"command": "takeoff", "alt_m": 20})
    assert r.status_code == 200, r.text
    assert [s["step"] for s in r.json()["steps"]] == ["set mode GUIDED", "arm", "takeoff to 20 m"]
    assert [c.command for c in vehicle.commands] == [SET_MODE, ARM, TAKEOFF]
    mode, _, takeoff = vehicle.commands
    assert (mode.param1, mode.param2) == (1.0, float(COPTER_GUIDED))
    assert takeoff.param7 == 20.0
    v = await until(lambda: (x := rig.vehicle(1)).pos.alt_rel_m == 20.0 and x, what="climbed")
    assert (v.mode, v.armed) == ("GUIDED", True)


async def test_takeoff_stops_at_the_first_refused_step(rig: Rig, vehicle: FakeVehicle) -> None:
    vehicle.acks[ARM] = 2
    r = await command(rig, {"command": "takeoff", "alt_m": 10})
    assert (r.status_code, r.json()["result"]) == (409, "denied")
    assert [c.command for c in vehicle.commands] == [SET_MODE, ARM], "no takeoff after a refused arm"
    assert r.json()["detail"] == "set mode GUIDED: accepted; arm: denied"


async def test_mode_by_name_confirmed_by_heartbeat_when_not_acked(rig: Rig, vehicle: FakeVehicle) -> None:
    vehicle.acks[SET_MODE] = None
    vehicle.obey_silently.add(SET_MODE)
    r = await command(rig, {"command": "mode", "mode": "rtl"})
    assert (r.status_code, r.json()["result"]) == (200, "accepted")
    assert vehicle.commands[0].param2 == float(COPTER_RTL)


async def test_goto_is_do_reposition_as_command_int(rig: Rig, vehicle: FakeVehicle) -> None:
    r = await command(rig, {"command": "goto", "lat": 36.705, "lon": 119.165, "alt_m": 30})
    assert r.status_code == 200, r.text
    (sent,) = vehicle.commands
    assert (sent.get_type(), sent.command, sent.frame) == ("COMMAND_INT", REPOSITION, 6)  # relative altitude
    assert (sent.x, sent.y, sent.z, sent.param2) == (367_050_000, 1_191_650_000, 30.0, 1.0)


async def test_land_and_rtl(rig: Rig, vehicle: FakeVehicle) -> None:
    for name, cmd in (("land", LAND), ("rtl", RTL)):
        r = await command(rig, {"command": name})
        assert (r.status_code, r.json()["result"], vehicle.commands[-1].command) == (200, "accepted", cmd)


async def test_viewer_gets_403_and_nothing_reaches_the_vehicle(rig: Rig, vehicle: FakeVehicle) -> None:
    for body in ({"command": "arm"}, {"command": "takeoff", "alt_m": 5}, {"command": "rtl"}):
        assert (await command(rig, body, role=Role.VIEWER)).status_code == 403
        assert (await command(rig, body, role=None)).status_code == 401
    async with client(rig, Role.VIEWER) as http:
        listed = (await http.get("/api/vehicles")).json()
    assert [v["id"] for v in listed] == ["vehicle:kit-test:1"], "a viewer may look"
    beats = len(vehicle.of_type("HEARTBEAT", 250))
    await until(lambda: len(vehicle.of_type("HEARTBEAT", 250)) > beats + 1, what="two more of our heartbeats")
    assert vehicle.commands == [] and await audits(rig) == []


async def test_unknown_vehicle_is_404_and_bad_requests_are_400(rig: Rig, vehicle: FakeVehicle) -> None:
    r = await command(rig, {"command": "arm"}, sysid=9)
    assert (r.status_code, r.json()["result"]) == (404, "no_vehicle")
    bad = {
        "takeoff needs alt_m": {"command": "takeoff"},
        "goto needs lon": {"command": "goto", "lat": 36.7},
        "alt_m does not apply to arm": {"command": "arm", "alt_m": 3},
        "no mode 'FLYHIGH' on this vehicle": {"command": "mode", "mode": "FLYHIGH"},
        "takeoff needs alt_m above 0": {"command": "takeoff", "alt_m": 0},
    }
    for reason, body in bad.items():
        r = await command(rig, body)
        assert r.status_code == 400 and reason in r.json()["detail"], (body, r.text)
    for body in ({"command": "fly"}, {"command": "arm", "force": True}, {"command": "goto", "lat": 91, "lon": 0}):
        assert (await command(rig, body)).status_code == 400, body
    assert vehicle.commands == []
    assert [a["result"] for a in await audits(rig)] == ["no_vehicle"]


async def test_link_report_over_the_api(rig: Rig, vehicle: FakeVehicle) -> None:
    async with client(rig, Role.VIEWER) as http:
        (link,) = (await http.get("/api/drones/links")).json()
    assert (link["name"], link["kind"], link["state"], link["failures"]) == ("veh", "udp-listen", "up", 0)
    (peer,) = link["peers"]
    assert peer["frames_in"] > 0 and [1, 1] in peer["systems"] and peer["framer"]["bad_crc"] == 0
    assert link["dropped"] == {"kernel": 0, "queue": 0}


async def test_datagrams_the_kernel_dropped_while_the_node_was_busy_are_counted(rig: Rig) -> None:
    port = await rig.port_of("veh")
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # The node runs on this loop: while this sends (no await), nothing reads. ~20,000 datagrams
        # are far more than the 1 MiB receive buffer (doubled by the kernel) holds.
        for k in range(20_000):
            sender.sendto(b"\xfd" + k.to_bytes(4, "big") * 16, ("127.0.0.1", port))
        await asyncio.sleep(0.5)  # the node drains what the kernel kept
        sender.sendto(b"after", ("127.0.0.1", port))  # the kernel's count rides on the next datagram read
        async with client(rig, Role.VIEWER) as http:
            for _ in range(50):
                (link,) = (await http.get("/api/drones/links")).json()
                if link["dropped"]["kernel"]:
                    break
                await asyncio.sleep(0.1)
            metrics = (await http.get("/metrics")).text
        assert 0 < link["dropped"]["kernel"] < 20_000, link
        line = f'fieldkit_drone_link_dropped_total{{link="veh",where="kernel"}} {float(link["dropped"]["kernel"])}'
        assert line in metrics
    finally:
        sender.close()


async def test_a_command_cut_short_is_still_audited(rig: Rig, vehicle: FakeVehicle) -> None:
    vehicle.acks[ARM] = None
    task = asyncio.create_task(rig.service.command("vehicle:kit-test:1", CommandRequest(command="arm"), actor="script"))
    await until(lambda: vehicle.commands, what="arm sent")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (audit,) = await audits(rig)
    assert (audit["actor"], audit["action"], audit["result"]) == ("script", "drone arm", "cancelled")
