"""Hand samples from Zenoh's threads to the event loop in batches, bounded.

Zenoh calls back on its own threads. Each callback appends to a deque (thread-safe in CPython)
and wakes the loop only when no wake-up is pending, so a burst costs one loop wake-up, not one
per sample. Overflow policy (CONVENTIONS.md §8): past ``max_items`` the newest sample is dropped
and counted; the caller's catch-up fetches whatever a dropped event carried.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """Items pushed from any thread, handled on ``loop`` in arrival order by ``handle(batch)``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, handle: Callable[[list[T]], None], max_items: int) -> None:
        self._loop = loop
        self._handle = handle
        self._max = max_items
        self._items: deque[T] = deque()
        self._pending = False
        self._lock = threading.Lock()  # guards _pending only; deque appends need no lock
        self.dropped = 0
        self.closed = False

    def push(self, item: T) -> None:
        """Called from any thread."""
        if self.closed:
            return
        if len(self._items) >= self._max:
            self.dropped += 1
            return
        self._items.append(item)
        with self._lock:
            if self._pending:
                return
            self._pending = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: the node is going away
            self.closed = True

    def _drain(self) -> None:
        with self._lock:
            self._pending = False
        batch: list[T] = []
        while self._items:
            batch.append(self._items.popleft())
        if batch and not self.closed:
            self._handle(batch)

    def close(self) -> None:
        """Stop taking items; safe to call twice."""
        self.closed = True
        self._items.clear()
