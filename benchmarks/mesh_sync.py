"""Mesh sync between two nodes on loopback: state rate and latency, event round trip, bytes on the wire.

Both nodes run in this process (each with its own Zenoh session, scene and journal); node b
dials node a through a small counting TCP proxy, so the bytes below are what crossed the link
(Zenoh framing included); it also cuts the link and measures convergence after the heal.
Prints a Markdown table; bounded to about 45 s.

    .venv/bin/python benchmarks/mesh_sync.py            # ~45 s
    .venv/bin/python benchmarks/mesh_sync.py --quick    # ~35 s
    .venv/bin/python benchmarks/mesh_sync.py --write-doc  # and replace its section in docs/PERFORMANCE.md
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

from benchmarks.perfdoc import heading, publish  # noqa: E402
from edge.auth import TokenStore  # noqa: E402
from edge.config import Config  # noqa: E402
from edge.node import EdgeNode  # noqa: E402
from edge.scene import Alert, AlertAck, Position, Snapshot, Unit, Vehicle  # noqa: E402
from mesh import MeshSection, MeshSync  # noqa: E402
from sim.linkproxy import LinkProxy  # noqa: E402

TITLE = "## Mesh: two nodes over Zenoh on loopback"
SETUP = (
    "Two kits in one process, peer mode with gossip off; b dials a through `sim/linkproxy.py`, which counts bytes "
    "and cuts the link. Both kits `lan`, so b follows a's full-rate tier: live state in batches on "
    "`fk/<node>/state`, vehicle position deltas on `fk/<node>/pos`, per-peer link-class tiers in place "
    "(mesh/tiers.py); shared memory off; default `[mesh]` timings (10 s lease, dials retried up to every 1 s)."
)
READING = """Reading: the issue's targets are at most 40 B on the wire per position update (the two *bytes on the
wire per ...* rows, amortised at 50 vehicles x 10 Hz) and convergence after a heal under 2 s (the
*heal* rows, second figure). Zenoh adds its framing and key string to every sample, so the publisher
batches what the link budget releases (`[[id, body], ...]` on `fk/<node>/state` and `fk/<node>/pos`, up to
200 entities): the key is paid once per batch and each entity costs its id and body. A drone in flight
mostly changes position, heading and speed, so a vehicle goes as a full state marked with a generation,
then as position deltas against it (`mesh/posdelta.py`); any other change (mode, battery, armed) sends a
full state. Removals and events stay one sample each (reliable). A *delivered* count one above *offered*
is a's node entity, whose heartbeat fell in that phase."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    a: EdgeNode, b: EdgeNode, proxy: LinkProxy, vehicles: int, hz: float, seconds: float
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
    down_before = proxy.bytes_down
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
        "bytes_per_update": (proxy.bytes_down - down_before) / max(1, received),
    }


async def measure_unit_bytes(a: EdgeNode, b: EdgeNode, proxy: LinkProxy, seconds: float) -> float:
    """100 radio units moving at 5 Hz each: bytes on the wire (a -> b) per unit update delivered."""
    assert a.scene is not None
    before, down_before = _received(b), proxy.bytes_down
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
    return (proxy.bytes_down - down_before) / max(1, _received(b) - before)


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
                    assert b.scene is not None
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


async def measure_convergence(
    a: EdgeNode, b: EdgeNode, proxy: LinkProxy, alarms: int, cut: str, hold_s: float
) -> tuple[float, float, float]:
    """Cut the link until both sides see it down, raise ``alarms`` on each side, heal.

    Returns (seconds from the cut until both saw the link down, from heal until both see each
    other up, from heal until both hold every alarm). ``cut`` is ``blackhole`` (a dead radio: held,
    not refused) or ``reset`` (refused: the dialer retries with backoff); the cut lasts at least
    ``hold_s``.
    """
    assert a.scene is not None and b.scene is not None and a.mesh is not None and b.mesh is not None
    getattr(proxy, cut)()
    started = time.monotonic()
    for _ in range(600):
        if not a.mesh.ctx.links.is_up("b") and not b.mesh.ctx.links.is_up("a"):  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.05)
    down = time.monotonic() - started
    ids = []
    for n, origin in ((a, "a"), (b, "b")):
        for i in range(alarms):
            alert = Alert(id=f"conv-{cut}-{origin}-{i}", origin=origin, ts=time.time(), title="during the cut")
            await n.scene.append(alert)  # type: ignore[union-attr]
            ids.append(alert.id)
    await asyncio.sleep(max(0.0, started + hold_s - time.monotonic()))
    healed = time.monotonic()
    proxy.heal()
    up = converged = float("nan")
    while time.monotonic() - healed < 30:
        now = time.monotonic() - healed
        if up != up and a.mesh.ctx.links.is_up("b") and b.mesh.ctx.links.is_up("a"):  # type: ignore[union-attr]
            up = now
        if all(a.scene.alert(i) is not None and b.scene.alert(i) is not None for i in ids):
            converged = now
            break
        await asyncio.sleep(0.01)
    return down, up, converged


async def measure_audit(mesh: MeshSync, proxy: LinkProxy) -> int:
    """Bytes one audit round (nothing to fetch) puts on the link, both directions."""
    assert mesh._catchup is not None
    before = proxy.bytes_up + proxy.bytes_down
    await mesh._catchup.round("a", full=False)
    await asyncio.sleep(0.2)
    return proxy.bytes_up + proxy.bytes_down - before


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
        proxy = LinkProxy(port)  # sim/linkproxy.py: counts bytes each way, and can cut the link
        await proxy.start()
        # Gossip off: it would tell b a's own listen endpoint, and b would route around a cut proxy.
        cfg = MeshSection(listen=[f"tcp/127.0.0.1:{port}"], gossip=False)
        a, a_mesh, a_task = await start_node(tmp, "a", cfg)
        b, b_mesh, b_task = await start_node(tmp, "b", MeshSection(connect=[proxy.endpoint], gossip=False))
        try:
            for _ in range(200):
                if a_mesh.ctx and a_mesh.ctx.links.is_up("b") and b_mesh.ctx and b_mesh.ctx.links.is_up("a"):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(6.0)  # first catch-up rounds, then the link lines (with RTT) reach the node entities

            idle_s = 5.0 if quick else 10.0
            before = proxy.bytes_up + proxy.bytes_down
            await asyncio.sleep(idle_s)
            rows.append(
                (
                    f"idle, both directions, over {idle_s:g} s (keep-alives; node entity and audit each 30 s)",
                    f"{(proxy.bytes_up + proxy.bytes_down - before) / idle_s:.1f} B/s",
                )
            )

            audit = await measure_audit(b_mesh, proxy)
            heartbeat = _node_entity_bytes(a)
            rows.append(("one audit round b->a (summary query and reply), on the wire", f"{audit} B"))
            rows.append(("one node-entity heartbeat (payload, before Zenoh framing)", f"{heartbeat} B"))
            amortised = (proxy_idle := (proxy.bytes_up + proxy.bytes_down - before) / idle_s) + (
                2 * (heartbeat + 40) + 2 * audit
            ) / 30.0
            rows.append(("idle amortised over 30 s (keep-alives + 2 heartbeats + 2 audits)", f"{amortised:.1f} B/s"))
            del proxy_idle

            s = await measure_states(a, b, proxy, vehicles=50, hz=10, seconds=5 if quick else 10)
            rows.append(
                ("50 vehicles x 10 Hz: state changes delivered", f"{s['received']} of {s['sent']} ({s['rate']:.0f}/s)")
            )
            rows.append(("50 vehicles x 10 Hz: latency p50 / p95", f"{s['p50_ms']:.1f} / {s['p95_ms']:.1f} ms"))
            rows.append(
                (
                    "bytes on the wire per vehicle update (position deltas, a full state every 5 s; Zenoh framing "
                    "included)",
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
            for cut, hold_s in (("blackhole", 0.0), ("reset", 8.0)):
                down, up, converged = await measure_convergence(a, b, proxy, 10, cut, hold_s)
                rows.append(
                    (
                        f"{cut} for {max(down, hold_s):.1f} s (link seen down after {down:.1f} s, 10 s lease), "
                        "10 alarms raised on each side, heal: both up again / both hold all 20",
                        f"{up:.2f} / {converged:.2f} s after heal",
                    )
                )
            full, moved = _payload_sizes()
            rows.append(("payload of one vehicle update (msgpack, before Zenoh): full state", f"{full} B"))
            rows.append(("payload of one position delta with its id, in a batch (msgpack)", f"{moved} B"))
        finally:
            for n, t in ((b, b_task), (a, a_task)):
                n.stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(t, 10)
            await proxy.aclose()
    return rows


def _payload_sizes() -> tuple[int, int]:
    from mesh.posdelta import delta, encode_deltas  # noqa: PLC0415
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
    pos = Position(lat=36.7012445, lon=119.1612445, alt_msl_m=80.5, alt_rel_m=50.0)
    moved = msgspec.structs.replace(v, ts=v.ts + 0.1, pos=pos, heading_deg=125.1)
    d = delta(v, 0, moved)
    assert d is not None
    one, two = encode_deltas(1, [(v.id, d)]), encode_deltas(1, [(v.id, d), (v.id, d)])
    return len(encode_state(v)), len(two) - len(one)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases (~20 s)")
    parser.add_argument("--write-doc", action="store_true", help="replace its section in docs/PERFORMANCE.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    rows = asyncio.run(run(args.quick))
    zenoh = f"eclipse-zenoh {importlib.metadata.version('eclipse-zenoh')}"
    lines = [
        *heading(TITLE, zenoh, wall_s=time.monotonic() - started),
        SETUP,
        "",
        "| measure | value |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {value} |" for name, value in rows]
    publish([*lines, "", READING], write=args.write_doc)


if __name__ == "__main__":
    main()
