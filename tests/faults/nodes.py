"""Helpers for fault tests: a node's output kept, a live WebSocket watcher, the sim's scenario."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets
from kit import NodeProcess

from edge.auth import Role

# A small incident for `fieldkit sim`: radios on the simulated PDT gateway (a pty) moving, texting
# and raising emergencies often; no drones or video, so a fault test spends its CPU on the fault.
SCENARIO = """\
units = 8
report_interval_s = 1.0
alarm_interval_s = 1.0
alarm_clear_s = 30.0
message_interval_s = 1.0
drones = false
cameras = false
gcs_udp_port = 0
"""


def write_scenario(tmp: Path) -> Path:
    path = tmp / "scenario.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@dataclass
class LiveWatch:
    """A viewer on /api/live: counts position deltas and remembers every event id it was sent."""

    positions: int = 0
    events: list[str] = field(default_factory=list)
    frames: int = 0
    last_position_at: float = 0.0


@contextlib.asynccontextmanager
async def watching(node: NodeProcess) -> AsyncIterator[LiveWatch]:
    """Watch ``node``'s live picture for the duration of the block (from its first snapshot on)."""
    watch = LiveWatch()
    url = node.url.replace("http://", "ws://") + "api/live"

    async def run() -> None:
        async with websockets.connect(url, max_size=8 * 1024 * 1024) as ws:
            await ws.send(json.dumps({"token": node.tokens[Role.VIEWER]}))
            async for raw in ws:
                msg = json.loads(raw)
                watch.frames += 1
                if msg.get("type") != "deltas":
                    continue
                for delta in msg["data"]:
                    value = delta.get("value") or {}
                    if delta.get("op") == "event":
                        watch.events.append(value.get("id", ""))
                    elif value.get("kind") == "unit" and value.get("pos"):
                        watch.positions += 1
                        watch.last_position_at = time.monotonic()

    task = asyncio.create_task(run())
    try:
        # What happens from here on comes as deltas: the first frame (the snapshot) has arrived.
        await until(lambda: watch.frames > 0 or task.done(), 10, "the live snapshot")
        if task.done():
            task.result()  # the socket failed: say why
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def until(check, timeout: float, what: str, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Await ``check()`` (sync or async) until truthy; its value. Fails after ``timeout`` s saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(interval)


def aclient(node: NodeProcess, role: Role = Role.PILOT) -> httpx.AsyncClient:
    """An async client of ``node`` with ``role``'s token."""
    return httpx.AsyncClient(base_url=node.url, headers={"Authorization": f"Bearer {node.tokens[role]}"}, timeout=10)


async def metric(node: NodeProcess, name: str) -> float:
    """The sum of a metric's samples on ``node``'s /metrics."""
    async with aclient(node, Role.VIEWER) as c:
        text = (await c.get("/metrics")).text
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith((name + " ", name + "{"))]
    assert values, f"{name} not in /metrics"
    return sum(values)


async def stored_events(node: NodeProcess, *kinds: str) -> dict[str, dict[str, object]]:
    """Every event of ``kinds`` (all kinds if none) ``node`` holds in its journal, by id (asked in pages)."""
    held: dict[str, dict[str, object]] = {}
    since = 0.0
    async with aclient(node, Role.VIEWER) as c:
        while True:
            # ``until`` a day ahead: another node's clock (or the sim's) may run ahead of this one's
            params: dict[str, object] = {
                "since": since,
                "until": time.time() + 86400,
                "limit": 5000,
                "kind": list(kinds),
            }
            r = await c.get("/api/events", params=params)
            r.raise_for_status()
            page = r.json()
            held.update((e["id"], e) for e in page)
            if len(page) < 5000:
                return held
            assert page[-1]["ts"] > since, "5000 events at one instant: pages cannot move on"
            since = page[-1]["ts"]  # the next page starts at this page's last instant (overlap dropped by id)


async def stored_ids(node: NodeProcess, *kinds: str) -> list[str]:
    """Ids of the events of ``kinds`` ``node`` holds, oldest first."""
    return list(await stored_events(node, *kinds))


async def held_and_applied_twice(node: NodeProcess) -> tuple[dict[str, dict[str, object]], int]:
    """Every event ``node`` holds, and how many more it applied than it holds (0: none twice).

    Counted while no event arrives: the applied counter is read before and after the events, and
    again until both readings agree (an event applied in between would look like a duplicate).
    """
    async with aclient(node, Role.VIEWER) as c:
        for _ in range(100):
            before = (await c.get("/healthz")).json()["events_applied"]
            held = await stored_events(node)
            after = (await c.get("/healthz")).json()["events_applied"]
            if before == after:
                return held, after - len(held)
            await asyncio.sleep(0.1)
    raise AssertionError(f"{node.url}: events kept arriving for 10 s; cannot count duplicates")


def post_until_stopped(
    node: NodeProcess, acknowledged: list[str], acked_alerts: list[str], stop: threading.Event, limit: int = 2000
) -> None:
    """Post messages, alarms (one in five) and acknowledgements of those alarms as fast as one client can.

    Remembers every event answered 201 in ``acknowledged`` and every alarm whose acknowledgement was
    answered 200 in ``acked_alerts``.
    """
    raised: list[str] = []
    with node.client(Role.PILOT) as client:
        for i in range(limit):
            if stop.is_set():
                return
            try:
                if i % 5 == 0:
                    r = client.post("/api/alerts", json={"title": f"alarm {i}", "severity": "emergency"})
                    if r.status_code == 201:
                        raised.append(r.json()["alert"]["id"])
                        acknowledged.append(raised[-1])
                elif i % 5 == 2 and raised:
                    alert_id = raised.pop(0)
                    if client.post(f"/api/alerts/{alert_id}/ack").status_code == 200:
                        acked_alerts.append(alert_id)
                else:
                    r = client.post("/api/messages", json={"text": f"msg {i}"})
                    if r.status_code == 201:
                        acknowledged.append(r.json()["id"])
            except httpx.HTTPError:
                return  # the node is gone
