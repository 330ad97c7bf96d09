"""Mesh sync between two nodes on loopback: state rate and latency, event round trip, bytes on the wire.

Both nodes run in this process (each with its own Zenoh session, scene and journal); node b
dials node a through a small counting TCP proxy, so the bytes below are what crossed the link
(Zenoh framing included). Prints a Markdown table; bounded to about 30 s.

    .venv/bin/python benchmarks/mesh_sync.py            # ~30 s
    .venv/bin/python benchmarks/mesh_sync.py --quick    # ~20 s
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import logging
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.auth import TokenStore  # noqa: E402
from edge.config import Config  # noqa: E402
from edge.node import EdgeNode  # noqa: E402
from edge.scene import Alert, AlertAck, Position, Snapshot, Unit, Vehicle  # noqa: E402
from mesh import MeshSection, MeshSync  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CountingProxy:
    """Forward 127.0.0.1:port -> target, counting bytes each way."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.up = 0  # dialer -> listener (b -> a)
        self.down = 0  # listener -> dialer (a -> b)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", self.target)
        self._writers += [w, uw]
        await asyncio.gather(self._pump(r, uw, True), self._pump(ur, w, False), return_exceptions=True)

    async def _pump(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, up: bool) -> None:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
            if up:
                self.up += len(data)
            else:
                self.down += len(data)
        w.close()

    async def aclose(self) -> None:
        for w in self._writers:
            w.transport.abort()
        if self._server is not None:
            self._server.close()


async def start_node(tmp: Path, name: str, mesh: MeshSection) -> tuple[EdgeNode, MeshSync, asyncio.Task[None]]:
    config = msgspec.convert(
        {
            "node": {"id": name, "data_dir": str(tmp / name)},
            "api": {"host": "127.0.0.1", "port": 0},
            "journal": {"synchronous": "NORMAL"},
            "mesh": msgspec.to_builtins(mesh),
        },
        type=Config,
    )
    node = EdgeNode(config, tokens=TokenStore(config.tokens_path))
    task = asyncio.create_task(node.run())
    for _ in range(200):
        if node.mesh is not None and node.mesh.ready.is_set():
            break
        await asyncio.sleep(0.05)
    else:
        raise RuntimeError(f"{name} did not start")
    assert node.mesh is not None
    return node, node.mesh, task


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def measure_states(
    a: EdgeNode, b: EdgeNode, proxy: CountingProxy, vehicles: int, hz: float, seconds: float
) -> dict[str, Any]:
    """``vehicles`` drones at ``hz`` each on a, for ``seconds``: delivered, latency, bytes per update."""
    assert a.scene is not None and b.scene is not None
    latencies: list[float] = []
    sub = b.scene.subscribe("bench")
    await sub.get()  # snapshot

    async def listen() -> None:
        while True:
            batch = await sub.get()
            now = time.time()
            if isinstance(batch, Snapshot):
                continue
            for d in batch:
                v = d.value
                if d.op == "state" and isinstance(v, Vehicle) and v.origin == "a":
                    latencies.append(now - v.ts)

    reader = asyncio.create_task(listen())
    b_mesh_before = _received(b)
    down_before = proxy.down
    sent = 0
    start = time.monotonic()
    tick = 1.0 / hz
    step = 0
    while time.monotonic() - start < seconds:
        now = time.time()
        for i in range(vehicles):
            a.scene.apply_state(
                Vehicle(
                    id=f"vehicle:a:{i + 1}",
                    origin="a",
                    ts=now,
                    pos=Position(
                        lat=36.70 + i * 1e-3 + step * 1e-6, lon=119.16 + step * 1e-6, alt_msl_m=80.5, alt_rel_m=50.0
                    ),
                    mode="GUIDED",
                    armed=True,
                    heading_deg=(step * 3.7) % 360,
                    ground_speed_mps=5.0 + (step % 7) * 0.1,
                    battery_pct=90.0,
                    battery_v=22.2,
                )
            )
            sent += 1
        step += 1
        await asyncio.sleep(max(0.0, start + step * tick - time.monotonic()))
    await asyncio.sleep(0.5)
    reader.cancel()
    sub.close()
    elapsed = time.monotonic() - start
    received = _received(b) - b_mesh_before
    return {
        "sent": sent,
        "received": received,
        "rate": received / elapsed,
        "p50_ms": pct(latencies, 0.5) * 1000,
        "p95_ms": pct(latencies, 0.95) * 1000,
        "bytes_per_update": (proxy.down - down_before) / max(1, received),
    }


async def measure_unit_bytes(a: EdgeNode, b: EdgeNode, proxy: CountingProxy, seconds: float) -> float:
    """100 radio units moving at 5 Hz each: bytes on the wire (a -> b) per unit update delivered."""
    assert a.scene is not None
    before, down_before = _received(b), proxy.down
    start = time.monotonic()
    step = 0
    while time.monotonic() - start < seconds:
        now = time.time()
        for i in range(100):
            pos = Position(lat=36.70 + i * 1e-3 + step * 1e-6, lon=119.16 + step * 1e-6)
            a.scene.apply_state(Unit(id=f"unit:pdt:{1000 + i}", origin="a", ts=now, pos=pos))
        step += 1
        await asyncio.sleep(max(0.0, start + step * 0.2 - time.monotonic()))
    await asyncio.sleep(0.5)
    return (proxy.down - down_before) / max(1, _received(b) - before)


async def measure_offered(a: EdgeNode, b: EdgeNode, rate: int, seconds: float) -> tuple[int, int, float]:
    """Offer ``rate`` state changes/s on a (1000 vehicles in turn, batches of 1/100 s): (offered, delivered, per s).

    What a does not get out before the next value of the same vehicle is superseded (the scene
    keeps the latest value per entity): offered minus delivered counts those, not losses.
    """
    assert a.scene is not None
    before = _received(b)
    per_batch = max(1, rate // 100)
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        now = time.time()
        for _ in range(per_batch):
            i = n % 1000
            a.scene.apply_state(
                Vehicle(id=f"vehicle:a:m{i}", origin="a", ts=now, pos=Position(lat=36.7, lon=119.1 + n * 1e-7))
            )
            n += 1
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
    await asyncio.sleep(0.5)
    delivered = _received(b) - before
    return n, delivered, delivered / (time.monotonic() - start - 0.5)


async def measure_event_round_trip(a: EdgeNode, b: EdgeNode, count: int) -> list[float]:
    """a raises an alert; b acknowledges it as soon as it arrives; time until a holds the ack."""
    assert a.scene is not None and b.scene is not None
    sub = b.scene.subscribe("bench-acks", states=False)
    await sub.get()
    rtts: list[float] = []

    async def acker() -> None:
        while True:
            batch = await sub.get()
            if isinstance(batch, Snapshot):
                continue
            for d in batch:
                if d.op == "event" and isinstance(d.value, Alert):
                    await b.scene.append(
                        AlertAck(id=f"ack-{d.value.id}", origin="b", ts=time.time(), alert_id=d.value.id, by="bench")
                    )

    task = asyncio.create_task(acker())
    for i in range(count):
        alert_id = f"rtt-{i}"
        started = time.perf_counter()
        await a.scene.append(Alert(id=alert_id, origin="a", ts=time.time(), title=f"rtt {i}"))
        for _ in range(1000):
            rec = a.scene.alert(alert_id)
            if rec is not None and rec.acked_by is not None:
                rtts.append(time.perf_counter() - started)
                break
            await asyncio.sleep(0.0005)
    task.cancel()
    sub.close()
    return rtts


async def measure_audit(mesh: MeshSync, proxy: CountingProxy) -> int:
    """Bytes one audit round (nothing to fetch) puts on the link, both directions."""
    assert mesh._catchup is not None
    before = proxy.up + proxy.down
    await mesh._catchup.round("a", full=False)
    await asyncio.sleep(0.2)
    return proxy.up + proxy.down - before


def _node_entity_bytes(n: EdgeNode) -> int:
    from mesh.wire import encode_state  # noqa: PLC0415

    assert n.scene is not None
    entity = n.scene.get(f"node:{n.node_id}")
    return len(encode_state(entity)) if entity is not None else 0


def _received(n: EdgeNode) -> int:
    mesh = next(s.component for s in n.supervised if isinstance(s.component, MeshSync))
    assert mesh.ctx is not None
    return mesh.ctx.counters.states_received


async def run(quick: bool) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="mesh-bench-") as tmpdir:
        tmp = Path(tmpdir)
        port = free_port()
        proxy = CountingProxy(port)
        await proxy.start()
        cfg = MeshSection(listen=[f"tcp/127.0.0.1:{port}"])
        a, a_mesh, a_task = await start_node(tmp, "a", cfg)
        b, b_mesh, b_task = await start_node(tmp, "b", MeshSection(connect=[f"tcp/127.0.0.1:{proxy.port}"]))
        try:
            for _ in range(200):
                if a_mesh.ctx and a_mesh.ctx.links.is_up("b") and b_mesh.ctx and b_mesh.ctx.links.is_up("a"):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(6.0)  # first catch-up rounds, then the link lines (with RTT) reach the node entities

            idle_s = 5.0 if quick else 10.0
            before = proxy.up + proxy.down
            await asyncio.sleep(idle_s)
            rows.append(
                (
                    f"idle, both directions, over {idle_s:g} s (keep-alives; node entity and audit each 30 s)",
                    f"{(proxy.up + proxy.down - before) / idle_s:.1f} B/s",
                )
            )

            audit = await measure_audit(b_mesh, proxy)
            heartbeat = _node_entity_bytes(a)
            rows.append(("one audit round b->a (summary query and reply), on the wire", f"{audit} B"))
            rows.append(("one node-entity heartbeat (payload, before Zenoh framing)", f"{heartbeat} B"))
            amortised = (proxy_idle := (proxy.up + proxy.down - before) / idle_s) + (
                2 * (heartbeat + 40) + 2 * audit
            ) / 30.0
            rows.append(("idle amortised over 30 s (keep-alives + 2 heartbeats + 2 audits)", f"{amortised:.1f} B/s"))
            del proxy_idle

            s = await measure_states(a, b, proxy, vehicles=50, hz=10, seconds=3 if quick else 5)
            rows.append(
                ("50 vehicles x 10 Hz: state changes delivered", f"{s['received']} of {s['sent']} ({s['rate']:.0f}/s)")
            )
            rows.append(("50 vehicles x 10 Hz: latency p50 / p95", f"{s['p50_ms']:.1f} / {s['p95_ms']:.1f} ms"))
            rows.append(
                (
                    "bytes on the wire per vehicle update (full state, Zenoh framing included)",
                    f"{s['bytes_per_update']:.1f} B",
                )
            )

            unit_bytes = await measure_unit_bytes(a, b, proxy, 2.0)
            rows.append(("bytes on the wire per radio-unit position update (100 units x 5 Hz)", f"{unit_bytes:.1f} B"))

            for offered_rate in (1000, 3000) if quick else (1000, 2000, 4000):
                offered, delivered, per_s = await measure_offered(a, b, offered_rate, 2)
                rows.append(
                    (
                        f"offered {offered_rate}/s (1000 vehicles): delivered",
                        f"{delivered} of {offered} ({per_s:.0f}/s)",
                    )
                )

            rtts = await measure_event_round_trip(a, b, 20 if quick else 50)
            rows.append(
                (
                    "alert a->b, ack b->a, round trip p50 / p95 (both journaled)",
                    f"{pct(rtts, 0.5) * 1000:.1f} / {pct(rtts, 0.95) * 1000:.1f} ms",
                )
            )
            payload = next(iter(_payload_sizes()))
            rows.append(("payload of one vehicle update (msgpack, before Zenoh)", f"{payload} B"))
        finally:
            for n, t in ((b, b_task), (a, a_task)):
                n.stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(t, 10)
            await proxy.aclose()
    return rows


def _payload_sizes() -> list[int]:
    from mesh.wire import encode_state  # noqa: PLC0415

    v = Vehicle(
        id="vehicle:a:1",
        origin="a",
        ts=time.time(),
        pos=Position(lat=36.7012345, lon=119.1612345, alt_msl_m=80.5, alt_rel_m=50.0),
        mode="GUIDED",
        armed=True,
        heading_deg=123.4,
        ground_speed_mps=5.3,
        battery_pct=90.0,
        battery_v=22.2,
    )
    return [len(encode_state(v))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases (~20 s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    rows = asyncio.run(run(args.quick))
    print("| measure | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(
        f"\n({time.monotonic() - started:.0f} s; two kits in one process on loopback, Zenoh peer mode, "
        f"eclipse-zenoh {importlib.metadata.version('eclipse-zenoh')})"
    )


if __name__ == "__main__":
    main()
