"""Every adapter's link flaps, over and over, and recovers each time without a restart of the node.

- the radio gateway's serial cable (the simulated gateway's pty) is pulled and plugged back: the
  gateway reconnects and positions flow again;
- a drone's MAVLink link is lost, over UDP (the vehicle goes silent) and over TCP (its server goes
  away and comes back on the same port): the vehicle shows ``link_ok`` false, then true, and its
  telemetry moves the picture again;
- a camera stalls (the sim camera produces nothing): the feed shows ``stalled``, then ``live``.

One node per adapter runs in this process for the whole test; each cycle's recovery time (from the
link coming back until data flows again) goes into the campaign's record.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from campaign import Tally, cycles
from drones_io.mavpeer import FakeVehicle, keep_talking, start_rig, stop_rig
from kit import kit_config, start_local, stop_local
from meshkit import eventually, free_port
from whep_client import SIM_FEED

from edge.node import EdgeNode
from edge.radio import Fix, FixMode
from edge.radio.gateway import RadioGateway
from edge.scene import Feed, Unit, Vehicle
from sim import PdtGatewayEmulator, RadioWorld, Scenario
from sim.sides import side_for

QUIET = 1e6  # the simulated radios' own traffic is pushed far ahead: the test scripts every fix


def fix(lat: float) -> Fix:
    return Fix(
        unit="1001", ts=time.time(), lat=lat, lon=119.16, alt_msl_m=31.0, speed_mps=1.5, course_deg=45.0,
        mode=FixMode.THREE_D, satellites=9,
    )  # fmt: skip


async def test_the_radio_gateway_reconnects_after_each_serial_unplug(tmp_path: Path, tally: Tally) -> None:
    tally.name = "radio gateway serial unplug/replug (pty)"
    quiet = {"report_interval_s": QUIET, "alarm_interval_s": QUIET, "message_interval_s": QUIET}
    world = RadioWorld(Scenario(units=2, call_interval_s=QUIET, framing="hytera", **quiet), start=time.time())
    emulator = PdtGatewayEmulator(world, side_for("hytera", None), tmp_path / "ttyPDT0", clock=time.time, tick_s=0.05)
    device = emulator.plug()
    config = kit_config(tmp_path, radio={"enabled": True, "framing": "hytera", "device": str(device)})
    node, task = await start_local(config)
    try:
        gateway = next(s.component for s in node.supervised if isinstance(s.component, RadioGateway))
        await eventually(gateway.connected.is_set, 10, "the gateway connects")
        for cycle in range(cycles()):
            emulator.unplug()
            await eventually(lambda: not gateway.connected.is_set(), 10, f"cycle {cycle}: the unplug is noticed")
            emulator.plug()
            plugged = time.monotonic()
            lat = 36.70 + 0.0001 * (cycle + 1)

            def moved(lat: float = lat) -> bool:
                emulator.emit(fix(lat))  # as a radio reporting once a poll: until one gets through
                unit = node.scene.get("unit:pdt:1001") if node.scene else None
                return isinstance(unit, Unit) and unit.pos is not None and abs(unit.pos.lat - lat) < 1e-6

            await eventually(moved, 60, f"cycle {cycle}: positions flow again", interval=0.2)
            tally.recovery_s.append(time.monotonic() - plugged)
            tally.cycles += 1
        assert node.ready.is_set() and not task.done(), "the node itself never stopped"
    finally:
        await stop_local(node, task)
        emulator.unplug()


class TcpVehicle:
    """A vehicle serving MAVLink on a TCP port (as SITL does) that can go away and come back on it."""

    def __init__(self, sysid: int, port: int) -> None:
        self.sysid = sysid
        self.port = port
        self.peer: FakeVehicle | None = None
        self._server: asyncio.Server | None = None
        self._talk: asyncio.Task[None] | None = None

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.peer is not None:  # one ground link at a time: a new one replaces the old
            await self._drop_peer()
        self.peer = FakeVehicle(self.sysid)
        self.peer.adopt_stream(reader, writer)
        self._talk = asyncio.create_task(keep_talking(self.peer))

    async def _drop_peer(self) -> None:
        if self._talk is not None:
            self._talk.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._talk
        if self.peer is not None:
            await self.peer.aclose()
        self.peer, self._talk = None, None

    async def down(self) -> None:
        """The link is gone: the server stops listening and the connection is closed."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._drop_peer()


async def test_mavlink_links_lost_and_back_show_link_ok_and_telemetry_resumes(tmp_path: Path, tally: Tally) -> None:
    tally.name = "MAVLink link loss (UDP silence, TCP server gone) and back"
    tcp_port = free_port()
    endpoints = [
        {"name": "radio-udp", "kind": "udp-listen", "port": 0},
        {"name": "radio-tcp", "kind": "tcp-client", "host": "127.0.0.1", "port": tcp_port},
    ]
    rig = await start_rig(tmp_path, endpoints)
    udp_vehicle = FakeVehicle(1)
    tcp_vehicle = TcpVehicle(2, tcp_port)
    talking: asyncio.Task[None] | None = None
    try:
        await udp_vehicle.udp(("127.0.0.1", await rig.port_of("radio-udp")))
        await tcp_vehicle.up()
        talking = asyncio.create_task(keep_talking(udp_vehicle))
        await eventually(lambda: link_ok(rig.vehicle(1)) and link_ok(rig.vehicle(2)), 15, "both vehicles up")
        for cycle in range(cycles()):
            talking.cancel()  # the UDP vehicle goes silent
            await tcp_vehicle.down()
            await eventually(
                lambda: link_ok(rig.vehicle(1)) is False and link_ok(rig.vehicle(2)) is False,
                10,
                f"cycle {cycle}: both links shown lost",
            )
            seen = {sysid: rig.vehicle(sysid).ts for sysid in (1, 2)}
            talking = asyncio.create_task(keep_talking(udp_vehicle))
            await tcp_vehicle.up()
            back = time.monotonic()
            await eventually(
                lambda s=seen: all(link_ok(rig.vehicle(i)) and rig.vehicle(i).ts > s[i] for i in (1, 2)),
                15,
                f"cycle {cycle}: link_ok again and telemetry moving",
            )
            tally.recovery_s.append(time.monotonic() - back)
            tally.cycles += 1
        assert rig.node.ready.is_set() and not rig.task.done()
    finally:
        if talking is not None:
            talking.cancel()
        await tcp_vehicle.down()
        await udp_vehicle.aclose()
        await stop_rig(rig)


def link_ok(vehicle: Any) -> bool | None:
    return vehicle.link_ok if isinstance(vehicle, Vehicle) else None


async def test_a_stalled_camera_shows_stalled_then_live_each_time(tmp_path: Path, tally: Tally) -> None:
    tally.name = "video source stall (sim camera paused) and back"
    config = kit_config(tmp_path, media={"feeds": [SIM_FEED], "stall_s": 1.0})
    node, task = await start_local(config)
    try:
        assert node.media is not None
        camera = node.media.feeds["cam1"].source
        state = feed_state(node)
        await eventually(lambda: state() == "live", 20, "the feed is live")
        for cycle in range(cycles()):
            camera.paused = True  # type: ignore[attr-defined]
            await eventually(lambda: state() == "stalled", 10, f"cycle {cycle}: shown stalled")
            camera.paused = False  # type: ignore[attr-defined]
            back = time.monotonic()
            await eventually(lambda: state() == "live", 10, f"cycle {cycle}: live again")
            tally.recovery_s.append(time.monotonic() - back)
            tally.cycles += 1
        assert node.media.feeds["cam1"].restarts == 0, "the source itself was never restarted"
    finally:
        await stop_local(node, task)


def feed_state(node: EdgeNode) -> Callable[[], str | None]:
    def state() -> str | None:
        feed = node.scene.get(f"feed:{node.node_id}:cam1") if node.scene else None
        return feed.state if isinstance(feed, Feed) else None

    return state
