"""The WebSocket clients' process: live picture clients on /api/live, reading latency off each frame.

``python -m benchmarks.incident.ws_clients`` reads one JSON line on stdin: ``{"seconds": S,
"warmup": W, "targets": [{"label": "edge", "url": "http://...", "token": "...", "count": 10}, ...]}``.
Every client sends its token, takes the snapshot, then for each state delta of a ``vehicle`` or a
``unit`` with a position records the wire-to-frame latency (``stamp.py``) at the moment the frame
was received, after ``W`` seconds of warm-up and until ``S``. A vehicle's ``ts`` is also when it was
published into the picture, so ``publish`` latencies (frame time minus ``ts``) are kept for vehicles.
Then it prints one JSON line of per-(label, kind) samples in milliseconds and per-client counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from array import array
from typing import Any

import msgspec
from websockets.asyncio.client import connect

from .stamp import latency_s

KINDS = ("vehicle", "unit")
_decode = msgspec.json.Decoder().decode


class Samples:
    """Latencies (ms) per (label, kind), only while ``recording``."""

    def __init__(self) -> None:
        self.recording = False
        self.wire: dict[str, array[float]] = {}
        self.publish: dict[str, array[float]] = {}

    def add(self, label: str, delta: dict[str, Any], now: float, seen: dict[str, tuple[float, float]]) -> None:
        """Record a delta that brings a new position (``seen``: the last one this client had per id).

        A unit also changes without moving (a call starts, its battery is reported): such a delta
        carries the position of its last fix, whose stamp is that fix's, so it is not a sample.
        """
        value = delta.get("value") or {}
        kind = value.get("kind")
        pos = value.get("pos")
        if kind not in KINDS or not pos:
            return
        where = (pos["lat"], pos["lon"])
        if seen.get(value["id"]) == where:
            return
        seen[value["id"]] = where
        if not self.recording:
            return
        key = f"{label}/{kind}"
        self.wire.setdefault(key, array("f")).append(latency_s(pos["lat"], pos["lon"], now) * 1000)
        if kind == "vehicle":
            self.publish.setdefault(key, array("f")).append((now - value["ts"]) * 1000)


async def client(label: str, url: str, token: str, samples: Samples, counters: dict[str, Any]) -> None:
    """One live client until cancelled."""
    ws_url = url.replace("http", "ws", 1).rstrip("/") + "/api/live"
    seen: dict[str, tuple[float, float]] = {}
    async with connect(ws_url, max_size=None) as ws:
        await ws.send(json.dumps({"token": token}))
        async for raw in ws:
            now = time.time()
            message = _decode(raw)
            counters["frames"] += 1
            if message["type"] == "snapshot":
                counters["snapshots"] += 1
                for entity in message["data"]["entities"]:
                    if entity.get("pos"):
                        seen[entity["id"]] = (entity["pos"]["lat"], entity["pos"]["lon"])
                continue
            for delta in message["data"]:
                if delta["op"] == "state":
                    samples.add(label, delta, now, seen)


def summary(values: array[float]) -> dict[str, float]:
    """Count and percentiles (nearest rank) of ``values``."""
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return {"n": 0}

    def pick(q: float) -> float:
        return round(ordered[min(n - 1, int(q * n))], 1)

    return {"n": n, "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": round(ordered[-1], 1)}


async def main() -> None:
    plan = json.loads(await asyncio.to_thread(sys.stdin.readline))
    samples = Samples()
    clients: list[dict[str, Any]] = []
    tasks = []
    for target in plan["targets"]:
        for _ in range(target["count"]):
            counters = {"label": target["label"], "frames": 0, "snapshots": 0}
            clients.append(counters)
            tasks.append(
                asyncio.create_task(client(target["label"], target["url"], target["token"], samples, counters))
            )
    await asyncio.sleep(plan["warmup"])
    samples.recording = True
    await asyncio.sleep(plan["seconds"] - plan["warmup"])
    samples.recording = False
    failed = [repr(t.exception()) for t in tasks if t.done() and t.exception() is not None]
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(BaseException):
            await task
    out = {
        "wire_ms": {k: summary(v) for k, v in samples.wire.items()},
        "publish_ms": {k: summary(v) for k, v in samples.publish.items()},
        "clients": clients,
        "failed": failed,
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
