"""`fieldkit sim --nodes 3`: a command post and two kits as processes, a partition on the timeline."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kit import stop_process

from sim.meshsim import MeshSim, scenario_cuts
from sim.scenario import load_scenario, resolve

REPO = Path(__file__).resolve().parents[2]
URL_LINE = re.compile(r"fieldkit: (\S+) \((?:command post|field kit)\) at (http://\S+/) \(session token (\S+)\)")


def _free_run(start: int, count: int) -> bool:
    for port in range(start, start + count):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_bases() -> tuple[int, int]:
    """A Zenoh base port (3 ports, proxies at +100) and an HTTP base port (3 ports), all free now."""
    for base in range(24_000, 31_000, 397):
        if _free_run(base, 3) and _free_run(base + 100, 3) and _free_run(base + 50, 3):
            return base, base + 50
    raise RuntimeError("no free ports")


@pytest.fixture
def mesh_sim(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    base, http = free_bases()
    scenario = tmp_path / "scenario.toml"
    scenario.write_text("units = 4\ndrones = false\nreport_interval_s = 2.0\n", encoding="utf-8")
    command = [sys.executable, "-m", "edge.cli", "--log-level", "warning", "sim", "--nodes", "3"]
    command += ["--base-port", str(base), "--port", str(http), "--scenario", str(scenario), "--no-browser-hint"]
    command += ["--partition-at", "4", "--partition-for", "6"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
    try:
        yield proc
    finally:
        stop_process(proc, signal.SIGTERM, timeout=30)


async def next_line(proc: subprocess.Popen[str], pattern: str, seen: list[str], timeout: float = 60.0) -> re.Match[str]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout)
        if not line:
            break
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"no line matching {pattern!r}:\n" + "".join(seen[-40:]))


async def until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.3)


async def test_three_nodes_on_a_timeline_share_one_picture(mesh_sim: subprocess.Popen[str]) -> None:
    seen: list[str] = []
    nodes = {}
    for _ in range(3):
        match = await next_line(mesh_sim, URL_LINE.pattern, seen, timeout=120)
        nodes[match[1]] = httpx.AsyncClient(
            base_url=match[2], headers={"Authorization": f"Bearer {match[3]}"}, timeout=5.0
        )
    assert sorted(nodes) == ["edge1", "edge2", "hub"]
    hub, edge1, edge2 = nodes["hub"], nodes["edge1"], nodes["edge2"]

    async def origins(client: httpx.AsyncClient) -> set[str]:
        r = await client.get("/api/entities")
        r.raise_for_status()
        return {e["origin"] for e in r.json() if e["kind"] == "unit"}

    async def measured_links(client: httpx.AsyncClient) -> set[str]:
        """Peers the hub's own node entity shows linked, with an RTT (the page's link map)."""
        r = await client.get("/api/entities/node:hub")
        r.raise_for_status()
        return {x["peer"] for x in r.json().get("links", []) if x["up"] and isinstance(x["rtt_ms"], (int, float))}

    async def alert_ids(client: httpx.AsyncClient) -> list[str]:
        r = await client.get("/api/events", params={"since": time.time() - 3600, "limit": 1000, "kind": "alert"})
        r.raise_for_status()
        return [e["id"] for e in r.json() if e["kind"] == "alert"]

    try:
        await until(lambda: _holds(origins(hub), {"edge1", "edge2"}), 60, "the hub sees both edges' radios")
        await until(lambda: _holds(measured_links(hub), {"edge1", "edge2"}), 30, "the hub's links, with RTT")
        await next_line(mesh_sim, r"link edge1 <-> hub cut", seen, timeout=30)
        r = await edge1.post("/api/alerts", json={"title": "edge1 during the cut", "severity": "emergency"})
        assert r.status_code == 201, r.text
        alert = r.json()["alert"]["id"]
        await until(lambda: _holds(alert_ids(edge2), {alert}), 15, "edge2 sees edge1's alarm during the cut")
        assert alert not in await alert_ids(hub)
        await next_line(mesh_sim, r"link edge1 <-> hub healed", seen, timeout=30)
        await until(lambda: _holds(alert_ids(hub), {alert}), 30, "the hub has it after the heal")
        assert (await alert_ids(hub)).count(alert) == 1 and (await alert_ids(edge2)).count(alert) == 1
    finally:
        for client in nodes.values():
            await client.aclose()
    mesh_sim.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(mesh_sim.wait, 30) == 0
    rest = await asyncio.to_thread(mesh_sim.stdout.read) if mesh_sim.stdout else ""
    assert "mesh sim stopped" in rest, rest[-2000:]
    for url in ("hub", "edge1", "edge2"):  # every node process is gone with its API
        with pytest.raises(httpx.ConnectError):
            await httpx.AsyncClient().get(str(nodes[url].base_url))


async def _holds(found, wanted: set[str]) -> bool:  # type: ignore[no-untyped-def]
    return wanted <= set(await found)


def test_a_scenarios_link_cuts_drive_the_simulated_mesh(tmp_path: Path) -> None:
    city = load_scenario(resolve("city-highrise-fire"))
    sim = MeshSim(3, city, base_port=7447, http_port=8080, speedup=10.0, log_level="info", root=tmp_path)
    # cmd-post is the hub, kit-attack edge1: "kit-attack <-> cmd-post at 140 s for 30 s", at 10x
    assert scenario_cuts(city, sim, 10.0) == [("edge1", "hub", 14.0, 3.0)]
    forest = load_scenario(resolve("forest-fire"))
    sim = MeshSim(3, forest, base_port=7447, http_port=8080, speedup=1.0, log_level="info", root=tmp_path)
    cuts = scenario_cuts(forest, sim, 1.0)
    assert [(at, length) for _, _, at, length in cuts] == [(50.0, 40.0)]
    assert {cuts[0][0], cuts[0][1]} <= {"hub", "edge1", "edge2"}
