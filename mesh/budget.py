"""Bandwidth profiles per link class, and the sender's scheduler that keeps to one (pure, clock passed in).

A link class (``lan``, ``lte``, ``mesh``, ``narrowband``: 9.6 kbit/s, the PDT data rate) gives a
rate cap and, per kind, the shortest time between two position updates of one entity. What this
node publishes waits in one queue per class and leaves in strict priority order:

    0 alarms (alert, ack, clear)  >  1 commands and messages (message, receipt, audit, call)
    >  2 unit positions  >  3 vehicle positions  >  4 snapshots (feeds)  >  5 everything else

Events are never dropped and keep their order within a class. State is last-value-wins, so a
queued value is *replaced* by a newer one of the same entity (the backlog is bounded by the
number of entities, never by time) and a change that only moves an entity (``movement_only``)
waits until its kind's interval has passed since that entity's last send; a change with news
(a new entity, a mode or status change, an emergency, a removal) waits only for its class's turn.
Bytes are counted as payload + key + ``SAMPLE_OVERHEAD``, against a token bucket at the cap;
catch-up replies are charged to the same bucket and cut into pages of about a second of the link.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from msgspec import Struct

from edge.scene import Feed, StateChange, Unit, Vehicle

from .thinning import movement_only

LinkClass = Literal["lan", "lte", "mesh", "narrowband"]
SAMPLE_OVERHEAD = 8  # Zenoh's framing per sample in a batch, roughly (measured ~35 B with the key)
BURST_S = 1.0  # the bucket holds one second at the cap
# Our samples get this share of a link's rate; the rest is for Zenoh's framing beyond our estimate,
# keep-alives and catch-up queries, so the link's own buffers never fill (a keep-alive stuck behind a
# full buffer would let the lease run out).
HEADROOM = 0.8


class LinkProfile(Struct, frozen=True):
    """What one link class carries: a cap (bit/s, 0 = none) and per-kind position intervals (s)."""

    rate_bps: int
    unit_interval_s: float
    vehicle_interval_s: float
    feed_interval_s: float
    other_interval_s: float


PROFILES: dict[LinkClass, LinkProfile] = {
    "lan": LinkProfile(0, 0.0, 0.0, 0.0, 0.0),
    "lte": LinkProfile(1_000_000, 1.0, 0.2, 2.0, 1.0),
    "mesh": LinkProfile(200_000, 5.0, 1.0, 10.0, 5.0),
    # 100 radios reporting once a minute fit in ~10 % of 9.6 kbit/s; alarms always go first.
    "narrowband": LinkProfile(9_600, 30.0, 10.0, 60.0, 30.0),
}
ORDER: tuple[LinkClass, ...] = ("lan", "lte", "mesh", "narrowband")  # widest first
PAGE_ITEM_BYTES = 60  # an event or a radio unit in a catch-up page, roughly

ALARMS = frozenset({"alert", "alert_ack", "alert_clear"})
CLASSES = 6
Queued = tuple[str, bytes, bool, object]  # key, payload, reliable, Zenoh priority


def narrowest(classes: list[LinkClass]) -> LinkClass:
    """The narrowest of ``classes`` (``lan`` if none)."""
    return max(classes, key=ORDER.index, default="lan")


def event_class(kind: str) -> int:
    """The queue of an event kind: 0 for alarms, 1 for the rest."""
    return 0 if kind in ALARMS else 1


def state_class(change: StateChange) -> int:
    """The queue of a state change by what it is."""
    if isinstance(change, Unit):
        return 2
    if isinstance(change, Vehicle):
        return 3
    if isinstance(change, Feed):
        return 4
    return 5


class Budget:
    """The sender's queues for one profile; ``take(now)`` returns what may go now, in priority order."""

    def __init__(self, profile: LinkProfile, now: float) -> None:
        self.profile = profile
        self._events: list[deque[Queued]] = [deque() for _ in range(CLASSES)]
        self._states: list[dict[str, tuple[StateChange, Queued]]] = [{} for _ in range(CLASSES)]
        self._sent: dict[str, tuple[float, StateChange]] = {}  # entity id -> when, what it last sent
        self._tokens = self._burst()
        self._at = now
        self.superseded = 0  # queued values replaced by a newer one before they went: never sent
        self.sent_bytes = 0

    def _burst(self) -> float:
        return self.profile.rate_bps / 8 * HEADROOM * BURST_S

    def set_profile(self, profile: LinkProfile) -> None:
        """Switch to another link class (a narrower peer came up, or went)."""
        self.profile = profile
        self._tokens = min(self._tokens, self._burst())

    @property
    def backlog(self) -> int:
        """Events and entity values waiting."""
        return sum(map(len, self._events)) + sum(map(len, self._states))

    def offer_event(self, kind: str, item: Queued) -> None:
        """Queue one of our events of ``kind`` (never dropped)."""
        self._events[event_class(kind)].append(item)

    def offer_state(self, change: StateChange, item: Queued) -> None:
        """Queue the newest value of one of our entities (replacing one still waiting)."""
        queue = self._states[state_class(change)]
        if queue.pop(change.id, None) is not None:
            self.superseded += 1
        queue[change.id] = (change, item)

    def drop_state(self, entity_id: str) -> None:
        """Forget the value of ``entity_id`` still waiting (the entity was removed)."""
        for queue in self._states:
            queue.pop(entity_id, None)

    def take(self, now: float) -> list[Queued]:
        """Everything that may be sent now, highest class first, within the cap."""
        self._refill(now)
        out: list[Queued] = []
        for cls in range(CLASSES):
            events = self._events[cls]
            while events and self._afford(events[0]):
                out.append(self._spend(events.popleft()))
            if events:
                return out  # strict priority: nothing lower goes while this class waits
            queue = self._states[cls]
            for entity_id, (change, item) in list(queue.items()):
                if not self._due(change, now):
                    continue
                if not self._afford(item):
                    return out
                del queue[entity_id]
                self._sent[entity_id] = (now, change)
                out.append(self._spend(item))
        return out

    def charge(self, nbytes: int, now: float) -> None:
        """Count ``nbytes`` sent outside the queues (a catch-up reply): what waits goes that much later."""
        self._refill(now)
        self.sent_bytes += nbytes
        if self.profile.rate_bps:
            self._tokens -= nbytes

    def debt_s(self, now: float) -> float:
        """Seconds until the bucket is out of debt (0: it is not), e.g. after a large reply was charged."""
        self._refill(now)
        rate = self.profile.rate_bps / 8 * HEADROOM
        return -self._tokens / rate if rate and self._tokens < 0 else 0.0

    @property
    def events_waiting(self) -> bool:
        """True if an event waits (an alarm or a message not yet sent)."""
        return any(self._events)

    def page_items(self, default: int) -> int:
        """How many events or entities one catch-up reply may carry: about a second of the link.

        Replies to a peer that was away can be long; in pages of a second each, what this node
        publishes (alarms first) goes between them instead of waiting behind the whole backlog.
        """
        if not self.profile.rate_bps:
            return default
        return max(1, min(default, round(self.profile.rate_bps / 8 * HEADROOM / PAGE_ITEM_BYTES)))

    def next_due(self, now: float) -> float | None:
        """When ``take`` may next return something (None: nothing waits)."""
        if not self.backlog:
            return None
        rate = self.profile.rate_bps / 8 * HEADROOM
        refilled = now + max(0.0, 64 - self._tokens) / rate if rate else now  # a small sample fits again
        if any(self._events):
            return refilled
        return max(refilled, min(self._due_at(c) for queue in self._states for c, _ in queue.values()))

    def _due(self, change: StateChange, now: float) -> bool:
        return self._due_at(change) <= now

    def _due_at(self, change: StateChange) -> float:
        interval = self._interval(change)
        last = self._sent.get(change.id) if interval else None
        if last is None or not movement_only(last[1], change):
            return 0.0
        return last[0] + interval

    def _interval(self, change: StateChange) -> float:
        p = self.profile
        return (0.0, 0.0, p.unit_interval_s, p.vehicle_interval_s, p.feed_interval_s, p.other_interval_s)[
            state_class(change)
        ]

    def _refill(self, now: float) -> None:
        rate = self.profile.rate_bps / 8 * HEADROOM
        if rate:
            self._tokens = min(self._burst(), self._tokens + (now - self._at) * rate)
        self._at = now

    def _afford(self, item: Queued) -> bool:
        # A sample larger than a full bucket still goes when the bucket is full (or it never would).
        return not self.profile.rate_bps or self._tokens >= min(_size(item), self._burst())

    def _spend(self, item: Queued) -> Queued:
        size = _size(item)
        self.sent_bytes += size
        if self.profile.rate_bps:
            self._tokens -= size
        return item

    # -- samples outside the queues (mesh/snapshots.py) ---------------------------------------

    def waiting_above(self, cls: int, now: float) -> bool:
        """True if an event or a due value of a class higher than ``cls`` waits: a sample of class
        ``cls`` sent outside the queues (a snapshot) must let it go first."""
        return any(self._events[c] for c in range(cls)) or any(
            self._due(change, now) for c in range(cls) for change, _ in self._states[c].values()
        )

    def affords(self, nbytes: int, now: float) -> bool:
        """True if ``nbytes`` fit the bucket now (one larger than the bucket fits a full bucket)."""
        self._refill(now)
        return not self.profile.rate_bps or self._tokens >= min(nbytes + SAMPLE_OVERHEAD, self._burst())


def item_size(item: Queued) -> int:
    """What one queued sample costs the link, as the budget counts it."""
    return _size(item)


def _size(item: Queued) -> int:
    return len(item[0]) + len(item[1]) + SAMPLE_OVERHEAD
