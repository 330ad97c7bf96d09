"""Scripted MAVLink peers for the drone tests: pymavlink's own MAVLink object on real loopback sockets.

A :class:`MavPeer` sends what the test tells it and records what it receives (decoded by
pymavlink, not by fieldkit). A :class:`FakeVehicle` also answers commands as its ``acks`` script
says (a MAV_RESULT, or None to stay silent) and applies accepted ones (arm, mode, takeoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from kit import kit_config
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from edge.auth import Role
from edge.node import EdgeNode

HOME = (36.70, 119.16)  # the sim's home, Weifang
COPTER_GUIDED = 4
COPTER_STABILIZE = 0


async def until(check: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.02)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, peer: MavPeer) -> None:
        self.peer = peer

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.peer.take(data)


class MavPeer:
    """A MAVLink participant on a loopback UDP or TCP socket."""

    def __init__(self, sysid: int, compid: int, name: str = "") -> None:
        self.name = name or f"peer {sysid}/{compid}"
        self.mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)
        self._parser = mavlink.MAVLink(None)
        self._parser.robust_parsing = True
        self.received: list[Any] = []
        self._udp: asyncio.DatagramTransport | None = None
        self._target: tuple[str, int] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self.sent = 0

    @property
    def sysid(self) -> int:
        return int(self.mav.srcSystem)

    async def udp(self, target: tuple[str, int] | None = None, *, port: int = 0) -> int:
        """Open a UDP socket on 127.0.0.1 (sending to ``target``); returns the local port."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=("127.0.0.1", port))
        self._udp = transport
        self._target = target
        return int(transport.get_extra_info("sockname")[1])

    async def tcp(self, host: str, port: int) -> None:
        """Connect over TCP and read in the background."""
        reader, self._writer = await asyncio.open_connection(host, port)
        self._reader_task = asyncio.create_task(self._read(reader))

    def adopt_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Use an accepted TCP connection (the peer is the server side)."""
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(4096):
            self.take(data)

    def take(self, data: bytes) -> None:
        for msg in self._parser.parse_buffer(data) or []:
            self.received.append(msg)
            self.on_message(msg)

    def on_message(self, msg: Any) -> None:
        """Called for every message received."""

    def send(self, msg: Any) -> bytes:
        """Encode ``msg`` with this peer's MAVLink object (its own sequence numbers) and send it."""
        raw = bytes(msg.pack(self.mav))
        self.mav.seq = (self.mav.seq + 1) % 256  # as MAVLink.send does; pack alone does not count
        self.send_raw(raw)
        return raw

    def send_raw(self, raw: bytes) -> None:
        self.sent += 1
        if self._udp is not None:
            assert self._target is not None, "a UDP peer needs a target to send to"
            self._udp.sendto(raw, self._target)
        else:
            assert self._writer is not None
            self._writer.write(raw)

    def heartbeat(self, *, mav_type: int = 6, autopilot: int = 8, base_mode: int = 0, custom_mode: int = 0) -> None:
        self.send(mavlink.MAVLink_heartbeat_message(mav_type, autopilot, base_mode, custom_mode, 4, 3))

    def of_type(self, kind: str, sysid: int | None = None) -> list[Any]:
        return [m for m in self.received if m.get_type() == kind and (sysid is None or m.get_srcSystem() == sysid)]

    async def aclose(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(BaseException):
                await self._reader_task


@dataclass
class Telemetry:
    """What the fake vehicle reports."""

    lat: float = HOME[0]
    lon: float = HOME[1]
    alt_msl_m: float = 40.0
    alt_rel_m: float = 0.0
    heading_deg: float = 90.0
    vx_mps: float = 3.0
    vy_mps: float = 4.0
    roll_rad: float = 0.1
    pitch_rad: float = -0.05
    yaw_rad: float = 1.5707963
    battery_v: float = 15.2
    battery_pct: int = 87
    battery_a: float = 12.5
    fix_type: int = 3
    satellites: int = 14
    ekf_flags: int = 0x1F | 0x20
    power: float | None = None  # tether ground power (NAMED_VALUE_FLOAT TETH_PWR), None: not sent


class FakeVehicle(MavPeer):
    """An ArduCopter-like vehicle that answers commands as its ``acks`` script says."""

    def __init__(self, sysid: int = 1, *, autopilot: int = 3, mav_type: int = 2) -> None:
        super().__init__(sysid, 1, f"vehicle {sysid}")
        self.autopilot = autopilot
        self.mav_type = mav_type
        self.custom_mode = COPTER_STABILIZE
        self.armed = False
        self.acks: dict[int, int | None] = {}  # MAV_CMD -> MAV_RESULT to answer (None: stay silent)
        self.commands: list[Any] = []  # every COMMAND_LONG / COMMAND_INT addressed to it
        self.obey_silently: set[int] = set()  # MAV_CMDs carried out without any COMMAND_ACK
        self.progress_s = 0.5  # after IN_PROGRESS, the final ACK comes this much later
        self.t = Telemetry()

    def on_message(self, msg: Any) -> None:
        kind = msg.get_type()
        if kind not in ("COMMAND_LONG", "COMMAND_INT") or msg.target_system not in (0, self.sysid):
            return
        self.commands.append(msg)
        result = self.acks.get(msg.command, 0)
        if msg.command in self.obey_silently:
            self._apply(msg)  # does it, says nothing (some autopilots do not ACK a mode change)
        if result is None:
            return
        if result == 0:
            self._apply(msg)
        src, comp = msg.get_srcSystem(), msg.get_srcComponent()
        self.send(mavlink.MAVLink_command_ack_message(msg.command, result, 0, 0, src, comp))
        if result == 5:  # IN_PROGRESS, then the final answer a little later
            final = mavlink.MAVLink_command_ack_message(msg.command, 0, 100, 0, src, comp)
            asyncio.get_running_loop().call_later(self.progress_s, lambda: (self._apply(msg), self.send(final)))

    def _apply(self, msg: Any) -> None:
        if msg.command == 400:
            self.armed = msg.param1 == 1
        elif msg.command == 176:
            self.custom_mode = int(msg.param2)
        elif msg.command == 22:
            self.t.alt_rel_m = msg.param7

    def beat(self) -> None:
        base = 1 | (128 if self.armed else 0)  # custom mode enabled, and the armed flag
        self.heartbeat(mav_type=self.mav_type, autopilot=self.autopilot, base_mode=base, custom_mode=self.custom_mode)

    def telemetry(self) -> None:
        t = self.t
        lat, lon = int(t.lat * 1e7), int(t.lon * 1e7)
        self.beat()
        mv, ca = int(t.battery_v * 1000), int(t.battery_a * 100)
        self.send(mavlink.MAVLink_sys_status_message(0, 0, 0, 500, mv, ca, t.battery_pct, 0, 0, 0, 0, 0, 0))
        alt_mm, rel_mm = int(t.alt_msl_m * 1000), int(t.alt_rel_m * 1000)
        gps = mavlink.MAVLink_gps_raw_int_message(0, t.fix_type, lat, lon, alt_mm, 80, 120, 500, 9000, t.satellites)
        self.send(gps)
        vx, vy, hdg = int(t.vx_mps * 100), int(t.vy_mps * 100), int(t.heading_deg * 100)
        self.send(mavlink.MAVLink_global_position_int_message(0, lat, lon, alt_mm, rel_mm, vx, vy, 0, hdg))
        self.send(mavlink.MAVLink_attitude_message(0, t.roll_rad, t.pitch_rad, t.yaw_rad, 0, 0, 0))
        self.send(mavlink.MAVLink_ekf_status_report_message(t.ekf_flags, 0.1, 0.1, 0.1, 0.1, 0))
        if t.power is not None:
            self.send(mavlink.MAVLink_named_value_float_message(0, b"TETH_PWR", t.power))


async def keep_talking(peer: FakeVehicle, interval_s: float = 0.1) -> None:
    """Send telemetry until cancelled (the test's fixture cancels it)."""
    while True:
        peer.telemetry()
        await asyncio.sleep(interval_s)


@dataclass
class Rig:
    """A node with drones enabled, serving its API, and a pilot's and a viewer's token."""

    node: EdgeNode
    task: asyncio.Task[None]
    tokens: dict[Role, str]

    @property
    def service(self) -> Any:
        assert self.node.drones is not None
        return self.node.drones

    @property
    def url(self) -> str:
        assert self.node.api_url is not None
        return self.node.api_url

    async def port_of(self, endpoint: str) -> int:
        runner = self.service.runner(endpoint)
        await asyncio.wait_for(runner.up.wait(), 10)
        assert runner.local_address is not None
        return int(runner.local_address[1])

    def vehicle(self, sysid: int) -> Any:
        assert self.node.scene is not None
        return self.node.scene.get(f"vehicle:{self.node.node_id}:{sysid}")


async def start_rig(tmp_path: Path, endpoints: list[dict[str, object]], **drones: object) -> Rig:
    """Start a node whose drone service serves ``endpoints`` (fast publishing and short timeouts)."""
    settings: dict[str, object] = {
        "enabled": True,
        "publish_rate_hz": 20.0,
        "link_lost_after_s": 1.0,
        "command_timeout_s": 0.3,
        "command_retries": 2,
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5,
        "endpoints": endpoints,
        **drones,
    }
    config = kit_config(tmp_path, drones=settings)
    assert msgspec.to_builtins(config.drones)["enabled"] is True
    node = EdgeNode(config)
    task = asyncio.create_task(node.run())
    await asyncio.wait_for(node.ready.wait(), 10)
    tokens = {role: node.tokens.create(role, f"{role.name.lower()} tester") for role in Role}
    return Rig(node, task, tokens)


async def stop_rig(rig: Rig) -> None:
    rig.node.stop()
    await asyncio.wait_for(rig.task, 10)
