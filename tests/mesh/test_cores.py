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
from mesh.budget import HEADROOM, PROFILES, Budget, narrowest
from mesh.catchup import parse_parameters
from mesh.config import MeshSection
from mesh.inbox import Inbox
from mesh.journal_view import read_journal_view
from mesh.links import LinkMonitor
from mesh.seqs import Heads, SeqBook
from mesh.session import zenoh_config
from mesh.thinning import movement_only
from mesh.tiers import Pacing


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


def queued(change: Unit | Vehicle | Removed | Node, size: int = 40) -> tuple[str, bytes, bool, object]:
    return (f"fk/a/state/{change.id}", b"x" * size, False, None)


def event_item(kind: str, n: int, size: int = 40) -> tuple[str, bytes, bool, object]:
    return (f"fk/a/event/{kind}", n.to_bytes(2, "big") + b"x" * size, True, None)


def test_budget_downsamples_movement_per_entity_and_sends_the_newest() -> None:
    b = Budget(PROFILES["narrowband"], now=0.0)  # units: one position per 30 s
    b.offer_state(unit(0.0), queued(unit(0.0)))
    assert b.take(0.0) == [queued(unit(0.0))]
    for i in range(1, 5):
        b.offer_state(unit(float(i), 36.7 + i * 1e-3), queued(unit(float(i)), 40 + i))
    assert b.backlog == 1 and b.superseded == 3  # one value per entity waits, never a queue of them
    assert b.take(29.0) == [] and b.next_due(29.0) == 30.0
    assert b.take(30.0) == [queued(unit(4.0), 44)]
    assert b.backlog == 0 and b.next_due(30.0) is None


def test_budget_sends_news_at_its_turn_without_waiting_for_the_interval() -> None:
    b = Budget(PROFILES["narrowband"], now=0.0)
    b.offer_state(unit(0.0), queued(unit(0.0)))
    b.take(0.0)
    news = unit(1.0, 36.71, emergency=True)
    b.offer_state(news, queued(news, 41))
    assert b.take(1.0) == [queued(news, 41)]
    gone = Removed(id="unit:pdt:1", origin="a", ts=2.0)
    b.offer_state(gone, queued(gone, 12))
    assert b.take(2.0) == [queued(gone, 12)]


def test_budget_strict_priority_under_the_cap_alarms_first_and_no_growing_backlog() -> None:
    # 9.6 kbit/s = 1,200 B/s. Each second: 5 alarms and 5 messages (58 B each as counted) and a
    # position of each of 300 units (56 B): ~17 kB/s offered, 14 times the cap.
    b = Budget(PROFILES["narrowband"], now=0.0)
    late_alarms = 0
    sent_units = 0
    backlog = []
    for second in range(120):
        now = float(second)
        for n in range(5):
            b.offer_event("message", event_item("message", second * 5 + n))
            b.offer_event("alert", event_item("alert", second * 5 + n))
        for u in range(300):
            change = Unit(id=f"unit:pdt:{u}", origin="a", ts=now, pos=Position(lat=36.7 + now * 1e-4, lon=119.1))
            b.offer_state(change, queued(change))
        batch = []
        for tick in range(10):
            batch += b.take(now + tick / 10)
        alarms = [item[1][:2] for item in batch if "/alert" in item[0]]
        late_alarms += alarms != [(second * 5 + n).to_bytes(2, "big") for n in range(5)]
        sent_units += sum("/state/" in item[0] for item in batch)
        backlog.append(b.backlog)
    assert late_alarms == 0  # every alarm went in the second it was raised, in order
    assert b.sent_bytes <= 1200 * HEADROOM * 121  # never over the cap (plus the first second's burst)
    # Positions took what events left: each unit at most once per 30 s, and the backlog is one
    # value per unit (plus a few events), flat from the first second to the last.
    assert 0 < sent_units <= 300 * (120 // 30 + 1)
    assert max(backlog[-30:]) <= 300 + 10 and backlog[-1] <= backlog[10] + 10


def test_budget_a_lan_profile_sends_everything_at_once() -> None:
    b = Budget(PROFILES["lan"], now=0.0)
    items = [queued(unit(float(i), 36.7 + i * 1e-3)) for i in range(3)]
    for i, item in enumerate(items):
        b.offer_event("alert", event_item("alert", i))
        b.offer_state(Unit(id=f"unit:pdt:{i}", origin="a", ts=0.0), item)
    assert len(b.take(0.0)) == 6 and b.backlog == 0 and b.next_due(0.0) is None


def test_catch_up_replies_are_charged_and_paged_by_the_link() -> None:
    narrow = Budget(PROFILES["narrowband"], now=0.0)
    assert narrow.page_items(500) == 16  # ~1 s of 9.6 kbit/s at 80 %, 60 B an item
    assert Budget(PROFILES["lan"], now=0.0).page_items(500) == 500
    narrow.take(10.0)  # a full bucket
    narrow.charge(3000, now=10.0)  # a reply of ~3 s of the link went out
    narrow.offer_event("alert", event_item("alert", 1))
    assert narrow.take(10.0) == [] and narrow.take(12.0) == []  # the alarm waits for the link, not longer
    due = narrow.next_due(12.0)
    assert due is not None and 12.0 < due <= 13.2
    assert len(narrow.take(13.2)) == 1


def test_catch_up_is_charged_to_the_asking_peers_link_class_and_events_go_at_the_narrowest_up() -> None:
    links = LinkMonitor()
    pacing = Pacing(MeshSection(peer_link_classes={"radio": "narrowband"}), links, now=0.0)
    assert pacing.page_items("radio", 500) == 16 and pacing.page_items("lan", 500) == 500
    assert not pacing.update() and pacing.shared_class == "lan"  # nobody up: our own class
    links.set_up("lan", True, 0.0)
    assert not pacing.update() and pacing.shared_class == "lan"
    links.set_up("radio", True, 0.0)
    assert pacing.update() and pacing.shared_class == "narrowband"
    narrow, lan = pacing.tiers["narrowband"], pacing.tiers["lan"]
    for tier in (narrow, lan):
        tier.start(10.0)
        tier.budget.offer_state(unit(10.0), queued(unit(10.0)))
    pacing.charge("radio", 3000, now=10.0)  # ~3 s of the radio link went to the radio
    assert narrow.budget.take(10.0) == [] and pacing.shared.take(10.0) == []  # both wait for that link
    pacing.shared.offer_event("alert", event_item("alert", 1))
    assert pacing.shared.take(10.0) == []
    assert len(lan.budget.take(10.0)) == 1  # the LAN peer's tier goes on at once
    pacing.charge("lan", 10**6, now=10.0)
    assert len(pacing.shared.take(13.2)) == 1 and len(narrow.budget.take(13.2)) == 1
    # What the narrowest tier sends counts against the shared stream (one link, one bucket), and the
    # shared stream against every running tier; the LAN tier's bytes against nothing else.
    pacing.tier_sent(lan, 10**6, 20.0)
    pacing.shared.offer_event("alert", event_item("alert", 2))
    assert len(pacing.shared.take(20.0)) == 1
    pacing.tier_sent(narrow, 2000, 20.0)
    pacing.shared.offer_event("alert", event_item("alert", 3))
    assert pacing.shared.take(20.0) == []
    narrow.budget.offer_state(unit(21.0), queued(unit(21.0)))
    pacing.shared_sent(3000, 30.0)
    assert narrow.budget.take(30.0) == []  # it would go now, but for the shared stream's 3000 B
    # A catch-up reply to the radio waits while its link is in debt, then while our alarm waits for
    # it; a reply to the LAN peer never waits.
    assert pacing.reply_wait("radio", 30.0) == pytest.approx(2040 / 960)  # the 3000 B above, 960 B/s
    assert pacing.reply_wait("lan", 30.0) == 0.0
    assert pacing.shared.take(40.0) != [] and pacing.reply_wait("radio", 40.0) == 0.0
    pacing.shared.offer_event("alert", event_item("alert", 4))
    pacing.charge("radio", 1000, 40.0)  # the alarm cannot go yet: the reply waits for it
    assert pacing.reply_wait("radio", 40.0) > 0 and pacing.reply_wait("radio", 41.1) > 0
    assert len(pacing.shared.take(41.1)) == 1 and pacing.reply_wait("radio", 41.1) == 0.0
    links.set_up("radio", False, 50.0)
    assert pacing.update() and pacing.shared_class == "lan"


def test_narrowest_link_class() -> None:
    assert narrowest(["lan", "narrowband", "lte"]) == "narrowband"
    assert narrowest([]) == "lan"


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


def test_link_report_rates_count_what_crossed_each_peers_link() -> None:
    m = LinkMonitor()
    for peer in ("lan", "radio"):
        m.set_up(peer, True, 0.0)
    tiers = {"radio": "narrowband"}.get
    m.report(0.0, lambda p: tiers(p, "lan"))  # the first report sets the marks
    m.publish(1000)  # the shared stream (events): both links
    m.publish(9000, "lan")
    m.publish(500, "narrowband")
    m.sent_to("radio", 500, 1.0)  # a catch-up reply to the radio alone
    m.heard("radio", 200, 1.0)
    for answered in (True, True, False, True):  # one query of four got nothing back
        m.probed("radio", answered, 1.0)
    links = {x.peer: x for x in m.report(10.0, lambda p: tiers(p, "lan"))}
    assert (links["lan"].tx_bps, links["radio"].tx_bps) == (1000.0, 200.0)
    assert (links["lan"].rx_bps, links["radio"].rx_bps) == (0.0, 20.0)
    assert (links["lan"].loss_pct, links["radio"].loss_pct) == (None, 25.0)


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
    for bad in ({"mode": "client"}, {"listen": ["7447"]}, {"lease_s": 0.1}, {"link_class": "satellite"}, {"nope": 1}):
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
        assert await journal.contiguous_seqs() == {"me": (3, 3), "x": (3, 6), "y": (0, 3)}
        view = await read_journal_view(journal, "me")
        await journal.append([Alert(id="x-4", origin="x", seq=4, ts=1.0, title="x")])  # the gap filled
        assert (await journal.contiguous_seqs())["x"] == (6, 6)
    finally:
        journal.close()
    assert view.heads == {"me": Heads(3, 3), "x": Heads(3, 6), "y": Heads(0, 3)}
    assert [r.id for r in view.tombstones] == ["marker:me:1"]
    empty = Journal(tmp_path / "empty.sqlite", node_id="me")
    empty.open()
    try:
        assert (await read_journal_view(empty, "me")).heads == {}
    finally:
        empty.close()


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
