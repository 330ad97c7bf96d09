"""A partition in network namespaces (root only, as in CI): two nodes joined by a veth pair, cut, healed.

The test creates two namespaces and a veth pair between them (unique names), gives the pair two
addresses of a /30 that exists only inside those namespaces, runs a command post in one and a
kit in the other (``ip netns exec``), takes the link down, raises alarms on both sides, brings
it up and checks that both hold every alarm once. It deletes its namespaces however it ends.
Each node's API listens on its own namespace's loopback, so requests go through ``ns_http.py``
run inside that namespace.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kit import stop_process
from test_process import Proc, start, write_node

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root (CI runs as root)")

CLIENT = Path(__file__).with_name("ns_http.py")
ZENOH_PORT = 7447  # each namespace has its own ports: a fixed one cannot clash with anything


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Pair:
    """Two namespaces joined by a veth pair: ``a`` holds ``dev_a`` at ``addr_a``, ``b`` likewise."""

    a: str
    b: str
    dev_a: str
    dev_b: str
    addr_a: str
    addr_b: str

    def cut(self) -> None:
        ip("-n", self.a, "link", "set", self.dev_a, "down")
        ip("-n", self.b, "link", "set", self.dev_b, "down")

    def heal(self) -> None:
        ip("-n", self.a, "link", "set", self.dev_a, "up")
        ip("-n", self.b, "link", "set", self.dev_b, "up")


@pytest.fixture
def pair() -> Iterator[Pair]:
    assert shutil.which("ip"), "iproute2 is needed (DEB_TEST_PACKAGES)"
    tag = secrets.token_hex(3)
    # A /30 from the 10.x range, chosen at random; it is routed only inside the two namespaces.
    octet = secrets.randbelow(250) + 2
    p = Pair(f"fk{tag}a", f"fk{tag}b", f"fk{tag}x", f"fk{tag}y", f"10.{octet}.{octet}.1", f"10.{octet}.{octet}.2")
    created: list[str] = []
    try:
        for ns in (p.a, p.b):
            ip("netns", "add", ns)
            created.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("link", "add", p.dev_a, "netns", p.a, "type", "veth", "peer", "name", p.dev_b, "netns", p.b)
        ip("-n", p.a, "addr", "add", f"{p.addr_a}/30", "dev", p.dev_a)
        ip("-n", p.b, "addr", "add", f"{p.addr_b}/30", "dev", p.dev_b)
        p.heal()
        yield p
    finally:
        for ns in created:  # deleting a namespace deletes its end of the veth pair, and so the pair
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=10)


async def call(ns: str, node: Proc, *args: str) -> object:
    """Run ns_http.py inside ``ns`` against ``node``."""
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns, sys.executable, str(CLIENT), args[0], node.url, node.token, *args[1:],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


async def until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.3)


async def test_a_veth_link_cut_and_healed_between_namespaces_loses_no_alarm(tmp_path: Path, pair: Pair) -> None:
    hub = write_node(tmp_path, "hub", "command-post", listen=[f"tcp/{pair.addr_a}:{ZENOH_PORT}"])
    edge = write_node(tmp_path, "edge1", connect=[f"tcp/{pair.addr_a}:{ZENOH_PORT}"])
    started: list[Proc] = []
    try:
        await start(hub, prefix=("ip", "netns", "exec", pair.a))
        started.append(hub)
        await start(edge, prefix=("ip", "netns", "exec", pair.b))
        started.append(edge)

        async def hub_sees_edge() -> bool:
            return await call(pair.a, hub, "has", "node:edge1") is True

        await until(hub_sees_edge, 20, "the hub sees the kit across the veth pair")
        before = await call(pair.b, edge, "raise", "2", "before")
        await until(lambda: _holds(pair.a, hub, before), 10, "alarms before the cut reach the hub")

        pair.cut()
        await asyncio.sleep(2.5)  # past the 1.5 s lease
        cut_edge = await call(pair.b, edge, "raise", "5", "edge during the cut")
        cut_hub = await call(pair.a, hub, "raise", "3", "hub during the cut")
        assert isinstance(cut_edge, list) and isinstance(cut_hub, list) and isinstance(before, list)
        await asyncio.sleep(1.0)
        assert not set(cut_edge) & set(await call(pair.a, hub, "alerts"))  # type: ignore[arg-type]
        assert not set(cut_hub) & set(await call(pair.b, edge, "alerts"))  # type: ignore[arg-type]

        pair.heal()
        every = sorted(before + cut_edge + cut_hub)
        await until(lambda: _holds(pair.a, hub, every), 20, "the hub holds every alarm after the heal")
        await until(lambda: _holds(pair.b, edge, every), 20, "the kit holds every alarm after the heal")
        assert await call(pair.a, hub, "alerts") == every  # each exactly once
        assert await call(pair.b, edge, "alerts") == every
    finally:
        for node in started:
            assert node.proc is not None
            stop_process(node.proc, signal.SIGTERM, timeout=10)


async def _holds(ns: str, node: Proc, ids: list[str]) -> bool:
    held = await call(ns, node, "alerts")
    assert isinstance(held, list)
    return set(ids) <= set(held)
