"""dronekit 2.9.2 (the pilots' scripting API, in a subprocess) flies the SITL CLI (another subprocess).

The script is dronekit_flight.py beside this file; it prints ``STEP <name> <json>`` lines. The SITL
runs at 4x: dronekit's waits are wall-clock (heartbeat, parameter and mission timeouts), so the
speed-up stays modest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("dronekit_flight.py")
SPEEDUP = 4


def run_script(connection: str, env: dict[str, str], *extra: str) -> tuple[dict[str, Any], str]:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), connection, "--speedup", str(SPEEDUP), *extra],
        capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip
    output = result.stdout + result.stderr[-3000:]
    steps = {}
    for line in result.stdout.splitlines():
        if line.startswith("STEP "):
            _, name, data = line.split(" ", 2)
            steps[name] = json.loads(data)
    assert result.returncode == 0, output
    return steps, output


def test_dronekit_connects_flies_guided_round_trips_a_mission_and_returns_over_udp(
    sitl, udp_port: int, env: dict[str, str]
) -> None:
    # dronekit's "udp:" listens (mavutil udpin), so the SITL sends to it, as ArduPilot SITL's --out
    with sitl("--out", f"127.0.0.1:{udp_port}", "--speedup", str(SPEEDUP), "--sysid", "7") as s:
        steps, output = run_script(f"udp:127.0.0.1:{udp_port}", env)
        assert s.proc.poll() is None, "the SITL must survive the whole flight"
    assert steps["connected"]["params"] > 300
    caps = steps["capabilities"]
    assert caps["version"].startswith("APM:Copter-4.5")
    assert caps["mission_int"] and caps["command_int"] and caps["mavlink2"] and caps["set_position_target_global_int"]
    assert not caps["ftp"] and caps["sysid"] == 7 and caps["wpnav_speed"] == 500
    assert abs(steps["home"]["lat"] - 36.70) < 1e-4 and abs(steps["home"]["lon"] - 119.16) < 1e-4
    assert steps["uploaded"]["count"] == 5 and len(steps["downloaded"]["got"]) == 5
    assert steps["armed"]["mode"] == "GUIDED"
    assert steps["took_off"]["alt"] >= 19.0
    assert steps["arrived"]["distance_m"] < 3.0 and abs(steps["arrived"]["alt"] - 20) < 1
    assert steps["landed"]["home_distance_m"] < 2.0 and steps["landed"]["alt"] < 0.5
    assert "done" in steps, output


def test_dronekit_over_tcp_loads_parameters_and_round_trips_a_mission(sitl, env: dict[str, str]) -> None:
    with sitl("--tcp", "0", "--speedup", str(SPEEDUP)) as s:
        assert s.tcp is not None
        steps, output = run_script(f"tcp:{s.tcp[0]}:{s.tcp[1]}", env, "--no-flight")
    assert steps["connected"]["params"] > 300
    assert steps["downloaded"]["got"][1][0] == 16 and "done" in steps, output
