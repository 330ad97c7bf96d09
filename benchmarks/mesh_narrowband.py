"""A narrowband mesh link (9.6 kbit/s, a PDT data channel): radio positions plus alarms, and the backlog.

Three kits in this process; b dials a through the link proxy of ``sim/linkproxy.py`` shaped to
9,600 bit/s each way (token bucket), both ends configured ``narrowband`` for that link; c dials a
over LAN through an unshaped proxy (counting only), at the same time. Two phases:

- the issue's load: 100 radios reporting once a minute (spread over the minute) and an alarm every
  10 s; does the link carry it all, and does anything pile up?
- 12 times that: 100 radios every 5 s and an alarm every 5 s; alarms must still get through at
  once while positions are downsampled (each unit at most once per 30 s) and nothing grows.

In both, the LAN peer c must get every position at once: link classes apply per peer.

    .venv/bin/python benchmarks/mesh_narrowband.py            # ~4 min
    .venv/bin/python benchmarks/mesh_narrowband.py --quick    # ~2 min
    .venv/bin/python benchmarks/mesh_narrowband.py --write-doc  # and replace its section in docs/PERFORMANCE.md
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

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.perfdoc import heading, publish  # noqa: E402
from edge.auth import TokenStore  # noqa: E402
from edge.config import Config  # noqa: E402
from edge.node import EdgeNode  # noqa: E402
from edge.scene import Alert, Position, Unit  # noqa: E402
from mesh import MeshSection, MeshSync  # noqa: E402
from sim.linkproxy import LinkProxy, Shaping  # noqa: E402

TITLE = "## Mesh: a narrowband link, 9.6 kbit/s with the `narrowband` link class"
SETUP = (
    "Three kits in one process: b dials a through `sim/linkproxy.py` shaped to 9,600 bit/s each way by a token "
    'bucket, both ends configured `narrowband` for that link (a: `peer_link_classes = { b = "narrowband" }`, b: '
    '`link_class = "narrowband"`); c dials a through an unshaped proxy as a `lan` peer, at the same time.'
)
READING = """Reading: the first row is the issue's narrowband load (100 radio positions a minute plus alarms): compare
*on the wire* with the 9,600 bit/s and *delivered* with *offered*. At 12 times that load the narrowband
tier downsamples each unit to one position per 30 s, so *delivered* falls to about 100 units x the phase's
minutes x 2, while alarms must still arrive (none lost, in milliseconds, not behind the positions), and the
backlog stays at most one waiting value per unit, the same at the end as after a quarter: state waiting is
replaced in place, never queued. The budget spends at most 80 % of the nominal rate (headroom for Zenoh's
framing, keep-alives and catch-up queries), so the link's own buffers stay empty and its lease does not run
out (*link down* 0 s). The LAN peer c, in the same minutes, must get every position on the full-rate tier:
link classes apply per peer. Alarm maxima over a dozen alarms vary from run to run."""

RATE_BPS = 9600


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
            return node, node.mesh, task
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{name} did not start")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


class Watch:
    """What a peer sees of a: alarm latencies and unit positions, from a scene subscription."""

    def __init__(self, b: EdgeNode) -> None:
        assert b.scene is not None
        self.sub = b.scene.subscribe("bench")
        self.raised: dict[str, float] = {}
        self.latency: list[float] = []
        self.positions = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        await self.sub.get()  # snapshot
        while True:
            batch = await self.sub.get()
            now = time.monotonic()
            for delta in batch:  # type: ignore[union-attr]
                value = delta.value
                if value is None:
                    continue
                if delta.op == "event" and value.id in self.raised:
                    self.latency.append(now - self.raised.pop(value.id))
                elif delta.op == "state" and value.id.startswith("unit:"):
                    self.positions += 1

    async def aclose(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.sub.close()


async def phase(
    a: EdgeNode,
    mesh: MeshSync,
    b: EdgeNode,
    proxy: LinkProxy,
    c: EdgeNode,
    lan_proxy: LinkProxy,
    *,
    seconds: int,
    report_s: float,
    alarm_s: float,
    tag: str,
) -> dict[str, float]:
    assert a.scene is not None and mesh._publisher is not None and b.mesh is not None
    budget = mesh._publisher.pacing
    watch, lan_watch = Watch(b), Watch(c)
    bytes_before = proxy.bytes_up + proxy.bytes_down
    lan_before = lan_proxy.bytes_up + lan_proxy.bytes_down
    offered = 0
    backlog: list[int] = []
    link_down = 0
    radios = 100
    started = time.monotonic()
    tick = 0.1
    for step in range(round(seconds / tick)):
        t = step * tick
        # Radio u reports at u/100 of each period: an even spread, as radios on one channel do.
        for u in range(radios):
            if int((t + u * report_s / radios) / report_s) != int((t - tick + u * report_s / radios) / report_s):
                offered += 1
                a.scene.apply_state(
                    Unit(id=f"unit:pdt:{u}", origin="a", ts=time.time(), pos=Position(lat=36.7 + t * 1e-5, lon=119.1))
                )
        if step % round(alarm_s / tick) == 0:
            alert = Alert(id=f"{tag}-alarm-{step}", origin="a", ts=time.time(), title="man down")
            watch.raised[alert.id] = lan_watch.raised[alert.id] = time.monotonic()
            await a.scene.append(alert)
        if step % 10 == 0:
            backlog.append(budget.backlog)
            link_down += not b.mesh.ctx.links.is_up("a")  # type: ignore[union-attr]
        await asyncio.sleep(max(0.0, started + (step + 1) * tick - time.monotonic()))
    alarms = len(watch.latency) + len(watch.raised)
    for _ in range(100):  # let the last alarms land
        if not watch.raised:
            break
        await asyncio.sleep(0.1)
    for _ in range(100):
        if not lan_watch.raised:
            break
        await asyncio.sleep(0.1)
    wire = (proxy.bytes_up + proxy.bytes_down - bytes_before) / seconds
    lan_wire = (lan_proxy.bytes_up + lan_proxy.bytes_down - lan_before) / seconds
    await watch.aclose()
    await lan_watch.aclose()
    return {
        "seconds": seconds,
        "offered": offered,
        "delivered": watch.positions,
        "alarms": alarms,
        "alarms_lost": len(watch.raised),
        "p50": pct(watch.latency, 0.5) * 1000,
        "max": max(watch.latency, default=float("nan")) * 1000,
        "wire_bps": wire * 8,
        "backlog_first": backlog[len(backlog) // 4],
        "backlog_last": backlog[-1],
        "backlog_max": max(backlog),
        "link_down_s": link_down,
        "lan_delivered": lan_watch.positions,
        "lan_alarms_lost": len(lan_watch.raised),
        "lan_wire_bps": lan_wire * 8,
    }


async def run(quick: bool) -> list[tuple[str, dict[str, float]]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="mesh-narrow-") as tmpdir:
        tmp = Path(tmpdir)
        port = free_port()
        proxy = LinkProxy(port, shaping=Shaping(rate_bps=RATE_BPS))
        lan_proxy = LinkProxy(port)
        await proxy.start()
        await lan_proxy.start()
        a, a_mesh, a_task = await start_node(
            tmp, "a", MeshSection(listen=[f"tcp/127.0.0.1:{port}"], peer_link_classes={"b": "narrowband"})
        )
        b, b_mesh, b_task = await start_node(tmp, "b", MeshSection(connect=[proxy.endpoint], link_class="narrowband"))
        c, c_mesh, c_task = await start_node(tmp, "c", MeshSection(connect=[lan_proxy.endpoint]))
        try:
            for _ in range(200):
                ends = ((b_mesh, "a"), (c_mesh, "a"), (a_mesh, "b"), (a_mesh, "c"))
                if all(m.ctx and m.ctx.links.is_up(peer) for m, peer in ends):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(3.0)
            minutes = 1 if quick else 2
            results.append(
                (
                    f"100 radios once a minute + an alarm every 10 s, {minutes} min",
                    await phase(
                        a,
                        a_mesh,
                        b,
                        proxy,
                        c,
                        lan_proxy,
                        seconds=60 * minutes,
                        report_s=60.0,
                        alarm_s=10.0,
                        tag="target",
                    ),
                )
            )
            results.append(
                (
                    "12x: 100 radios every 5 s + an alarm every 5 s, 1 min",
                    await phase(a, a_mesh, b, proxy, c, lan_proxy, seconds=60, report_s=5.0, alarm_s=5.0, tag="over"),
                )
            )
        finally:
            for n, t in ((c, c_task), (b, b_task), (a, a_task)):
                n.stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(t, 10)
            await proxy.aclose()
            await lan_proxy.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a one-minute first phase")
    parser.add_argument("--write-doc", action="store_true", help="replace its section in docs/PERFORMANCE.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    results = asyncio.run(run(args.quick))
    zenoh = f"eclipse-zenoh {importlib.metadata.version('eclipse-zenoh')}"
    lines = [
        *heading(TITLE, zenoh, wall_s=time.monotonic() - started),
        SETUP,
        "",
        "| load | positions offered / delivered | alarms (lost) | alarm latency p50 / max | on the wire "
        "| budget backlog at 1/4, end, max | link down | LAN peer at the same time: positions, alarms lost, wire |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results:
        lines.append(
            f"| {name} | {r['offered']:.0f} / {r['delivered']:.0f} | {r['alarms']:.0f} ({r['alarms_lost']:.0f}) "
            f"| {r['p50']:.0f} / {r['max']:.0f} ms | {r['wire_bps']:.0f} bit/s of {RATE_BPS} "
            f"| {r['backlog_first']:.0f}, {r['backlog_last']:.0f}, {r['backlog_max']:.0f} | {r['link_down_s']:.0f} s "
            f"| {r['lan_delivered']:.0f}, {r['lan_alarms_lost']:.0f}, {r['lan_wire_bps']:.0f} bit/s |"
        )
    publish([*lines, "", READING], write=args.write_doc)


if __name__ == "__main__":
    main()
