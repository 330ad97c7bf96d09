"""Two and three nodes in this process, real Zenoh sessions over loopback TCP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path

import msgspec
import zenoh
from meshkit import MeshNet, MeshNode, endpoint, eventually, free_port, mesh_config

from edge.scene import Alert, AlertAck, AlertStatus, Marker, Message, Node, Position, Removed, Unit, Vehicle
from mesh import MeshSection, MeshSession
from mesh.keys import batch_key, event_key, pos_key, state_key
from mesh.posdelta import PosDelta, encode_deltas
from mesh.wire import encode_event, encode_state, encode_state_batch
from sim.linkproxy import Shaping


async def pair(net: MeshNet, **options: object) -> tuple[MeshNode, MeshNode]:
    port = free_port()
    a = await net.start("a", mesh_config(listen=[endpoint(port)], **options))
    b = await net.start("b", mesh_config(connect=[endpoint(port)], **options))
    await linked(a, b)
    return a, b


async def linked(*nodes: MeshNode) -> None:
    def all_up() -> bool:
        return all(
            n.mesh.ctx is not None and n.mesh.ctx.links.is_up(m.name) for n in nodes for m in nodes if m is not n
        )

    await eventually(all_up, 10, "every node sees every other alive")


async def journal_ids(n: MeshNode, origin: str) -> list[str]:
    events = await n.node.journal.events_since(origin, 0, 100_000)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), f"{n.name} holds {origin}'s seqs {seqs}"
    return [e.id for e in events]


def alert(origin: str, n: int) -> Alert:
    return Alert(id=f"{origin}-alert-{n}", origin=origin, ts=time.time(), title=f"fire {n}")


async def test_unit_alert_and_message_on_a_appear_on_b_and_the_ack_on_b_reaches_a(net: MeshNet) -> None:
    a, b = await pair(net)
    now = time.time()
    a.scene.apply_state(Unit(id="unit:pdt:1001", origin="a", ts=now, pos=Position(lat=36.7, lon=119.16), team="t1"))
    await a.scene.append(alert("a", 1))
    await a.scene.append(Message(id="a-msg-1", origin="a", ts=now, sender="op", text="hello 你好"))

    await eventually(lambda: b.scene.get("unit:pdt:1001") is not None, 5, "unit on b")
    await eventually(lambda: b.scene.alert("a-alert-1") is not None, 5, "alert on b")
    await eventually(lambda: [m.text for m in b.scene.messages()] == ["hello 你好"], 5, "message on b")
    unit = b.scene.get("unit:pdt:1001")
    assert isinstance(unit, Unit) and unit.team == "t1" and unit.origin == "a"

    await b.scene.append(AlertAck(id="b-ack-1", origin="b", ts=time.time(), alert_id="a-alert-1", by="cp"))
    await eventually(lambda: a.scene.alert("a-alert-1").status is AlertStatus.ACKNOWLEDGED, 5, "ack on a")  # type: ignore[union-attr]
    record = a.scene.alert("a-alert-1")
    assert record is not None and record.acked_by == "cp"
    # Each side holds the other's event under the other's numbering, exactly once.
    assert await journal_ids(b, "a") == ["a-alert-1", "a-msg-1"]
    assert await journal_ids(a, "b") == ["b-ack-1"]


async def test_nothing_is_applied_twice_or_sent_back(net: MeshNet) -> None:
    a, b = await pair(net)
    for i in range(1, 51):
        await a.scene.append(alert("a", i))
    await eventually(lambda: len(b.scene.alerts()) == 50, 10, "50 alerts on b")
    # Extra catch-up rounds in both directions must add nothing.
    assert a.mesh.ctx is not None and b.mesh.ctx is not None
    assert b.mesh._catchup is not None and a.mesh._catchup is not None
    assert await b.mesh._catchup.round("a") and await a.mesh._catchup.round("b")
    await asyncio.sleep(0.3)
    assert await journal_ids(b, "a") == [f"a-alert-{i}" for i in range(1, 51)]
    assert b.scene.counters.events_applied == 50
    assert b.mesh.ctx.counters.events_new == 50
    # b never published a's events back; a never took anything of its own from the mesh.
    assert b.mesh.ctx.counters.events_sent == 0
    assert a.mesh.ctx.counters.dropped_own == 0
    assert await journal_ids(a, "b") == []


async def test_state_is_last_value_wins_and_stale_values_are_ignored(net: MeshNet) -> None:
    a, b = await pair(net)
    t = time.time()
    for i in range(20):
        a.scene.apply_state(
            Vehicle(
                id="vehicle:a:1", origin="a", ts=t + i * 0.01, pos=Position(lat=36.7 + i * 1e-4, lon=119.1), mode="AUTO"
            )
        )
    await eventually(lambda: getattr(b.scene.get("vehicle:a:1"), "ts", 0) == t + 19 * 0.01, 5, "newest value on b")
    v = b.scene.get("vehicle:a:1")
    assert isinstance(v, Vehicle) and v.pos is not None and v.pos.lat == round((36.7 + 19e-4) * 1e7) / 1e7
    # A removal reaches b too.
    a.scene.apply_state(Removed(id="vehicle:a:1", origin="a", ts=t + 1))
    await eventually(lambda: b.scene.get("vehicle:a:1") is None, 5, "removal on b")


async def test_three_nodes_share_one_picture(net: MeshNet) -> None:
    hub_port = free_port()
    hub = await net.start("hub", mesh_config(listen=[endpoint(hub_port)]), role="command-post")
    # Each kit dials only the post; gossip tells each about the other's listen endpoint.
    e1 = await net.start("e1", mesh_config(listen=[endpoint(free_port())], connect=[endpoint(hub_port)]))
    e2 = await net.start("e2", mesh_config(listen=[endpoint(free_port())], connect=[endpoint(hub_port)]))
    await linked(hub, e1, e2)
    await e1.scene.append(alert("e1", 1))
    await e2.scene.append(alert("e2", 1))
    for n in (hub, e1, e2):
        await eventually(lambda n=n: len(n.scene.alerts()) == 2, 5, f"both alerts on {n.name}")
    assert hub.mesh.ctx is not None and hub.mesh.ctx.counters.events_sent == 0  # relays nothing itself
    assert e2.mesh.session.zid() in await e1.mesh.session.connected_zids()  # gossip linked the kits directly
    assert await journal_ids(e2, "e1") == ["e1-alert-1"]


async def test_kits_that_cannot_link_directly_get_each_other_through_the_post(net: MeshNet) -> None:
    # Neither kit listens, so gossip cannot link them: Zenoh does not forward between two peers of
    # a router here, and the post's catch-up relays e1's events and state to e2 at e2's audit.
    hub_port = free_port()
    hub = await net.start("hub", mesh_config(listen=[endpoint(hub_port)]), role="command-post")
    e1 = await net.start("e1", mesh_config(connect=[endpoint(hub_port)], audit_interval_s=1.0))
    e2 = await net.start("e2", mesh_config(connect=[endpoint(hub_port)], audit_interval_s=1.0))
    await linked(hub, e1)
    await linked(hub, e2)
    await e1.scene.append(alert("e1", 1))
    e1.scene.apply_state(Unit(id="unit:pdt:77", origin="e1", ts=time.time() - 30, pos=Position(lat=36.7, lon=119.1)))
    await eventually(lambda: e2.scene.alert("e1-alert-1") is not None, 10, "e1's alert on e2 through the post")
    await eventually(lambda: e2.scene.get("unit:pdt:77") is not None, 10, "e1's unit on e2 through the post")
    assert e2.mesh.ctx is not None and not e2.mesh.ctx.links.is_up("e1")
    assert await journal_ids(e2, "e1") == ["e1-alert-1"]


async def test_own_node_entity_shows_links_and_reaches_the_peer(net: MeshNet) -> None:
    a, b = await pair(net)

    def has_link_line() -> bool:
        n = b.scene.get("node:a")
        return isinstance(n, Node) and n.components.get("link:b", "").startswith("up")

    await eventually(has_link_line, 10, "a's node entity on b lists its link to b")
    await net.stop("b")

    def down() -> bool:
        n = a.scene.get("node:a")
        return isinstance(n, Node) and n.components.get("link:b", "").startswith("down")

    await eventually(down, 10, "a's own entity shows the link down")
    links = {link.peer: link for link in a.mesh.links()}
    assert not links["b"].up and links["b"].bytes_in > 0 and links["b"].rtt_ms is not None


async def test_hostile_payloads_are_dropped_and_counted(net: MeshNet) -> None:
    port = free_port()
    a = await net.start("a", mesh_config(listen=[endpoint(port)]))
    conf = {
        "mode": "peer",
        "scouting": {"multicast": {"enabled": False}, "gossip": {"enabled": False}},
        "listen": {"endpoints": []},
        "connect": {"endpoints": [endpoint(port)]},
    }
    rogue = await asyncio.to_thread(zenoh.open, zenoh.Config.from_json5(json.dumps(conf)))
    try:
        # Live state is followed per peer seen alive (its own tier), so the rogue shows a token too.
        token = rogue.liveliness().declare_token("fk/x/alive")
        await eventually(lambda: a.mesh.ctx is not None and a.mesh.ctx.links.is_up("x"), 5, "a sees the rogue")
        await asyncio.sleep(0.5)
        good_unit = Unit(id="unit:pdt:7", origin="x", ts=time.time())
        sends = [
            (state_key("x", "unit", "unit:pdt:7"), b"\xc1garbage"),  # not msgpack
            (state_key("x", "vehicle", "unit:pdt:7"), encode_state(good_unit)),  # kind differs from key
            (state_key("x", "unit", "unit:pdt:7"), b"\x91" + b"\xa5hello"),  # wrong schema
            (state_key("x", "unit", "unit:pdt:7"), b"\x00" * (2 * 1024 * 1024)),  # too large
            (event_key("x", "alert"), encode_event(alert("y", 1))),  # origin differs from key
            (event_key("x", "alert"), encode_event(alert("x", 1))),  # no seq
            (
                state_key("a", "unit", "unit:pdt:8"),
                encode_state(msgspec.structs.replace(good_unit, origin="a")),
            ),  # our own
            ("fk/x/state/unit/no-colon", b"\x90"),  # not a mesh key (not an entity id)
            (batch_key("x"), encode_state_batch([("not an id", encode_state(good_unit))])),  # a bad batch
            (pos_key("x"), b"\x91\x92\xa3v:1\x93\x00"),  # position deltas of the wrong shape
        ]
        for key, payload in sends:
            rogue.put(key, payload)
        rogue.put(state_key("x", "unit", "unit:pdt:7"), encode_state(good_unit))  # and one good one
        await eventually(lambda: a.scene.get("unit:pdt:7") is not None, 5, "the good one applied")
        assert a.mesh.ctx is not None
        c = a.mesh.ctx.counters
        await eventually(
            lambda: c.dropped_malformed == 8 and c.dropped_oversize == 1 and c.dropped_own == 1,
            5,
            f"drops counted: {c.as_dict()}",
        )
        assert a.scene.get("unit:pdt:8") is None and a.scene.alerts() == []
        # A well-formed delta with no full state behind it is dropped and counted, never applied.
        orphan = PosDelta(0, 1000, 10, 10)
        rogue.put(pos_key("x"), encode_deltas(1, [("vehicle:x:1", orphan)]))
        assert a.mesh._receiver is not None
        await eventually(lambda: a.mesh._receiver.deltas.dropped_no_base == 1, 5, "the orphan delta counted")  # type: ignore[union-attr]
        assert a.scene.get("vehicle:x:1") is None
        assert not a.task.done()
    finally:
        token.undeclare()
        await asyncio.to_thread(rogue.close)


async def test_narrowband_link_carries_every_alarm_while_positions_are_downsampled(net: MeshNet) -> None:
    # a's link to b is a 9.6 kbit/s PDT data channel (the proxy's token bucket), and both ends know it.
    port = free_port()
    options = {"lease_s": 5.0, "link_class": "narrowband"}
    a = await net.start("a", mesh_config(listen=[endpoint(port)], **options))
    proxy = await net.proxy(port, shaping=Shaping(rate_bps=9600))
    b = await net.start("b", mesh_config(connect=[proxy.endpoint], **options))
    await linked(a, b)
    assert a.mesh._publisher is not None
    budget = a.mesh._publisher.pacing
    await eventually(lambda: [t.link_class for t in budget.active()] == ["narrowband"], 5, "b follows a's narrow tier")
    backlog: list[int] = []
    alarms: list[str] = []
    for second in range(12):  # 100 radios report every second (6 times what 9.6 kbit/s carries), 1 alarm
        t = time.time()
        for u in range(100):
            a.scene.apply_state(
                Unit(id=f"unit:pdt:{u}", origin="a", ts=t, pos=Position(lat=36.7 + second * 1e-4, lon=119.1 + u * 1e-4))
            )
        alarms.append(alert("a", second).id)
        await a.scene.append(alert("a", second))
        await asyncio.sleep(1.0)
        backlog.append(budget.backlog)
    await eventually(lambda: all(b.scene.alert(i) is not None for i in alarms), 10, "every alarm on b")
    await eventually(lambda: len([e for e in b.scene.entities() if e.id.startswith("unit:")]) == 100, 20, "every unit")
    # Each unit went once (its first position is news); its later positions wait for the 30 s
    # interval, each replacing the one before: the backlog never holds more than one value per
    # unit, however long the radios keep reporting (1,200 offered, at most 100 waiting).
    assert budget.superseded >= 100 * 10
    assert max(backlog) <= 100 + 1, backlog
    assert proxy.bytes_down <= 9600 / 8 * (12 + 20), proxy.bytes_down  # never more than the link carries


async def test_a_marker_changed_on_both_sides_converges_to_the_newest(net: MeshNet) -> None:
    a, b = await pair(net)
    t = time.time()
    a.scene.apply_state(Marker(id="marker:zone:1", origin="a", ts=t, name="old", points=[(36.7, 119.1)]))
    b.scene.apply_state(Marker(id="marker:zone:1", origin="b", ts=t + 1, name="new", points=[(36.71, 119.11)]))
    for n in (a, b):
        await eventually(
            lambda n=n: getattr(n.scene.get("marker:zone:1"), "name", "") == "new", 5, f"newest on {n.name}"
        )


def _socket_inodes() -> set[str]:
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def _inet_inodes() -> set[str]:
    """Inodes of every TCP/UDP socket in this network namespace (IPv4 and IPv6)."""
    found = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                found.add(line.split()[9])
    return found


async def test_a_single_node_opens_no_network_socket() -> None:
    before = _socket_inodes()
    session = MeshSession(MeshSection(), "edge")
    await session.open()
    try:
        opened = (_socket_inodes() - before) & _inet_inodes()
        assert opened == set(), "the default single-node session opened TCP/UDP sockets"
        assert session.last_open_s < 0.5
    finally:
        await session.close()
