"""MAVProxy 1.8 loads every parameter of our SITL through a ``fieldkit run`` node configured from a file.

Three subprocesses: the SITL, the node (``fieldkit run --config kit.toml`` with a ``[drones]`` section
and two ``[[drones.endpoints]]``), and MAVProxy, non-interactive, pointed at the node's ground-station
port, which the test learns from GET /api/drones/links (the config asks for port 0). MAVProxy asks
for parameters over MAVFTP first; the SITL's refusal must come back through the router, or MAVProxy
waits ~11 s and prints "FTP: request timed out" before falling back to PARAM_REQUEST_LIST.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from drones_e2e.rig import SPEEDUP, script
from kit import NodeProcess, spawn_node, stop_process

from edge.auth import Role
from sim.sitl import Vehicle, VehicleConfig

DEADLINE_S = 60.0  # a bound on a hung peer, not a speed assertion

CONFIG = """\
[node]
id = "kit-test"
data_dir = "{data}"

[api]
host = "127.0.0.1"
port = 0

[drones]
enabled = true
publish_rate_hz = 5.0

[[drones.endpoints]]
name = "sitl"
kind = "udp-connect"
host = "127.0.0.1"
port = {sitl_port}

[[drones.endpoints]]
name = "gcs"
kind = "tcp-server"
host = "127.0.0.1"
port = 0
"""


def get(node: NodeProcess, path: str) -> Any:
    with httpx.Client(base_url=node.url, headers={"Authorization": f"Bearer {node.tokens[Role.VIEWER]}"}) as http:
        r = http.get(path, timeout=10)
    r.raise_for_status()
    return r.json()


def params_line(lines: list[str]) -> str | None:
    """MAVProxy's "Received N parameters" line (" (ftp)" appended when it got them over MAVFTP)."""
    return next((line.split("> ")[-1] for line in lines if "Received" in line and "parameters" in line), None)


def gcs_port(node: NodeProcess) -> int:
    """The port the node's tcp-server endpoint bound, from GET /api/drones/links (bounded wait)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        gcs = {link["name"]: link for link in get(node, "/api/drones/links")}["gcs"]
        if gcs["state"] == "up" and gcs["local_port"]:
            return int(gcs["local_port"])
        time.sleep(0.1)
    raise AssertionError(f"the gcs endpoint never came up: {''.join(node.lines[-20:])}")


async def test_mavproxy_loads_parameters_through_a_fieldkit_run_node(
    tmp_path: Path, sitl: Any, env: dict[str, str]
) -> None:
    expected = len(Vehicle(VehicleConfig(sysid=1, speedup=SPEEDUP)).params)
    with sitl("--port", "0", "--speedup", str(SPEEDUP)) as s:
        assert s.udp is not None
        config = tmp_path / "kit.toml"
        config.write_text(CONFIG.format(data=tmp_path / "data", sitl_port=s.udp[1]), encoding="utf-8")
        node = spawn_node(config)
        node.keep_reading()
        try:
            port = gcs_port(node)
            mavproxy = (
                "mavproxy.py", f"--master=tcp:127.0.0.1:{port}", f"--state-basedir={tmp_path}",
                "--daemon", "--non-interactive", "--cmd=set heartbeat 1",
            )  # fmt: skip
            async with script(*mavproxy, env=env, cwd=tmp_path) as mp:
                await mp.until(lambda: params_line(mp.lines) is not None, DEADLINE_S, "parameters loaded")
                picture = {v["id"]: v for v in get(node, "/api/vehicles")}
                links = {link["name"]: link for link in get(node, "/api/drones/links")}
        finally:
            stop_process(node.proc)

    output = "\n".join(mp.lines)
    assert "Detected vehicle 1:1" in output, output
    assert params_line(mp.lines) == f"Received {expected} parameters", output
    assert "FTP: request timed out" not in output and "(ftp)" not in output, output
    saved = (tmp_path / "mav.parm").read_text()
    assert any(line.split()[:2] == ["WPNAV_SPEED", "500.000000"] for line in saved.splitlines()), saved[:500]
    assert picture["vehicle:kit-test:1"]["autopilot"] == "ardupilot"
    (peer,) = links["gcs"]["peers"]  # MAVProxy, as a TCP client of the node
    assert [255, 230] in peer["systems"] and peer["frames_out"] > expected
