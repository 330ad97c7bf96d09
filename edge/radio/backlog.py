"""Radio events the journal could not store yet: held in order, retried, bounded.

A radio's emergency reaches the gateway once; if the journal refuses it (disk full, read-only file
system), dropping it would lose the alarm and crashing the gateway would stop the live picture (the
link would be reopened with backoff). So the gateway holds what it could not store and offers it
again on every tick; ids come from what the gateway said, so storing one twice keeps one. Nothing
was acknowledged for a held event, so holding it breaks no promise. Past ``limit`` the oldest are
dropped, counted and logged once (memory stays bounded whatever the outage lasts).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable

from edge.journal import JournalUnavailable
from edge.scene import Event, Scene

log = logging.getLogger(__name__)


class Backlog:
    """Events to commit, oldest first; ``store`` commits them all or keeps them all."""

    def __init__(self, name: str, limit: int = 10_000) -> None:
        self.name = name
        self.limit = limit
        self.dropped = 0  # held events dropped because the backlog was full
        self._held: deque[Event] = deque()

    def __len__(self) -> int:
        return len(self._held)

    async def store(self, scene: Scene, events: Iterable[Event] = ()) -> bool:
        """Commit what is held plus ``events``; False (and all of them held) if the journal refused."""
        self._held.extend(events)
        if not self._held:
            return True
        batch = list(self._held)
        self._held.clear()
        try:
            await scene.append_many(batch)
        except JournalUnavailable:  # the journal logged why, once
            self._held.extendleft(reversed(batch))  # arrivals during the attempt stay behind them
            self._trim()
            return False
        return True

    def _trim(self) -> None:
        excess = len(self._held) - self.limit
        if excess <= 0:
            return
        for _ in range(excess):
            self._held.popleft()
        if self.dropped == 0:
            log.error("%s: the journal has refused for so long that %d held events were dropped", self.name, excess)
        self.dropped += excess
