"""Tethered drones (WINCH_STATUS and NAMED_VALUE_FLOAT) and geofence markers, over real UDP and the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from drones_io.mavpeer import HOME, FakeVehicle, Rig, keep_talking, start_rig, stop_rig, until
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from edge.auth import Role
from edge.scene import AlertStatus, Severity


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await start_rig(
        tmp_path,
        [{"name": "veh", "kind": "udp-listen", "port": 0}],
        tethered_sysids=[3],
        tether_max_length_m=50.0,
        tether_ceiling_margin_m=5.0,
        tether_tension_high_n=100.0,
    )
    try:
        yield rig
    finally:
        await stop_rig(rig)


async def talking(rig: Rig, sysid: int) -> tuple[FakeVehicle, asyncio.Task[None]]:
    vehicle = FakeVehicle(sysid)
    await vehicle.udp(("127.0.0.1", await rig.port_of("veh")))
    vehicle.beat()  # its first HEARTBEAT makes it a vehicle: what it sends before that is only routed
    return vehicle, asyncio.create_task(keep_talking(vehicle, 0.05))


async def silence(vehicle: FakeVehicle, task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await vehicle.aclose()


def alerts(rig: Rig, sysid: int) -> dict[str, Any]:
    assert rig.node.scene is not None
    entity = f"vehicle:kit-test:{sysid}"
    return {r.alert.id.split(":")[3]: r for r in rig.node.scene.alerts() if r.alert.entity_id == entity}


def named(name: bytes, value: float) -> Any:
    return mavlink.MAVLink_named_value_float_message(0, name, value)


async def test_tether_state_and_its_alerts(rig: Rig) -> None:
    vehicle, task = await talking(rig, 3)
    vehicle.t.power = 1.0
    vehicle.send(mavlink.MAVLink_winch_status_message(0, 20.0, 0.0, 5.0, 400.0, 2.0, 30, 1 | 8))
    vehicle.send(named(b"TETH_LEN", 21.0))  # the later report wins
    # Power comes with the vehicle's next telemetry round, which a published position may precede.
    v = await until(lambda: (x := rig.vehicle(3)) is not None and x.tether_length_m == 21.0 and x.tether_power and x)
    assert (v.tethered, v.tether_tension_n, v.tether_power, v.tether_v, v.tether_ceiling_m) == (
        True,
        49.0,  # 5 kg on the line (WINCH_STATUS says kg) is 49 N
        True,
        400.0,
        50.0,
    )
    assert not alerts(rig, 3)

    vehicle.send(named(b"TETH_TENS", 120.0))
    vehicle.t.power = 0.0
    vehicle.t.alt_rel_m = 46.0
    found = await until(lambda: {"tether-tension", "tether-power", "tether-ceiling"} <= set(a := alerts(rig, 3)) and a)
    assert found["tether-power"].alert.severity is Severity.EMERGENCY
    assert found["tether-ceiling"].alert.text == "46.0 m above home, tether ceiling 50 m"
    assert found["tether-tension"].alert.text == "tether tension 120 N (limit 100 N)"

    vehicle.send(named(b"TETH_TENS", 60.0))
    vehicle.t.power = 1.0
    vehicle.t.alt_rel_m = 30.0
    await until(lambda: all(r.status is AlertStatus.CLEARED for r in alerts(rig, 3).values()), what="all cleared")
    assert len(alerts(rig, 3)) == 3, "one alert per episode"
    await silence(vehicle, task)


async def test_an_untethered_vehicle_ignores_tether_values(rig: Rig) -> None:
    vehicle, task = await talking(rig, 1)
    vehicle.t.power = 0.0
    vehicle.t.alt_rel_m = 60.0
    vehicle.send(named(b"TETH_TENS", 500.0))
    v = await until(lambda: (x := rig.vehicle(1)) is not None and x.pos is not None and x.pos.alt_rel_m == 60 and x)
    assert (v.tethered, v.tether_tension_n, v.tether_power, v.tether_ceiling_m) == (False, None, None, None)
    await asyncio.sleep(0.3)  # a few publish ticks
    assert not any(k.startswith("tether") for k in alerts(rig, 1))
    await silence(vehicle, task)


async def test_geofence_breach_against_markers(rig: Rig) -> None:
    vehicle, task = await talking(rig, 2)
    lat, lon = HOME
    vehicle.t.lat, vehicle.t.lon = lat + 0.01, lon  # about 1.1 km north of the zone
    await until(lambda: (x := rig.vehicle(2)) is not None and x.pos is not None, what="vehicle")
    pilot = {"Authorization": f"Bearer {rig.tokens[Role.PILOT]}"}
    async with httpx.AsyncClient(base_url=rig.url, headers=pilot, timeout=10) as http:
        square = [
            [lat - 0.001, lon - 0.001],
            [lat - 0.001, lon + 0.001],
            [lat + 0.001, lon + 0.001],
            [lat + 0.001, lon - 0.001],
        ]
        zone = await http.post(
            "/api/markers", json={"name": "fire line", "shape": "polygon", "points": square, "category": "geofence"}
        )
        assert zone.status_code == 201, zone.text
        note = await http.post("/api/markers", json={"shape": "polygon", "points": square, "category": "annotation"})
        assert note.status_code == 201
        await asyncio.sleep(0.3)
        assert not alerts(rig, 2), "outside the zone"

        vehicle.t.lat = lat + 0.0005  # inside the square
        (key,) = await until(lambda: [k for k in alerts(rig, 2) if k.startswith("geofence-")], what="breach")
        breach = alerts(rig, 2)[key]
        assert breach.alert.title == "drone 2: inside geofence fire line"
        assert breach.alert.severity is Severity.EMERGENCY and breach.alert.pos is not None
        vehicle.t.lat = lat + 0.01
        await until(lambda: alerts(rig, 2)[key].status is AlertStatus.CLEARED, what="left the zone")

        circle = await http.post(
            "/api/markers",
            json={"shape": "circle", "points": [[lat, lon]], "radius_m": 200, "category": "geofence"},
        )
        vehicle.t.lat = lat + 0.0015  # ~167 m from the centre: in the circle, outside the square
        await until(lambda: sum(r.status is AlertStatus.RAISED for r in alerts(rig, 2).values()) == 1, what="circle")
        erased = await http.delete(f"/api/markers/{circle.json()['id']}")
        assert erased.status_code == 200
        await until(lambda: all(r.status is AlertStatus.CLEARED for r in alerts(rig, 2).values()), what="zone erased")
    await silence(vehicle, task)
