"""SIGKILL on an edge node while alarms and messages flow: nothing it acknowledged is lost, here or at the command post.

The edge runs ``fieldkit sim`` (radios on the simulated PDT gateway texting and raising emergencies)
and meshes with a command post (``fieldkit run``, a separate process). Each cycle: start the edge,
post messages and alarms through its API from a client thread while a WebSocket viewer records
every event the edge committed (events reach subscribers only after COMMIT, so this covers the
radio's emergencies and texts too), SIGKILL it mid-stream, start it again. After each restart every
acknowledged event must be in the edge's journal at once, and reach the command post; the command
post must hold the edge's events as one unbroken run of seqs and apply none twice.
"""

from __future__ import annotations

import asyncio
import random
import signal
import threading
import time
from pathlib import Path

import msgspec
from campaign import Tally, cycles
from kit import NodeProcess, kit_config, spawn_node, stop_process, write_config
from meshkit import endpoint, free_port, mesh_config
from nodes import aclient, held_and_applied_twice, post_until_stopped, stored_events, until, watching, write_scenario

from edge.auth import Role

WRITES_BEFORE_KILL = 10


def configs(tmp: Path) -> tuple[Path, Path]:
    """The command post's and the edge's configuration files."""
    port = free_port()
    hub_dir, edge_dir = tmp / "hub", tmp / "edge"
    hub_dir.mkdir()
    edge_dir.mkdir()
    hub = kit_config(
        hub_dir,
        node={"id": "hub", "role": "command-post"},
        mesh=msgspec.to_builtins(mesh_config(listen=[endpoint(port)])),
    )
    edge = kit_config(
        edge_dir,
        node={"id": "edge1"},
        journal={"synchronous": "FULL"},
        mesh=msgspec.to_builtins(mesh_config(connect=[endpoint(port)])),
    )
    return write_config(hub_dir, hub), write_config(edge_dir, edge)


def start_edge(config: Path, tmp: Path, again: NodeProcess | None) -> NodeProcess:
    node = spawn_node(
        config, "--scenario", str(write_scenario(tmp)), "--speedup", "1", "--no-browser-hint",
        command="sim", tokens=again.tokens if again else None,
    )  # fmt: skip
    node.keep_reading()
    return node


async def holds(node: NodeProcess, ids: set[str]) -> bool:
    return ids <= set(await stored_events(node))


async def all_acked(node: NodeProcess, alert_ids: list[str]) -> bool:
    """Whether every one of ``alert_ids`` is acknowledged (or already cleared) on ``node``."""
    async with aclient(node, Role.VIEWER) as c:
        records = (await c.get("/api/alerts")).json()
    status = {r["alert"]["id"]: r["status"] for r in records}
    return all(status.get(i) in ("acknowledged", "cleared") for i in alert_ids)


async def test_sigkill_an_edge_while_alarms_and_messages_flow_loses_nothing_acknowledged(
    tmp_path: Path, tally: Tally
) -> None:
    tally.name = "SIGKILL edge node (messages, alarms, radio emergencies; command post over the mesh)"
    hub_config, edge_config = configs(tmp_path)
    hub = spawn_node(hub_config)
    hub.keep_reading()
    edge: NodeProcess | None = None
    committed: set[str] = set()  # answered 201, or sent live by the edge (committed first)
    acked: list[str] = []  # alarms whose acknowledgement was answered 200
    radio_alarms = 0
    killed_at = 0.0
    try:
        for cycle in range(cycles()):
            edge = start_edge(edge_config, tmp_path / "edge", edge)
            if cycle:  # a restart: what was acknowledged before the kill is here at once ...
                local = await stored_events(edge)
                lost_here = committed - set(local)
                tally.lost += len(lost_here)
                assert not lost_here, f"cycle {cycle}: lost on the edge: {sorted(lost_here)[:5]}"
                # ... and reaches the command post.
                await until(lambda c=set(committed): holds(hub, c), 30, f"cycle {cycle}: the command post catches up")
                for node in (edge, hub):  # and every acknowledgement answered 200 holds, here and there
                    await until(lambda n=node: all_acked(n, acked), 30, f"cycle {cycle}: acks on {node.url}")
                tally.recovery_s.append(time.monotonic() - killed_at)
            acknowledged: list[str] = []
            enough = WRITES_BEFORE_KILL
            stop = threading.Event()
            async with watching(edge) as live:
                await until(lambda: live.frames > 0, 10, "the live snapshot")
                writer = threading.Thread(target=post_until_stopped, args=(edge, acknowledged, acked, stop))
                writer.start()
                try:
                    await until(lambda: len(acknowledged) >= enough, 20, "writes before the kill")  # noqa: B023
                    await asyncio.sleep(random.uniform(0.0, 0.3))  # kill at a random point, requests in flight
                    edge.proc.send_signal(signal.SIGKILL)
                    killed_at = time.monotonic()
                    edge.proc.wait(10)
                finally:
                    stop.set()
                    await asyncio.to_thread(writer.join, 10)
                seen_live = [i for i in live.events if i]
            committed |= set(acknowledged) | set(seen_live)
            tally.acknowledged = len(committed)
            tally.cycles += 1
        edge = start_edge(edge_config, tmp_path / "edge", edge)
        local = await stored_events(edge)
        tally.lost += len(committed - set(local))
        await until(lambda: holds(hub, committed), 30, "the command post catches up after the last restart")
        for node in (edge, hub):
            await until(lambda n=node: all_acked(n, acked), 30, "every acknowledgement holds after the last restart")
        assert acked, "alarms were acknowledged through the API"
        tally.recovery_s.append(time.monotonic() - killed_at)
        stop_process(edge.proc, signal.SIGTERM)  # the sim's radios stop texting: the command post's count settles
        at_hub, tally.duplicated = await held_and_applied_twice(hub)
        from_edge = sorted(int(e["seq"]) for e in at_hub.values() if e["origin"] == "edge1")  # type: ignore[call-overload]
        assert from_edge == list(range(1, len(from_edge) + 1)), "the command post holds edge1's seqs once, unbroken"
        radio_alarms = sum(
            1 for e in at_hub.values() if e["kind"] == "alert" and str(e.get("entity_id")).startswith("unit:")
        )
    finally:
        for node in (edge, hub):
            if node is not None:
                stop_process(node.proc, signal.SIGTERM)
    assert tally.lost == 0 and tally.duplicated == 0, tally
    assert radio_alarms > 0, "radio emergencies came through the simulated gateway"
