"""What the mesh's parts share: the node's scene and journal, the session, books and counters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.journal import Journal
from edge.scene import Removed, Scene

from .config import MeshSection
from .links import LinkMonitor
from .seqs import SeqBook
from .session import MeshSession
from .tiers import Pacing

MAX_TOMBSTONES = 10_000


class MeshCounters:
    """What the mesh has sent, taken in and turned away."""

    def __init__(self) -> None:
        self.states_sent = 0
        self.events_sent = 0
        self.send_errors = 0
        self.states_received = 0
        self.states_applied = 0
        self.events_received = 0
        self.events_new = 0
        self.events_duplicate = 0
        self.dropped_malformed = 0  # wrong key, wrong schema, failed validation
        self.dropped_oversize = 0
        self.dropped_own = 0  # our own origin coming back: we are its only authority
        self.dropped_overflow = 0
        self.catchup_rounds = 0
        self.catchup_events = 0
        self.catchup_states = 0
        self.queries_served = 0
        self.queries_refused = 0
        self.reopens = 0

    def as_dict(self) -> dict[str, int]:
        """Every counter by name."""
        return dict(vars(self))


@dataclass
class MeshContext:
    """Shared by publisher, receiver and catch-up of one node."""

    me: str
    cfg: MeshSection
    scene: Scene
    journal: Journal
    session: MeshSession
    seqs: SeqBook
    clock: Callable[[], float]
    links: LinkMonitor = field(default_factory=LinkMonitor)
    counters: MeshCounters = field(default_factory=MeshCounters)
    tombstones: dict[str, Removed] = field(default_factory=dict)  # our own removals, newest last
    # What this node sends, and at what pace, per link class: catch-up replies are charged to the asker's.
    pacing: Pacing = field(init=False)
    # Held while the session is being reopened, so nothing is sent on a closing session.
    session_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.pacing = Pacing(self.cfg, self.links, self.clock())

    def keep_tombstone(self, removed: Removed) -> None:
        """Remember one of our own removals so catch-up can tell peers the entity is gone."""
        self.tombstones.pop(removed.id, None)
        self.tombstones[removed.id] = removed
        while len(self.tombstones) > MAX_TOMBSTONES:
            del self.tombstones[next(iter(self.tombstones))]
