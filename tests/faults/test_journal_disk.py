"""The journal's disk fills up or turns read-only under a running node (root only: a private mount).

The node (``fieldkit sim``: radios moving and raising emergencies through the simulated gateway)
keeps its journal on a small file system only it sees. While the journal cannot store, the node
must say so loudly (one log line per outage, /healthz, /metrics, its ``node:`` entity that every
page shows), keep the live picture going (WebSocket clients still get positions), and refuse to
acknowledge what it cannot store (POST → 503 with the reason, never 2xx). When space returns it
stores again by itself, and radio emergencies that arrived meanwhile are stored then, not lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import msgspec
import pytest
from campaign import Tally, cycles
from diskkit import PrivateDisk
from kit import FIELDKIT, NodeProcess, kit_config, spawn_node, stop_process, write_config
from meshkit import endpoint, free_port, mesh_config
from nodes import aclient, held_and_applied_twice, metric, stored_ids, until, watching, write_scenario

from edge.auth import Role

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a private file system needs root (CI runs as root)")


def start_sim(tmp: Path, disk: PrivateDisk, again: NodeProcess | None = None) -> NodeProcess:
    """``fieldkit sim`` with its journal on ``disk``; ``again``: a restart of that node (same tokens)."""
    journal = {"path": str(disk.where / "journal.sqlite"), "synchronous": "FULL", "flush_interval_s": 0.2}
    config = write_config(tmp, kit_config(tmp, journal=journal))
    node = spawn_node(
        config, "--scenario", str(write_scenario(tmp)), "--speedup", "1", "--no-browser-hint",
        command="sim", prefix=disk.prefix, tokens=again.tokens if again else None,
    )  # fmt: skip
    node.keep_reading()
    return node


def doctor_says(disk: PrivateDisk, config: Path) -> str:
    """``fieldkit doctor``'s line about the journal's disk, run where the node runs (inside the namespace)."""
    out = subprocess.run(
        [*disk.prefix, *FIELDKIT, "doctor", "--config", str(config), "--timeout", "1", "--gps-wait", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    [line] = [x for x in out.stdout.splitlines() if "(journal)" in x]
    return line


async def post_message(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post("/api/messages", json={"text": text})


async def journal_health(node: NodeProcess) -> dict[str, object]:
    async with aclient(node, Role.VIEWER) as c:
        health = (await c.get("/healthz")).json()
    return health["journal"]  # type: ignore[no-any-return]


async def node_says(node: NodeProcess, state: str) -> bool:
    """Whether the node's own entity (what every page and peer sees) gives its journal as ``state``."""
    async with aclient(node, Role.VIEWER) as c:
        entity = (await c.get("/api/entities/node:kit-test")).json()
    return bool(entity["components"].get("journal") == state)


async def refused_and_said(
    node: NodeProcess, pilot: httpx.AsyncClient, acknowledged: list[str], tag: str
) -> dict[str, object]:
    """Post until the node refuses (503, with the reason) and, asked right after, says it cannot store.

    On a full disk SQLite may still commit into room left in its WAL now and then: such a post is
    acknowledged (201, remembered and checked like any other), a real if brief recovery.
    """
    for i in range(500):
        r = await post_message(pilot, f"{tag} {i}")
        if r.status_code == 201:
            acknowledged.append(r.json()["id"])
            continue
        assert r.status_code == 503, r.text
        assert "not stored" in r.json()["detail"] and "full" in r.json()["detail"], r.text
        health = await journal_health(node)
        if health["ok"] is False:
            return health
    raise AssertionError("the node never both refused and said so on a full disk (500 posts)")


async def refused(request, what: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    """Send ``request()`` until it is refused with 503 (a 2xx is a real store into WAL room); the refusal."""
    for _ in range(100):
        r = await request()
        if r.status_code == 503:
            return r  # type: ignore[no-any-return]
        assert r.is_success, r.text
    raise AssertionError(f"{what} was never refused on a full disk (100 tries)")


async def _metric_is(node: NodeProcess, name: str, value: float) -> bool:
    return await metric(node, name) == value


async def test_a_full_journal_disk_refuses_acks_keeps_the_live_picture_and_recovers(
    tmp_path: Path, tally: Tally
) -> None:
    tally.name = "journal disk full (tmpfs)"
    with PrivateDisk(tmp_path / "jfs", size_mb=32) as disk:
        node = start_sim(tmp_path, disk)
        try:
            acknowledged: list[str] = []
            async with watching(node) as live, aclient(node) as pilot:
                r = await post_message(pilot, "before")
                assert r.status_code == 201
                acknowledged.append(r.json()["id"])
                radio_alert = await until(
                    lambda: _radio_alert(node), 20, "a radio emergency through the simulated gateway"
                )
                for cycle in range(cycles()):
                    disk.fill()
                    health = await refused_and_said(node, pilot, acknowledged, f"cycle {cycle}")
                    assert "full" in str(health["reason"]), health
                    ack = await refused(lambda: pilot.post(f"/api/alerts/{radio_alert}/ack"), "the alarm's ack")
                    assert "not stored" in ack.json()["detail"], ack.text
                    await until(lambda: _metric_is(node, "fieldkit_journal_available", 0.0), 5, "/metrics says so")
                    await until(lambda: node_says(node, "unavailable"), 5, "the node entity says so")
                    seen = live.positions
                    await until(lambda s=seen: live.positions > s + 3, 10, "positions keep coming while full")
                    # The radio's texts and emergencies go on arriving: held, not dropped, not crashing.
                    await until(lambda: _unstored(node), 10, "a radio event held while the journal refuses")
                    disk.free()
                    freed = time.monotonic()
                    r = await until(lambda c=cycle: _stored_message(pilot, f"after {c}"), 10, "stores again")
                    tally.recovery_s.append(time.monotonic() - freed)
                    acknowledged.append(r)
                    assert (await journal_health(node))["ok"] is True
                    await until(lambda: node_says(node, "ok"), 5, "the node entity says it stores again")
                    await until(lambda: _none_unstored(node), 10, "held radio events stored")
                    tally.cycles += 1
                # Every acknowledged message is stored, and went to the live client exactly once.
                stored = await stored_ids(node, "message")
                await until(lambda: set(acknowledged) <= set(live.events), 10, "every stored message sent live")
                tally.acknowledged = len(acknowledged)
                tally.lost = len(set(acknowledged) - set(stored))
                tally.duplicated = sum(live.events.count(i) - 1 for i in acknowledged if i in live.events)
                assert tally.lost == 0 and tally.duplicated == 0
                assert await radio_restarts(node) == 0, "the radio link was never dropped for the journal"
        finally:
            code = stop_process(node.proc, signal.SIGTERM)
        output = "".join(node.lines)
    # One loud line when the journal stops storing and one when it stores again, never one per refused
    # write. (On a full disk SQLite may still find room in its WAL for a commit now and then: that is a
    # real, shorter outage, so a cycle can hold more than one.)
    said = [line for line in output.splitlines() if "cannot store (" in line or "stores again" in line]
    assert len(said) >= 2 * tally.cycles
    assert all("cannot store (" in line for line in said[0::2]), said
    assert all("stores again" in line for line in said[1::2]) and len(said) % 2 == 0, said
    assert code == 0


async def _radio_alert(node: NodeProcess) -> str | None:
    async with aclient(node, Role.VIEWER) as c:
        alerts = (await c.get("/api/alerts")).json()
    ids = [a["alert"]["id"] for a in alerts if str(a["alert"].get("entity_id", "")).startswith("unit:")]
    return ids[0] if ids else None


async def _stored_message(pilot: httpx.AsyncClient, text: str) -> str | None:
    r = await post_message(pilot, text)
    return r.json()["id"] if r.status_code == 201 else None


async def _unstored(node: NodeProcess) -> float:
    return await metric(node, "fieldkit_radio_unstored")


async def _none_unstored(node: NodeProcess) -> bool:
    return await _unstored(node) == 0.0


async def radio_restarts(node: NodeProcess) -> int:
    async with aclient(node, Role.VIEWER) as c:
        components = (await c.get("/healthz")).json()["components"]
    return sum(int(v["restarts"]) for k, v in components.items() if k.startswith("radio"))


async def test_a_journal_file_system_turned_read_only_refuses_acks_and_a_repaired_one_holds_every_ack(
    tmp_path: Path, tally: Tally
) -> None:
    tally.name = "journal file system read-only (ext4 errors=remount-ro)"
    acknowledged: list[str] = []
    with PrivateDisk(tmp_path / "jfs", size_mb=32, kind="ext4") as disk:
        node: NodeProcess | None = None
        for cycle in range(cycles()):
            node = start_sim(tmp_path, disk, again=node)
            try:
                async with watching(node) as live, aclient(node) as pilot:
                    for i in range(5):
                        r = await post_message(pilot, f"cycle {cycle} {i}")
                        assert r.status_code == 201, r.text
                        acknowledged.append(r.json()["id"])
                    disk.break_read_only()
                    r = await post_message(pilot, f"cycle {cycle} refused")
                    assert r.status_code == 503, r.text
                    assert "not stored" in r.json()["detail"], r.text
                    health = await journal_health(node)
                    assert health["ok"] is False and health["reason"], health
                    if cycle == 0:
                        line = doctor_says(disk, node.config_path)
                        assert "is on a read-only file system, so nothing can be stored" in line, line
                    await until(lambda n=node: node_says(n, "unavailable"), 5, "the node entity says so")
                    seen = live.positions
                    await until(lambda s=seen: live.positions > s + 3, 10, "positions keep coming, read-only")
                    await until(lambda n=node: _unstored(n), 10, "a radio event held while the journal refuses")
                    assert await radio_restarts(node) == 0
            finally:
                code = stop_process(node.proc, signal.SIGTERM)
            assert code == 0, "stops cleanly though its last flush is refused"
            output = "".join(node.lines)
            assert output.count("cannot store (") == 1, "one loud line for the outage"
            disk.repair()  # the operator's part: the node cannot make a broken file system writable
            tally.cycles += 1
        node = start_sim(tmp_path, disk, again=node)
        try:
            stored = await stored_ids(node, "message")
            async with aclient(node) as pilot:
                assert (await post_message(pilot, "after the repair")).status_code == 201
        finally:
            stop_process(node.proc, signal.SIGTERM)
    tally.acknowledged = len(acknowledged)
    tally.lost = len(set(acknowledged) - set(stored))
    tally.duplicated = len(stored) - len(set(stored))
    assert tally.lost == 0 and tally.duplicated == 0


async def test_a_command_post_whose_journal_disk_fills_catches_up_on_every_alarm_when_space_returns(
    tmp_path: Path, tally: Tally
) -> None:
    tally.name = "command post's journal disk full (tmpfs), alarms from a kit over the mesh"
    port = free_port()
    hub_dir, edge_dir = tmp_path / "hub", tmp_path / "edge"
    hub_dir.mkdir()
    edge_dir.mkdir()
    with PrivateDisk(tmp_path / "jfs", size_mb=32) as disk:
        hub_mesh = msgspec.to_builtins(mesh_config(listen=[endpoint(port)], audit_interval_s=1.0))
        hub_config = kit_config(
            hub_dir,
            node={"id": "hub", "role": "command-post"},
            journal={"path": str(disk.where / "journal.sqlite"), "synchronous": "FULL"},
            mesh=hub_mesh,
        )
        edge_config = kit_config(
            edge_dir, node={"id": "edge1"}, mesh=msgspec.to_builtins(mesh_config(connect=[endpoint(port)]))
        )
        hub = spawn_node(write_config(hub_dir, hub_config), prefix=disk.prefix)
        hub.keep_reading()
        edge = spawn_node(write_config(edge_dir, edge_config))
        edge.keep_reading()
        raised: list[str] = []
        try:
            async with aclient(edge) as at_edge, aclient(hub) as at_hub:
                await until(lambda: _has(hub, "node:edge1"), 20, "the command post sees the kit")
                for cycle in range(cycles()):
                    disk.fill()
                    await refused(lambda: at_hub.post("/api/messages", json={"text": "full"}), "a post to the hub")
                    for i in range(3):  # the kit's alarms reach the command post, which cannot store them
                        r = await at_edge.post("/api/alerts", json={"title": f"c{cycle} {i}", "severity": "emergency"})
                        assert r.status_code == 201, r.text
                        raised.append(r.json()["alert"]["id"])
                    await until(lambda: _metric_is(hub, "fieldkit_journal_available", 0.0), 5, "the hub says so")
                    disk.free()
                    freed = time.monotonic()
                    await until(lambda: holds_all(hub, raised), 30, f"cycle {cycle}: the hub catches up")
                    tally.recovery_s.append(time.monotonic() - freed)
                    tally.cycles += 1
            held = await stored_ids(hub, "alert")
            tally.acknowledged = len(raised)
            tally.lost = len(set(raised) - set(held))
            tally.duplicated = len(held) - len(set(held))
            tally.duplicated += (await held_and_applied_twice(hub))[1]  # applied once each
        finally:
            for node in (edge, hub):
                stop_process(node.proc, signal.SIGTERM)
    assert tally.lost == 0 and tally.duplicated == 0, tally
    assert not [line for line in hub.lines if "could not store" in line], "the journal alone says it, once"


async def _has(node: NodeProcess, entity_id: str) -> bool:
    async with aclient(node, Role.VIEWER) as c:
        return (await c.get(f"/api/entities/{entity_id}")).status_code == 200


async def holds_all(node: NodeProcess, ids: list[str]) -> bool:
    return set(ids) <= set(await stored_ids(node, "alert"))
