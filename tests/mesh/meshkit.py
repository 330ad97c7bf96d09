"""Helpers for mesh tests: nodes in this process, the link-cutting proxy (sim/linkproxy.py), bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from kit import kit_config

from edge.auth import TokenStore
from edge.config import Config
from edge.node import EdgeNode
from edge.scene import Scene
from mesh import MeshSection, MeshSync
from sim.linkproxy import LinkProxy as CutProxy
from sim.linkproxy import Shaping

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

    async def start(
        self, name: str, mesh: MeshSection, *, role: str = "edge", media: dict[str, object] | None = None
    ) -> MeshNode:
        """Start node ``name`` (its data dir is kept across restarts) and wait until its mesh is up.

        ``media``: the node's `[media]` section, if not the default (no feeds)."""
        config = kit_config(
            self.tmp / name, node={"id": name, "role": role}, mesh=msgspec.to_builtins(mesh), media=media or {}
        )
        node = EdgeNode(config, tokens=TokenStore(config.tokens_path))
        task = asyncio.create_task(node.run(), name=f"node-{name}")
        await eventually(lambda: task.done() or (node.mesh and node.mesh.ready.is_set()), 15, f"{name} mesh ready")
        if task.done():
            task.result()
        assert node.mesh is not None
        started = MeshNode(name, config, mesh, node, task, node.mesh)
        self.nodes[name] = started
        return started

    async def stop(self, name: str) -> None:
        """Stop node ``name`` (its journal stays for a restart)."""
        n = self.nodes.pop(name)
        n.node.stop()
        await asyncio.wait_for(n.task, 15)

    async def proxy(self, target_port: int, shaping: Shaping | None = None) -> CutProxy:
        p = CutProxy(target_port, shaping=shaping)
        await p.start()
        self.proxies.append(p)
        return p

    async def aclose(self) -> None:
        for p in self.proxies:  # first, so no node waits on a held link while it closes
            await p.aclose()
        for name in list(self.nodes):
            with contextlib.suppress(Exception):
                await self.stop(name)


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[MeshNet]:
    """Nodes, proxies and subprocesses of one test, all closed at its end (a conftest imports it)."""
    mesh_net = MeshNet(tmp_path)
    try:
        yield mesh_net
    finally:
        await mesh_net.aclose()
