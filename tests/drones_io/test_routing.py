"""The router inside the service, over real sockets: UDP peers, TCP both ways, serial on a pty, bad bytes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from drones_io.mavpeer import FakeVehicle, MavPeer, Rig, start_rig, stop_rig, until
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from drones import LinkState


def statustext(text: bytes) -> Any:
    return mavlink.MAVLink_statustext_message(4, text)


def texts(peer: MavPeer, sysid: int = 1) -> list[str]:
    return [m.text for m in peer.of_type("STATUSTEXT", sysid)]


def report(rig: Rig, endpoint: str) -> Any:
    return next(r for r in rig.service.links() if r.name == endpoint)


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[tuple[Rig, FakeVehicle, MavPeer, MavPeer, MavPeer]]:
    """A vehicle on its own port, two ground stations sharing one port, and a narrow link out."""
    narrow = MavPeer(200, 1, "narrow")
    narrow_port = await narrow.udp()
    rig = await start_rig(
        tmp_path,
        [
            {"name": "veh", "kind": "udp-listen", "port": 0},
            {"name": "gcs", "kind": "udp-listen", "port": 0},
            {"name": "narrow", "kind": "udp-connect", "port": narrow_port, "rate_msgs_per_s": 5.0},
        ],
    )
    vehicle = FakeVehicle(1)
    await vehicle.udp(("127.0.0.1", await rig.port_of("veh")))
    gcs_port = await rig.port_of("gcs")
    qgc, mavproxy = MavPeer(255, 190, "qgc"), MavPeer(254, 190, "mavproxy")
    for gcs in (qgc, mavproxy):
        await gcs.udp(("127.0.0.1", gcs_port))
        gcs.heartbeat()
    vehicle.beat()
    await until(lambda: len(report(rig, "gcs").peers) == 2 and rig.vehicle(1), what="peers and vehicle")
    vehicle.beat()  # now that every peer is known (datagrams to different ports may be read in any order)
    try:
        yield rig, vehicle, qgc, mavproxy, narrow
    finally:
        await asyncio.gather(*(p.aclose() for p in (vehicle, qgc, mavproxy, narrow)))
        await stop_rig(rig)


async def test_targeted_command_reaches_only_its_vehicle_and_broadcasts_reach_all(fleet: Any) -> None:
    rig, vehicle, qgc, mavproxy, narrow = fleet
    heard = await until(lambda: all(p.of_type("HEARTBEAT", 1) for p in (qgc, mavproxy, narrow)), what="broadcast")
    assert heard
    assert sorted(p.name for p in report(rig, "gcs").peers) == sorted(
        f"gcs@127.0.0.1:{p._udp.get_extra_info('sockname')[1]}" for p in (qgc, mavproxy)
    ), "each ground station on the shared port is its own route"

    qgc.send(mavlink.MAVLink_command_long_message(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0))
    (command,) = await until(lambda: vehicle.commands, what="command at the vehicle")
    assert (command.get_srcSystem(), command.command) == (255, 400)
    await until(lambda: qgc.of_type("COMMAND_ACK", 1), what="ack back at the sender")
    vehicle.send(statustext(b"after the command"))  # a broadcast after it: when this is in, so would be the rest
    await until(lambda: all("after the command" in texts(p) for p in (qgc, mavproxy, narrow)), what="marker")
    assert not mavproxy.of_type("COMMAND_LONG") and not narrow.of_type("COMMAND_LONG")
    assert not mavproxy.of_type("COMMAND_ACK") and not narrow.of_type("COMMAND_ACK"), "the ACK is for qgc only"
    mavproxy.heartbeat()  # a broadcast from a ground station reaches the vehicle and the other ground station
    await until(lambda: vehicle.of_type("HEARTBEAT", 254) and qgc.of_type("HEARTBEAT", 254), what="gcs broadcast")


async def test_rate_limit_thins_telemetry_on_the_narrow_link_only(fleet: Any) -> None:
    rig, vehicle, qgc, _, narrow = fleet
    await until(lambda: narrow.of_type("HEARTBEAT", 1), what="narrow link up")
    for i in range(50):
        vehicle.send(mavlink.MAVLink_attitude_message(i, 0.1, 0.2, 0.3, 0, 0, 0))
    vehicle.send(statustext(b"burst done"))  # CRITICAL priority: passes the limiter whatever the budget
    await until(lambda: all("burst done" in texts(p) for p in (qgc, narrow)), what="end of burst")
    assert len(qgc.of_type("ATTITUDE", 1)) == 50
    thin = len(narrow.of_type("ATTITUDE", 1))
    assert thin <= 5, f"{thin} ATTITUDE through a 5 msg/s link in one burst"
    (peer,) = report(rig, "narrow").peers
    assert peer.rate_dropped == 50 - thin, "every ATTITUDE not sent was counted"


async def test_garbage_truncated_and_bad_crc_are_counted_and_routing_goes_on(fleet: Any) -> None:
    rig, vehicle, qgc, _, _ = fleet
    good = bytes(mavlink.MAVLink_statustext_message(4, b"good").pack(vehicle.mav))
    bad_crc = bytearray(good)
    bad_crc[12] ^= 0xFF  # a payload byte changed on the way: the CRC no longer matches
    vehicle.send_raw(os.urandom(64).replace(b"\xfd", b"\x00").replace(b"\xfe", b"\x00"))  # noise, no start byte
    vehicle.send_raw(good[:9])  # truncated at the end of its datagram
    vehicle.send_raw(bytes(bad_crc))
    vehicle.send_raw(b"\x00\x01garbage" + good)  # noise, then a whole frame in the same datagram
    await until(lambda: "good" in texts(qgc), what="the good frame routed")
    (peer,) = report(rig, "veh").peers
    assert peer.framer["bad_crc"] == 1
    assert peer.framer["garbage_bytes"] == 64 + 9 + len(bad_crc) + 9, "every byte not in a frame is counted"
    for i in range(3):
        vehicle.send(statustext(f"after {i}".encode()))
    await until(lambda: {"after 0", "after 1", "after 2"} <= set(texts(qgc)), what="routing goes on")


async def test_tcp_server_serves_each_client_as_an_endpoint(tmp_path: Path) -> None:
    rig = await start_rig(
        tmp_path, [{"name": "veh", "kind": "udp-listen", "port": 0}, {"name": "tcp", "kind": "tcp-server", "port": 0}]
    )
    vehicle, gcs = FakeVehicle(1), MavPeer(255, 190, "tcp gcs")
    try:
        await vehicle.udp(("127.0.0.1", await rig.port_of("veh")))
        await gcs.tcp("127.0.0.1", await rig.port_of("tcp"))
        gcs.heartbeat()
        await until(lambda: report(rig, "tcp").peers, what="tcp client attached")
        vehicle.beat()
        await until(lambda: gcs.of_type("HEARTBEAT", 1), what="vehicle heartbeat over tcp")
        gcs.send(mavlink.MAVLink_command_long_message(1, 1, 20, 0, 0, 0, 0, 0, 0, 0, 0))
        await until(lambda: gcs.of_type("COMMAND_ACK", 1), what="rtl acked over tcp")
        await gcs.aclose()
        await until(lambda: not report(rig, "tcp").peers, what="client gone, endpoint removed")
    finally:
        await asyncio.gather(vehicle.aclose(), gcs.aclose())
        await stop_rig(rig)


async def test_tcp_client_reconnects_with_backoff(tmp_path: Path) -> None:
    """fieldkit dials a vehicle's TCP port (as SITL's tcp:5760); a dropped connection is dialled again."""
    vehicles: list[FakeVehicle] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        vehicle = FakeVehicle(7)
        vehicle.adopt_stream(reader, writer)
        vehicles.append(vehicle)
        vehicle.telemetry()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    rig = await start_rig(tmp_path, [{"name": "sitl", "kind": "tcp-client", "port": port}])
    try:
        await until(lambda: rig.vehicle(7), what="vehicle over tcp")
        runner = rig.service.runner("sitl")
        await vehicles[0].aclose()  # the vehicle side drops the connection
        await until(lambda: len(vehicles) == 2, what="dialled again")
        await until(lambda: runner.state is LinkState.UP, what="up again")
        assert runner.history[:5] == [
            LinkState.STOPPED,
            LinkState.CONNECTING,
            LinkState.UP,
            LinkState.BACKOFF,
            LinkState.CONNECTING,
        ]
        assert runner.failures == 1 and "closed by the other end" in (runner.last_error or "")
        await until(lambda: vehicles[1].of_type("HEARTBEAT", 250), what="fieldkit heartbeat on the new connection")
    finally:
        for v in vehicles:
            await v.aclose()
        server.close()
        await stop_rig(rig)


async def test_serial_link_on_a_pseudo_terminal(tmp_path: Path) -> None:
    master, slave = os.openpty()
    rig = await start_rig(tmp_path, [{"name": "radio", "kind": "serial", "device": os.ttyname(slave), "baud": 57600}])
    vehicle = FakeVehicle(3)
    vehicle.send_raw = lambda raw: os.write(master, raw)  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    os.set_blocking(master, False)
    loop.add_reader(master, lambda: vehicle.take(os.read(master, 4096)))
    try:
        await asyncio.wait_for(rig.service.runner("radio").up.wait(), 10)
        vehicle.telemetry()
        v = await until(
            lambda: (x := rig.vehicle(3)) is not None and x.pos is not None and x, what="vehicle over serial"
        )
        assert v.battery_pct == 87.0
        await until(lambda: vehicle.of_type("HEARTBEAT", 250), what="fieldkit heartbeat down the serial line")
    finally:
        loop.remove_reader(master)
        await stop_rig(rig)
        os.close(master)
        os.close(slave)
