"""Partition and heal, over and over: through the link-cutting proxy, and between network namespaces.

Each cycle cuts the link one way (a dead radio that holds connections, a rebooted router that
resets them, or a blip shorter than the lease), raises alarms on both sides and acknowledges the
other side's, heals, and waits until both sides hold everything. No alarm may be lost, and none
applied twice: each side holds the other's events as one unbroken run of seqs, and its scene
applied exactly as many events as it holds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from campaign import Tally, cycles
from kit import stop_process
from meshkit import CutProxy, MeshNet, MeshNode, endpoint, eventually, free_port, mesh_config
from test_netns import Pair, call, pair  # noqa: F401 - pair is a fixture
from test_process import Proc, start, write_node

from edge.scene import Alert, AlertAck

CUTS = ("blackhole", "reset", "blip")  # a blip heals before the 1.5 s lease runs out


async def linked(a: MeshNode, b: MeshNode, up: bool, timeout: float = 15.0) -> None:
    def check() -> bool:
        return all(n.mesh.ctx is not None and n.mesh.ctx.links.is_up(m.name) == up for n, m in ((a, b), (b, a)))

    await eventually(check, timeout, f"link {'up' if up else 'down'}")


async def raise_and_ack(n: MeshNode, tag: str, count: int, ack: list[str]) -> list[str]:
    """``count`` alarms from ``n`` and ``n``'s acknowledgements of ``ack``; the ids."""
    ids = []
    for i in range(count):
        alert = Alert(id=f"{n.name}-{tag}-{i}", origin=n.name, ts=time.time(), title=f"{tag} {i}")
        await n.scene.append(alert)
        ids.append(alert.id)
    for alert_id in ack:
        ack_event = AlertAck(id=f"{n.name}-ack-{alert_id}", origin=n.name, ts=time.time(), alert_id=alert_id, by=n.name)
        await n.scene.append(ack_event)
        ids.append(ack_event.id)
    return ids


async def held(n: MeshNode, origin: str) -> list[str]:
    events = await n.node.journal.events_since(origin, 0, 1_000_000)
    return [e.id for e in events]


async def test_partition_and_heal_through_the_proxy_loses_no_alarm_and_applies_none_twice(
    net: MeshNet, tally: Tally
) -> None:
    tally.name = "partition/heal through the link proxy (blackhole, reset, blip)"
    port = free_port()
    a = await net.start("a", mesh_config(listen=[endpoint(port)]))
    proxy: CutProxy = await net.proxy(port)
    b = await net.start("b", mesh_config(connect=[proxy.endpoint]))
    await linked(a, b, up=True)
    sent = {"a": [], "b": []}  # type: dict[str, list[str]]
    last = {"a": [], "b": []}  # type: dict[str, list[str]]
    for cycle in range(cycles()):
        cut = CUTS[cycle % len(CUTS)]
        if cut == "blip":
            proxy.blackhole()
        else:
            getattr(proxy, cut)()
            await linked(a, b, up=False)
        # Both sides go on: alarms, and acknowledgements of what the other side raised last cycle.
        sent["a"] += await raise_and_ack(a, f"c{cycle}", 3, [i for i in last["b"] if "-ack-" not in i])
        sent["b"] += await raise_and_ack(b, f"c{cycle}", 2, [i for i in last["a"] if "-ack-" not in i])
        last = {"a": sent["a"][-3:], "b": sent["b"][-2:]}
        proxy.heal()
        healed = time.monotonic()
        await eventually(
            lambda c=cycle: len(a.scene.alerts()) == len(b.scene.alerts()) == (c + 1) * 5,
            30,
            f"cycle {cycle}: all alarms",
        )
        for n, other in ((a, "b"), (b, "a")):
            await eventually(
                lambda n=n, o=other: n.scene.counters.events_applied == len(sent["a"]) + len(sent["b"]),
                30,
                f"cycle {cycle}: {n.name} applied {other}'s events",
            )
        tally.recovery_s.append(time.monotonic() - healed)
        tally.cycles += 1
    for n, other in ((a, "b"), (b, "a")):
        got = await held(n, other)
        tally.lost += len(set(sent[other]) - set(got))
        tally.duplicated += len(got) - len(set(got))
        assert got == sent[other], f"{n.name} holds {other}'s events in seq order, each once"
        tally.duplicated += n.scene.counters.events_applied - len(sent["a"]) - len(sent["b"])
    tally.acknowledged = len(sent["a"]) + len(sent["b"])
    assert tally.lost == 0 and tally.duplicated == 0, tally


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root (CI runs as root)")
async def test_partition_and_heal_between_network_namespaces_loses_no_alarm(
    tmp_path: Path,
    pair: Pair,  # noqa: F811 - the fixture imported above
    tally: Tally,
) -> None:
    tally.name = "partition/heal of a veth link between network namespaces"
    hub = write_node(tmp_path, "hub", "command-post", listen=[f"tcp/{pair.addr_a}:7447"])
    edge = write_node(tmp_path, "edge1", connect=[f"tcp/{pair.addr_a}:7447"])
    started: list[Proc] = []
    try:
        await start(hub, prefix=("ip", "netns", "exec", pair.a))
        started.append(hub)
        await start(edge, prefix=("ip", "netns", "exec", pair.b))
        started.append(edge)
        every: list[str] = []
        for cycle in range(cycles()):
            pair.cut()
            await asyncio.sleep(2.0)  # past the 1.5 s lease: both sides see the other gone
            from_edge = await call(pair.b, edge, "raise", "2", f"edge {cycle}")
            from_hub = await call(pair.a, hub, "raise", "1", f"hub {cycle}")
            assert isinstance(from_edge, list) and isinstance(from_hub, list)
            every = sorted(every + from_edge + from_hub)
            pair.heal()
            healed = time.monotonic()
            for ns, node in ((pair.a, hub), (pair.b, edge)):
                await _until_holds(ns, node, every, f"cycle {cycle}: {node.name} holds every alarm")
            tally.recovery_s.append(time.monotonic() - healed)
            tally.cycles += 1
        for ns, node in ((pair.a, hub), (pair.b, edge)):
            held_ids = await call(ns, node, "alerts")
            assert isinstance(held_ids, list)
            tally.lost += len(set(every) - set(held_ids))
            health = await call(ns, node, "health")
            assert isinstance(health, dict)
            tally.duplicated += int(health["events_applied"]) - len(every)  # applied once each
        tally.acknowledged = len(every)
    finally:
        for node in started:
            assert node.proc is not None
            stop_process(node.proc, signal.SIGTERM, timeout=10)
    assert tally.lost == 0 and tally.duplicated == 0, tally


async def _until_holds(ns: str, node: Proc, ids: list[str], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        held_ids = await call(ns, node, "alerts")
        assert isinstance(held_ids, list)
        if set(ids) <= set(held_ids):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.2)
