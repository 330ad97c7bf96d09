"""Apply what other nodes publish: state at once (last value wins), events through the journal.

Nothing received is ever published again: the publisher only sends changes whose origin is this
node, and whatever arrives *with* this node's origin is dropped here (this node's journal is the
only authority on its own seqs and values), so no change can loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable

import msgspec

from edge.journal import JournalError, JournalUnavailable
from edge.scene import Event, Vehicle

from .context import MeshContext
from .errors import WireError
from .keys import Key, parse_key
from .posdelta import DeltaReceiver, decode_deltas
from .wire import decode_event, decode_state, decode_state_batch_gens, kind_of

log = logging.getLogger(__name__)

Sample = tuple[str, bytes]  # (key, payload) as taken off a Zenoh callback
_BATCH = 500


class Receiver:
    """Turns received samples into scene changes; ``run`` stores events in batches."""

    def __init__(
        self, ctx: MeshContext, on_gap: Callable[[str], None], on_missing_base: Callable[[str], None] = lambda _: None
    ) -> None:
        self._ctx = ctx
        self._on_gap = on_gap
        self._on_missing_base = on_missing_base  # a position delta came without its full state
        self._events: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._warned: set[str] = set()
        self.deltas = DeltaReceiver()

    def handle(self, batch: list[Sample]) -> None:
        """Apply a batch of samples (called on the loop by the inbox)."""
        ctx = self._ctx
        now = ctx.clock()
        for key, payload in batch:
            parsed = parse_key(key)
            if parsed is None or parsed.what not in ("state", "batch", "pos", "event"):
                self._malformed(key, "not a mesh key")
                continue
            if parsed.node == ctx.me:
                ctx.counters.dropped_own += 1
                continue
            ctx.links.heard(parsed.node, len(payload), now)
            if len(payload) > ctx.cfg.max_payload_bytes:
                ctx.counters.dropped_oversize += 1
                continue
            try:
                if parsed.what == "state":
                    self._state(parsed, payload)
                elif parsed.what == "batch":
                    self._batch(parsed, payload)
                elif parsed.what == "pos":
                    self._positions(parsed, payload)
                else:
                    self._event(parsed, payload)
            except WireError as exc:
                self._malformed(key, str(exc))

    def _state(self, key: Key, payload: bytes) -> None:
        change = decode_state(payload, key.id, key.node)
        if kind_of(change) != key.kind:
            raise WireError(f"a {kind_of(change)} body under a {key.kind} key")
        self._ctx.counters.states_received += 1
        if self._ctx.scene.apply_state(change):
            self._ctx.counters.states_applied += 1

    def _batch(self, key: Key, payload: bytes) -> None:
        changes = decode_state_batch_gens(payload, key.node)
        counters, scene = self._ctx.counters, self._ctx.scene
        now = self._ctx.clock()
        for change, gen in changes:
            counters.states_received += 1
            if gen is not None and isinstance(change, Vehicle):
                self.deltas.base(change, gen, now)
            if scene.apply_state(change):
                counters.states_applied += 1

    def _positions(self, key: Key, payload: bytes) -> None:
        try:
            epoch, deltas = decode_deltas(payload)
        except msgspec.DecodeError as exc:
            raise WireError(str(exc)) from exc
        counters, scene = self._ctx.counters, self._ctx.scene
        now = self._ctx.clock()
        for entity_id, d in deltas:
            counters.states_received += 1
            value = self.deltas.value(entity_id, key.node, epoch, d, now)
            if value is None:
                self._on_missing_base(key.node)  # catch-up fetches the value itself
            elif scene.apply_state(value):
                counters.states_applied += 1

    def _event(self, key: Key, payload: bytes) -> None:
        event = decode_event(payload)
        if event.origin != key.node or kind_of(event) != key.kind or event.seq < 1:
            raise WireError(f"event {event.id} does not match its key or has no seq")
        self._ctx.counters.events_received += 1
        if len(self._events) >= self._ctx.cfg.max_inbox:
            # Dropping is safe: the seq gap it leaves makes catch-up fetch it again.
            self._ctx.counters.dropped_overflow += 1
            self._on_gap(event.origin)
            return
        self._events.append(event)
        self._wake.set()

    def _malformed(self, key: str, why: str) -> None:
        self._ctx.counters.dropped_malformed += 1
        node = key.split("/")[1] if key.count("/") >= 2 else key[:40]
        level = logging.WARNING if node not in self._warned else logging.DEBUG
        self._warned.add(node)
        log.log(level, "mesh: dropped a payload on %s: %s", key[:120], why[:200])

    async def run(self) -> None:
        """Store received events in batches, journal first; ask for catch-up where a gap shows."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._events:
                batch = [self._events.popleft() for _ in range(min(_BATCH, len(self._events)))]
                for origin in await self.store(batch):
                    self._on_gap(origin)

    async def store(self, events: Iterable[Event]) -> set[str]:
        """Commit events from other origins (duplicates ignored); the origins still showing a gap."""
        ctx = self._ctx
        valid = [e for e in events if e.origin != ctx.me and e.seq >= 1]
        if not valid:
            return set()
        try:
            stored = await ctx.scene.append_many(valid)
        except JournalUnavailable:
            return set()  # the journal said why, once; not noted as held, so the next catch-up asks again
        except JournalError as exc:
            # Not noted as held, so the next catch-up asks for them again.
            log.error("mesh: could not store %d received events: %s", len(valid), exc)
            return set()
        gaps = set()
        for event, result in zip(valid, stored, strict=True):
            if result is None:
                ctx.counters.events_duplicate += 1
            else:
                ctx.counters.events_new += 1
            if ctx.seqs.note(event.origin, event.seq):
                gaps.add(event.origin)
        return gaps
