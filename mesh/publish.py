"""Publish this node's own changes: state per link-class tier (``tiers.py``), events on ``fk/<me>/event/<kind>``.

The publisher reads the scene like any subscriber (snapshot first, then deltas) and sends only
changes whose origin is this node. State goes best-effort (congestion DROP, low priority: a newer
value follows), in batches on the keys of each tier some peer subscribes to, each thinned by its
class's budget; events and removals go reliable (congestion BLOCK, high priority) to everyone in one
stream, and events were committed to the journal before the scene offered them, so a peer that
misses one live fetches it by seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import msgspec
import zenoh

from edge.scene import Delta, Event, Node, Removed, Snapshot, StateChange, Subscription, Vehicle

from .budget import LinkClass, item_size
from .context import MeshContext
from .errors import SessionError
from .keys import event_key, parse_key, state_key, tier_keys
from .posdelta import PosDelta, base_name, encode_deltas
from .tiers import Tier
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
        self.pacing = ctx.pacing
        self._publishers: dict[str, zenoh.Publisher] = {}
        self._sent_seq = ctx.seqs.heads(ctx.me).max_seq  # our events up to here are in the journal already
        self._self_id = f"node:{ctx.me}"
        self._self_sent: tuple[float, Node] | None = None  # when, and what, our node entity was last sent
        self._generation = 0  # of the declarations: matching news of a closed session is ignored
        self._kick = asyncio.Event()  # a tier started: flush without waiting for the scene

    # -- declarations (on every session open) ------------------------------------------------

    def declare(self, session: zenoh.Session, loop: asyncio.AbstractEventLoop) -> list[Any]:
        """Declare the event publishers and each tier's (on the session's thread); returns what to undeclare.

        Each tier's state publisher has a matching listener: the tier runs while some peer subscribes.
        """
        self._generation += 1
        generation, me = self._generation, self._ctx.me
        publishers = {
            event_key(me, kind): session.declare_publisher(
                event_key(me, kind), congestion_control=zenoh.CongestionControl.BLOCK, priority=priority
            )
            for kind, priority in EVENT_PRIORITY.items()
        }
        declared: list[Any] = list(publishers.values())

        def matching(link_class: LinkClass, status: bool) -> None:  # on a Zenoh thread, or this one
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._matching, generation, link_class, status)

        for link_class in self.pacing.tiers:
            state, pos = tier_keys(me, link_class)
            for key in (state, pos):
                publishers[key] = session.declare_publisher(
                    key,
                    congestion_control=zenoh.CongestionControl.DROP,
                    priority=STATE_PRIORITY,
                    allowed_destination=zenoh.Locality.REMOTE,
                )
            listener = publishers[state].declare_matching_listener(
                functools.partial(lambda c, status: matching(c, _matches(status)), link_class)
            )
            declared += [publishers[state], publishers[pos], listener]
            matching(link_class, _matches(publishers[state].matching_status))
        self._publishers = publishers
        return declared

    def _matching(self, generation: int, link_class: LinkClass, subscribed: bool) -> None:
        """Start or stop a tier as peers subscribe to it or leave (on the loop)."""
        tier = self.pacing.tiers[link_class]
        if generation != self._generation or subscribed == tier.active:
            return
        ctx = self._ctx
        log.info("mesh %s: %s tier %s", ctx.me, link_class, "subscribed" if subscribed else "unsubscribed")
        if not subscribed:
            tier.stop(ctx.clock())
            return
        tier.start(ctx.clock())
        # The newcomer has none of our state on this tier: all of it goes (catch-up covers it too).
        for entity in ctx.scene.entities():
            if entity.origin == ctx.me:
                self._offer(tier, entity)
        self._kick.set()

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
        """The scene's next batch, or None when something may go (or a tier started) first."""
        due = self.pacing.next_due(self._ctx.clock())
        timeout = None if due is None else max(0.0, due - self._ctx.clock())
        if self._kick.is_set():
            self._kick.clear()
            return None
        getter = asyncio.ensure_future(sub.get())
        kick = asyncio.ensure_future(self._kick.wait())
        try:
            await asyncio.wait((getter, kick), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            kick.cancel()
            if not getter.done():
                getter.cancel()  # Subscription.get keeps what it has not returned
        self._kick.clear()
        return getter.result() if getter.done() and not getter.cancelled() else None

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
                for tier in self.pacing.tiers.values():
                    tier.forget(change.id)
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
        """Queue our changes: events and removals in the shared stream (never dropped), state in each tier."""
        me = self._ctx.me
        shared = self.pacing.shared
        for event in events:
            kind = kind_of(event)
            shared.offer_event(kind, (event_key(me, kind), encode_event(event), True, EVENT_PRIORITY[kind]))
            self._sent_seq = max(self._sent_seq, event.seq)
            self._ctx.seqs.note(me, event.seq)
        tiers = self.pacing.active()
        for change in states:
            if isinstance(change, Removed):
                item = (state_key(me, kind_of(change), change.id), encode_state(change), True, REMOVED_PRIORITY)
                shared.offer_state(change, item)
            else:
                for tier in tiers:
                    self._offer(tier, change)

    def _offer(self, tier: Tier, change: StateChange) -> None:
        if isinstance(change, Vehicle):
            tier.vehicles[change.id] = change  # full or delta is chosen when the budget lets it go
        key = state_key(self._ctx.me, kind_of(change), change.id)
        tier.budget.offer_state(change, (key, encode_state(change), False, STATE_PRIORITY))

    async def _flush(self) -> None:
        """Send what the budgets let go now: the shared stream first, charged to every running tier."""
        if self.pacing.update():
            log.info("mesh %s: events and removals at the %s pace", self._ctx.me, self.pacing.shared_class)
        now = self._ctx.clock()
        taken: list[Outgoing] = self.pacing.shared.take(now)  # type: ignore[assignment]
        outgoing = list(taken)
        self.pacing.shared_sent(sum(map(item_size, taken)), now)
        for tier in self.pacing.active():
            states: list[Outgoing] = tier.budget.take(now)  # type: ignore[assignment]
            self.pacing.tier_sent(tier, sum(map(item_size, states)), now)
            taken += states
            outgoing += self._batched(tier, states)
        if not outgoing:
            return
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

    def _batched(self, tier: Tier, taken: list[Outgoing]) -> list[Outgoing]:
        """A tier's state in batches on its state key, its vehicles' position deltas on its pos key."""
        states, deltas = self._vehicle_deltas(tier, taken)
        batch, pos = tier_keys(self._ctx.me, tier.link_class)
        out: list[Outgoing] = []
        if deltas:
            out.append((pos, encode_deltas(tier.positions.epoch, deltas), False, STATE_PRIORITY))
        for start in range(0, len(states), STATE_BATCH):
            chunk = states[start : start + STATE_BATCH]
            # The per-entity key is fk/<me>/state/<kind>/<id>: the id is what follows the 4th slash.
            payload = encode_state_batch([(key.split("/", 4)[4], body) for key, body, _, _ in chunk])
            out.append((batch, payload, False, STATE_PRIORITY))
        return out

    def _vehicle_deltas(self, tier: Tier, states: list[Outgoing]) -> tuple[list[Outgoing], list[tuple[str, PosDelta]]]:
        """Each vehicle as a position delta if only its position moved, else as a marked full state."""
        now = self._ctx.clock()
        if self._ctx.links.changes != tier.bases_changes:  # someone (re)appeared: it has no bases of ours
            tier.bases_changes = self._ctx.links.changes
            tier.positions.reset()
        full: list[Outgoing] = []
        deltas: list[tuple[str, PosDelta]] = []
        for key, payload, reliable, priority in states:
            entity_id = key.split("/", 4)[4]
            vehicle = tier.vehicles.pop(entity_id, None) if key.split("/", 4)[3] == "vehicle" else None
            if vehicle is None:
                full.append((key, payload, reliable, priority))
                continue
            d, gen = tier.positions.choose(vehicle, now)
            if d is not None:
                deltas.append((entity_id, d))
            else:
                full.append((key, encode_state(vehicle, base_name(tier.positions.epoch, gen)), reliable, priority))
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
            self._ctx.links.publish(len(payload), _tier_of(key))
            sent += 1
        return sent


def _matches(status: object) -> bool:
    """A publisher's matching status (zenoh's stubs say ``bool``; it is a ``MatchingStatus``)."""
    return bool(getattr(status, "matching", status))


def _tier_of(key: str) -> str:
    """The state tier a key belongs to ("lan" for the full-rate keys), or "" for the shared stream."""
    parsed = parse_key(key)
    if parsed is None or parsed.what not in ("batch", "pos"):
        return ""
    return parsed.tier or "lan"
