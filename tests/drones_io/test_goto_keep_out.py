"""A go-to whose straight path crosses a keep-out zone raises an alert (the command still goes out),
with the API, our drone service and a scripted vehicle on real UDP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from drones_io.mavpeer import HOME, FakeVehicle, Rig, keep_talking, start_rig, stop_rig, until

from edge.auth import Role

REPOSITION = 192
VEHICLE = "vehicle:kit-test:1"


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
    vehicle.t.lat, vehicle.t.lon = HOME
    await vehicle.udp(("127.0.0.1", await rig.port_of("veh")))
    talking = asyncio.create_task(keep_talking(vehicle, 0.05))
    await until(lambda: (v := rig.vehicle(1)) is not None and v.pos is not None, what="vehicle in the picture")
    try:
        yield vehicle
    finally:
        talking.cancel()
        await asyncio.gather(talking, return_exceptions=True)
        await vehicle.aclose()


def square(lat: float, lon: float, half: float = 0.001) -> list[list[float]]:
    return [[lat - half, lon - half], [lat - half, lon + half], [lat + half, lon + half], [lat + half, lon - half]]


async def test_goto_across_a_keep_out_zone_raises_an_alert(rig: Rig, vehicle: FakeVehicle) -> None:
    lat, lon = HOME
    pilot = {"Authorization": f"Bearer {rig.tokens[Role.PILOT]}"}
    async with httpx.AsyncClient(base_url=rig.url, headers=pilot, timeout=10) as http:
        zones = {
            "keep out": {"fence_entry": True, "fence_for": "drones"},
            "units only": {"fence_entry": True, "fence_for": "units"},
            "keep in": {"fence_exit": True},
        }
        for name, rules in zones.items():  # all three straddle the path north
            body = {"name": name, "shape": "polygon", "points": square(lat + 0.005, lon), **rules}
            assert (await http.post("/api/markers", json=body)).status_code == 201

        east = await http.post(
            f"/api/vehicles/{VEHICLE}/commands", json={"command": "goto", "lat": lat, "lon": lon + 0.01, "alt_m": 30}
        )
        assert east.status_code == 200, east.text
        assert (await http.get("/api/alerts")).json() == []  # that path is clear

        north = await http.post(
            f"/api/vehicles/{VEHICLE}/commands", json={"command": "goto", "lat": lat + 0.01, "lon": lon, "alt_m": 30}
        )
        assert north.status_code == 200, north.text  # warned, not refused: the pilot decides
        (record,) = (await http.get("/api/alerts")).json()
    alert = record["alert"]
    assert (alert["entity_id"], alert["severity"]) == (VEHICLE, "warning")
    assert alert["title"].endswith("go-to crosses keep-out zone keep out")
    assert "pilot tester" in alert["text"]
    assert [c.command for c in vehicle.commands] == [REPOSITION, REPOSITION]
