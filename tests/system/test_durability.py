"""Real `fieldkit run` processes: acknowledged events survive SIGKILL; SIGTERM stops fast and loses nothing."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
from kit import NodeProcess, kit_config, spawn_node, stop_process, write_config

from edge.auth import Role


def post_until_killed(node: NodeProcess, acknowledged: list[str], stop: threading.Event) -> None:
    """Post messages and alerts as fast as one client can; remember every one answered 201."""
    with node.client(Role.PILOT) as client:
        i = 0
        while not stop.is_set() and i < 5000:
            i += 1
            try:
                if i % 5 == 0:
                    r = client.post("/api/alerts", json={"title": f"alarm {i}", "severity": "emergency"})
                    if r.status_code == 201:
                        acknowledged.append(r.json()["alert"]["id"])
                else:
                    r = client.post("/api/messages", json={"text": f"msg {i}"})
                    if r.status_code == 201:
                        acknowledged.append(r.json()["id"])
            except httpx.HTTPError:
                return  # the node is gone


def stored_ids(node: NodeProcess) -> set[str]:
    with node.client(Role.VIEWER) as client:
        r = client.get("/api/events", params={"since": 0, "limit": 5000})
        r.raise_for_status()
        return {e["id"] for e in r.json()}


def test_acknowledged_events_survive_sigkill(tmp_path: Path) -> None:
    config = write_config(tmp_path, kit_config(tmp_path, journal={"synchronous": "FULL"}))
    acknowledged: list[str] = []
    for cycle in range(3):
        node = spawn_node(config)
        try:
            before = len(acknowledged)
            stop = threading.Event()
            writer = threading.Thread(target=post_until_killed, args=(node, acknowledged, stop))
            writer.start()
            deadline = time.monotonic() + 10
            while len(acknowledged) < before + 30 and time.monotonic() < deadline:
                time.sleep(0.01)
            node.proc.send_signal(signal.SIGKILL)  # mid-stream: requests are in flight
            node.proc.wait(10)
            stop.set()
            writer.join(10)
            assert len(acknowledged) >= before + 30, f"cycle {cycle}: too few writes before the kill"
        finally:
            stop_process(node.proc)
    survivor = spawn_node(config)
    try:
        stored = stored_ids(survivor)
        missing = [i for i in acknowledged if i not in stored]
        assert missing == [], f"{len(missing)} acknowledged events lost after SIGKILL"
        with survivor.client(Role.VIEWER) as client:
            alerts = {a["alert"]["id"] for a in client.get("/api/alerts").json()}
        assert {i for i in acknowledged if i.startswith("alert-")} <= alerts
    finally:
        stop_process(survivor.proc)


def test_sigterm_stops_within_two_seconds_and_keeps_state(tmp_path: Path) -> None:
    config = write_config(tmp_path, kit_config(tmp_path, journal={"flush_interval_s": 60.0}))
    node = spawn_node(config)
    try:
        with node.client(Role.ADMIN) as admin:
            unit = {
                "kind": "unit",
                "id": "unit:pdt:77",
                "origin": "kit-test",
                "ts": time.time(),
                "name": "三中队-07",
                "pos": {"lat": 36.71, "lon": 119.17},
            }
            assert admin.post("/api/entities", json=unit).status_code == 200
        started = time.monotonic()
        code = stop_process(node.proc, signal.SIGTERM)
        took = time.monotonic() - started
    finally:
        stop_process(node.proc)
    assert code == 0
    # The 2 s bound is the contract for shutdown, a behaviour rather than a speed benchmark.
    assert took < 2.0, f"SIGTERM took {took:.2f} s"
    again = spawn_node(config)
    try:
        with again.client(Role.VIEWER) as viewer:
            r = viewer.get("/api/entities/unit:pdt:77")
        assert r.status_code == 200, "state not yet flushed at SIGTERM is written on the way out"
        assert r.json()["name"] == "三中队-07"
    finally:
        stop_process(again.proc)


def test_sigint_also_stops_cleanly(node_process) -> None:
    assert stop_process(node_process.proc, signal.SIGINT) == 0
    assert "node kit-test stopped" in "".join(node_process.lines) + node_process.proc.stdout.read()
