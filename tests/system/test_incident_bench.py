"""The incident benchmark's harness at a tiny scale: every process starts, every kind is measured, a table comes out.

Only that it measures is checked here; how fast is for ``benchmarks/`` and docs/PERFORMANCE.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.incident.stamp import e7, latency_s, stamp

REPO = Path(__file__).resolve().parents[2]


def test_the_stamp_survives_the_carriers_rounding() -> None:
    sent = 1_800_000_123.4567
    lat_e7, lon_e7 = stamp(36.7012345, 119.1623456, sent)
    assert abs(lat_e7 - e7(36.7012345)) < 1000 and abs(lon_e7 - e7(119.1623456)) < 1000  # within 1e-4 degree
    lat, lon = lat_e7 / 1e7, lon_e7 / 1e7  # as MAVLink, the PDT framing and the mesh carry it
    assert abs(latency_s(lat, lon, sent + 0.0375) - 0.0375) < 0.0011  # the stamp keeps whole milliseconds
    assert abs(latency_s(lat, lon, sent + 999.5) - 999.5) > 1  # beyond the 1,000 s period it wraps


def test_a_tiny_incident_yields_latency_for_every_kind_and_a_table(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    command = [sys.executable, "-m", "benchmarks.incident", "--scale", "0.02", "--duration", "14", "--warmup", "5"]
    done = subprocess.run([*command, "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| at | kind | measured | samples |" in done.stdout
    assert "| process | CPU % of one core |" in done.stdout
    result = json.loads(out.read_text())
    wire = result["latency"]["wire_ms"]
    for key in ("edge/vehicle", "edge/unit", "cp/vehicle", "cp/unit"):
        assert wire[key]["n"] > 0, key
        assert wire[key]["p50"] <= wire[key]["p99"], key
    assert result["latency"]["publish_ms"]["edge/vehicle"]["n"] == wire["edge/vehicle"]["n"]
    assert result["latency"]["failed"] == []
    assert {p["name"] for p in result["processes"]} >= {"edge", "cp", "load", "ws", "viewers"}
    assert all(p["rss_mb"] for p in result["processes"])
    viewers = result["viewers"]
    assert viewers["viewers"] == 1 and viewers["errors"] == []
    assert viewers["never_connected"] == 0 and viewers["went_silent_s"] == [] and viewers["fps"][0] > 0, viewers
    assert result["entities"]["cp"]["vehicle"] == result["plan"]["drones"]  # the post sees the edge's drones
