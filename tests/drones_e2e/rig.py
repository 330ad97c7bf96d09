"""Helpers for the end-to-end drone tests: a routing node in this loop, its API, and peers in subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from drones_io.mavpeer import Rig, start_rig, stop_rig

from edge.auth import Role

DRONEKIT_SCRIPT = Path(__file__).with_name("dronekit_counted.py")  # tests/sitl/dronekit_flight.py, counted
SPEEDUP = 4.0  # the SITL's: dronekit's and MAVProxy's waits are wall-clock, so it stays modest
NODE = "kit-test"  # the node id kit_config gives


def vehicle_id(sysid: int) -> str:
    """The picture id of vehicle ``sysid`` on the test node."""
    return f"vehicle:{NODE}:{sysid}"


@contextlib.asynccontextmanager
async def routing_node(tmp_path: Path, endpoints: list[dict[str, object]], **drones: Any) -> AsyncIterator[Rig]:
    """A node in this loop routing ``endpoints``; the command protocol at its defaults, publishing at 5 Hz."""
    settings: dict[str, Any] = {
        "publish_rate_hz": 5.0,
        "link_lost_after_s": 3.0,
        "command_timeout_s": 1.5,
        "command_retries": 3,
        **drones,
    }
    rig = await start_rig(tmp_path, endpoints, **settings)
    try:
        yield rig
    finally:
        await stop_rig(rig)


def ready_to_arm(v: dict[str, Any]) -> bool:
    """A picture vehicle with a 3D fix, a healthy EKF and a home: ArduCopter will arm in GUIDED."""
    return bool(v["ekf_ok"] and v["gps_fix"] == "3d" and v["home"] and v["pos"])


def api(rig: Rig, role: Role | None = Role.PILOT) -> httpx.AsyncClient:
    """An HTTP client for the node's API with the token of ``role``."""
    headers = {"Authorization": f"Bearer {rig.tokens[role]}"} if role else {}
    return httpx.AsyncClient(base_url=rig.url, headers=headers, timeout=30)


async def vehicles(rig: Rig) -> dict[str, dict[str, Any]]:
    """GET /api/vehicles as a viewer: the picture's vehicles by id."""
    async with api(rig, Role.VIEWER) as http:
        r = await http.get("/api/vehicles")
    r.raise_for_status()
    return {v["id"]: v for v in r.json()}


async def links(rig: Rig) -> dict[str, dict[str, Any]]:
    """GET /api/drones/links: configured endpoints by name."""
    async with api(rig, Role.VIEWER) as http:
        r = await http.get("/api/drones/links")
    r.raise_for_status()
    return {link["name"]: link for link in r.json()}


async def audits(rig: Rig) -> list[dict[str, Any]]:
    """Drone command audit events, oldest first (GET /api/events?kind=audit)."""
    async with api(rig, Role.VIEWER) as http:
        r = await http.get("/api/events", params={"since": 0, "kind": "audit"})
    r.raise_for_status()
    return [e for e in r.json() if e["action"].startswith("drone ")]


async def command(rig: Rig, sysid: int, body: dict[str, Any], role: Role | None = Role.PILOT) -> httpx.Response:
    """POST /api/vehicles/{id}/commands."""
    async with api(rig, role) as http:
        return await http.post(f"/api/vehicles/{vehicle_id(sysid)}/commands", json=body)


async def poll(rig: Rig, sysid: int, check: Callable[[dict[str, Any]], bool], timeout_s: float, what: str) -> Any:
    """Poll GET /api/vehicles until vehicle ``sysid`` passes ``check``; return it (fail after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = (await vehicles(rig)).get(vehicle_id(sysid))
        if last is not None and check(last):
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout_s} s; the picture shows {last}")


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance between two (lat, lon) on a flat earth (fine for a few hundred metres)."""
    north = math.radians(b[0] - a[0]) * 6_371_000.0
    east = math.radians(b[1] - a[1]) * 6_371_000.0 * math.cos(math.radians(a[0]))
    return math.hypot(north, east)


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point ``north_m``/``east_m`` metres from (lat, lon)."""
    return (
        lat + math.degrees(north_m / 6_371_000.0),
        lon + math.degrees(east_m / (6_371_000.0 * math.cos(math.radians(lat)))),
    )


@dataclass
class Script:
    """A ground-software process whose stdout is read line by line while the test goes on."""

    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    def start_reading(self) -> None:
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while raw := await self.proc.stdout.readline():
            self.lines.append(raw.decode(errors="replace").rstrip())

    def steps(self) -> dict[str, Any]:
        """dronekit_flight.py's ``STEP <name> <json>`` lines by name."""
        out = {}
        for line in self.lines:
            if line.startswith("STEP "):
                _, name, data = line.split(" ", 2)
                out[name] = json.loads(data)
        return out

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    async def until(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Wait (bounded) until ``check()``; fail early if the process ended first."""
        deadline = time.monotonic() + timeout_s
        while not check():
            if self.proc.returncode is not None and self.reader is not None and self.reader.done():
                raise AssertionError(f"{what}: the process exited ({self.proc.returncode}): {self.lines[-40:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout_s} s: {self.lines[-40:]}")
            await asyncio.sleep(0.1)

    async def wait(self, timeout_s: float) -> int:
        """The exit code (fails if the process runs longer than ``timeout_s``)."""
        await asyncio.wait_for(self.proc.wait(), timeout_s)
        if self.reader is not None:
            await asyncio.wait_for(self.reader, 5)
        assert self.proc.returncode is not None
        return self.proc.returncode


@contextlib.asynccontextmanager
async def script(*argv: str, env: dict[str, str], cwd: Path | None = None) -> AsyncIterator[Script]:
    """Run ``argv`` with stdout and stderr merged into ``Script.lines``; stopped (bounded) afterwards."""
    # stdin is /dev/null: MAVProxy's input thread ends at EOF (SIGTERM alone leaves it reading)
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=env, cwd=cwd,
    )  # fmt: skip
    running = Script(proc)
    running.start_reading()
    try:
        yield running
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if running.reader is not None:
            running.reader.cancel()
            await asyncio.gather(running.reader, return_exceptions=True)


def dronekit_argv(connection: str, *extra: str) -> list[str]:
    """tests/sitl/dronekit_flight.py against ``connection`` (a dronekit/mavutil connection string), counted."""
    return [sys.executable, str(DRONEKIT_SCRIPT), connection, "--speedup", str(SPEEDUP), *extra]
