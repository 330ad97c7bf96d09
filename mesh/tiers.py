"""Link classes per peer: one reliable stream for everyone, and a thinned copy of our state per link class.

Pub/sub is one-to-many, yet Zenoh sends a sample over a link only if the node at its far end
declared a matching subscriber (measured here through ``sim/linkproxy.py``: a peer subscribed to one
key got none of the bytes of another published beside it). So what this node publishes goes in
two parts:

- the **shared stream**: events and removals, reliable, to every peer; one queue paced at the
  narrowest link class among the peers that are up. A reliable stream goes at the pace of its
  slowest reader anyway; pacing it here keeps Zenoh's queue for that link from filling, which
  would block every put on the session, for every link;
- a **tier** per link class (``lan`` ... ``narrowband``): the droppable state (positions, node
  entity, feeds, markers), thinned and paced by that class's own budget, on its own keys
  (``keys.tier_keys``). A tier runs only while some peer subscribes to it (Zenoh's matching
  status), and each receiver subscribes, per sender, to the tier of its link class to that sender.

So a kit with a LAN peer and a narrowband peer sends its drones at full rate to the first and
thinned to the second, at the same time. The shared stream's bytes are charged to every running
tier (they cross every link), and the bytes of the tier of the shared stream's own class to the
shared stream (the narrowest link carries both: one bucket, so alarms still go first there); a
catch-up reply is charged to the tier of the peer that asked, and to the shared stream if that
peer's class sets its pace. Pure: no I/O, the clock passed in.
"""

from __future__ import annotations

from edge.scene import Vehicle

from .budget import ORDER, PROFILES, Budget, LinkClass, narrowest
from .config import MeshSection
from .links import LinkMonitor
from .posdelta import DeltaSender

REPLY_POLL_S = 0.05  # a reply held for our waiting events looks again this often


class Tier:
    """One link class's copy of our state: its budget, its position deltas, whether anyone subscribes."""

    def __init__(self, link_class: LinkClass, now: float) -> None:
        self.link_class = link_class
        self.budget = Budget(PROFILES[link_class], now)
        self.active = False
        self.positions = DeltaSender()  # its own epoch: a receiver holds the bases of one tier only
        self.vehicles: dict[str, Vehicle] = {}  # the value waiting in this tier's budget, per vehicle
        self.bases_changes = -1  # the link monitor's count when full states were last forced

    def start(self, now: float) -> None:
        """Someone subscribes to this tier: start from empty queues and fresh bases."""
        self.active = True
        self.budget = Budget(PROFILES[self.link_class], now)
        self.positions.reset()
        self.vehicles.clear()

    def stop(self, now: float) -> None:
        """Nobody subscribes any more: nothing waits for this tier."""
        self.active = False
        self.budget = Budget(PROFILES[self.link_class], now)
        self.vehicles.clear()

    def forget(self, entity_id: str) -> None:
        """The entity was removed: drop its waiting value and its base."""
        self.budget.drop_state(entity_id)
        self.positions.forget(entity_id)
        self.vehicles.pop(entity_id, None)


class Pacing:
    """What this node sends and at what pace: the shared stream and one tier per link class."""

    def __init__(self, cfg: MeshSection, links: LinkMonitor, now: float = 0.0) -> None:
        self._cfg = cfg
        self._links = links
        self.shared_class: LinkClass = cfg.link_class
        self.shared = Budget(PROFILES[cfg.link_class], now)
        self.tiers: dict[LinkClass, Tier] = {c: Tier(c, now) for c in ORDER}
        self._link_changes = -1

    def peer_class(self, peer: str) -> LinkClass:
        """This node's link class for ``peer`` (``peer_link_classes``, else ``link_class``)."""
        return self._cfg.peer_link_classes.get(peer, self._cfg.link_class)

    def update(self) -> bool:
        """Pace the shared stream at the narrowest class among the peers that are up; True if it changed."""
        if self._links.changes == self._link_changes:
            return False
        self._link_changes = self._links.changes
        chosen = narrowest([self.peer_class(p) for p in self._links.up_peers()] or [self._cfg.link_class])
        if chosen == self.shared_class:
            return False
        self.shared_class = chosen
        self.shared.set_profile(PROFILES[chosen])
        return True

    def active(self) -> list[Tier]:
        """The tiers some peer subscribes to."""
        return [t for t in self.tiers.values() if t.active]

    def shared_sent(self, nbytes: int, now: float) -> None:
        """``nbytes`` of the shared stream went: they cross every running tier's links too."""
        if nbytes:
            for tier in self.active():
                tier.budget.charge(nbytes, now)

    def tier_sent(self, tier: Tier, nbytes: int, now: float) -> None:
        """``nbytes`` of ``tier`` went. If its class sets the shared stream's pace, that link carries both:
        one bucket between them, so an alarm waits in our queue (and goes first) rather than behind
        this tier's bytes in the link (measured: the alarm maximum on 9.6 kbit/s went from ~0.3 s to 48 ms).
        """
        if nbytes and tier.link_class == self.shared_class:
            self.shared.charge(nbytes, now)

    def waiting_above(self, cls: int, now: float) -> bool:
        """True if an event or a due value of a class higher than ``cls`` waits in the shared stream or a
        running tier: a sample of class ``cls`` sent outside the queues (a snapshot) lets it go first."""
        return any(b.waiting_above(cls, now) for b in (self.shared, *(t.budget for t in self.active())))

    def affords_everywhere(self, nbytes: int, now: float) -> bool:
        """True if ``nbytes`` that cross every link (a snapshot) fit the shared and every running tier's bucket."""
        return all(b.affords(nbytes, now) for b in (self.shared, *(t.budget for t in self.active())))

    def sent_everywhere(self, nbytes: int, now: float) -> None:
        """``nbytes`` outside the queues went over every link: the shared stream and the tiers wait that much longer."""
        self.shared.charge(nbytes, now)
        self.shared_sent(nbytes, now)

    def charge(self, peer: str, nbytes: int, now: float) -> None:
        """A catch-up reply of ``nbytes`` went to ``peer``: what waits for its link goes that much later."""
        link_class = self.peer_class(peer)
        self.tiers[link_class].budget.charge(nbytes, now)
        if link_class == self.shared_class:
            self.shared.charge(nbytes, now)

    def reply_wait(self, peer: str, now: float) -> float:
        """How long a catch-up reply to ``peer`` should wait: until its link's budget is out of debt
        and, where the shared stream goes at that link's pace, until no event of ours waits. Pages go
        back to back otherwise, each charged after it went, and an alarm would wait behind all of them.
        """
        link_class = self.peer_class(peer)
        wait = self.tiers[link_class].budget.debt_s(now)
        if link_class == self.shared_class:
            wait = max(wait, self.shared.debt_s(now), REPLY_POLL_S if self.shared.events_waiting else 0.0)
        return wait

    def page_items(self, peer: str, default: int) -> int:
        """Events or entities per catch-up reply to ``peer``: about a second of its link."""
        return self.tiers[self.peer_class(peer)].budget.page_items(default)

    @property
    def backlog(self) -> int:
        """Events and values waiting, in the shared stream and every running tier."""
        return self.shared.backlog + sum(t.budget.backlog for t in self.active())

    @property
    def superseded(self) -> int:
        """Values replaced by a newer one before they went, over every tier."""
        return self.shared.superseded + sum(t.budget.superseded for t in self.tiers.values())

    def next_due(self, now: float) -> float | None:
        """When something may next go (None: nothing waits)."""
        dues = [d for b in (self.shared, *(t.budget for t in self.active())) if (d := b.next_due(now)) is not None]
        return min(dues, default=None)
