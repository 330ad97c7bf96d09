"""The scene: last value wins, events once, alert lifecycle, subscribers with bounded buffers."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.journal import Journal
from edge.scene import (
    Alert,
    AlertAck,
    AlertBook,
    AlertClear,
    AlertStatus,
    Delta,
    Message,
    Position,
    Removed,
    Scene,
    Snapshot,
    Unit,
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def scene(tmp_path: Path):
    journal = Journal(tmp_path / "j.sqlite", node_id="kit1", synchronous="NORMAL")
    restored = journal.open()
    s = Scene("kit1", journal, clock=Clock(), reannounce_s=30.0, max_subscriber_states=50, max_subscriber_events=20)
    s.restore(restored)
    yield s
    journal.close()


def unit(n: int, ts: float, origin: str = "kit1", lat: float = 36.7) -> Unit:
    return Unit(id=f"unit:pdt:{n}", origin=origin, ts=ts, pos=Position(lat=lat, lon=119.16))


def alert(i: str, ts: float = 1_800_000_000.0) -> Alert:
    return Alert(id=i, origin="kit1", ts=ts, title=f"alarm {i}")


async def test_last_value_wins_by_timestamp_then_origin(scene: Scene) -> None:
    t = scene.clock()
    assert scene.apply_state(unit(1, t, lat=36.1))
    assert not scene.apply_state(unit(1, t - 1, lat=36.2)), "an older value must not replace a newer one"
    assert scene.apply_state(unit(1, t, origin="kit2", lat=36.3)), "same ts: the greater origin wins"
    assert not scene.apply_state(unit(1, t, origin="kit0", lat=36.4))
    assert not scene.apply_state(unit(1, t, origin="kit2", lat=36.3)), "the same value twice is stale"
    held = scene.get("unit:pdt:1")
    assert held is not None and held.pos is not None and held.pos.lat == 36.3
    assert scene.counters.states_applied == 2
    assert scene.counters.states_stale == 3


async def test_value_from_a_clock_far_ahead_is_dropped(scene: Scene) -> None:
    assert not scene.apply_state(unit(1, scene.clock() + 3600))
    assert scene.get("unit:pdt:1") is None
    assert scene.counters.states_future == 1


async def test_removed_is_a_tombstone_ordered_like_state(scene: Scene) -> None:
    t = scene.clock()
    scene.apply_state(unit(1, t))
    assert scene.apply_state(Removed(id="unit:pdt:1", origin="kit1", ts=t + 1))
    assert scene.get("unit:pdt:1") is None
    assert not scene.apply_state(unit(1, t + 0.5)), "a value older than the removal must not resurrect it"
    assert scene.apply_state(unit(1, t + 2))
    assert scene.get("unit:pdt:1") is not None


async def test_events_are_numbered_and_applied_once(scene: Scene) -> None:
    m = Message(id="m1", origin="kit1", ts=scene.clock(), sender="a", text="hello")
    first = await scene.append(m)
    again = await scene.append(m)
    assert first is not None and first.seq == 1
    assert again is None
    assert [x.id for x in scene.messages()] == ["m1"]
    second = await scene.append(Message(id="m2", origin="kit1", ts=scene.clock(), sender="a", text="x"))
    assert second is not None and second.seq == 2
    assert scene.counters.events_duplicate == 1


async def test_events_from_another_origin_keep_their_numbers(scene: Scene) -> None:
    theirs = Message(id="m9", origin="kit2", seq=41, ts=scene.clock(), sender="b", text="far")
    stored = await scene.append(theirs)
    assert stored == theirs
    assert await scene.append(theirs) is None


async def test_alert_lifecycle_raised_acknowledged_cleared(scene: Scene) -> None:
    await scene.append(alert("a1"))
    assert scene.alert("a1").status is AlertStatus.RAISED
    await scene.append(AlertAck(id="k1", origin="kit1", ts=scene.clock() + 1, alert_id="a1", by="zhang"))
    record = scene.alert("a1")
    assert record.status is AlertStatus.ACKNOWLEDGED and record.acked_by == "zhang"
    await scene.append(AlertClear(id="c1", origin="kit1", ts=scene.clock() + 2, alert_id="a1", by="li"))
    record = scene.alert("a1")
    assert record.status is AlertStatus.CLEARED and record.cleared_by == "li" and record.acked_by == "zhang"


async def test_unacknowledged_alert_is_reannounced_until_acknowledged(scene: Scene) -> None:
    clock: Clock = scene.clock  # type: ignore[assignment]
    sub = scene.subscribe("t")
    assert isinstance(await sub.get(), Snapshot)
    await scene.append(alert("a1", clock.now))
    await sub.get()
    assert scene.remind() == 0, "not yet due"
    clock.now += 31
    assert scene.remind() == 1
    batch = await sub.get()
    assert [d.op for d in batch] == ["reminder"] and batch[0].alert.alert.id == "a1"
    clock.now += 31
    await scene.append(AlertAck(id="k1", origin="kit1", ts=clock.now, alert_id="a1", by="zhang"))
    assert scene.remind() == 0, "an acknowledged alert is not re-announced"


lifecycle_events = [
    alert("a1"),
    AlertAck(id="k1", origin="kit1", ts=1_800_000_010.0, alert_id="a1", by="zhang"),
    AlertAck(id="k2", origin="kit2", ts=1_800_000_005.0, alert_id="a1", by="wang"),
    AlertClear(id="c1", origin="kit2", ts=1_800_000_020.0, alert_id="a1", by="li"),
]


@given(st.permutations(lifecycle_events))
def test_alert_book_gives_the_same_record_in_any_order(order: list) -> None:
    book = AlertBook()
    for event in order:
        book.apply(event)
    record = book.get("a1")
    assert record is not None
    assert record.status is AlertStatus.CLEARED
    assert (record.acked_by, record.acked_ts) == ("wang", 1_800_000_005.0), "the earliest ack wins"
    assert record.cleared_by == "li"


async def test_subscriber_gets_snapshot_then_events_then_coalesced_state(scene: Scene) -> None:
    t = scene.clock()
    scene.apply_state(unit(1, t))
    sub = scene.subscribe("t")
    first = await sub.get()
    assert isinstance(first, Snapshot) and [e.id for e in first.entities] == ["unit:pdt:1"]
    for i in range(5):
        scene.apply_state(unit(1, t + 1 + i, lat=36.0 + i / 10))
    await scene.append(Message(id="m1", origin="kit1", ts=t, sender="a", text="x"))
    batch = await sub.get()
    assert [d.op for d in batch] == ["event", "state"]
    assert batch[1].value.pos.lat == pytest.approx(36.4), "only the latest value of a coalesced entity"
    assert sub.coalesced == 4


async def test_slow_subscriber_is_resynced_with_bounded_memory(scene: Scene) -> None:
    t = scene.clock()
    sub = scene.subscribe("slow")
    await sub.get()
    for i in range(200):  # 4x the subscriber's state bound of 50
        scene.apply_state(unit(i, t))
        assert sub.pending <= 50
    first = await sub.get()
    assert isinstance(first, Snapshot), "a subscriber that fell behind is resynced with a snapshot"
    assert len(first.entities) == 200
    assert sub.resyncs == 1


async def test_events_are_never_dropped_silently(scene: Scene) -> None:
    sub = scene.subscribe("slow")
    await sub.get()
    for i in range(25):  # the event bound is 20
        await scene.append(Message(id=f"m{i}", origin="kit1", ts=scene.clock(), sender="a", text=str(i)))
        assert sub.pending <= 20
    snap = await sub.get()
    assert isinstance(snap, Snapshot), "overflowing events means a resync, never a silent gap"
    assert [m.id for m in snap.messages][-25:] == [f"m{i}" for i in range(25)]
    await scene.append(Message(id="m-next", origin="kit1", ts=scene.clock(), sender="a", text="after"))
    batch = await sub.get()
    assert batch == [Delta(op="event", value=scene.messages()[-1])]


async def test_closed_subscriber_receives_nothing_more(scene: Scene) -> None:
    sub = scene.subscribe("t")
    await sub.get()
    sub.close()
    sub.close()
    scene.apply_state(unit(1, scene.clock()))
    assert scene.subscribers == 0
    assert sub.pending == 0
    with pytest.raises(StopAsyncIteration):
        await sub.__anext__()


async def test_get_waits_until_something_arrives(scene: Scene) -> None:
    sub = scene.subscribe("t")
    await sub.get()
    waiter = asyncio.create_task(sub.get())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    scene.apply_state(unit(1, scene.clock()))
    batch = await asyncio.wait_for(waiter, 1)
    assert [d.value.id for d in batch] == ["unit:pdt:1"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 20), st.sampled_from(["a", "b", "c"])), max_size=40))
def test_final_picture_does_not_depend_on_arrival_order(changes: list[tuple[int, int, str]]) -> None:
    """Last-value-wins must converge: apply the same set in two orders, get the same picture."""

    def run(order: list[tuple[int, int, str]]) -> dict[str, tuple[float, str]]:
        with tempfile.TemporaryDirectory() as d:
            journal = Journal(Path(d) / "j.sqlite", node_id="x", synchronous="OFF")
            journal.open()
            try:
                s = Scene("x", journal, clock=Clock())
                for n, dt, origin in order:
                    s.apply_state(unit(n, 1_799_999_000.0 + dt, origin=origin))
                return {e.id: (e.ts, e.origin) for e in s.entities()}
            finally:
                journal.close()

    shuffled = list(changes)
    random.Random(1).shuffle(shuffled)
    assert run(changes) == run(shuffled)
