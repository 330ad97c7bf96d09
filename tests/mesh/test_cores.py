"""The mesh's pure parts: seq heads, thinning, link monitor, config, the startup journal view, the inbox."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import msgspec
import pytest

from edge.journal import Journal
from edge.scene import Alert, Node, Position, Removed, Unit, Vehicle
from mesh.catchup import parse_parameters
from mesh.config import MeshSection
from mesh.inbox import Inbox
from mesh.journal_view import read_journal_view
from mesh.links import LinkMonitor
from mesh.seqs import Heads, SeqBook
from mesh.session import zenoh_config
from mesh.thinning import Thinner, movement_only


def test_seqbook_keeps_the_contiguous_head_below_any_gap() -> None:
    book = SeqBook()
    assert [book.note("x", s) for s in (1, 2, 4, 5)] == [False, False, True, True]
    assert book.heads("x") == Heads(2, 5)
    assert book.note("x", 3) is False  # the gap filled: the head jumps over what was held above it
    assert book.heads("x") == Heads(5, 5)
    assert book.note("x", 2) is False and book.heads("x") == Heads(5, 5)  # duplicates change nothing


def test_seqbook_from_the_journal_asks_again_after_its_head() -> None:
    book = SeqBook({"x": Heads(3, 9)})  # 4 is missing somewhere below 9
    assert book.heads("x").gap
    assert book.behind("x", Heads(9, 9))  # a peer with no gap can fill ours
    assert not book.behind("x", Heads(3, 9))  # the same gap on both sides: nothing to ask for
    assert book.behind("y", Heads(0, 1))
    for seq in range(4, 10):  # what a catch-up after seq 3 returns, new or duplicate
        book.note("x", seq)
    assert book.heads("x") == Heads(9, 9)


def unit(ts: float, lat: float = 36.7, **kw: object) -> Unit:
    return Unit(id="unit:pdt:1", origin="a", ts=ts, pos=Position(lat=lat, lon=119.1), **kw)  # type: ignore[arg-type]


def test_thinner_holds_back_movement_and_sends_the_newest_at_the_interval() -> None:
    t = Thinner(10.0)
    assert t.offer(unit(0.0), now=0.0) == unit(0.0)
    assert t.offer(unit(1.0, 36.71), now=1.0) is None
    assert t.offer(unit(2.0, 36.72), now=2.0) is None
    assert t.next_due() == 10.0 and t.due(9.9) == []
    assert t.due(10.0) == [unit(2.0, 36.72)]  # the newest, once
    assert t.thinned == 1 and t.next_due() is None


def test_thinner_sends_news_at_once_with_the_newest_position() -> None:
    t = Thinner(10.0)
    t.offer(unit(0.0), now=0.0)
    assert t.offer(unit(1.0, 36.71), now=1.0) is None
    news = unit(2.0, 36.72, emergency=True)
    assert t.offer(news, now=2.0) == news
    assert t.due(12.0) == []  # nothing held any more
    gone = Removed(id="unit:pdt:1", origin="a", ts=3.0)
    assert t.offer(gone, now=3.0) == gone


def test_movement_only_covers_drone_telemetry_not_status() -> None:
    v = Vehicle(id="vehicle:a:1", origin="a", ts=0.0, mode="AUTO", roll_deg=1.0)
    assert movement_only(v, msgspec.structs.replace(v, ts=1.0, roll_deg=2.0, tether_tension_n=3.0))
    assert not movement_only(v, msgspec.structs.replace(v, ts=1.0, mode="RTL"))


def test_link_monitor_history_and_lines() -> None:
    m = LinkMonitor()
    assert m.set_up("b", True, 1.0) and not m.set_up("b", True, 2.0)
    m.heard("b", 100, 3.0)
    m.rtt("b", 0.0123, 3.0)
    assert m.components() == {"link:b": "up, rtt 12 ms"}
    assert m.set_up("b", False, 4.0)
    assert m.components() == {"link:b": "down"}
    (link,) = m.links()
    assert (link.up, link.since, link.last_heard, link.bytes_in, link.msgs_in) == (False, 4.0, 3.0, 100, 1)
    assert m.changes == 2 and m.up_peers() == []


def test_parameters() -> None:
    assert parse_parameters("summary;all;from=kit-1") == {"summary": "", "all": "", "from": "kit-1"}
    assert parse_parameters("origin=a;since=5;limit=10") == {"origin": "a", "since": "5", "limit": "10"}
    assert parse_parameters("") == {}


def test_zenoh_config_keeps_a_single_node_to_itself() -> None:
    cfg = MeshSection()
    z = zenoh_config(cfg, "edge")
    assert z["listen"] == {"endpoints": []} and z["connect"]["endpoints"] == []
    assert z["scouting"]["multicast"]["enabled"] is False
    assert z["mode"] == "peer" and z["transport"]["link"]["tx"]["lease"] == 10_000
    assert zenoh_config(cfg, "command-post")["mode"] == "router"
    dial = zenoh_config(
        MeshSection(connect=["tcp/127.0.0.21:7447"]), "edge", ["tcp/127.0.0.22:7447", "tcp/127.0.0.21:7447"]
    )
    assert dial["connect"]["endpoints"] == ["tcp/127.0.0.21:7447", "tcp/127.0.0.22:7447"]
    assert zenoh_config(MeshSection(mode="peer"), "command-post")["mode"] == "peer"
    assert zenoh_config(MeshSection(gossip=False), "edge")["scouting"]["gossip"]["enabled"] is False


def test_every_option_has_a_default_and_a_description() -> None:
    assert msgspec.convert({}, MeshSection) == MeshSection()
    for field in msgspec.structs.fields(MeshSection):
        metas = [m for m in getattr(field.type, "__metadata__", ()) if isinstance(m, msgspec.Meta)]
        assert any(m.description for m in metas), field.name
        assert field.default is not msgspec.NODEFAULT or field.default_factory is not msgspec.NODEFAULT, field.name
    for bad in ({"mode": "client"}, {"listen": ["7447"]}, {"lease_s": 0.1}, {"profile": "lte"}, {"nope": 1}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, MeshSection)


async def test_journal_view_reads_heads_and_our_tombstones(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", node_id="me", synchronous="NORMAL")
    journal.open()
    try:
        own = [Alert(id=f"me-{i}", origin="me", ts=1.0, title="x") for i in range(3)]
        await journal.append(own)
        theirs = [Alert(id=f"x-{s}", origin="x", seq=s, ts=1.0, title="x") for s in (1, 2, 3, 5, 6)]
        late = [Alert(id=f"y-{s}", origin="y", seq=s, ts=1.0, title="y") for s in (2, 3)]
        await journal.append([*theirs, *late])
        await journal.write_state(
            [
                Removed(id="marker:me:1", origin="me", ts=5.0),
                Removed(id="marker:x:1", origin="x", ts=5.0),
                Node(id="node:me", origin="me", ts=5.0),
            ]
        )
        view = await asyncio.to_thread(read_journal_view, journal.path, "me")
    finally:
        journal.close()
    assert view.heads == {"me": Heads(3, 3), "x": Heads(3, 6), "y": Heads(0, 3)}
    assert [r.id for r in view.tombstones] == ["marker:me:1"]
    assert read_journal_view(tmp_path / "missing.sqlite", "me").heads == {}


async def test_inbox_batches_items_from_other_threads_and_drops_past_its_bound() -> None:
    batches: list[list[int]] = []
    inbox: Inbox[int] = Inbox(asyncio.get_running_loop(), batches.append, max_items=100)
    threads = [threading.Thread(target=lambda k=k: [inbox.push(k * 1000 + i) for i in range(50)]) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + 5
    while sum(map(len, batches)) + inbox.dropped < 150 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    got = [x for b in batches for x in b]
    assert len(got) + inbox.dropped == 150 and len(got) >= 100
    for k in range(3):  # each producer's items stay in order
        mine = [x for x in got if x // 1000 == k]
        assert mine == sorted(mine)
    inbox.close()
    inbox.push(-1)
    await asyncio.sleep(0.01)
    assert -1 not in [x for b in batches for x in b]
