"""The socket side: serves simulated vehicles over MAVLink on UDP and TCP (loopback by default).

UDP answers whoever sends to the bound port (as ArduPilot SITL's ``--serial0 udpserver``) and can
also send to configured peers (as ``--out udp:HOST:PORT``, what ``mavutil``'s ``udp:`` listeners
such as MAVProxy's and dronekit's ``--master=udp:`` expect). TCP accepts any number of clients.
Every vehicle's output goes to every peer; received messages go to every vehicle, each of which
keeps only what is addressed to it (target_system 0 or its sysid). Vehicles advance on a timer
(``loop.call_later``) reading the injected clock, so a :class:`~sim.clock.SimClock` with a speed-up
runs them faster than real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .codec import Decoder, Encoder
from .vehicle import Vehicle

log = logging.getLogger(__name__)

Address = tuple[str, int]

_MAX_UDP_PEERS = 16  # peers learnt from received datagrams; the oldest is forgotten first
_TCP_BUFFER_LIMIT = 256 * 1024  # telemetry to a TCP client that stops reading is dropped past this


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, endpoint: SitlEndpoint) -> None:
        self._endpoint = endpoint

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._endpoint._udp_received(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)  # e.g. ICMP port unreachable from a peer that went away


class SitlEndpoint:
    """One or more vehicles behind one UDP port and/or one TCP port."""

    def __init__(self, vehicles: Sequence[Vehicle], clock: Callable[[], float], tick_s: float = 0.02) -> None:
        if not vehicles:
            raise ValueError("an endpoint needs at least one vehicle")
        self.vehicles = list(vehicles)
        self._clock = clock
        self._tick_s = tick_s
        self._encoders = {id(v): Encoder(v.sysid, v.compid, v.config.mavlink1) for v in self.vehicles}
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_peers: OrderedDict[Address, Decoder] = OrderedDict()
        self._udp_outs: list[Address] = []
        self._tcp: asyncio.Server | None = None
        self._tcp_clients: dict[asyncio.StreamWriter, Decoder] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self.udp_address: Address | None = None
        self.tcp_address: Address | None = None

    async def start(
        self,
        udp_port: int | None = None,
        tcp_port: int | None = None,
        udp_out: Iterable[Address] = (),
        host: str = "127.0.0.1",
    ) -> None:
        """Bind the sockets (port 0 picks a free one) and start the vehicles' timer."""
        loop = asyncio.get_running_loop()
        self._udp_outs = list(udp_out)
        if udp_port is not None or self._udp_outs:
            transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=(host, udp_port or 0))
            self._udp = transport
            self.udp_address = transport.get_extra_info("sockname")[:2]
        if tcp_port is not None:
            self._tcp = await asyncio.start_server(self._tcp_client, host, tcp_port)
            self.tcp_address = self._tcp.sockets[0].getsockname()[:2]
        log.info("SITL sysids %s on udp=%s tcp=%s out=%s", [v.sysid for v in self.vehicles],
                 self.udp_address, self.tcp_address, self._udp_outs)  # fmt: skip
        self._timer = loop.call_later(self._tick_s, self._tick)

    async def aclose(self) -> None:
        """Stop the timer and close every socket (safe to call twice)."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._udp is not None:
            self._udp.close()
        for writer in list(self._tcp_clients):
            writer.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    async def __aenter__(self) -> SitlEndpoint:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- outgoing --------------------------------------------------------------------------------

    def _tick(self) -> None:
        try:
            now = self._clock()
            for vehicle in self.vehicles:
                self._send(vehicle, vehicle.step(now))
        finally:
            if not self._closed:
                self._timer = asyncio.get_running_loop().call_later(self._tick_s, self._tick)

    def _send(self, vehicle: Vehicle, messages: list[Any]) -> None:
        if not messages:
            return
        encoder = self._encoders[id(vehicle)]
        data = b"".join(encoder.encode(m) for m in messages)
        if self._udp is not None:
            for addr in {*self._udp_outs, *self._udp_peers}:
                self._udp.sendto(data, addr)
        for writer in list(self._tcp_clients):
            if writer.transport.get_write_buffer_size() < _TCP_BUFFER_LIMIT:
                writer.write(data)

    # --- incoming --------------------------------------------------------------------------------

    def _receive(self, decoder: Decoder, data: bytes) -> None:
        now = self._clock()
        for msg in decoder.feed(data):
            for vehicle in self.vehicles:
                self._send(vehicle, vehicle.handle(msg, now))

    def _udp_received(self, data: bytes, addr: Address) -> None:
        decoder = self._udp_peers.get(addr)
        if decoder is None:
            decoder = self._udp_peers[addr] = Decoder()
            log.info("UDP peer %s:%d", *addr)
            if len(self._udp_peers) > _MAX_UDP_PEERS:
                self._udp_peers.popitem(last=False)
        self._receive(decoder, data)

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        log.info("TCP client %s", peer)
        decoder = self._tcp_clients[writer] = Decoder()
        try:
            while data := await reader.read(4096):
                self._receive(decoder, data)
        except (ConnectionError, OSError) as exc:
            log.info("TCP client %s: %s", peer, exc)
        finally:
            self._tcp_clients.pop(writer, None)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            log.info("TCP client %s gone", peer)
