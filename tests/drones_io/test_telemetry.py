"""A scripted vehicle on real UDP: its Vehicle entity, link quality, alerts, and its .tlog."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from drones_io.mavpeer import COPTER_GUIDED, HOME, FakeVehicle, Rig, start_rig, stop_rig, until
from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from edge.scene import AlertStatus, Vehicle


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = await start_rig(tmp_path, [{"name": "veh", "kind": "udp-listen", "port": 0}], tlog_dir=str(tmp_path / "tlog"))
    try:
        yield rig
    finally:
        await stop_rig(rig)


async def vehicle_on(rig: Rig, sysid: int = 1) -> FakeVehicle:
    vehicle = FakeVehicle(sysid)
    await vehicle.udp(("127.0.0.1", await rig.port_of("veh")))
    return vehicle


def alerts_of(rig: Rig, entity_id: str) -> dict[str, Any]:
    """Alert records of one vehicle by condition key (the 4th part of a drone alert id)."""
    assert rig.node.scene is not None
    return {r.alert.id.split(":")[3]: r for r in rig.node.scene.alerts() if r.alert.entity_id == entity_id}


async def test_vehicle_appears_with_its_telemetry(rig: Rig) -> None:
    vehicle = await vehicle_on(rig)
    vehicle.custom_mode, vehicle.armed = COPTER_GUIDED, True
    vehicle.t.alt_rel_m = 12.5
    vehicle.telemetry()  # the first HEARTBEAT makes it a vehicle; what came before it is only routed
    home = mavlink.MAVLink_home_position_message(
        int(HOME[0] * 1e7), int(HOME[1] * 1e7), 27_500, 0, 0, 0, [1, 0, 0, 0], 0, 0, 0
    )
    vehicle.send(home)
    vehicle.send(mavlink.MAVLink_mission_current_message(3))

    def ready() -> Vehicle | None:
        v = rig.vehicle(1)
        return v if isinstance(v, Vehicle) and v.home is not None and v.mission_seq == 3 and v.yaw_deg else None

    v = await until(ready, what="vehicle 1 in the picture")
    assert v.id == "vehicle:kit-test:1" and v.origin == "kit-test" and v.sysid == 1
    assert (v.mode, v.armed, v.autopilot, v.vehicle_type) == ("GUIDED", True, "ardupilot", "quadrotor")
    assert v.pos is not None
    assert (v.pos.lat, v.pos.lon, v.pos.alt_msl_m, v.pos.alt_rel_m) == (HOME[0], HOME[1], 40.0, 12.5)
    assert (v.battery_v, v.battery_pct, v.battery_a) == (15.2, 87.0, 12.5)
    assert (v.gps_fix, v.satellites, v.ekf_ok) == ("3d", 14, True)
    assert (v.heading_deg, v.ground_speed_mps) == (90.0, 5.0)  # hypot(3, 4) m/s
    assert (v.roll_deg, v.pitch_deg, v.yaw_deg) == (5.73, -2.86, 90.0)
    assert v.home is not None and (v.home.lat, v.home.alt_msl_m) == (HOME[0], 27.5)
    assert v.link_ok and v.link_loss_pct == 0.0 and not v.tethered and v.tether_ceiling_m is None
    # fieldkit is a MAVLink participant: its own HEARTBEAT reaches the vehicle, as a GCS companion.
    ours = await until(lambda: vehicle.of_type("HEARTBEAT", 250), what="fieldkit's heartbeat")
    assert (ours[0].get_srcComponent(), ours[0].type, ours[0].autopilot) == (190, 6, 8)
    await vehicle.aclose()


async def test_a_ground_station_heartbeat_is_not_a_vehicle(rig: Rig) -> None:
    gcs = await vehicle_on(rig, sysid=255)
    gcs.heartbeat(mav_type=6, autopilot=8)
    vehicle = await vehicle_on(rig, sysid=2)
    vehicle.beat()
    await until(lambda: rig.vehicle(2), what="vehicle 2")
    assert rig.vehicle(255) is None
    await asyncio.gather(gcs.aclose(), vehicle.aclose())


async def test_link_loss_is_measured_from_sequence_gaps(rig: Rig) -> None:
    vehicle = await vehicle_on(rig)
    for i in range(100):
        if i % 4 == 3:
            vehicle.mav.seq = (vehicle.mav.seq + 1) % 256  # this frame "was lost" on the way
        vehicle.beat()
    # 100 frames arrived and 25 sequence numbers were skipped: 25 of 125 lost
    try:
        await until(lambda: (x := rig.vehicle(1)) is not None and x.link_loss_pct == 20.0, timeout=3)
    except AssertionError:
        raise AssertionError(f"link loss {rig.vehicle(1).link_loss_pct} %, not 20 %") from None
    await vehicle.aclose()


async def test_link_lost_alert_after_silence_and_cleared_when_heard_again(rig: Rig) -> None:
    vehicle = await vehicle_on(rig)
    vehicle.telemetry()
    entity_id = (await until(lambda: rig.vehicle(1), what="vehicle")).id
    lost = await until(lambda: alerts_of(rig, entity_id).get("link"), timeout=5, what="link lost alert")
    assert lost.status is AlertStatus.RAISED and lost.alert.title == "drone 1: link lost"
    assert rig.vehicle(1).link_ok is False
    vehicle.telemetry()
    cleared = await until(
        lambda: (r := alerts_of(rig, entity_id)["link"]).status is AlertStatus.CLEARED and r, what="link regained"
    )
    assert cleared.cleared_by == entity_id
    assert await until(lambda: rig.vehicle(1).link_ok, what="link_ok again")
    assert list(alerts_of(rig, entity_id)) == ["link"], "one alert for the episode, no other condition"
    await vehicle.aclose()


async def test_battery_gps_ekf_and_statustext_alerts(rig: Rig) -> None:
    vehicle = await vehicle_on(rig)
    vehicle.telemetry()
    entity_id = (await until(lambda: rig.vehicle(1), what="vehicle")).id
    vehicle.t.battery_pct, vehicle.t.fix_type, vehicle.t.ekf_flags = 12, 1, 0x400
    vehicle.send(mavlink.MAVLink_statustext_message(4, b"Bad compass health"))
    vehicle.send(mavlink.MAVLink_statustext_message(6, b"Just information"))
    vehicle.telemetry()
    keys = {"battery-low", "battery-critical", "gps", "ekf"}
    found = await until(lambda: keys <= set(alerts_of(rig, entity_id)) and alerts_of(rig, entity_id), what="alerts")
    texts = [r.alert.title for k, r in found.items() if k.startswith("text-")]
    assert texts == ["drone 1: Bad compass health"], "warning or worse only"
    assert found["battery-critical"].alert.severity.value == "emergency"
    vehicle.t.battery_pct, vehicle.t.fix_type, vehicle.t.ekf_flags = 16, 3, 0x33  # critical clears above 15 + 2 only
    vehicle.telemetry()
    await until(lambda: alerts_of(rig, entity_id)["gps"].status is AlertStatus.CLEARED, what="gps back")
    assert alerts_of(rig, entity_id)["ekf"].status is AlertStatus.CLEARED
    assert alerts_of(rig, entity_id)["battery-critical"].status is AlertStatus.RAISED, "hysteresis"
    vehicle.t.battery_pct = 18
    vehicle.telemetry()
    await until(
        lambda: alerts_of(rig, entity_id)["battery-critical"].status is AlertStatus.CLEARED, what="critical over"
    )
    assert alerts_of(rig, entity_id)["battery-low"].status is AlertStatus.RAISED
    await vehicle.aclose()


async def test_tlog_is_readable_by_mavutil(rig: Rig, tmp_path: Path) -> None:
    vehicle = await vehicle_on(rig)
    for _ in range(5):
        vehicle.telemetry()
    await until(lambda: (v := rig.vehicle(1)) is not None and v.pos is not None, what="vehicle")
    await until(lambda: len(vehicle.of_type("HEARTBEAT", 250)) >= 1, what="our heartbeat")
    rig.service.send(mavlink.MAVLink_command_long_message(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0))  # addressed to it
    await until(lambda: vehicle.commands, what="command at the vehicle")
    await stop_rig(rig)  # closes the log

    (path,) = (tmp_path / "tlog").glob("*.tlog")
    assert path.name.startswith("kit-test-") and path.name.endswith("-sys1.tlog")
    log = mavutil.mavlink_connection(str(path))
    seen = []
    while (msg := log.recv_match()) is not None:
        seen.append((msg.get_type(), msg.get_srcSystem(), msg._timestamp))
    kinds = [(kind, sysid) for kind, sysid, _ in seen]
    assert kinds.count(("HEARTBEAT", 1)) == 5 and kinds.count(("GLOBAL_POSITION_INT", 1)) == 5
    assert ("COMMAND_LONG", 250) in kinds and ("COMMAND_ACK", 1) in kinds
    assert ("HEARTBEAT", 250) not in kinds, "fieldkit's broadcast heartbeats are not this vehicle's traffic"
    stamps = [ts for _, _, ts in seen]
    assert stamps == sorted(stamps) and abs(stamps[-1] - rig.node.clock()) < 60
