"""The two fieldkit nodes of the incident benchmark, each a real ``fieldkit run`` process.

The edge kit takes the radios (serial, the load process's pseudo-terminal, PDT binary framing), the
drones (MAVLink ``udp-listen``), serves the sim cameras, and listens for the mesh; the command post
dials the edge through ``sim.linkproxy.LinkProxy`` (which counts the mesh's bytes). Gossip is off so
the post cannot learn the edge's own endpoint and go round the proxy. Everything else is at its
default, journal ``synchronous = "FULL"`` included, as a kit in the field runs.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edge.config import parse
from edge.radio.binary import EXAMPLE
from sim.scenario import Scenario

FIELDKIT = [sys.executable, "-m", "edge.cli"]
HOME = Scenario()


def edge_config(
    folder: Path, *, device: str, roster: str, drone_port: int, mesh_port: int, feeds: int, camera_ports: list[int]
) -> Path:
    """The edge kit's config file in ``folder``: ``feeds`` sim cameras, or IP cameras on ``camera_ports``."""
    cameras: list[dict[str, Any]] = [
        {"name": f"cam{k + 1}", "source": "sim", "lat": HOME.home_lat + 0.001 * k, "lon": HOME.home_lon}
        for k in range(feeds)
    ]
    for camera, port in zip(cameras, camera_ports, strict=False):
        camera.update(source="mpegts", url=f"udp://127.0.0.1:{port}")
    radio = {"enabled": True, "transport": "serial", "device": device, "framing": "binary", "baudrate": 115200}
    radio["roster"] = roster
    endpoint = {"name": "drones", "kind": "udp-listen", "host": "127.0.0.1", "port": drone_port}
    return _write(
        folder,
        {
            "node": {"id": "edge", "data_dir": str(folder / "data")},
            "api": {"host": "127.0.0.1", "port": 0},
            "mesh": {"listen": [f"tcp/127.0.0.1:{mesh_port}"], "gossip": False},
            "radio": radio,
            "drones": {"enabled": True, "endpoints": [endpoint]},
            "media": {"enabled": True, "feeds": cameras},
        },
    )


def _framing_tables() -> str:
    """The example PDT framing (a TOML file of its own) as ``[radio.binary]`` tables."""
    text = EXAMPLE.read_text(encoding="utf-8")
    return "\n[radio.binary]\n" + re.sub(r"^(\[\[?)", r"\1radio.binary.", text, flags=re.MULTILINE)


def post_config(folder: Path, *, connect: str) -> Path:
    """The command post's config file in ``folder``: it dials the edge through the proxy."""
    return _write(
        folder,
        {
            "node": {"id": "cp", "role": "command-post", "data_dir": str(folder / "data")},
            "api": {"host": "127.0.0.1", "port": 0},
            "mesh": {"connect": [connect], "gossip": False},
        },
    )


def _write(folder: Path, sections: dict[str, Any]) -> Path:
    """``sections`` as ``folder/kit.toml`` (plus the PDT framing when the radio uses it), checked by parsing."""
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        tables = []
        for key, value in values.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:
                    tables += [f"[[{name}.{key}]]", *(f"{k} = {_value(v)}" for k, v in item.items())]
            else:
                lines.append(f"{key} = {_value(value)}")
        lines += tables
    text = "\n".join(lines) + "\n"
    if sections.get("radio", {}).get("framing") == "binary":
        text += _framing_tables()
    parse(text)  # raises, naming the key, on any mistake
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kit.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _value(value: object) -> str:
    """A TOML value: JSON's spelling is TOML's for strings, numbers, booleans and flat lists."""
    return json.dumps(value, ensure_ascii=False)


@dataclass
class Node:
    """A running ``fieldkit run`` and a viewer token for it."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    token: str
    log: Path

    def get(self, path: str) -> httpx.Response:
        """GET ``path`` with the viewer token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.get(self.url.rstrip("/") + path, headers=headers, timeout=10.0)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after 15 s; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def start(name: str, config: Path, timeout_s: float = 60.0) -> Node:
    """Create a viewer token, start the node (its output to ``<name>.log``), wait until it serves."""
    token = subprocess.run(
        [*FIELDKIT, "token", "create", "--role", "viewer", "--label", "bench", "--config", str(config)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    log = config.parent / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*FIELDKIT, "run", "--config", str(config)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        match = re.search(r"serving (https?://\S+/)", log.read_text(errors="replace"))
        if match:
            return Node(name, proc, match.group(1), token, log)
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"{name} did not start:\n{log.read_text(errors='replace')[-3000:]}")


COUNTED = r"drop|overflow|stale|resync|without_base|failure|restart|stalls"  # the /metrics lines a report shows


def counters(node: Node) -> dict[str, float]:
    """The node's nonzero drop-like counters from /metrics (dropped, overflow, stale, resync...)."""
    out: dict[str, float] = {}
    for line in node.get("/metrics").text.splitlines():
        if line.startswith("#") or not re.search(COUNTED, line):
            continue
        name, _, value = line.rpartition(" ")
        if float(value) and not name.endswith("_created"):
            out[name] = float(value)
    return out
