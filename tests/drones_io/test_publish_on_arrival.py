"""A new position goes into the picture as it arrives (when the vehicle's turn has come), not at the next tick.

Found by the incident benchmark: with vehicles published only by the ``publish_rate_hz`` tick, the
position a WebSocket client saw was already 0-100 ms old at 10 Hz telemetry before it even left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from drones import DroneService, DronesSection, EndpointConfig
from edge.journal import Journal
from edge.scene import Scene, Vehicle

LAT, LON = 36.7, 119.16


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    journal = Journal(tmp_path / "journal.sqlite", node_id="kit", synchronous="NORMAL")
    journal.open()
    try:
        yield journal
    finally:
        journal.close()


async def test_positions_go_in_on_arrival_at_most_publish_rate_hz(journal: Journal) -> None:
    clock = Clock()
    scene = Scene("kit", journal, clock=clock)
    service = DroneService(DronesSection(enabled=True, publish_rate_hz=2.0), node_id="kit", picture=scene, clock=clock)
    service.attach("radio", EndpointConfig(name="radio", kind="serial"), lambda _data: True, datagrams=False)
    mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)

    def send(msg: object, at: float) -> None:
        clock.now = at
        service.feed("radio", msg.pack(mav))  # type: ignore[attr-defined]

    async def position(north_e7: int, at: float) -> None:
        msg = mavlink.MAVLink_global_position_int_message(
            0, int(LAT * 1e7) + north_e7, int(LON * 1e7), 0, 0, 0, 0, 0, 0
        )
        send(msg, at)
        await asyncio.sleep(0)  # it goes in on the loop's next turn, after the frames in hand are routed

    def shown() -> tuple[int, float]:
        """(north of LAT in 1e-7 degree, ts) of the vehicle in the picture."""
        vehicle = scene.get("vehicle:kit:1")
        assert isinstance(vehicle, Vehicle) and vehicle.pos is not None
        return round(vehicle.pos.lat * 1e7) - round(LAT * 1e7), vehicle.ts

    start = clock.now
    send(mavlink.MAVLink_heartbeat_message(2, 3, 0x81, 4, 4, 3), start)  # an armed ArduCopter in GUIDED
    await position(1, start + 0.01)
    assert shown() == (1, start + 0.01)  # at once, no publish tick in between
    await position(2, start + 0.11)
    assert shown() == (1, start + 0.01)  # its turn has not come: 2 Hz at most
    await position(3, start + 0.45)
    clock.now = start + 0.505
    await service.publish()  # the tick leaves a vehicle whose positions stream in to their arrival
    assert shown() == (1, start + 0.01)
    await position(4, start + 0.55)
    assert shown() == (4, start + 0.55)  # its turn came: the newest position, as it arrived
    await position(5, start + 0.65)
    assert shown() == (4, start + 0.55)


async def test_the_tick_publishes_what_changed_without_a_position_on_its_turn(journal: Journal) -> None:
    clock = Clock()
    scene = Scene("kit", journal, clock=clock)
    service = DroneService(DronesSection(enabled=True, publish_rate_hz=2.0), node_id="kit", picture=scene, clock=clock)
    service.attach("radio", EndpointConfig(name="radio", kind="serial"), lambda _data: True, datagrams=False)
    mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
    start = clock.now
    service.feed("radio", mavlink.MAVLink_heartbeat_message(2, 3, 0x81, 4, 4, 3).pack(mav))
    service.feed(
        "radio",
        mavlink.MAVLink_global_position_int_message(0, int(LAT * 1e7), int(LON * 1e7), 0, 0, 0, 0, 0, 0).pack(mav),
    )
    await asyncio.sleep(0)  # the position goes in
    clock.now = start + 0.2
    service.feed("radio", mavlink.MAVLink_heartbeat_message(2, 3, 0x81, 5, 4, 3).pack(mav))  # LOITER
    await service.publish()
    vehicle = scene.get("vehicle:kit:1")
    assert isinstance(vehicle, Vehicle) and vehicle.mode == "GUIDED"  # not its turn yet
    clock.now = start + 0.5
    await service.publish()
    vehicle = scene.get("vehicle:kit:1")
    assert isinstance(vehicle, Vehicle) and (vehicle.mode, vehicle.ts) == ("LOITER", start + 0.5)
