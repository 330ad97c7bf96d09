"""Publish this node's own changes: state on ``fk/<me>/state/<kind>/<id>``, events on ``fk/<me>/event/<kind>``.

The publisher reads the scene like any subscriber (snapshot first, then deltas) and sends only
changes whose origin is this node. State goes best-effort (congestion DROP, low priority: a newer
value follows); events go reliable (congestion BLOCK, high priority) and were committed to the
journal before the scene offered them, so a peer that misses one live fetches it by seq.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from itertools import pairwise

import msgspec
import zenoh

from edge.scene import Delta, Event, Node, Removed, Snapshot, StateChange, Subscription, Vehicle

from .budget import PROFILES, narrowest
from .context import MeshContext
from .errors import SessionError
from .keys import batch_key, event_key, pos_key, state_key
from .posdelta import DeltaSender, PosDelta, base_name, encode_deltas
from .wire import encode_event, encode_state, encode_state_batch, kind_of

log = logging.getLogger(__name__)

# Strict priority, highest first: alarms > messages > other events > tombstones > state.
EVENT_PRIORITY = {
    "alert": zenoh.Priority.INTERACTIVE_HIGH,
    "alert_ack": zenoh.Priority.INTERACTIVE_HIGH,
    "alert_clear": zenoh.Priority.INTERACTIVE_HIGH,
    "message": zenoh.Priority.INTERACTIVE_LOW,
    "receipt": zenoh.Priority.INTERACTIVE_LOW,
    "call": zenoh.Priority.DATA_HIGH,
    "audit": zenoh.Priority.DATA_HIGH,
}
STATE_PRIORITY = zenoh.Priority.DATA_LOW
REMOVED_PRIORITY = zenoh.Priority.DATA  # a removal is rare and must not be lost: reliable
_REPLAY_BATCH = 1000
STATE_BATCH = 200  # entities per live state sample

Outgoing = tuple[str, bytes, bool, zenoh.Priority]  # key, payload, reliable, priority (budget.Queued)


class Publisher:
    """Sends this node's own changes to the mesh."""

    def __init__(self, ctx: MeshContext, decorate: Callable[[Node], Node | None] | None = None) -> None:
        self._ctx = ctx
        self._decorate = decorate
        self.budget = ctx.budget
        self.budget.set_profile(PROFILES[ctx.cfg.link_class])
        self._link_changes = -1  # the link monitor's count when the profile was last chosen
        self._publishers: dict[str, zenoh.Publisher] = {}
        self._sent_seq = ctx.seqs.heads(ctx.me).max_seq  # our events up to here are in the journal already
        self._self_id = f"node:{ctx.me}"
        self._self_sent: tuple[float, Node] | None = None  # when, and what, our node entity was last sent
        self._positions = DeltaSender()
        self._vehicles: dict[str, Vehicle] = {}  # the value waiting in the budget, per vehicle
        self._bases_changes = -1  # the link monitor's count when full states were last forced

    # -- declarations (on every session open) ------------------------------------------------

    def declare(self, session: zenoh.Session) -> list[zenoh.Publisher]:
        """Declare one reliable publisher per event kind (on the session's thread); returns them."""
        self._publishers = {
            event_key(self._ctx.me, kind): session.declare_publisher(
                event_key(self._ctx.me, kind),
                congestion_control=zenoh.CongestionControl.BLOCK,
                priority=priority,
            )
            for kind, priority in EVENT_PRIORITY.items()
        }
        return list(self._publishers.values())

    # -- the loop ------------------------------------------------------------------------------

    async def run(self, sub: Subscription) -> None:
        """Publish from ``sub`` (created before the journal was read, so nothing falls between)."""
        first = True
        while True:
            item = await self._next(sub)
            if isinstance(item, Snapshot):
                if not first:  # we fell behind: send the picture again, and any event we skipped
                    await self._resync(item)
                first = False
            elif item is not None:
                await self._deltas(item)
            await self._flush()

    async def _next(self, sub: Subscription) -> Snapshot | list[Delta] | None:
        due = self.budget.next_due(self._ctx.clock())
        if due is None:
            return await sub.get()
        try:
            return await asyncio.wait_for(sub.get(), max(0.0, due - self._ctx.clock()))
        except TimeoutError:
            return None

    def _choose_profile(self) -> None:
        """Send at the pace of the narrowest link class among the peers that are up."""
        ctx = self._ctx
        if ctx.links.changes == self._link_changes:
            return
        self._link_changes = ctx.links.changes
        classes = [ctx.cfg.peer_link_classes.get(peer, ctx.cfg.link_class) for peer in ctx.links.up_peers()]
        chosen = narrowest(classes or [ctx.cfg.link_class])
        if PROFILES[chosen] != self.budget.profile:
            log.info("mesh %s: sending at the %s profile", ctx.me, chosen)
            self.budget.set_profile(PROFILES[chosen])

    async def _deltas(self, batch: list[Delta]) -> None:
        me = self._ctx.me
        states: list[StateChange] = []
        events: list[Event] = []
        for delta in batch:
            value = delta.value
            if value is None or value.origin != me:
                continue
            if delta.op == "event":
                events.append(value)  # type: ignore[arg-type]
            elif delta.op == "state":
                states.append(value)  # type: ignore[arg-type]
        await self._send(self._prepare(states), await self._in_order(events) if events else [])

    async def _resync(self, snapshot: Snapshot) -> None:
        log.warning("mesh: publisher fell behind the scene; sending our picture again")
        own = [e for e in snapshot.entities if e.origin == self._ctx.me]
        await self._send(self._prepare(list(own)), await self._in_order([], resync=True))

    async def _in_order(self, events: list[Event], *, resync: bool = False) -> list[Event]:
        """Our events in seq order, with any the subscription skipped read back from the journal."""
        ctx = self._ctx
        events = sorted((e for e in events if e.seq > self._sent_seq), key=lambda e: e.seq)
        if not events and not resync:
            return []
        if events and events[0].seq == self._sent_seq + 1 and all(b.seq == a.seq + 1 for a, b in pairwise(events)):
            return events
        replay = await ctx.journal.events_since(ctx.me, self._sent_seq, _REPLAY_BATCH)
        if replay:
            log.info("mesh: re-reading %d of our events from the journal (seq > %d)", len(replay), self._sent_seq)
        return replay or events

    def _prepare(self, states: list[StateChange]) -> list[StateChange]:
        out = []
        now = self._ctx.clock()
        for change in states:
            if isinstance(change, Node) and change.id == self._self_id:
                if self._decorate is not None and (better := self._decorate(change)) is not None:
                    self._ctx.scene.apply_state(better)  # it comes back through the subscription, decorated
                    continue
                if not self._heartbeat_due(change, now):
                    continue
            if isinstance(change, Removed):
                self._ctx.keep_tombstone(change)
                self._positions.forget(change.id)
                self._vehicles.pop(change.id, None)
            else:
                self._ctx.tombstones.pop(change.id, None)
            out.append(change)
        return out

    def _heartbeat_due(self, node: Node, now: float) -> bool:
        """Send our node entity if it changed, or if only its timestamp moved and a heartbeat is due.

        Health and link numbers move all the time; they ride along with the heartbeat (or any
        other change) instead of re-sending the entity every few seconds.
        """
        last = self._self_sent
        if (
            last is not None
            and now - last[0] < self._ctx.cfg.node_heartbeat_s
            and msgspec.structs.replace(node, ts=last[1].ts, health=last[1].health, links=last[1].links) == last[1]
        ):
            return False
        self._self_sent = (now, node)
        return True

    async def _send(self, states: list[StateChange], events: list[Event]) -> None:
        """Queue our changes in the budget; events count as handed over (the budget never drops one)."""
        me = self._ctx.me
        for event in events:
            kind = kind_of(event)
            self.budget.offer_event(kind, (event_key(me, kind), encode_event(event), True, EVENT_PRIORITY[kind]))
            self._sent_seq = max(self._sent_seq, event.seq)
            self._ctx.seqs.note(me, event.seq)
        for change in states:
            kind = kind_of(change)
            removed = isinstance(change, Removed)
            if isinstance(change, Vehicle):
                self._vehicles[change.id] = change  # full or delta is chosen when the budget lets it go
            priority = REMOVED_PRIORITY if removed else STATE_PRIORITY
            self.budget.offer_state(change, (state_key(me, kind, change.id), encode_state(change), removed, priority))

    async def _flush(self) -> None:
        """Send what the budget lets go now."""
        self._choose_profile()
        taken: list[Outgoing] = self.budget.take(self._ctx.clock())  # type: ignore[assignment]
        if not taken:
            return
        outgoing = self._batched(taken)
        try:
            async with self._ctx.session_lock:
                sent = await self._ctx.session.call(functools.partial(self._put_all, outgoing))
        except SessionError as exc:
            # The session is being closed or reopened: every peer sees us (re)appear afterwards
            # and fetches our events from the journal and our state by digest, so nothing is lost.
            log.debug("mesh: not sent (%s)", exc)
            self._ctx.counters.send_errors += len(outgoing)
            return
        events = sum(1 for item in taken if "/event/" in item[0])
        counters = self._ctx.counters
        counters.events_sent += events
        counters.states_sent += len(taken) - events
        counters.send_errors += len(outgoing) - sent

    def _batched(self, taken: list[Outgoing]) -> list[Outgoing]:
        """Events and removals one by one (reliable); other state in batches on ``fk/<me>/state``."""
        singles = [item for item in taken if item[2]]
        states, deltas = self._vehicle_deltas([item for item in taken if not item[2]])
        if deltas:
            singles.append((pos_key(self._ctx.me), encode_deltas(self._positions.epoch, deltas), False, STATE_PRIORITY))
        batch = batch_key(self._ctx.me)
        for start in range(0, len(states), STATE_BATCH):
            chunk = states[start : start + STATE_BATCH]
            # The per-entity key is fk/<me>/state/<kind>/<id>: the id is what follows the 4th slash.
            payload = encode_state_batch([(key.split("/", 4)[4], body) for key, body, _, _ in chunk])
            singles.append((batch, payload, False, STATE_PRIORITY))
        return singles

    def _vehicle_deltas(self, states: list[Outgoing]) -> tuple[list[Outgoing], list[tuple[str, PosDelta]]]:
        """Each vehicle as a position delta if only its position moved, else as a marked full state."""
        now = self._ctx.clock()
        if self._ctx.links.changes != self._bases_changes:  # someone (re)appeared: it has no bases of ours
            self._bases_changes = self._ctx.links.changes
            self._positions.reset()
        full: list[Outgoing] = []
        deltas: list[tuple[str, PosDelta]] = []
        for key, payload, reliable, priority in states:
            entity_id = key.split("/", 4)[4]
            vehicle = self._vehicles.pop(entity_id, None) if key.split("/", 4)[3] == "vehicle" else None
            if vehicle is None:
                full.append((key, payload, reliable, priority))
                continue
            d, gen = self._positions.choose(vehicle, now)
            if d is not None:
                deltas.append((entity_id, d))
            else:
                full.append((key, encode_state(vehicle, base_name(self._positions.epoch, gen)), reliable, priority))
        return full, deltas

    def _put_all(self, outgoing: list[Outgoing], session: zenoh.Session) -> int:
        """On the session's thread: put every payload; returns how many went out."""
        sent = 0
        for key, payload, reliable, priority in outgoing:
            try:
                publisher = self._publishers.get(key)
                if publisher is not None:
                    publisher.put(payload)
                else:
                    session.put(
                        key,
                        payload,
                        congestion_control=zenoh.CongestionControl.BLOCK if reliable else zenoh.CongestionControl.DROP,
                        priority=priority,
                    )
            except zenoh.ZError as exc:
                log.debug("mesh: put on %s failed: %s", key, exc)
                continue
            self._ctx.links.published(len(payload))
            sent += 1
        return sent
