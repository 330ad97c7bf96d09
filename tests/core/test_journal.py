"""The journal: restore after restart, refusal of corrupt or foreign files, replay and tracks."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path

import pytest

from edge.journal import CorruptJournal, ForeignDatabase, Journal, JournalError, JournalUnavailable
from edge.scene import (
    Alert,
    AlertAck,
    AlertStatus,
    Marker,
    Message,
    Position,
    Removed,
    Scene,
    Shape,
    TrackPoint,
    Unit,
)

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def open_scene(path: Path, clock: Clock) -> Scene:
    journal = Journal(path, node_id="kit1", synchronous="NORMAL")
    scene = Scene("kit1", journal, clock=clock, track_interval_s=1.0)
    scene.restore(journal.open())
    return scene


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_picture_events_and_numbering_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "j.sqlite"
    scene = open_scene(path, clock)
    scene.apply_state(Unit(id="unit:pdt:1", origin="kit1", ts=T0, name="指挥-01", pos=Position(lat=36.7, lon=119.1)))
    scene.apply_state(
        Marker(id="marker:kit1:m", origin="kit1", ts=T0, shape=Shape.CIRCLE, points=[(36.7, 119.1)], radius_m=50.0)
    )
    scene.apply_state(Unit(id="unit:pdt:2", origin="kit1", ts=T0))
    scene.apply_state(Removed(id="unit:pdt:2", origin="kit1", ts=T0 + 1))
    await scene.append(Alert(id="a1", origin="kit1", ts=T0, title="紧急"))
    await scene.append(AlertAck(id="k1", origin="kit1", ts=T0 + 1, alert_id="a1", by="zhang"))
    await scene.append(Message(id="m1", origin="kit1", ts=T0, sender="s", text="到达"))
    await scene.flush(history=True)
    scene.journal.close()

    again = open_scene(path, clock)
    try:
        assert {e.id for e in again.entities()} == {"unit:pdt:1", "marker:kit1:m"}
        assert again.get("unit:pdt:1").name == "指挥-01"
        assert again.alert("a1").status is AlertStatus.ACKNOWLEDGED
        assert [m.text for m in again.messages()] == ["到达"]
        assert not again.apply_state(Unit(id="unit:pdt:2", origin="kit1", ts=T0 + 0.5)), "tombstone restored"
        nxt = await again.append(Message(id="m2", origin="kit1", ts=T0, sender="s", text="x"))
        assert nxt is not None and nxt.seq == 4, "numbering continues after the last committed seq"
        assert await again.append(Message(id="m1", origin="kit1", ts=T0, sender="s", text="到达")) is None
    finally:
        again.journal.close()


async def test_replay_gives_the_picture_at_a_past_time(tmp_path: Path) -> None:
    clock = Clock()
    scene = open_scene(tmp_path / "j.sqlite", clock)
    try:
        for i in range(10):  # a unit walking north, 1 m/s-ish, one report a second
            clock.now = T0 + i
            scene.apply_state(
                Unit(id="unit:pdt:1", origin="kit1", ts=clock.now, pos=Position(lat=36.7 + i * 1e-5, lon=119.1))
            )
            await scene.flush(history=i in (0, 5))
        await scene.append(Alert(id="a1", origin="kit1", ts=T0 + 4, title="x"))
        await scene.append(AlertAck(id="k1", origin="kit1", ts=T0 + 8, alert_id="a1", by="z"))

        before = await scene.journal.picture_at(T0 - 1)
        assert before.entities == [] and before.alerts == []
        at3 = await scene.journal.picture_at(T0 + 3.5)
        (u,) = at3.entities
        assert u.pos.lat == pytest.approx(36.7 + 3e-5), "position refined by the track, not the older history row"
        assert at3.alerts == []
        at6 = await scene.journal.picture_at(T0 + 6)
        assert at6.entities[0].pos.lat == pytest.approx(36.7 + 6e-5)
        assert [a.status for a in at6.alerts] == [AlertStatus.RAISED]
        at9 = await scene.journal.picture_at(T0 + 9)
        assert [a.status for a in at9.alerts] == [AlertStatus.ACKNOWLEDGED]

        track = await scene.journal.track("unit:pdt:1", T0 + 2, T0 + 4)
        assert track == [TrackPoint(T0 + k, 36.7 + k * 1e-5, 119.1) for k in (2, 3, 4)]
        since = await scene.journal.events_since("kit1", 1)
        assert [e.id for e in since] == ["k1"]
    finally:
        scene.journal.close()


async def test_tracks_are_downsampled(tmp_path: Path) -> None:
    clock = Clock()
    scene = open_scene(tmp_path / "j.sqlite", clock)
    try:
        for i in range(50):  # 10 Hz for 5 s
            scene.apply_state(Unit(id="unit:pdt:1", origin="kit1", ts=T0 + i / 10, pos=Position(lat=36.7, lon=119.1)))
        await scene.flush(history=False)
        track = await scene.journal.track("unit:pdt:1", T0, T0 + 10)
        assert [p.ts for p in track] == pytest.approx([T0 + k for k in range(5)])
    finally:
        scene.journal.close()


def test_corrupt_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a database at all\x00" * 200)
    before = digest(path)
    with pytest.raises(CorruptJournal, match="not a readable SQLite database"):
        Journal(path, node_id="kit1").open()
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.sqlite"], "no -wal or -shm files were created"


def test_foreign_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices(id INTEGER PRIMARY KEY, amount REAL)")
        conn.execute("INSERT INTO invoices(amount) VALUES (12.5)")
    conn.close()
    before = digest(path)
    with pytest.raises(ForeignDatabase, match="another application"):
        Journal(path, node_id="kit1").open()
    assert digest(path) == before


def test_damaged_journal_fails_the_integrity_check(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, node_id="kit1", synchronous="NORMAL")
    journal.open()
    journal.close()
    data = bytearray(path.read_bytes())
    data[4096 : 4096 + 300] = b"\xff" * 300  # scribble over the header of the second page (a b-tree)
    path.write_bytes(bytes(data))
    before = digest(path)
    with pytest.raises(CorruptJournal, match=r"malformed|integrity"):
        Journal(path, node_id="kit1").open()
    assert digest(path) == before


async def test_closed_journal_refuses_writes(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", node_id="kit1")
    journal.open()
    journal.close()
    journal.close()
    with pytest.raises(JournalError, match="not open"):
        await journal.append([Message(id="m", origin="kit1", ts=T0, sender="s", text="x")])


async def test_another_nodes_event_without_seq_is_refused(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", node_id="kit1")
    journal.open()
    try:
        with pytest.raises(JournalError):
            await journal.append([Message(id="m", origin="kit2", ts=T0, sender="s", text="x")])
        ok = await journal.append([Message(id="m3", origin="kit1", ts=T0, sender="s", text="x")])
        assert ok[0] is not None and ok[0].seq == 1, "a failed batch does not consume numbers"
    finally:
        journal.close()


async def test_prune_keeps_the_newest_replay_row_of_each_entity(tmp_path: Path) -> None:
    clock = Clock()
    scene = open_scene(tmp_path / "j.sqlite", clock)
    try:
        for i in range(5):
            clock.now = T0 + i * 100
            scene.apply_state(Unit(id="unit:pdt:1", origin="kit1", ts=clock.now, pos=Position(lat=36.7, lon=119.1)))
            if i == 0:
                scene.apply_state(Unit(id="unit:pdt:2", origin="kit1", ts=clock.now, pos=Position(lat=36.6, lon=119.1)))
            await scene.flush(history=True)
        tracks, history = await scene.journal.prune(T0 + 250)
        assert (tracks, history) == (4, 2), "unit 1: points at 0,100,200 and unit 2's at 0; rows at 0 and 100 of unit 1"
        later = await scene.journal.picture_at(T0 + 450)
        assert sorted(e.id for e in later.entities) == ["unit:pdt:1", "unit:pdt:2"], "unchanged unit 2 still there"
        assert [p.ts for p in await scene.journal.track("unit:pdt:1", 0, T0 + 1000)] == [T0 + 300, T0 + 400]
    finally:
        scene.journal.close()


def _limit_pages(journal: Journal, pages: int | None) -> None:
    """Cap the database's size (SQLite's own max_page_count): writes past it fail with SQLITE_FULL,
    as on a full disk. ``None`` lifts the cap."""
    writer = journal._writer
    assert writer is not None
    limit = pages if pages is not None else 1_073_741_823
    writer.execute(f"PRAGMA max_page_count={limit}")


async def test_a_journal_that_cannot_store_says_so_once_and_an_empty_commit_does_not_end_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(tmp_path / "journal.sqlite", node_id="kit1", synchronous="NORMAL")
    journal.open()
    try:
        _limit_pages(journal, journal._reader.execute("PRAGMA page_count").fetchone()[0])  # type: ignore[union-attr]
        big = [Message(id=f"m{i}", origin="kit1", ts=T0, sender="op", text="x" * 2000) for i in range(20)]
        for _ in range(3):
            with pytest.raises(JournalUnavailable, match="full"):
                await journal.append(big)
        assert journal.unavailable is not None and "full" in journal.unavailable
        assert journal.refused == 3
        await journal.prune(T0)  # nothing to delete: a transaction that writes nothing commits even now
        assert journal.unavailable is not None, "an empty commit proves nothing"
        _limit_pages(journal, None)
        await journal.append(big[:1])
        assert journal.unavailable is None
    finally:
        journal.close()
    said = [r.getMessage() for r in caplog.records if r.name == "edge.journal.store" and r.levelno >= logging.WARNING]
    assert len(said) == 2 and "cannot store (database or disk is full)" in said[0] and "stores again" in said[1]
