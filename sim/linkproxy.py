"""Fault injection for mesh links: a TCP proxy that cuts, heals and shapes the link it carries.

A Zenoh link between two kits is a TCP connection; put this proxy in the middle (the dialing kit
connects to the proxy, which connects to the listening kit) and the test or ``fieldkit sim`` can
break it the ways field links break:

- ``blackhole()``: stop forwarding but hold every connection open, like a radio that went dead:
  nothing arrives, nothing is refused, TCP buffers fill; new connections wait;
- ``reset()``: close every connection and refuse new ones, like a router that rebooted;
- ``heal()``: forward again;
- ``Shaping``: a token bucket per direction (``rate_bps``, bursts up to ``burst_bytes``), e.g.
  9,600 bit/s for a PDT data channel. (No added latency or loss: over TCP, loss shows up as
  delay, which the rate cap already produces when the link is full.)

Bytes forwarded are counted per direction (``bytes_up``: dialer to listener).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

CHUNK = 65536


@dataclass(frozen=True)
class Shaping:
    """A link's capacity each way: bits per second (0: unlimited) and the largest burst."""

    rate_bps: float = 0.0
    burst_bytes: int = 512


class Shaper:
    """A token bucket for one direction of a link (clock passed in, so it can be tested without sleeping)."""

    def __init__(self, shaping: Shaping, now: float) -> None:
        self.shaping = shaping
        self._tokens = float(shaping.burst_bytes)
        self._at = now

    def piece(self, wanted: int) -> int:
        """How many bytes to send in one go: at most a burst, so the pace stays even."""
        return min(wanted, self.shaping.burst_bytes) if self.shaping.rate_bps > 0 else wanted

    def delay(self, nbytes: int, now: float) -> float:
        """Seconds to wait before ``nbytes`` may go; takes them from the bucket."""
        rate = self.shaping.rate_bps / 8.0
        if rate <= 0:
            return 0.0
        self._tokens = min(float(self.shaping.burst_bytes), self._tokens + (now - self._at) * rate)
        self._at = now
        self._tokens -= nbytes
        return max(0.0, -self._tokens / rate)


class LinkProxy:
    """A TCP proxy on ``host:port`` (0: any free port) to ``host:target_port`` that can cut and shape."""

    def __init__(
        self, target_port: int, *, port: int = 0, host: str = "127.0.0.1", shaping: Shaping | None = None
    ) -> None:
        self.target_port = target_port
        self.host = host
        self.port = port
        self.shaping = shaping or Shaping()
        self.bytes_up = 0  # client -> target
        self.bytes_down = 0  # target -> client
        self.state = "up"
        self._open = asyncio.Event()
        self._open.set()
        self._refuse = False
        self._closing = False
        self._server: asyncio.Server | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen; returns the port."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    @property
    def endpoint(self) -> str:
        """The Zenoh endpoint a kit dials to go through this proxy."""
        return f"tcp/{self.host}:{self.port}"

    def blackhole(self) -> None:
        """Stop forwarding; hold connections (a dead radio)."""
        self.state = "blackhole"
        self._open.clear()

    def reset(self) -> None:
        """Close every connection and refuse new ones (a rebooted router)."""
        self.state = "reset"
        self._refuse = True
        self._open.clear()
        for a, b in list(self._conns):
            for w in (a, b):
                w.transport.abort()
        self._conns.clear()

    def heal(self) -> None:
        """Forward again."""
        self.state = "up"
        self._refuse = False
        self._open.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refuse:
            writer.transport.abort()
            return
        await self._open.wait()  # a new connection during a blackhole is held, like a SYN to a dead radio
        if self._refuse or self._closing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._conns.add(pair)
        for src, dst, up in ((reader, up_writer, True), (up_reader, writer, False)):
            task = asyncio.create_task(self._pump(src, dst, up, pair))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        up: bool,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        shaper = Shaper(self.shaping, time.monotonic())
        try:
            while not self._closing:
                await self._open.wait()
                data = await src.read(shaper.piece(CHUNK))
                if not data:
                    break
                wait = shaper.delay(len(data), time.monotonic())
                if wait:
                    await asyncio.sleep(wait)
                await self._open.wait()  # cut while reading: hold the bytes until healed
                if pair not in self._conns or self._closing:
                    break
                dst.write(data)
                await dst.drain()
                if up:
                    self.bytes_up += len(data)
                else:
                    self.bytes_down += len(data)
        except (ConnectionError, OSError):
            pass
        finally:
            self._conns.discard(pair)
            for w in pair:
                w.transport.abort()

    async def aclose(self) -> None:
        """Stop listening and drop every connection; safe to call twice."""
        if self._server is not None:
            self._server.close()
        self._closing = True
        self.reset()
        self._open.set()  # let held accepts and pumps run into the closed connections and end
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()
