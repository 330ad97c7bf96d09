"""Partitions and heals through a link-cutting proxy, restarts on the same journal, islands."""

from __future__ import annotations

import asyncio
import time

import pytest
from meshkit import CutProxy, MeshNet, MeshNode, endpoint, eventually, free_port, mesh_config

from edge.journal import Restored
from edge.scene import Alert, AlertAck, AlertStatus, Marker, Message, Position, Unit


async def linked(*nodes: MeshNode, up: bool = True, timeout: float = 10.0) -> None:
    def check() -> bool:
        return all(
            n.mesh.ctx is not None and n.mesh.ctx.links.is_up(m.name) == up for n in nodes for m in nodes if m is not n
        )

    try:
        await eventually(check, timeout, f"links {'up' if up else 'down'} between {[n.name for n in nodes]}")
    except AssertionError as exc:
        described = [await describe(n) for n in nodes]
        raise AssertionError(f"{exc}\n" + "\n".join(described)) from None


async def describe(n: MeshNode) -> str:
    """What a node's mesh and its Zenoh session see, for a failure message."""
    zlinks = await n.mesh.session.call(lambda s: [(link.src, link.dst) for link in s.info.links()])
    up = n.mesh.ctx.links.up_peers() if n.mesh.ctx else None
    tokens = sorted(await n.mesh.session.liveliness_keys("fk/*/alive", 1.0))
    return f"{n.name}: zenoh links {zlinks}, subscriber says up {up}, tokens now {tokens}"


async def held_ids(n: MeshNode, origin: str) -> list[str]:
    """Ids of ``origin``'s events in ``n``'s journal; fails on any seq gap or repeat."""
    events = await n.node.journal.events_since(origin, 0, 100_000)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), f"{n.name} holds {origin}'s seqs {seqs}"
    return [e.id for e in events]


async def raise_alerts(n: MeshNode, tag: str, count: int) -> list[str]:
    ids = []
    for i in range(count):
        a = Alert(id=f"{n.name}-{tag}-{i}", origin=n.name, ts=time.time(), title=f"{tag} {i}")
        await n.scene.append(a)
        ids.append(a.id)
    return ids


async def proxied_pair(net: MeshNet) -> tuple[MeshNode, MeshNode, CutProxy]:
    port = free_port()
    a = await net.start("a", mesh_config(listen=[endpoint(port)]))
    proxy = await net.proxy(port)
    b = await net.start("b", mesh_config(connect=[proxy.endpoint]))
    await linked(a, b)
    return a, b, proxy


@pytest.mark.parametrize("cut", ["blackhole", "reset"])
async def test_events_raised_on_both_sides_during_a_cut_all_arrive_once_after_heal(net: MeshNet, cut: str) -> None:
    a, b, proxy = await proxied_pair(net)
    before = await raise_alerts(a, "before", 3)
    await eventually(lambda: len(b.scene.alerts()) == 3, 5, "alerts before the cut")

    getattr(proxy, cut)()
    await linked(a, b, up=False, timeout=8)  # the lease (1.5 s) runs out, or the reset is seen
    during_a = await raise_alerts(a, "cut", 20)
    during_b = await raise_alerts(b, "cut", 15)
    await b.scene.append(AlertAck(id="b-ack", origin="b", ts=time.time(), alert_id=before[0], by="b-op"))
    await a.scene.append(Message(id="a-msg", origin="a", ts=time.time(), sender="a-op", text="still there?"))
    t = time.time()
    a.scene.apply_state(Unit(id="unit:pdt:1", origin="a", ts=t, pos=Position(lat=36.7, lon=119.1), status="older"))
    b.scene.apply_state(
        Unit(id="unit:pdt:1", origin="b", ts=t + 0.5, pos=Position(lat=36.8, lon=119.2), status="newer")
    )
    await asyncio.sleep(0.5)
    assert len(a.scene.alerts()) == 3 + 20 and len(b.scene.alerts()) == 3 + 15  # really cut

    proxy.heal()
    await linked(a, b, timeout=10)
    await eventually(lambda: len(a.scene.alerts()) == 38 and len(b.scene.alerts()) == 38, 10, "every alert both sides")
    await eventually(lambda: [m.id for m in b.scene.messages()] == ["a-msg"], 5, "the message on b")
    await eventually(
        lambda: getattr(a.scene.alert(before[0]), "status", None) is AlertStatus.ACKNOWLEDGED, 5, "the ack on a"
    )
    for n in (a, b):
        await eventually(lambda n=n: getattr(n.scene.get("unit:pdt:1"), "status", "") == "newer", 5, "newest state")
    assert await held_ids(b, "a") == [*before, *during_a, "a-msg"]
    assert await held_ids(a, "b") == [*during_b, "b-ack"]
    assert a.scene.counters.events_applied == 3 + 20 + 1 + 15 + 1
    assert b.scene.counters.events_applied == 3 + 20 + 1 + 15 + 1


async def test_state_a_link_dropped_without_going_down_is_fetched_by_the_audit(net: MeshNet) -> None:
    port = free_port()
    a = await net.start("a", mesh_config(listen=[endpoint(port)], audit_interval_s=1.0))
    b = await net.start("b", mesh_config(connect=[endpoint(port)], audit_interval_s=1.0))
    await linked(a, b)
    # A marker b holds but never published, as if congestion control had dropped it on a link
    # that stayed up: put into b's picture the way the journal restores it, which tells no
    # subscriber. It is old enough to count as settled, so a's next audit of b finds its digest
    # of b's entities differs from b's own and fetches b's state.
    marker = Marker(id="marker:b:1", origin="b", ts=time.time() - 60, points=[(36.7, 119.1)], name="in the blip")
    b.scene.restore(Restored(states=[marker], lifecycle=[], messages=[], last_seq=0))
    assert a.scene.get("marker:b:1") is None
    await eventually(lambda: a.scene.get("marker:b:1") is not None, 10, "the audit fetches it")
    assert a.mesh.ctx is not None
    fetched = a.mesh.ctx.counters.catchup_states
    rounds = a.mesh.ctx.counters.catchup_rounds
    await eventually(lambda: a.mesh.ctx.counters.catchup_rounds >= rounds + 2, 10, "two more audits")  # type: ignore[union-attr]
    assert a.mesh.ctx.counters.catchup_states == fetched  # settled digests agree: nothing fetched again


async def test_a_restarted_node_catches_up_on_the_same_journal(net: MeshNet) -> None:
    a, b, proxy = await proxied_pair(net)
    first = await raise_alerts(a, "first", 5)
    await eventually(lambda: len(b.scene.alerts()) == 5, 5, "first alerts on b")

    proxy.blackhole()  # b raises alarms nobody hears, then goes down
    await linked(a, b, up=False, timeout=8)
    b_cut = await raise_alerts(b, "cut", 4)
    await net.stop("b")
    while_down = await raise_alerts(a, "while-down", 7)
    proxy.heal()

    b = await net.start("b", mesh_config(connect=[proxy.endpoint]))
    await linked(a, b)
    await eventually(lambda: len(b.scene.alerts()) == 16 and len(a.scene.alerts()) == 16, 10, "both caught up")
    assert await held_ids(b, "a") == [*first, *while_down]
    assert await held_ids(a, "b") == b_cut
    # b numbers its next event after those it had before it went down.
    new = await raise_alerts(b, "after", 1)
    await eventually(lambda: a.scene.alert(new[0]) is not None, 5, "b's new alert on a")
    assert await held_ids(a, "b") == [*b_cut, *new]


async def test_edges_keep_sharing_on_their_island_while_the_hub_is_cut_off(net: MeshNet) -> None:
    hub_port, e1_port = free_port(), free_port()
    hub = await net.start("hub", mesh_config(listen=[endpoint(hub_port)]), role="command-post")
    to_hub_1, to_hub_2 = await net.proxy(hub_port), await net.proxy(hub_port)
    e1 = await net.start("e1", mesh_config(listen=[endpoint(e1_port)], connect=[to_hub_1.endpoint]))
    e2 = await net.start("e2", mesh_config(connect=[to_hub_2.endpoint, endpoint(e1_port)]))
    await linked(hub, e1, e2)

    to_hub_1.blackhole()
    to_hub_2.blackhole()
    await linked(hub, e1, up=False, timeout=8)
    await linked(hub, e2, up=False, timeout=8)
    assert e1.mesh.ctx is not None and e1.mesh.ctx.links.is_up("e2")
    e1_ids = await raise_alerts(e1, "island", 10)
    e2_ids = await raise_alerts(e2, "island", 10)
    t = time.time()
    e1.scene.apply_state(Unit(id="unit:pdt:5", origin="e1", ts=t, pos=Position(lat=36.7, lon=119.1)))
    await eventually(lambda: len(e2.scene.alerts()) == 20 and len(e1.scene.alerts()) == 20, 5, "shared on the island")
    await eventually(lambda: e2.scene.get("unit:pdt:5") is not None, 5, "state on the island")
    assert hub.scene.alerts() == []

    to_hub_1.heal()
    to_hub_2.heal()
    await linked(hub, e1, e2)
    await eventually(lambda: len(hub.scene.alerts()) == 20, 10, "the hub catches up")
    await eventually(lambda: hub.scene.get("unit:pdt:5") is not None, 5, "and gets the state")
    assert await held_ids(hub, "e1") == e1_ids
    assert await held_ids(hub, "e2") == e2_ids
    assert hub.scene.counters.events_applied == 20


async def test_edge_cut_from_the_hub_reaches_it_through_the_other_edge(net: MeshNet) -> None:
    hub_port, e1_port = free_port(), free_port()
    quick_audit = {"audit_interval_s": 1.0}
    hub = await net.start("hub", mesh_config(listen=[endpoint(hub_port)], **quick_audit), role="command-post")
    to_hub_1 = await net.proxy(hub_port)
    e1 = await net.start("e1", mesh_config(listen=[endpoint(e1_port)], connect=[to_hub_1.endpoint]))
    e2 = await net.start("e2", mesh_config(connect=[endpoint(hub_port), endpoint(e1_port)]))
    await linked(hub, e1, e2)

    to_hub_1.blackhole()
    await linked(hub, e1, up=False, timeout=8)
    ids = await raise_alerts(e1, "cut", 10)
    await e1.scene.append(Message(id="e1-msg", origin="e1", ts=time.time(), sender="e1-op", text="via e2"))
    await eventually(lambda: len(e2.scene.alerts()) == 10, 5, "e2 sees e1's alarms during the cut")
    # The hub cannot reach e1, but e2 holds e1's events and serves them: the hub's audit of e2 fetches them.
    await eventually(lambda: len(hub.scene.alerts()) == 10, 10, "the hub gets e1's alarms through e2")
    to_hub_1.heal()
    await linked(hub, e1, e2, timeout=15)
    await eventually(lambda: [m.id for m in hub.scene.messages()] == ["e1-msg"], 5, "and the message")
    assert await held_ids(hub, "e1") == [*ids, "e1-msg"]
    assert hub.scene.counters.events_applied == 11  # none twice
