"""Nodes as separate processes: SIGKILL during a partition, restarts, catch-up (loopback, fixed ports)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import pytest
from kit import kit_config, stop_process
from meshkit import CutProxy, endpoint, free_port, mesh_config

from edge.auth import Role, TokenStore

RUNNER = Path(__file__).with_name("node_main.py")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    name: str
    spec: Path
    token: str
    proc: subprocess.Popen[str] | None = None
    url: str = ""

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=5.0)


def write_node(tmp: Path, name: str, role: str = "edge", **mesh: object) -> Proc:
    config = kit_config(tmp / name, node={"id": name, "role": role})
    token = TokenStore(config.tokens_path).create(Role.PILOT, "mesh tester")
    spec = tmp / f"{name}.json"
    spec.write_bytes(msgspec.json.encode({"config": config, "mesh": mesh_config(**mesh)}))
    return Proc(name, spec, token)


async def start(p: Proc, timeout: float = 20.0, prefix: tuple[str, ...] = ()) -> None:
    """Start (or restart) ``p`` (after ``prefix``, e.g. ``ip netns exec NS``) and wait for its 'serving' line."""
    p.proc = subprocess.Popen(
        [*prefix, sys.executable, str(RUNNER), str(p.spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # This checkout's code, whatever the venv's editable install points at.
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)},
    )
    assert p.proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(asyncio.to_thread(p.proc.stdout.readline), timeout)
        if not line:
            break
        lines.append(line)
        match = re.search(r"serving (http://\S+/)", line)
        if match:
            p.url = match.group(1)
            # Keep draining its output so the pipe never fills and stalls the node.
            asyncio.get_running_loop().run_in_executor(None, _drain, p.proc)
            return
    p.proc.kill()
    raise AssertionError(f"{p.name} did not start:\n" + "".join(lines))


def _drain(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    for _ in proc.stdout:
        pass


async def alert_ids(p: Proc, kind: str = "alert") -> list[str]:
    """Ids of the events of ``kind`` in ``p``'s journal, sorted (a repeat would show twice)."""
    async with p.client() as c:
        r = await c.get("/api/events", params={"since": time.time() - 3600, "limit": 1000, "kind": kind})
        r.raise_for_status()
        return sorted(e["id"] for e in r.json() if e["kind"] == kind)


async def send_messages(p: Proc, count: int, tag: str) -> list[str]:
    ids = []
    async with p.client() as c:
        for i in range(count):
            r = await c.post("/api/messages", json={"text": f"{p.name} {tag} {i}"})
            assert r.status_code == 201, r.text  # 201: committed to the journal
            ids.append(r.json()["id"])
    return ids


async def scene_message_ids(p: Proc) -> list[str]:
    """Ids of the messages in ``p``'s picture, in its order (a message applied twice would show twice)."""
    async with p.client() as c:
        r = await c.get("/api/messages")
        r.raise_for_status()
        return [m["id"] for m in r.json()]


async def raise_alerts(p: Proc, count: int, tag: str) -> list[str]:
    ids = []
    async with p.client() as c:
        for i in range(count):
            r = await c.post("/api/alerts", json={"title": f"{p.name} {tag} {i}", "severity": "emergency"})
            assert r.status_code == 201, r.text  # 201: committed to the journal
            ids.append(r.json()["alert"]["id"])
    return ids


async def sees(p: Proc, entity_id: str) -> bool:
    async with p.client() as c:
        r = await c.get(f"/api/entities/{entity_id}")
        return r.status_code == 200


async def until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.2)


@pytest.fixture
async def procs() -> AsyncIterator[list[Proc]]:
    started: list[Proc] = []
    try:
        yield started
    finally:
        for p in started:
            if p.proc is not None:
                stop_process(p.proc, signal.SIGKILL, timeout=5)


async def test_sigkilled_edge_and_hub_lose_nothing_they_acknowledged(tmp_path: Path, procs: list[Proc]) -> None:
    hub_port = free_port()
    proxy = CutProxy(hub_port)
    await proxy.start()
    try:
        hub = write_node(tmp_path, "hub", "command-post", listen=[endpoint(hub_port)])
        edge = write_node(tmp_path, "edge1", connect=[proxy.endpoint])
        edge2 = write_node(tmp_path, "edge2", connect=[endpoint(hub_port)])
        procs += [hub, edge, edge2]
        await asyncio.gather(start(hub), start(edge), start(edge2))
        await until(lambda: sees(hub, "node:edge1"), 15, "the hub sees edge1")
        await until(lambda: sees(hub, "node:edge2"), 15, "the hub sees edge2")
        before = await raise_alerts(edge2, 2, "before")  # the hub holds these already when it is killed
        await until(lambda: _has(hub, before), 10, "edge2's first alarms on the hub")

        # edge1 is cut off, acknowledges 5 alarms (201 = committed), and loses power.
        proxy.blackhole()
        await asyncio.sleep(2.5)  # past the 1.5 s lease
        cut = await raise_alerts(edge, 5, "cut")
        assert edge.proc is not None
        edge.proc.send_signal(signal.SIGKILL)
        edge.proc.wait(5)
        assert not set(cut) & set(await alert_ids(hub))
        proxy.heal()
        await start(edge)
        await until(lambda: _has(hub, cut), 15, "the hub has every alarm edge1 acknowledged while cut")

        # The hub loses power; both edges go on, each alone (they link only through the hub); the
        # hub comes back on the same journal and catches up both: every alarm and message, none twice.
        assert hub.proc is not None
        hub.proc.send_signal(signal.SIGKILL)
        hub.proc.wait(5)
        later = await raise_alerts(edge, 3, "hub-down") + await raise_alerts(edge2, 3, "hub-down")
        said = await send_messages(edge, 2, "hub-down") + await send_messages(edge2, 2, "hub-down")
        await start(hub)
        alarms = cut + before + later
        await until(lambda: _has(hub, alarms), 15, "the restarted hub catches up with both edges' alarms")
        await until(lambda: _has(hub, said, "message"), 15, "and with their messages")
        await until(lambda: _has(edge, cut + later[:3]), 5, "edge1 keeps its own")
        assert await alert_ids(hub) == sorted(alarms)  # none twice
        assert await alert_ids(hub, "message") == sorted(said)
        shown = await scene_message_ids(hub)
        assert sorted(shown) == sorted(said), shown  # each message in the hub's picture once
    finally:
        await proxy.aclose()


async def _has(p: Proc, ids: list[str], kind: str = "alert") -> bool:
    return set(ids) <= set(await alert_ids(p, kind))
