"""Helpers for mesh tests: nodes in this process, a link-cutting TCP proxy, bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from kit import kit_config

from edge.auth import TokenStore
from edge.config import Config
from edge.node import EdgeNode
from edge.scene import Scene
from mesh import MeshSection, MeshSync

log = logging.getLogger(__name__)


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1, free now, below the ephemeral range and never handed out twice here.

    Below 32768 the kernel never picks it as the source port of an outgoing connection, and
    remembering what was handed out keeps two nodes of one test from getting the same port.
    """
    for _ in range(1000):
        port = random.randrange(20_000, 32_000)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port")


def endpoint(port: int) -> str:
    return f"tcp/127.0.0.1:{port}"


def mesh_config(**options: Any) -> MeshSection:
    """A mesh section for tests: quick to notice a dead link, long audits (so catch-up on
    appearance and on gaps is what a test exercises, unless it shortens them)."""
    base: dict[str, Any] = {"lease_s": 1.5, "retry_min_s": 0.1, "retry_max_s": 0.5, "audit_interval_s": 600.0}
    base.update(options)
    return msgspec.convert(base, type=MeshSection)


async def eventually(
    check: Callable[[], object], timeout: float = 10.0, what: str = "", interval: float = 0.05
) -> None:
    """Wait until ``check()`` is truthy; fail after ``timeout`` seconds saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or check}")
        await asyncio.sleep(interval)


@dataclass
class MeshNode:
    """A node with a mesh component, running in the test's loop."""

    name: str
    config: Config
    mesh_cfg: MeshSection
    node: EdgeNode
    task: asyncio.Task[None]
    mesh: MeshSync

    @property
    def scene(self) -> Scene:
        assert self.node.scene is not None
        return self.node.scene


class MeshNet:
    """Everything one test starts; ``aclose`` stops it all."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.nodes: dict[str, MeshNode] = {}
        self.proxies: list[CutProxy] = []

    async def start(self, name: str, mesh: MeshSection, *, role: str = "edge") -> MeshNode:
        """Start node ``name`` (its data dir is kept across restarts) and wait until its mesh is up."""
        config = kit_config(self.tmp / name, node={"id": name, "role": role})
        made: list[MeshSync] = []

        def make(node: EdgeNode) -> MeshSync:
            made.append(MeshSync(node, mesh))
            return made[-1]

        node = EdgeNode(config, tokens=TokenStore(config.tokens_path), extra=[make])
        task = asyncio.create_task(node.run(), name=f"node-{name}")
        await eventually(lambda: task.done() or (made and made[0].ready.is_set()), 15, f"{name} mesh ready")
        if task.done():
            task.result()
        started = MeshNode(name, config, mesh, node, task, made[0])
        self.nodes[name] = started
        return started

    async def stop(self, name: str) -> None:
        """Stop node ``name`` (its journal stays for a restart)."""
        n = self.nodes.pop(name)
        n.node.stop()
        await asyncio.wait_for(n.task, 15)

    async def proxy(self, target_port: int) -> CutProxy:
        p = CutProxy(target_port)
        await p.start()
        self.proxies.append(p)
        return p

    async def aclose(self) -> None:
        for p in self.proxies:  # first, so no node waits on a held link while it closes
            await p.aclose()
        for name in list(self.nodes):
            with contextlib.suppress(Exception):
                await self.stop(name)


class CutProxy:
    """A TCP proxy on 127.0.0.1 that can cut the link it carries and heal it.

    ``blackhole()`` stops forwarding but holds every connection open (a radio that went dead:
    nothing arrives, nothing is refused, TCP buffers fill); ``reset()`` closes every connection and
    refuses new ones (a router that rebooted); ``heal()`` forwards again. Bytes forwarded are
    counted per direction.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.bytes_up = 0  # client -> target
        self.bytes_down = 0  # target -> client
        self._open = asyncio.Event()
        self._open.set()
        self._refuse = False
        self._closing = False
        self._server: asyncio.Server | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    @property
    def endpoint(self) -> str:
        return endpoint(self.port)

    def blackhole(self) -> None:
        self._open.clear()

    def reset(self) -> None:
        self._refuse = True
        self._open.clear()
        for a, b in list(self._conns):
            for w in (a, b):
                w.transport.abort()
        self._conns.clear()

    def heal(self) -> None:
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
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
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
        try:
            while not self._closing:
                await self._open.wait()
                data = await src.read(65536)
                if not data:
                    break
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
        if self._server is not None:
            self._server.close()
        self._closing = True
        self.reset()
        self._open.set()  # let held accepts and pumps run into the closed connections and end
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)
