"""The SITL's socket side on real loopback sockets: UDP server, UDP out, TCP, several sysids, speed-up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sim.clock import SimClock
from sim.sitl import Decoder, Encoder, SitlEndpoint, Vehicle, VehicleConfig

LOOPBACK = "127.0.0.1"


class UdpGcs(asyncio.DatagramProtocol):
    """A GCS on a UDP socket: decodes everything it receives."""

    def __init__(self) -> None:
        self.decoder = Decoder()
        self.encoder = Encoder(255, 190)
        self.received: list[Any] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.extend(self.decoder.feed(data))

    def send(self, msg: Any, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(self.encoder.encode(msg), addr)


async def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def udp_gcs(port: int = 0) -> UdpGcs:
    loop = asyncio.get_running_loop()
    _, gcs = await loop.create_datagram_endpoint(UdpGcs, local_addr=(LOOPBACK, port))
    return gcs


def vehicles(*sysids: int, now: float) -> list[Vehicle]:
    return [Vehicle(VehicleConfig(sysid=s, gps_lock_s=0.0), now) for s in sysids]


def of(received: list[Any], kind: str, sysid: int | None = None) -> list[Any]:
    return [m for m in received if m.get_type() == kind and (sysid is None or m.get_srcSystem() == sysid)]


async def test_udp_server_answers_whoever_sends() -> None:
    clock = SimClock()
    async with SitlEndpoint(vehicles(1, now=clock()), clock) as endpoint:
        await endpoint.start(udp_port=0)
        assert endpoint.udp_address is not None and endpoint.udp_address[0] == LOOPBACK
        gcs = await udp_gcs()
        gcs.send(mavlink.MAVLink_heartbeat_message(6, 8, 0, 0, 0, 3), endpoint.udp_address)
        await wait_for(lambda: of(gcs.received, "HEARTBEAT"))
        gcs.send(mavlink.MAVLink_param_request_read_message(1, 1, b"RTL_ALT", -1), endpoint.udp_address)
        await wait_for(lambda: of(gcs.received, "PARAM_VALUE"))
        assert of(gcs.received, "PARAM_VALUE")[0].param_value == 1500
        gcs.transport.close()


async def test_udp_out_sends_to_a_configured_peer_and_hears_it() -> None:
    clock = SimClock()
    listener = await udp_gcs()  # like mavutil's udp: (it listens, the SITL sends to it)
    peer = listener.transport.get_extra_info("sockname")[:2]
    async with SitlEndpoint(vehicles(1, now=clock()), clock) as endpoint:
        await endpoint.start(udp_out=[peer])
        await wait_for(lambda: of(listener.received, "HEARTBEAT"))
        listener.send(mavlink.MAVLink_command_long_message(1, 1, 512, 0, 148, 0, 0, 0, 0, 0, 0), endpoint.udp_address)
        await wait_for(lambda: of(listener.received, "AUTOPILOT_VERSION"))
        assert of(listener.received, "COMMAND_ACK")[0].result == mavlink.MAV_RESULT_ACCEPTED
    listener.transport.close()


async def test_tcp_clients_each_get_the_stream_and_bad_bytes_are_dropped() -> None:
    clock = SimClock()
    async with SitlEndpoint(vehicles(1, now=clock()), clock) as endpoint:
        await endpoint.start(tcp_port=0)
        host, port = endpoint.tcp_address
        clients = [await asyncio.open_connection(host, port) for _ in range(2)]
        decoders = [Decoder(), Decoder()]
        received: list[list[Any]] = [[], []]

        async def read(k: int) -> None:
            reader = clients[k][0]
            while data := await reader.read(4096):
                received[k].extend(decoders[k].feed(data))

        readers = [asyncio.create_task(read(k)) for k in range(2)]
        try:
            writer = clients[0][1]
            garbage = b"\x00\xfd\x09garbage\xfe\x01" + bytes(range(256))
            set_speed = mavlink.MAVLink_param_set_message(1, 1, b"WPNAV_SPEED", 800, 9)
            writer.write(garbage)
            encoder = Encoder(255, 190)
            # a fake header in the garbage may announce a 255-byte payload: the parser resyncs once
            # that many bytes have arrived, so keep sending (bounded) until the vehicle answers
            async with asyncio.timeout(5):
                while not all(of(r, "PARAM_VALUE") for r in received):
                    writer.write(encoder.encode(set_speed))
                    await writer.drain()
                    await asyncio.sleep(0.05)
            for r in received:  # the echo goes to every GCS
                assert of(r, "PARAM_VALUE")[0].param_value == 800
                assert of(r, "HEARTBEAT")
        finally:
            for _, w in clients:
                w.close()
            for task in readers:
                await asyncio.wait_for(task, 5)


async def test_several_sysids_share_one_port_and_answer_only_for_themselves() -> None:
    clock = SimClock()
    async with SitlEndpoint(vehicles(1, 2, 3, now=clock()), clock) as endpoint:
        await endpoint.start(udp_port=0)
        gcs = await udp_gcs()
        gcs.send(mavlink.MAVLink_heartbeat_message(6, 8, 0, 0, 0, 3), endpoint.udp_address)
        await wait_for(lambda: {m.get_srcSystem() for m in of(gcs.received, "HEARTBEAT")} == {1, 2, 3})
        gcs.send(mavlink.MAVLink_param_request_read_message(2, 1, b"SYSID_THISMAV", -1), endpoint.udp_address)
        await wait_for(lambda: of(gcs.received, "PARAM_VALUE"))
        await asyncio.sleep(0.2)
        values = of(gcs.received, "PARAM_VALUE")
        assert [(m.get_srcSystem(), m.param_value) for m in values] == [(2, 2.0)]
        gcs.transport.close()


async def test_speedup_runs_the_vehicles_faster_than_real_time() -> None:
    clock = SimClock(speedup=5.0)
    async with SitlEndpoint(vehicles(1, now=clock()), clock) as endpoint:
        await endpoint.start(udp_port=0)
        gcs = await udp_gcs()
        gcs.send(mavlink.MAVLink_heartbeat_message(6, 8, 0, 0, 0, 3), endpoint.udp_address)
        await wait_for(lambda: len(of(gcs.received, "HEARTBEAT")) >= 2)
        start = time.monotonic()
        before = len(of(gcs.received, "HEARTBEAT"))
        await wait_for(lambda: len(of(gcs.received, "HEARTBEAT")) >= before + 10, 10)
        elapsed = time.monotonic() - start
        assert elapsed < 5.0  # ten 1 Hz heartbeats of simulated time in about two real seconds (10 s at 1x)
        gcs.transport.close()


async def test_aclose_twice_is_safe() -> None:
    clock = SimClock()
    endpoint = SitlEndpoint(vehicles(1, now=clock()), clock)
    await endpoint.start(udp_port=0, tcp_port=0)
    await endpoint.aclose()
    await endpoint.aclose()


def test_mavlink1_option_frames_with_the_v1_magic_and_skips_v2_only_messages() -> None:
    v1 = Encoder(1, 1, mavlink1=True)
    assert v1.encode(mavlink.MAVLink_heartbeat_message(2, 3, 0, 0, 0, 3))[0] == 0xFE
    assert v1.encode(mavlink.MAVLink_winch_status_message(0, 1, 0, 0, 0, 0, 0, 0)) == b""  # id 9005
    assert Encoder(1, 1).encode(mavlink.MAVLink_heartbeat_message(2, 3, 0, 0, 0, 3))[0] == 0xFD
