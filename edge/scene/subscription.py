"""A subscriber's bounded view of the scene: a snapshot first, then deltas.

Overflow policy (CONVENTIONS.md §8): state is coalesced per entity (a slow subscriber sees the
latest value, not every value); events are never dropped one by one. When either buffer passes its
bound the subscriber is *resynced*: its buffers are emptied and its next read is a fresh snapshot,
so memory stays bounded and the subscriber is told it fell behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from .model import AlertRecord, Delta, Event, Snapshot, StateChange

log = logging.getLogger(__name__)


class Subscription:
    """Deltas of one subscriber; read with ``await get()``, end with ``close()``."""

    def __init__(
        self,
        name: str,
        snapshot: Callable[[], Snapshot],
        on_close: Callable[[Subscription], None],
        *,
        max_states: int,
        max_events: int,
        states: bool = True,
    ) -> None:
        self.name = name
        self.wants_states = states
        self._snapshot = snapshot
        self._on_close = on_close
        self._max_states = max_states
        self._max_events = max_events
        self._states: dict[str, StateChange] = {}
        self._events: deque[Delta] = deque()
        self._need_snapshot = True
        self._wake = asyncio.Event()
        self._wake.set()
        self.closed = False
        self.coalesced = 0  # state values replaced by a newer one before delivery
        self.resyncs = 0  # times this subscriber fell behind and was sent a fresh snapshot

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Snapshot | list[Delta]:
        if self.closed:
            raise StopAsyncIteration
        return await self.get()

    @property
    def pending(self) -> int:
        """Items waiting for delivery."""
        return len(self._states) + len(self._events)

    async def get(self) -> Snapshot | list[Delta]:
        """Wait for the next snapshot (first read, or after a resync) or batch of deltas."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._need_snapshot:
                self._need_snapshot = False
                self._states.clear()
                self._events.clear()
                return self._snapshot()
            if self._states or self._events:
                batch = list(self._events)
                batch.extend(Delta(op="state", value=s) for s in self._states.values())
                self._events.clear()
                self._states.clear()
                return batch

    def close(self) -> None:
        """Stop receiving; safe to call twice."""
        if not self.closed:
            self.closed = True
            self._on_close(self)
            self._wake.set()

    # -- called by the scene ----------------------------------------------------------------

    def offer_state(self, change: StateChange) -> None:
        if self._need_snapshot or not self.wants_states:
            return  # the coming snapshot will hold it
        if change.id in self._states:
            self.coalesced += 1
        elif len(self._states) >= self._max_states:
            self._resync("state")
            return
        self._states[change.id] = change
        self._wake.set()

    def offer_event(self, event: Event) -> None:
        self._offer(Delta(op="event", value=event))

    def offer_reminder(self, record: AlertRecord) -> None:
        self._offer(Delta(op="reminder", alert=record))

    def _offer(self, delta: Delta) -> None:
        if self._need_snapshot:
            return
        if len(self._events) >= self._max_events:
            self._resync("event")
            return
        self._events.append(delta)
        self._wake.set()

    def _resync(self, what: str) -> None:
        self.resyncs += 1
        level = logging.WARNING if self.resyncs == 1 else logging.DEBUG
        log.log(level, "subscriber %s fell behind (%s buffer full): resyncing with a snapshot", self.name, what)
        self._states.clear()
        self._events.clear()
        self._need_snapshot = True
        self._wake.set()
