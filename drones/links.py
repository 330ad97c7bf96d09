"""Byte transports for MAVLink: serial, TCP (client and accepted clients) and UDP, plus an in-memory pair.

A stream link reads chunks until it fails and never reconnects by itself (the endpoint runner in
:mod:`drones.endpoints` does, with backoff). Sending never waits: the router forwards a frame to
many links from one read, and one slow ground station must not stall the rest. Overflow policy:
a stream link whose kernel and transport buffers hold more than :data:`MAX_WRITE_BUFFER` bytes
drops the new frame (counted); a UDP socket whose inbound queue is full drops the oldest datagram
(telemetry: the newest sample is worth most), and what the kernel dropped because the socket's
receive buffer was full is counted too (``SO_RXQ_OVFL``), with one warning per socket. Library
errors become :class:`LinkError` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Iterator

import serial
import serial_asyncio_fast

from .errors import LinkError

log = logging.getLogger(__name__)

READ_CHUNK = 4096
MAX_WRITE_BUFFER = 64 * 1024
UDP_QUEUE = 4096
UDP_BURST = 256  # datagrams read per readiness event, so other callbacks still get their turn
UDP_MAX_DATAGRAM = 65535
UDP_RCVBUF = 1 << 20
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux: each datagram says how many the kernel dropped so far
_OVFL_SPACE = socket.CMSG_SPACE(4)
Address = tuple[str, int]


@contextlib.contextmanager
def _mapped(what: str) -> Iterator[None]:
    try:
        yield
    except (OSError, serial.SerialException, EOFError, ConnectionError) as exc:
        raise LinkError(f"{what}: {exc}") from exc


class StreamLink:
    """A serial port or TCP connection: read chunks, send without waiting."""

    def __init__(self, description: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.description = description
        self.dropped = 0  # frames not sent because the other end was not reading
        self._reader = reader
        self._writer = writer

    @property
    def peer(self) -> Address | None:
        """The remote address of a TCP link (None for serial)."""
        peer = self._writer.get_extra_info("peername")
        return (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None

    async def read(self) -> bytes:
        """The next chunk (never empty); LinkError when the link is gone."""
        with _mapped(self.description):
            data = await self._reader.read(READ_CHUNK)
        if not data:
            raise LinkError(f"{self.description}: closed by the other end")
        return data

    def send(self, data: bytes) -> bool:
        """Queue ``data`` for sending; False if it was dropped (link closing or its buffer full)."""
        transport = self._writer.transport
        if transport.is_closing() or transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            self.dropped += 1
            return False
        self._writer.write(data)
        return True

    async def aclose(self) -> None:
        """Close the link (safe to call twice)."""
        self._writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self._writer.wait_closed()


async def open_serial(device: str, baud: int) -> StreamLink:
    """Open a serial port (a telemetry radio, a flight controller's USB, or a pseudo-terminal)."""
    with _mapped(f"serial {device}"):
        reader, writer = await serial_asyncio_fast.open_serial_connection(url=device, baudrate=baud)
    return StreamLink(f"serial {device}", reader, writer)


async def open_tcp(host: str, port: int, *, timeout_s: float = 10.0) -> StreamLink:
    """Connect to a TCP port (a SITL, a router, a companion computer)."""
    # asyncio.timeout, not wait_for: Python 3.11's wait_for loses a cancellation that arrives as the
    # connection attempt ends (gh-86296), and this runs in a loop that must stop when cancelled.
    with _mapped(f"tcp {host}:{port}"):
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError as exc:
            raise LinkError(f"tcp {host}:{port}: no connection within {timeout_s:g} s") from exc
    return StreamLink(f"tcp {host}:{port}", reader, writer)


class UdpSocket:
    """A bound UDP socket: datagrams in with their sender, datagrams out to any address.

    It reads with its own ``add_reader`` callback that takes up to :data:`UDP_BURST` datagrams per
    readiness, not asyncio's datagram transport, which takes one per event-loop iteration: the
    incident benchmark (50 drones, 1,250 datagrams/s into a kit also serving video and WebSockets)
    showed the transport's rate then bounded by how often the busy loop came round, with telemetry
    waiting seconds in the kernel's buffer and overflowing it.
    """

    def __init__(self, sock: socket.socket, description: str) -> None:
        self.description = description
        self.dropped = 0  # datagrams dropped because the reader fell behind (the oldest go)
        self.kernel_dropped = 0  # datagrams the kernel dropped (receive buffer full), as of the latest one read
        self.send_dropped = 0  # datagrams not sent because the kernel's send buffer was full
        self._sock = sock
        self._queue: asyncio.Queue[tuple[bytes, Address] | Exception] = asyncio.Queue(maxsize=UDP_QUEUE)
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._warned = False
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            self._counts_kernel_drops = True
        except OSError:  # not Linux: what the kernel drops goes uncounted
            self._counts_kernel_drops = False
        self._loop.add_reader(sock.fileno(), self._readable)

    @property
    def local_address(self) -> Address:
        """The address actually bound (useful with port 0)."""
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def pending(self) -> int:
        """Datagrams read from the kernel and waiting for ``recv``."""
        return self._queue.qsize()

    def _readable(self) -> None:
        for _ in range(UDP_BURST):
            try:
                if self._counts_kernel_drops:
                    data, ancillary, _, addr = self._sock.recvmsg(UDP_MAX_DATAGRAM, _OVFL_SPACE)
                    if ancillary:
                        self._kernel_count(ancillary)
                else:
                    data, addr = self._sock.recvfrom(UDP_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP port unreachable and the like: the peer may come back
                log.debug("%s: %s", self.description, exc)
                return
            self._put((data, (str(addr[0]), int(addr[1]))))

    def _kernel_count(self, ancillary: list[tuple[int, int, bytes]]) -> None:
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                self.kernel_dropped = int.from_bytes(value[:4], sys.byteorder)  # the kernel's running total
                self._warn_once()

    def _warn_once(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "%s: datagrams are being dropped because they came faster than the node read them "
                "(counted in fieldkit_drone_link_dropped_total; said once)", self.description,
            )  # fmt: skip

    def _put(self, item: tuple[bytes, Address] | Exception) -> None:
        if self._queue.full():
            self._queue.get_nowait()  # drop the oldest: telemetry, the next sample replaces it
            self.dropped += 1
            self._warn_once()
        self._queue.put_nowait(item)

    def take(self) -> tuple[bytes, Address] | None:
        """The next datagram if one is waiting, else None (no await: a reader drains a burst cheaply)."""
        if self._queue.empty():
            return None
        item = self._queue.get_nowait()
        if isinstance(item, Exception):
            self._queue.put_nowait(item)  # for recv() to raise
            return None
        return item

    async def recv(self) -> tuple[bytes, Address]:
        """The next datagram and who sent it."""
        item = await self._queue.get()
        if isinstance(item, Exception):
            raise LinkError(f"{self.description}: {item}")
        return item

    def sendto(self, data: bytes, addr: Address) -> bool:
        """Send one datagram without waiting; False if it was not sent (socket closed, send buffer full)."""
        if self._closed:
            return False
        try:
            self._sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            self.send_dropped += 1
            return False
        except OSError as exc:
            log.debug("%s: sending to %s:%d: %s", self.description, *addr, exc)
        return True

    async def aclose(self) -> None:
        """Close the socket (safe to call twice); a waiting ``recv`` raises LinkError."""
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._put(LinkError("udp socket closed"))


async def open_udp(host: str, port: int) -> UdpSocket:
    """Bind a UDP socket on ``host:port`` (port 0 picks a free one)."""
    with _mapped(f"udp {host}:{port}"):
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):  # room for a burst while the loop is busy (capped by rmem_max)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
            sock.bind(address)
        except OSError:
            sock.close()
            raise
    return UdpSocket(sock, f"udp {host}:{port}")


class MemoryLink:
    """One end of an in-memory link (tests, simulations); ``cut()`` fails both ends like a pulled cable."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.peer: MemoryLink | None = None
        self.dropped = 0
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._cut = False

    async def read(self) -> bytes:
        """The next chunk the other end sent; LinkError once cut."""
        data = None if self._cut else await self._inbox.get()
        if data is None:
            raise LinkError(f"{self.description}: cut")
        return data

    def send(self, data: bytes) -> bool:
        """Hand ``data`` to the other end; False once cut."""
        if self._cut or self.peer is None:
            self.dropped += 1
            return False
        self.peer._inbox.put_nowait(bytes(data))
        return True

    def cut(self) -> None:
        """Fail both ends: pending and future reads raise LinkError."""
        for end in (self, self.peer):
            if end is not None and not end._cut:
                end._cut = True
                end._inbox.put_nowait(None)

    async def aclose(self) -> None:
        """Close this end (the other end's reads fail too)."""
        self.cut()


def memory_pair(name: str = "memory") -> tuple[MemoryLink, MemoryLink]:
    """Two connected in-memory link ends."""
    a, b = MemoryLink(f"{name} a"), MemoryLink(f"{name} b")
    a.peer, b.peer = b, a
    return a, b
