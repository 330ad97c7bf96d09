"""A bad link for tests: a loopback relay between a vehicle and a node that damages what the vehicle sends.

The damage is a fixed pattern over the vehicle's datagrams (UDP) or read chunks (TCP), so a run is
repeatable: a flipped byte (a bad CRC), bytes cut out (a truncated frame), and garbage inserted
(random bytes seeded, starting with a false MAVLink 2 start marker). What the node sends goes to the
vehicle untouched. ``paused`` holds the vehicle's bytes back (dropped), so a test can compare the
relay's count of bytes delivered with the node's counters once nothing is in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import cast

Address = tuple[str, int]
PERIOD = 7  # one datagram or chunk in PERIOD is flipped, one is cut, one is preceded by garbage
GARBAGE_LEN = 48


class Damage:
    """The damage pattern and its tally."""

    def __init__(self, seed: int = 3) -> None:
        self.done: Counter[str] = Counter()
        self.garbage_bytes = 0  # bytes inserted that were never part of a frame
        self.delivered_bytes = 0  # everything handed to the node, garbage included
        self._rng = random.Random(seed)
        self._k = 0

    def garbage(self) -> bytes:
        data = b"\xfd" + self._rng.randbytes(GARBAGE_LEN - 1)
        self.garbage_bytes += len(data)
        self.done["garbage"] += 1
        return data

    def apply(self, data: bytes, *, stream: bool) -> list[bytes]:
        """What to deliver for one datagram or chunk from the vehicle."""
        k, self._k = self._k % PERIOD, self._k + 1
        out = [data]
        if k == 2 and len(data) > 12:
            # UDP: the last byte is the last frame's CRC; TCP: a byte somewhere inside a frame
            at = len(data) // 2 if stream else len(data) - 1
            out = [data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1 :]]
            self.done["flipped"] += 1
        elif k == 4 and len(data) > 12:
            # UDP: the last frame loses its tail; TCP: a frame loses 7 bytes from its middle
            out = [data[: len(data) // 2] + data[len(data) // 2 + 7 :]] if stream else [data[:-6]]
            self.done["cut"] += 1
        elif k == 6 and stream:
            out = [data[: len(data) // 2] + self.garbage() + data[len(data) // 2 :]]
        elif k == 6:
            out = [self.garbage(), data]  # a datagram of its own
        self.delivered_bytes += sum(map(len, out))
        return out


class UdpRelay(asyncio.DatagramProtocol):
    """One loopback UDP port: datagrams from ``vehicle`` go (damaged) to whoever else spoke last."""

    def __init__(self, vehicle: Address) -> None:
        self.vehicle = vehicle
        self.damage = Damage()
        self.paused = False
        self.node: Address | None = None
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # 3.11's selector transport is not a subclass

    def datagram_received(self, data: bytes, addr: Address) -> None:
        assert self.transport is not None
        addr = (addr[0], addr[1])
        if addr != self.vehicle:
            self.node = addr
            self.transport.sendto(data, self.vehicle)
        elif self.node is not None and not self.paused:
            for datagram in self.damage.apply(data, stream=False):
                self.transport.sendto(datagram, self.node)

    @property
    def address(self) -> Address:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)


@contextlib.asynccontextmanager
async def udp_relay(vehicle: Address) -> AsyncIterator[UdpRelay]:
    """A :class:`UdpRelay` bound on loopback for the block."""
    loop = asyncio.get_running_loop()
    transport, relay = await loop.create_datagram_endpoint(lambda: UdpRelay(vehicle), local_addr=("127.0.0.1", 0))
    try:
        yield relay
    finally:
        transport.close()


class TcpRelay:
    """A loopback TCP server: each client is piped to ``vehicle``; the vehicle's side is damaged."""

    def __init__(self, vehicle: Address) -> None:
        self.vehicle = vehicle
        self.damage = Damage()
        self.paused = False
        self.server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> Address:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def _client(self, node_r: asyncio.StreamReader, node_w: asyncio.StreamWriter) -> None:
        veh_r, veh_w = await asyncio.open_connection(*self.vehicle)
        pipes = [
            asyncio.create_task(self._pipe(node_r, veh_w, damage=False)),
            asyncio.create_task(self._pipe(veh_r, node_w, damage=True)),
        ]
        self._tasks.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            for writer in (veh_w, node_w):
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, damage: bool) -> None:
        while data := await reader.read(4096):
            if not damage:
                writer.write(data)
            elif not self.paused:
                for chunk in self.damage.apply(data, stream=True):
                    writer.write(chunk)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@contextlib.asynccontextmanager
async def tcp_relay(vehicle: Address) -> AsyncIterator[TcpRelay]:
    """A :class:`TcpRelay` listening on loopback for the block."""
    relay = TcpRelay(vehicle)
    relay.server = await asyncio.start_server(relay._client, "127.0.0.1", 0)
    try:
        yield relay
    finally:
        await relay.aclose()
