"""Helpers for the SITL tests: a ground station speaking real MAVLink bytes to an in-process vehicle,
and the SITL CLI in a subprocess."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sim.sitl import Decoder, Encoder, Vehicle, VehicleConfig

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


class Gcs:
    """A ground station on sysid 255 / compid 190: every message crosses the wire as bytes both ways."""

    def __init__(self, vehicle: Vehicle, now: float) -> None:
        self.vehicle = vehicle
        self.now = now
        self._out = Encoder(255, mavlink.MAV_COMP_ID_MISSIONPLANNER)
        self._vehicle_in = Decoder()
        self._vehicle_out = Encoder(vehicle.sysid, vehicle.compid)
        self._in = Decoder()
        self.received: list[Any] = []

    def _deliver(self, messages: list[Any]) -> list[Any]:
        data = b"".join(self._vehicle_out.encode(m) for m in messages)
        decoded = self._in.feed(data)
        assert len(decoded) == len(messages), "every message the vehicle sends must survive the wire"
        self.received.extend(decoded)
        return decoded

    def send(self, msg: Any) -> list[Any]:
        """Send one message; returns the vehicle's immediate replies (decoded from bytes)."""
        (wire,) = self._vehicle_in.feed(self._out.encode(msg))
        return self._deliver(self.vehicle.handle(wire, self.now))

    def command(self, command: int, *params: float, use_int: bool = False, frame: int = 0) -> Any:
        """COMMAND_LONG (or COMMAND_INT) with up to 7 params; returns its COMMAND_ACK."""
        p = [*params, *[0.0] * (7 - len(params))]
        if use_int:
            msg = mavlink.MAVLink_command_int_message(
                self.vehicle.sysid, 1, frame, command, 0, 0, *p[:4], int(p[4]), int(p[5]), p[6]
            )
        else:
            msg = mavlink.MAVLink_command_long_message(self.vehicle.sysid, 1, command, 0, *p)
        acks = [m for m in self.send(msg) if m.get_type() == "COMMAND_ACK"]
        assert len(acks) == 1 and acks[0].command == command
        return acks[0]

    def run(self, seconds: float, dt: float = 0.1) -> list[Any]:
        """Advance the vehicle; returns everything it sent meanwhile."""
        got: list[Any] = []
        for _ in range(round(seconds / dt)):
            self.now += dt
            got.extend(self._deliver(self.vehicle.step(self.now)))
        return got

    def run_until(self, condition: Callable[[], bool], limit_s: float, dt: float = 0.1) -> float:
        """Advance until ``condition`` holds; returns the simulated seconds it took (fails at the limit)."""
        start = self.now
        while not condition():
            assert self.now - start < limit_s, f"condition not met within {limit_s} simulated seconds"
            self.run(dt, dt)
        return self.now - start

    def texts(self) -> list[str]:
        """STATUSTEXTs received so far."""
        return [m.text for m in self.received if m.get_type() == "STATUSTEXT"]

    def of(self, kind: str) -> list[Any]:
        """Received messages of one type."""
        return [m for m in self.received if m.get_type() == kind]

    def heartbeat(self) -> None:
        """A GCS HEARTBEAT."""
        self.send(mavlink.MAVLink_heartbeat_message(mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0, 3))


@pytest.fixture
def make_gcs() -> Callable[..., Gcs]:
    """Build a vehicle (GPS fixed after its first step unless told) and a GCS talking to it."""

    def make(now: float = 1_000_000.0, **config: Any) -> Gcs:
        config.setdefault("gps_lock_s", 0.0)
        vehicle = Vehicle(VehicleConfig(**config), now)
        gcs = Gcs(vehicle, now)
        gcs.run(0.5)
        return gcs

    return make


def free_udp_port() -> int:
    """A UDP port free right now on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class SitlProcess:
    """The SITL CLI running in a subprocess."""

    proc: subprocess.Popen[str]
    udp_all: list[tuple[str, int]]
    tcp_all: list[tuple[str, int]]
    stderr_path: Path

    @property
    def udp(self) -> tuple[str, int] | None:
        """The first endpoint's UDP address."""
        return self.udp_all[0] if self.udp_all else None

    @property
    def tcp(self) -> tuple[str, int] | None:
        """The first endpoint's TCP address."""
        return self.tcp_all[0] if self.tcp_all else None


def _addresses(text: str) -> list[tuple[str, int]]:
    if text == "-":
        return []
    return [(host, int(port)) for host, _, port in (a.rpartition(":") for a in text.split(","))]


@contextlib.contextmanager
def sitl_process(tmp_path: Path, *args: str, ready_s: float = 20.0) -> Iterator[SitlProcess]:
    """Start ``python -m sim.sitl ARGS``; wait (bounded) for its ready line; stop it afterwards."""
    stderr_path = tmp_path / f"sitl-{time.monotonic_ns()}.log"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.sitl", "-v", *args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], ready_s)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("SITL ready"), f"SITL did not start: {line!r} {stderr_path.read_text()[-2000:]}"
        fields = dict(part.split("=", 1) for part in line.split()[2:])
        yield SitlProcess(proc, _addresses(fields["udp"]), _addresses(fields["tcp"]), stderr_path)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after 5 s; always reaped."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def peer_env() -> dict[str, str]:
    """Environment for ground-software subprocesses: this venv first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def sitl(tmp_path: Path) -> Callable[..., contextlib.AbstractContextManager[SitlProcess]]:
    """``with sitl("--tcp", "0") as s:`` runs the SITL CLI for the block."""
    return lambda *args, **kw: sitl_process(tmp_path, *args, **kw)


@pytest.fixture
def udp_port() -> int:
    """A free loopback UDP port (for a peer that listens, as mavutil's ``udp:``)."""
    return free_udp_port()


@pytest.fixture
def env() -> dict[str, str]:
    """Environment for ground-software subprocesses."""
    return peer_env()


@pytest.fixture
def stop_process() -> Callable[[subprocess.Popen[Any]], None]:
    """Stop a subprocess (SIGTERM, then SIGKILL), bounded."""
    return stop
