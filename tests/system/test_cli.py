"""The `fieldkit` command as an operator runs it."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
from kit import FIELDKIT, kit_config, write_config

from edge.radio import Fix, FixMode
from edge.radio.nmea_kenwood import encode_unit_fix
from edge.radio.rawlog import RawLog


def fieldkit(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FIELDKIT, *args], capture_output=True, text=True, timeout=timeout)


def test_version() -> None:
    out = fieldkit("version")
    assert out.returncode == 0 and re.fullmatch(r"fieldkit \d+\.\d+\.\d+\n", out.stdout)


def test_config_check_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "kit.toml"
    bad.write_text('[api]\nport = 70000\nhots = "x"\n[node]\nrole = "tower"\n', encoding="utf-8")
    out = fieldkit("config", "check", str(bad))
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"fieldkit: configuration {bad} has 3 problem(s):",
        "  api.port: expected a whole number <= 65535 (got 70000)",
        "  api.hots: unknown option (known here: basemaps, host, max_body_bytes, max_ws_clients, mbtiles, "
        "metrics_public, port, "
        "tls_cert, tls_key, "
        "tokens_file)",
        "  node.role: must be one of edge, command-post (got 'tower')",
    ]
    good = write_config(tmp_path, kit_config(tmp_path))
    out = fieldkit("config", "check", str(good))
    assert out.returncode == 0 and "OK (node kit-test" in out.stdout


def test_token_lifecycle_never_prints_secrets_twice(tmp_path: Path) -> None:
    config = write_config(tmp_path, kit_config(tmp_path))
    created = fieldkit("token", "create", "--role", "pilot", "--label", "李娜", "--config", str(config))
    token = created.stdout.strip()
    assert created.returncode == 0 and token.startswith("fk_")
    listed = fieldkit("token", "list", "--config", str(config))
    _, token_id, secret = token.split("_", 2)  # the secret is URL-safe base64: it may hold "_" itself
    assert listed.stdout.split() == [token_id, "pilot", "never", "expires", "李娜"]
    assert secret not in listed.stdout + listed.stderr
    assert fieldkit("token", "revoke", token_id, "--config", str(config)).returncode == 0
    assert fieldkit("token", "revoke", token_id, "--config", str(config)).returncode == 1


def test_corrupt_journal_stops_the_node_with_a_clear_message(tmp_path: Path) -> None:
    config = kit_config(tmp_path)
    path = write_config(tmp_path, config)
    config.journal_path.parent.mkdir(parents=True)
    config.journal_path.write_bytes(b"\x00garbage" * 1000)
    out = fieldkit("run", "--config", str(path), timeout=30)
    assert out.returncode == 3
    assert "is not a readable SQLite database" in out.stderr and "left untouched" in out.stderr
    assert config.journal_path.read_bytes() == b"\x00garbage" * 1000


def test_sim_serves_a_live_incident_and_stops_by_itself(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        "units = 12\nreport_interval_s = 2.0\nalarm_interval_s = 6.0\nmessage_interval_s = 3.0\ngcs_udp_port = 0\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [*FIELDKIT, "sim", "--scenario", str(scenario), "--port", "0", "--duration", "20", "--speedup", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        match = re.search(r"at (http://127\.0\.0\.1:\d+/)#token=(fk_\S+)", lines[1])
        assert match, lines
        url, token = match.groups()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                scene = client.get("/api/scene").json()
                units = [e for e in scene["entities"] if e["kind"] == "unit"]
                vehicles = [e for e in scene["entities"] if e["kind"] == "vehicle"]
                feeds = [e for e in scene["entities"] if e["kind"] == "feed"]
                live = [f for f in feeds if f["state"] == "live" and f["pos"]]
                emergencies = [a for a in scene["alerts"] if a["alert"]["severity"] == "emergency"]
                if len(units) == 12 and emergencies and scene["messages"] and len(vehicles) == 3 and len(live) == 3:
                    break
                time.sleep(0.5)
            # The units came through the simulated gateway's bytes, named by the roster it wrote.
            assert len(units) == 12 and all(u["team"] and u["online"] for u in units)
            # a radio's emergency (the thermal camera's hotspot warnings and drone alerts come too)
            assert emergencies and emergencies[0]["alert"]["entity_id"].startswith("unit:")
            assert scene["messages"][0]["via"] == "pdt"
            # The SITL fleet's MAVLink came through the drone service: two patrols and a tethered drone.
            assert sorted(v["tethered"] for v in vehicles) == [False, False, True]
            # A sim camera on each drone, following it; the tethered overwatch's is thermal.
            assert sorted((f["vehicle_id"], f["thermal"]) for f in live) == sorted(
                (v["id"], v["tethered"]) for v in vehicles
            )
            health = client.get("/healthz").json()["components"]
            assert health["radio-pdt"]["state"] == "running" and health["sim-pdt-gateway"]["state"] == "running"
            assert client.get("/").status_code == 200
        assert proc.wait(30) == 0, "--duration stops the sim by itself"
        assert "token" not in proc.stderr.read(), "no secret in the logs"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_unreadable_roster_is_a_clear_startup_error(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("radio_id,alias\n10x1,bad\n", encoding="utf-8")
    config = write_config(tmp_path, kit_config(tmp_path, radio={"enabled": True, "roster": str(roster)}))
    out = fieldkit("run", "--config", str(config), timeout=30)
    assert out.returncode == 2
    assert f"roster {roster} line 2: radio_id '10x1' is not a number" in out.stderr
    assert "Traceback" not in out.stderr


def test_radio_replay_prints_the_events_of_a_raw_log(tmp_path: Path) -> None:
    log = RawLog(tmp_path / "raw.log")
    sentence = encode_unit_fix(Fix(unit="1001", ts=1_800_000_000.0, lat=36.7, lon=119.16, mode=FixMode.THREE_D))
    log.write(1_800_000_000.5, b"noise" + sentence[:20])
    log.write(1_800_000_000.6, sentence[20:])
    log.close()
    out = fieldkit("radio", "replay", str(tmp_path / "raw.log"), "--framing", "nmea")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    assert '"type": "Fix"' in line and '"unit":"1001"' in line and '"lat":36.7' in line
    assert "1 frames decoded; dropped: {'garbage': 1, 'garbage_bytes': 5}" in out.stderr
