"""The scene: the node's in-memory picture, fed by adapters, backed by the journal.

State changes apply at once (last value wins by ``(ts, origin)``) and are written to the journal
in periodic batches by ``flush``. Events go to the journal first and reach the picture and the
subscribers only after COMMIT, so whatever anyone has seen or been told is acknowledged is durable.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .lifecycle import AlertBook
from .model import (
    Alert,
    AlertAck,
    AlertClear,
    AlertRecord,
    AlertStatus,
    Entity,
    Event,
    Message,
    Removed,
    Snapshot,
    StateChange,
    TrackPoint,
)
from .subscription import Subscription

if TYPE_CHECKING:
    from edge.journal import Journal, Restored

log = logging.getLogger(__name__)

MAX_FUTURE_S = 300.0  # a value stamped further ahead than this comes from a wrong clock
RECENT_MESSAGES = 200


class SceneCounters:
    """What the scene has taken in and turned away."""

    def __init__(self) -> None:
        self.states_applied = 0
        self.states_stale = 0  # older than what the picture holds: normal on redundant links
        self.states_future = 0  # stamped too far ahead: a wrong clock
        self.events_applied = 0
        self.events_duplicate = 0


class Scene:
    """Entities, alerts and messages of one node, with subscribers."""

    def __init__(
        self,
        node_id: str,
        journal: Journal,
        *,
        clock: Callable[[], float],
        track_interval_s: float = 1.0,
        reannounce_s: float = 30.0,
        max_subscriber_states: int = 100_000,
        max_subscriber_events: int = 10_000,
        max_pending_tracks: int = 200_000,
    ) -> None:
        self.node_id = node_id
        self.journal = journal
        self.clock = clock
        self.counters = SceneCounters()
        self._track_interval_s = track_interval_s
        self._reannounce_s = reannounce_s
        self._max_sub_states = max_subscriber_states
        self._max_sub_events = max_subscriber_events
        self._entities: dict[str, Entity] = {}
        self._versions: dict[str, tuple[float, str]] = {}  # (ts, origin) of the value held, tombstones too
        self._dirty: dict[str, StateChange] = {}  # changed since the last flush
        self._history_dirty: dict[str, StateChange] = {}  # changed since the last history row
        self._tracks: deque[tuple[str, TrackPoint]] = deque(maxlen=max_pending_tracks)
        self._last_track: dict[str, float] = {}
        self._alerts = AlertBook()
        self._announced: dict[str, float] = {}
        self._messages: deque[Message] = deque(maxlen=RECENT_MESSAGES)
        self._subscribers: set[Subscription] = set()
        self._warned_future = False

    # -- reading -------------------------------------------------------------------------------

    def get(self, entity_id: str) -> Entity | None:
        """The current value of one entity."""
        return self._entities.get(entity_id)

    def entities(self, kind: str | None = None) -> list[Entity]:
        """Every entity, or those of one kind."""
        values = self._entities.values()
        return [e for e in values if kind is None or e.__struct_config__.tag == kind]

    def alert(self, alert_id: str) -> AlertRecord | None:
        """One alert with its lifecycle state."""
        return self._alerts.get(alert_id)

    def alerts(self) -> list[AlertRecord]:
        """Every alert held in memory (open ones and recently cleared), oldest first."""
        return self._alerts.records()

    def messages(self) -> list[Message]:
        """The most recent messages, oldest first."""
        return list(self._messages)

    def snapshot(self) -> Snapshot:
        """The whole picture now."""
        return Snapshot(
            ts=self.clock(), entities=list(self._entities.values()), alerts=self.alerts(), messages=self.messages()
        )

    @property
    def subscribers(self) -> int:
        """How many subscribers are attached."""
        return len(self._subscribers)

    def subscriber_names(self) -> list[str]:
        """The names of the attached subscribers (``ws:<token label>``, ``mesh``, ``tak:...``)."""
        return sorted(sub.name for sub in self._subscribers)

    def subscribe(self, name: str, *, states: bool = True) -> Subscription:
        """A new subscriber: its first read is a snapshot, then deltas (events only if not ``states``)."""
        sub = Subscription(
            name,
            self.snapshot,
            self._subscribers.discard,
            max_states=self._max_sub_states,
            max_events=self._max_sub_events,
            states=states,
        )
        self._subscribers.add(sub)
        return sub

    # -- state ---------------------------------------------------------------------------------

    def apply_state(self, change: StateChange) -> bool:
        """Apply a last-value-wins change; False if the picture already holds a newer value."""
        if change.ts > self.clock() + MAX_FUTURE_S:
            self.counters.states_future += 1
            if not self._warned_future:
                self._warned_future = True
                log.warning(
                    "dropping %s stamped %.0f s ahead: check the clock of %s",
                    change.id,
                    change.ts - self.clock(),
                    change.origin,
                )
            return False
        key = (change.ts, change.origin)
        held = self._versions.get(change.id)
        if held is not None and key <= held:
            self.counters.states_stale += 1
            return False
        self._versions[change.id] = key
        if isinstance(change, Removed):
            self._entities.pop(change.id, None)
        else:
            self._entities[change.id] = change
            self._note_track(change)
        self._dirty[change.id] = change
        self._history_dirty[change.id] = change
        self.counters.states_applied += 1
        for sub in self._subscribers:
            sub.offer_state(change)
        return True

    def _note_track(self, entity: Entity) -> None:
        if entity.pos is None:
            return
        last = self._last_track.get(entity.id)
        if last is not None and entity.ts - last < self._track_interval_s:
            return
        self._last_track[entity.id] = entity.ts
        self._tracks.append((entity.id, TrackPoint(entity.ts, entity.pos.lat, entity.pos.lon, entity.pos.alt_msl_m)))

    async def flush(self, *, history: bool) -> int:
        """Write changed state (and tracks) to the journal; with ``history``, also a replay row each."""
        states = list(self._dirty.values())
        tracks = list(self._tracks)
        hist = list(self._history_dirty.values()) if history else []
        if not states and not tracks and not hist:
            return 0
        self._dirty.clear()
        self._tracks.clear()
        if history:
            self._history_dirty.clear()
        try:
            await self.journal.write_state(states, history_rows=hist, tracks=tracks)
        except BaseException:
            # Keep what was not written (newer values that arrived meanwhile win).
            for s in states:
                self._dirty.setdefault(s.id, s)
            if history:
                for s in hist:
                    self._history_dirty.setdefault(s.id, s)
            self._tracks.extendleft(reversed(tracks))
            raise
        return len(states)

    # -- events --------------------------------------------------------------------------------

    async def append(self, event: Event) -> Event | None:
        """Commit one event to the journal, then apply it; None if it was already known."""
        (stored,) = await self.append_many([event])
        return stored

    async def append_many(self, events: Iterable[Event]) -> list[Event | None]:
        """Commit events in one transaction, then apply those that were new."""
        stored = await self.journal.append(list(events))
        for event in stored:
            if event is None:
                self.counters.events_duplicate += 1
            else:
                self._apply_event(event)
        return stored

    def _apply_event(self, event: Event) -> None:
        self.counters.events_applied += 1
        if isinstance(event, Alert | AlertAck | AlertClear):
            self._alerts.apply(event)
            if isinstance(event, Alert):
                self._announced[event.id] = self.clock()
        elif isinstance(event, Message):
            self._messages.append(event)
        for sub in self._subscribers:
            sub.offer_event(event)

    def remind(self) -> int:
        """Re-announce alerts still unacknowledged after the reannounce interval; returns how many."""
        now = self.clock()
        count = 0
        for record in self._alerts.open_records():
            if record.status is not AlertStatus.RAISED:
                continue
            if now - self._announced.get(record.alert.id, 0.0) < self._reannounce_s:
                continue
            self._announced[record.alert.id] = now
            count += 1
            for sub in self._subscribers:
                sub.offer_reminder(record)
        return count

    # -- startup -------------------------------------------------------------------------------

    def restore(self, restored: Restored) -> None:
        """Rebuild the picture from what the journal held at startup."""
        for state in restored.states:
            self._versions[state.id] = (state.ts, state.origin)
            if not isinstance(state, Removed):
                self._entities[state.id] = state
        for event in restored.lifecycle:
            self._alerts.apply(event)  # type: ignore[arg-type]
        self._messages.extend(restored.messages)
        now = self.clock()
        for record in self._alerts.open_records():
            self._announced[record.alert.id] = now
