"""Byte links to a radio gateway: serial (pyserial), TCP and UDP, behind one small interface.

A link is opened, read and written until it fails; it never reconnects by itself. The gateway
component runs under the node's supervisor, which reopens it with backoff and jitter after a
failure — one reconnect mechanism for every link, and an unplugged USB adapter is just a failure.
Library errors are translated here into ``LinkError`` (httpcore's map_exceptions habit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Literal, Protocol

import serial
import serial_asyncio_fast

from edge.supervisor import LinkDown

from .framing import RadioError

log = logging.getLogger(__name__)

READ_CHUNK = 4096
MAX_DATAGRAM = 65535


class LinkError(RadioError, LinkDown):
    """The link failed or closed; the supervisor will reopen it."""


class Link(Protocol):
    """Bytes in, bytes out."""

    description: str

    async def read(self) -> bytes:
        """The next chunk (never empty); raises LinkError when the link is gone."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def aclose(self) -> None: ...


@contextlib.contextmanager
def _mapped(what: str) -> Iterator[None]:
    try:
        yield
    except (OSError, serial.SerialException, EOFError, ConnectionError) as exc:
        raise LinkError(f"{what}: {exc}") from exc


class StreamLink:
    """A serial port or TCP connection as an asyncio stream pair."""

    def __init__(self, description: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.description = description
        self._reader = reader
        self._writer = writer

    async def read(self) -> bytes:
        with _mapped(self.description):
            data = await self._reader.read(READ_CHUNK)
        if not data:
            raise LinkError(f"{self.description}: closed by the other end")
        return data

    async def write(self, data: bytes) -> None:
        with _mapped(self.description):
            self._writer.write(data)
            await self._writer.drain()

    async def aclose(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self._writer.wait_closed()


async def open_serial(
    port: str,
    *,
    baudrate: int = 9600,
    bytesize: int = 8,
    parity: Literal["N", "E", "O", "M", "S"] = "N",
    stopbits: float = 1,
    rtscts: bool = False,
    xonxoff: bool = False,
) -> StreamLink:
    """Open a serial port (a USB adapter, or a pseudo-terminal in the simulation)."""
    with _mapped(f"serial {port}"):
        reader, writer = await serial_asyncio_fast.open_serial_connection(
            url=port,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=stopbits,
            rtscts=rtscts,
            xonxoff=xonxoff,
        )
    return StreamLink(f"serial {port}", reader, writer)


async def open_tcp(host: str, port: int, *, timeout_s: float = 10.0) -> StreamLink:
    """Connect to a gateway's TCP port."""
    with _mapped(f"tcp {host}:{port}"):
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
    return StreamLink(f"tcp {host}:{port}", reader, writer)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[bytes | Exception], peer: tuple[str, int] | None) -> None:
        self.queue = queue
        self.peer = peer
        self.dropped = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.peer is None:
            self.peer = addr  # answer whoever spoke first, as a gateway expects
        if self.queue.full():
            self.dropped += 1  # never block the loop for one noisy sender; counted
            return
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(exc or LinkError("udp socket closed"))


class UdpLink:
    """UDP: listen on a local port; send to the configured peer, or to whoever spoke last."""

    def __init__(self, transport: asyncio.DatagramTransport, protocol: _Datagrams, description: str) -> None:
        self.description = description
        self._transport = transport
        self._protocol = protocol

    @property
    def dropped(self) -> int:
        """Datagrams dropped because the reader fell behind."""
        return self._protocol.dropped

    @property
    def local_port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return int(self._transport.get_extra_info("sockname")[1])

    async def read(self) -> bytes:
        item = await self._protocol.queue.get()
        if isinstance(item, Exception):
            raise LinkError(f"{self.description}: {item}")
        return item

    async def write(self, data: bytes) -> None:
        if self._protocol.peer is None:
            raise LinkError(f"{self.description}: no peer yet to send to")
        self._transport.sendto(data, self._protocol.peer)

    async def aclose(self) -> None:
        self._transport.close()


async def open_udp(listen_host: str, listen_port: int, peer: tuple[str, int] | None = None) -> UdpLink:
    """Bind a UDP port for a gateway's datagrams."""
    queue: asyncio.Queue[bytes | Exception] = asyncio.Queue(maxsize=10_000)
    loop = asyncio.get_running_loop()
    with _mapped(f"udp {listen_host}:{listen_port}"):
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Datagrams(queue, peer), local_addr=(listen_host, listen_port)
        )
    return UdpLink(transport, protocol, f"udp {listen_host}:{listen_port}")
