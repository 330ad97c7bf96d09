"""Configured endpoints kept open: each one a reconnect loop that feeds a hub (the drone service).

Why a loop per link rather than the node's supervisor (which the radio gateway relies on): the
service routes between *many* links, and a telemetry radio unplugged from one USB port must not
stop the routing between a vehicle and the pilots' ground stations on the others. So each endpoint
runs its own loop: open, serve until the link fails, wait a backoff (doubling from
``reconnect_min_s`` to ``reconnect_max_s``, with +/-20 % jitter, reset after a minute of health),
open again. The service itself still runs under the supervisor, which restarts it on a bug.

What becomes a router endpoint:

- ``udp-listen``: every peer that sends a datagram is its own endpoint ``<name>@<host>:<port>``, so a
  command for vehicle 1 goes only to the peer it was heard from, and several ground stations
  (QGroundControl, MAVProxy, dronekit) share one port; a peer silent for ``peer_timeout_s`` is forgotten.
- ``tcp-server``: every accepted client is an endpoint ``<name>@<host>:<port>``.
- ``udp-connect``, ``tcp-client``, ``serial``: one endpoint named after the configuration.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Callable
from typing import Protocol

from .config import EndpointConfig
from .errors import LinkError
from .links import Address, StreamLink, UdpSocket, open_serial, open_tcp, open_udp

log = logging.getLogger(__name__)

HEALTHY_AFTER_S = 60.0
PEER_SWEEP_S = 1.0


class Hub(Protocol):
    """Where an endpoint's bytes go (the drone service)."""

    def attach(self, name: str, config: EndpointConfig, send: Callable[[bytes], bool], *, datagrams: bool) -> None:
        """A link (or a peer of one) came up as router endpoint ``name`` (``datagrams``: UDP)."""
        ...

    def feed(self, name: str, data: bytes) -> None:
        """Bytes arrived on endpoint ``name``."""
        ...

    def detach(self, name: str) -> None:
        """Endpoint ``name`` is gone."""
        ...


class LinkState(enum.Enum):
    """Where a configured endpoint is."""

    CONNECTING = "connecting"
    UP = "up"
    BACKOFF = "backoff"
    STOPPED = "stopped"


class EndpointRunner:
    """Keeps one configured endpoint open, reopening it with backoff and jitter when it fails."""

    def __init__(self, config: EndpointConfig, hub: Hub, *, min_backoff_s: float, max_backoff_s: float) -> None:
        self.config = config
        self.name = config.name
        self.state = LinkState.STOPPED
        self.history: list[LinkState] = [self.state]
        self.failures = 0
        self.last_error: str | None = None
        self.local_address: Address | None = None
        self.up = asyncio.Event()
        self._udp: UdpSocket | None = None  # the open UDP socket, whose drops count here too
        self._dropped_before = {"kernel": 0, "queue": 0}  # by the sockets closed since
        self._hub = hub
        self._min = min_backoff_s
        self._max = max_backoff_s
        self._attached: set[str] = set()

    def dropped(self) -> dict[str, int]:
        """Datagrams lost before they were read, over every socket this endpoint opened: in the
        kernel (its receive buffer was full) and in the socket's queue (the reader fell behind)."""
        kernel, queue = self._dropped_before["kernel"], self._dropped_before["queue"]
        if self._udp is not None:
            kernel, queue = kernel + self._udp.kernel_dropped, queue + self._udp.dropped
        return {"kernel": kernel, "queue": queue}

    def _opened(self, sock: UdpSocket) -> None:
        self._udp = sock
        self.local_address = sock.local_address

    async def _close(self, sock: UdpSocket) -> None:
        self._dropped_before = self.dropped()
        self._udp = None
        await sock.aclose()

    def _set_state(self, state: LinkState) -> None:
        if state is self.state:
            return
        log.debug("endpoint %s: %s -> %s", self.name, self.state.value, state.value)
        self.state = state
        self.history.append(state)
        if state is LinkState.UP:
            self.up.set()
        else:
            self.up.clear()

    async def run(self) -> None:
        """Serve the endpoint until cancelled."""
        backoff = self._min
        try:
            while True:
                self._set_state(LinkState.CONNECTING)
                started = time.monotonic()
                try:
                    await self._serve()
                    self.last_error = "closed"
                except LinkError as exc:
                    self.last_error = str(exc)
                    _still_cancelled()
                finally:
                    self._detach_all()
                self.failures += 1
                if time.monotonic() - started > HEALTHY_AFTER_S:
                    backoff = self._min
                delay = backoff * (0.8 + 0.4 * random.random())
                level = logging.WARNING if self.failures == 1 or self.state is LinkState.UP else logging.DEBUG
                log.log(level, "endpoint %s: %s; reopening in %.1f s", self.name, self.last_error, delay)
                self._set_state(LinkState.BACKOFF)
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, self._max)
        finally:
            self._detach_all()
            self._set_state(LinkState.STOPPED)

    async def _serve(self) -> None:
        kind = self.config.kind
        if kind == "udp-listen":
            await self._serve_udp_listen()
        elif kind == "udp-connect":
            await self._serve_udp_connect()
        elif kind == "tcp-server":
            await self._serve_tcp_server()
        else:
            cfg = self.config
            link = await (open_serial(cfg.device, cfg.baud) if kind == "serial" else open_tcp(cfg.host, cfg.port))
            await self._serve_stream(self.name, link)

    def _attach(self, name: str, send: Callable[[bytes], bool]) -> None:
        self._attached.add(name)
        self._hub.attach(name, self.config, send, datagrams=self.config.kind.startswith("udp"))

    def _detach(self, name: str) -> None:
        if name in self._attached:
            self._attached.discard(name)
            self._hub.detach(name)

    def _detach_all(self) -> None:
        for name in list(self._attached):
            self._detach(name)

    async def _serve_stream(self, name: str, link: StreamLink) -> None:
        try:
            self._attach(name, link.send)
            self._set_state(LinkState.UP)
            log.info("endpoint %s: %s up", self.name, link.description)
            while True:
                self._hub.feed(name, await link.read())
        finally:
            self._detach(name)
            await link.aclose()

    async def _serve_udp_connect(self) -> None:
        cfg = self.config
        peer = (cfg.host, cfg.port)
        local = "127.0.0.1" if cfg.host.startswith("127.") else ("::" if ":" in cfg.host else "0.0.0.0")  # noqa: S104 -- a remote peer needs a routable source
        sock = await open_udp(local, 0)
        self._opened(sock)
        try:
            self._attach(self.name, lambda data: sock.sendto(data, peer))
            self._set_state(LinkState.UP)
            while True:
                data, _ = await sock.recv()
                self._hub.feed(self.name, data)
        finally:
            await self._close(sock)

    async def _serve_udp_listen(self) -> None:
        cfg = self.config
        sock = await open_udp(cfg.host, cfg.port)
        self._opened(sock)
        peers: dict[Address, float] = {}
        self._set_state(LinkState.UP)
        try:
            while True:
                item = sock.take()  # a burst is drained without a timeout per datagram
                if item is None:
                    try:
                        async with asyncio.timeout(PEER_SWEEP_S):
                            item = await sock.recv()
                    except TimeoutError:
                        self._forget_quiet(peers)
                        continue
                data, addr = item
                name = f"{self.name}@{addr[0]}:{addr[1]}"
                if addr not in peers:
                    log.info("endpoint %s: new peer %s:%d", self.name, *addr)
                    self._attach(name, _sender(sock, addr))
                peers[addr] = time.monotonic()
                self._hub.feed(name, data)
                if len(peers) > 1:
                    self._forget_quiet(peers)
        finally:
            await self._close(sock)

    def _forget_quiet(self, peers: dict[Address, float]) -> None:
        cutoff = time.monotonic() - self.config.peer_timeout_s
        for addr in [a for a, seen in peers.items() if seen < cutoff]:
            log.info("endpoint %s: peer %s:%d silent, forgotten", self.name, *addr)
            del peers[addr]
            self._detach(f"{self.name}@{addr[0]}:{addr[1]}")

    async def _serve_tcp_server(self) -> None:
        clients: set[asyncio.Task[None]] = set()

        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            link = StreamLink(f"tcp client of {self.name}", reader, writer)
            peer = link.peer or ("?", 0)
            task = asyncio.current_task()
            assert task is not None
            clients.add(task)
            try:
                await self._serve_stream(f"{self.name}@{peer[0]}:{peer[1]}", link)
            except LinkError as exc:
                log.info("endpoint %s: client %s:%d gone (%s)", self.name, *peer, exc)
            finally:
                clients.discard(task)

        try:
            server = await asyncio.start_server(client, self.config.host, self.config.port)
        except OSError as exc:
            raise LinkError(f"tcp server {self.config.host}:{self.config.port}: {exc}") from exc
        sockname = server.sockets[0].getsockname()
        self.local_address = (str(sockname[0]), int(sockname[1]))
        self._set_state(LinkState.UP)
        try:
            async with server:
                await server.serve_forever()
        finally:
            for task in list(clients):
                task.cancel()
            await asyncio.gather(*clients, return_exceptions=True)


def _still_cancelled() -> None:
    """Re-raise a cancellation a library turned into an error (never reopen a link we were told to stop)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _sender(sock: UdpSocket, addr: Address) -> Callable[[bytes], bool]:
    return lambda data: sock.sendto(data, addr)
