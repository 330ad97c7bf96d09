"""Incident benchmark: one edge kit under a whole incident's load, measured from wire to WebSocket.

Processes, all on loopback (``python -m benchmarks.incident``, from the repository root):

- **load** (``load.py``): ``units`` radios reporting every 30 s through the simulated PDT gateway on
  a pseudo-terminal (``sim.pdt_gateway``, example binary framing), and ``drones`` MAVLink 2 drones at
  10 Hz over UDP (``drones.py``); every position carries its send time (``stamp.py``);
- **edge**: ``fieldkit run`` with the radio gateway, the drone router, ``feeds`` cameras and the
  mesh listening; the cameras are IP cameras (``cameras.py``: ffmpeg processes the node relays as
  sent) or, with ``--cameras sim``, sim cameras the node renders and encodes itself;
- **cp**: a command post, ``fieldkit run`` too, linked to the edge over Zenoh through
  ``sim.linkproxy.LinkProxy`` in this process, which counts the mesh's bytes;
- **ws** (``ws_clients.py``): 10 live clients on the edge's /api/live and one on the post's;
- **viewers** (``viewers.py``): ``viewers`` WHEP sessions per feed (aiortc, frames counted, not decoded).

After ``--warmup`` seconds the window opens: latency samples, CPU and RSS per process, mesh bytes;
at its end the nodes' drop counters are read from /metrics. ``--soak`` runs the same load for
``--duration`` (default 3600 s) and reports RSS growth after warm-up, sampled every 30 s.

    .venv/bin/python -m benchmarks.incident --scale 0.2      # ~70 s: 10 drones, 400 radios, 1 feed x 2 viewers
    .venv/bin/python -m benchmarks.incident --repeats 3 --write-doc   # full scale, ~5 min; docs/PERFORMANCE.md
    .venv/bin/python -m benchmarks.incident --soak --write-doc   # one hour (make soak)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.drones import free_udp_port
from sim.linkproxy import LinkProxy

from . import cameras, nodes, report
from .procs import Sampler

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Plan:
    """How much load, and for how long."""

    drones: int
    units: int
    feeds: int
    viewers_per_feed: int
    ws_edge: int = 10
    ws_post: int = 1
    warmup_s: float = 20.0
    duration_s: float = 60.0
    sample_s: float = 1.0
    cameras: str = "ip"  # "ip": ffmpeg processes, pass-through in the node (cameras.py); "sim": encoded in the node


def plan_for(args: argparse.Namespace) -> Plan:
    """The plan at ``--scale`` (1: 50 drones, 2,000 radios, 4 feeds x 5 viewers), with overrides."""
    s = args.scale
    feeds = max(1, round(4 * s)) if args.feeds is None else args.feeds
    soak = args.soak
    warmup = 300.0 if soak else (30.0 if s >= 1 else 20.0)  # at full scale: every radio heard once first
    return Plan(
        drones=max(1, round(50 * s)) if args.drones is None else args.drones,
        units=max(1, round(2000 * s)) if args.units is None else args.units,
        feeds=feeds,
        viewers_per_feed=min(5, max(1, round(10 * s))) if feeds else 0,
        warmup_s=args.warmup if args.warmup is not None else warmup,
        duration_s=args.duration if args.duration is not None else (3600.0 if soak else warmup + 60.0),
        sample_s=30.0 if soak else 1.0,
        cameras=args.cameras,
    )


def free_tcp_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _python(module: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", f"benchmarks.incident.{module}", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


async def _line(proc: subprocess.Popen[str], timeout_s: float) -> Any:
    """The next JSON line the process prints (None if it ended or said nothing in time)."""
    assert proc.stdout is not None
    with contextlib.suppress(TimeoutError, json.JSONDecodeError):
        return json.loads(await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout_s))
    return None


async def _wait_for_mesh(post: nodes.Node, plan: Plan, timeout_s: float = 90.0) -> float:
    """Seconds until the post shows the edge's vehicles and at least one radio unit."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        with contextlib.suppress(Exception):
            vehicles = (await asyncio.to_thread(post.get, "/api/entities?kind=vehicle")).json()
            units = (await asyncio.to_thread(post.get, "/api/entities?kind=unit")).json()
            if len(vehicles) >= plan.drones and units:
                return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise RuntimeError("the command post never saw the edge's drones and radios over the mesh")


def _stop(proc: subprocess.Popen[str] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def run(plan: Plan) -> dict[str, Any]:
    """Run the whole incident once; every process is stopped and the folder removed before returning."""
    started = time.monotonic()
    procs: dict[str, subprocess.Popen[str] | None] = {"load": None, "ws": None, "viewers": None}
    ip_cameras: list[subprocess.Popen[bytes]] = []
    node_list: list[nodes.Node] = []
    proxy: LinkProxy | None = None
    with tempfile.TemporaryDirectory(prefix="incident-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            drone_port, mesh_port = free_udp_port(), free_tcp_port()
            load = procs["load"] = _python(
                "load", "--folder", str(tmp), "--units", str(plan.units), "--drones", str(plan.drones),
                "--drone-port", str(drone_port),
            )  # fmt: skip
            hello = await _line(load, 60)
            if hello is None:
                raise RuntimeError("the load process did not start")
            proxy = LinkProxy(mesh_port)
            await proxy.start()
            camera_ports = [free_udp_port() for _ in range(plan.feeds)] if plan.cameras == "ip" else []
            edge_cfg = nodes.edge_config(
                tmp / "edge", device=hello["device"], roster=hello["roster"], drone_port=drone_port,
                mesh_port=mesh_port, feeds=plan.feeds, camera_ports=camera_ports,
            )  # fmt: skip
            ip_cameras = cameras.start(camera_ports)
            edge = await asyncio.to_thread(nodes.start, "edge", edge_cfg)
            node_list.append(edge)
            post = await asyncio.to_thread(nodes.start, "cp", nodes.post_config(tmp / "cp", connect=proxy.endpoint))
            node_list.append(post)
            mesh_up_s = await _wait_for_mesh(post, plan)
            ws = procs["ws"] = _python("ws_clients")
            targets = [
                {"label": "edge", "url": edge.url, "token": edge.token, "count": plan.ws_edge},
                {"label": "cp", "url": post.url, "token": post.token, "count": plan.ws_post},
            ]
            _send(ws, {"seconds": plan.duration_s, "warmup": plan.warmup_s, "targets": targets})
            if plan.feeds:
                viewers = procs["viewers"] = _python("viewers")
                feeds = [f"cam{k + 1}" for k in range(plan.feeds)]
                _send(viewers, {"url": edge.url, "token": edge.token, "feeds": feeds, "per_feed": plan.viewers_per_feed,
                                "seconds": plan.duration_s, "warmup": plan.warmup_s})  # fmt: skip
            pids = {"edge": edge.proc.pid, "cp": post.proc.pid, "load": load.pid, "ws": ws.pid, "harness": os.getpid()}
            if procs["viewers"] is not None:
                pids["viewers"] = procs["viewers"].pid
            pids.update({f"camera{k + 1}": camera.pid for k, camera in enumerate(ip_cameras)})
            sampler = Sampler(pids)
            await asyncio.sleep(plan.warmup_s)
            sampler.start()
            bytes_before = (proxy.bytes_down, proxy.bytes_up)
            window_end = time.monotonic() + plan.duration_s - plan.warmup_s
            while time.monotonic() < window_end:
                await asyncio.sleep(min(plan.sample_s, max(0.0, window_end - time.monotonic())))
                sampler.sample()
            sampler.stop()
            window = plan.duration_s - plan.warmup_s
            mesh = {"edge_to_cp": proxy.bytes_down - bytes_before[0], "cp_to_edge": proxy.bytes_up - bytes_before[1]}
            result: dict[str, Any] = {"plan": vars(plan), "window_s": window, "mesh_bytes": mesh}
            result["mesh_up_s"] = round(mesh_up_s, 1)
            result["latency"] = await _line(ws, 120)
            result["viewers"] = await _line(procs["viewers"], 60) if procs["viewers"] is not None else None
            result["counters"] = {n.name: await asyncio.to_thread(nodes.counters, n) for n in node_list}
            result["entities"] = {n.name: await asyncio.to_thread(_entity_counts, n) for n in node_list}
            result["processes"] = [
                {"name": w.name, "cpu_pct": w.cpu_pct, "rss_mb": w.rss_mb, "rss_at": w.rss_at} for w in sampler.watched
            ]
            assert load.stdin is not None
            load.stdin.close()
            result["sent"] = await _line(load, 30)
        finally:
            for name in ("ws", "viewers", "load"):
                _stop(procs[name])
            cameras.stop(ip_cameras)
            for node in reversed(node_list):
                node.stop()
            if proxy is not None:
                await proxy.aclose()
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


def _send(proc: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()


def _entity_counts(node: nodes.Node) -> dict[str, int]:
    return {kind: len(node.get(f"/api/entities?kind={kind}").json()) for kind in ("vehicle", "unit", "feed")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the full load (0.2: ~1 min on 2 cores)")
    parser.add_argument("--duration", type=float, help="seconds of load in all, warm-up included")
    parser.add_argument("--warmup", type=float, help="seconds before the measuring window opens")
    parser.add_argument("--drones", type=int, help="simulated drones (default: 50 x scale)")
    parser.add_argument("--units", type=int, help="simulated radios (default: 2,000 x scale)")
    parser.add_argument("--feeds", type=int, help="sim cameras (default: 4 x scale, at least 1; 0: none)")
    parser.add_argument(
        "--cameras", choices=("ip", "sim"), default="ip",
        help="ip: ffmpeg IP cameras the node relays (default); sim: sim cameras encoded in the node",
    )  # fmt: skip
    parser.add_argument(
        "--repeats", type=int, default=1,
        help="run the incident N times; report the run with the median edge drone p99 and every run's p99s",
    )  # fmt: skip
    parser.add_argument("--soak", action="store_true", help="RSS every 30 s, growth after warm-up (default 1 h)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw result as JSON")
    parser.add_argument("--write-doc", action="store_true", help="replace its section in docs/PERFORMANCE.md")
    args = parser.parse_args(argv)
    plan = plan_for(args)
    if plan.warmup_s >= plan.duration_s:
        parser.error("--warmup must be shorter than --duration")
    if args.soak and args.repeats != 1:
        parser.error("--soak runs once")
    results = []
    for _ in range(args.repeats):
        load_before = os.getloadavg()
        results.append(asyncio.run(run(plan)))
        results[-1]["loadavg"] = {"before": load_before, "after": os.getloadavg()}
    result = report.median_run(results)
    result["runs"] = [report.run_summary(r) for r in results] if len(results) > 1 else []
    command = "python -m benchmarks.incident " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report.soak_section(result, command) if args.soak else report.section(result, command)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    if args.write_doc:
        report.write_doc(text, soak=args.soak)


if __name__ == "__main__":
    main()
