"""Catch-up: each node serves its journal and picture on ``fk/<node>/journal``; peers fetch what they lack.

This, not Zenoh's in-memory caches, is what makes sure nothing acknowledged is lost across
partitions, restarts and power cuts. Selectors (every one also carries ``from=<asker>``):

- ``?summary[;all]``: per origin held, the seq heads (contiguous, highest) and a digest of that
  origin's settled entities (``all``: of every entity) -> ``Summary``;
- ``?origin=<o>;since=<seq>[;limit=<n>]``: events of ``o`` (default: the replier's own) after
  ``seq``, at most ``n`` (default ``batch_events``) -> ``EventPage``; ask again from the last seq
  while ``more``;
- ``?state[;origin=<o>][;after=<id>]``: entities (of ``o`` only, if given) ordered by id after
  ``id`` -> ``StatePage``; a node also lists its own recent removals, so a peer drops what is gone.

Every node serves *every* origin it holds, not only its own: a command post (or any kit) relays
between islands that never meet, and a peer can fill a gap from whoever has the events.

A round against a peer runs when its liveliness token appears (it came up, came back, or we
reopened our session), when a seq gap shows in live events, and every ``audit_interval_s``:
ask for the summary; fetch events of every origin where the peer holds more (after our
*contiguous* head, so a gap is never skipped); fetch state of every origin whose digest differs
from ours. When the peer (re)appears the digests cover every entity (but the nodes' own, see
``_digests``) and every differing origin is fetched (the peer may relay others). An audit compares
only *settled* values (timestamps older than the replier's clock minus ``SETTLE_S``), so values
still on their way, or held back by the link class's budget, are not differences; it fetches the
peer's own state and that of origins this node does not reach itself, each at most once a minute.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

import zenoh

from edge.journal import JournalError
from edge.scene import Entity, Event, Node, Removed, StateChange

from .budget import PROFILES, narrowest
from .context import MeshContext
from .errors import MeshError, SessionError, SessionLost, WireError
from .keys import journal_key
from .seqs import Heads
from .wire import (
    EventPage,
    OriginSummary,
    StatePage,
    Summary,
    decode_event_page,
    decode_state_page,
    decode_summary,
    encode_reply,
    event_from_wire,
    event_wire,
    state_digest,
    state_from_body,
    state_record,
)

log = logging.getLogger(__name__)

SETTLE_S = 10.0  # plus the longest position interval of the link class: how long a value may be on its way
GAP_GRACE_S = 1.0  # a gap still there after this long is fetched
GAP_RETRY_S = 2.0  # at most one gap-triggered round per origin this often
STATE_ON_MISS_S = 2.0  # at most one round per origin this often for position deltas without a base
STATE_REFETCH_S = 60.0  # an audit fetches one origin's state from one peer at most this often
MAX_SERVING = 16  # queries answered at once; more are refused (the asker retries next round)
MAX_PAGES = 100_000
RETRY_MIN_S = 0.1  # a round that got no answer is tried again, doubling up to the audit interval
MAX_REPLY_WAITS = 1000  # a reply held for the asker's link looks again at most this often (bounded anyway)


class Catchup:
    """Serves this node's journal and picture; fetches what peers hold and this node lacks."""

    def __init__(self, ctx: MeshContext, store: Callable[[Iterable[Event]], Awaitable[set[str]]]) -> None:
        self._ctx = ctx
        self._store = store
        self._pending: dict[str, bool] = {}  # peer -> full round (state of every origin) wanted
        self._wake = asyncio.Event()
        self._serving: set[asyncio.Task[None]] = set()
        self._running: set[str] = set()
        self._last_gap: dict[str, float] = {}
        self._last_state_miss: dict[str, float] = {}
        self._miss_timers: dict[str, asyncio.TimerHandle] = {}
        self._state_fetched: dict[tuple[str, str], float] = {}
        self._retry_s: dict[str, float] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._gap_timers: dict[str, asyncio.TimerHandle] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # A value held back by the narrowest profile this node may use is still on its way.
        slowest = PROFILES[narrowest([ctx.cfg.link_class, *ctx.cfg.peer_link_classes.values()])]
        self._settle_s = SETTLE_S + max(
            slowest.unit_interval_s, slowest.vehicle_interval_s, slowest.feed_interval_s, slowest.other_interval_s
        )

    # -- serving -------------------------------------------------------------------------------

    def declare(self, session: zenoh.Session, loop: asyncio.AbstractEventLoop) -> zenoh.Queryable[None]:
        """Declare the queryable ``fk/<me>/journal`` (on the session's thread); queries go to ``loop``."""
        self._loop = loop
        return session.declare_queryable(journal_key(self._ctx.me), self._on_query)

    def _on_query(self, query: zenoh.Query) -> None:  # on a Zenoh thread
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._start_serving, query)
                return
            except RuntimeError:  # the loop is closed: the node is going away
                pass
        query.drop()  # type: ignore[no-untyped-call] # untyped in zenoh's stubs

    def _start_serving(self, query: zenoh.Query) -> None:
        if len(self._serving) >= MAX_SERVING:
            self._ctx.counters.queries_refused += 1
            work = self._send_reply(query, None, b"busy")
        else:
            work = self._serve(query)
        task = asyncio.get_running_loop().create_task(work)
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _serve(self, query: zenoh.Query) -> None:
        params = parse_parameters(str(query.parameters))
        data: bytes | None = None
        error: bytes | None = None
        try:
            data = encode_reply(await self.answer(params))
        except (MeshError, ValueError, JournalError) as exc:
            error = str(exc).encode()
        asker = params.get("from", "")
        if data is not None:
            await self._wait_for_link(asker)
            self._ctx.pacing.charge(asker, len(data), self._ctx.clock())  # to the asker's link class
            if asker:
                self._ctx.links.sent_to(asker, len(data), self._ctx.clock())
        self._ctx.counters.queries_served += 1
        await self._send_reply(query, data, error)

    async def _wait_for_link(self, asker: str) -> None:
        """Hold a reply while the asker's link is in debt or our own events wait for it (at most half a
        query timeout, so the asker still gets it): alarms go between catch-up pages, not after them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._ctx.cfg.query_timeout_s / 2
        for _ in range(MAX_REPLY_WAITS):  # the budgets are pure: nothing to await but their clock
            wait, left = self._ctx.pacing.reply_wait(asker, self._ctx.clock()), deadline - loop.time()
            if wait <= 0 or left <= 0:
                return
            await asyncio.sleep(min(wait, left))

    async def _send_reply(self, query: zenoh.Query, data: bytes | None, error: bytes | None) -> None:
        try:
            await self._ctx.session.call(functools.partial(self._finish, query, data, error))
        except (SessionError, SessionLost):  # the session closed meanwhile: nobody else holds the query
            query.drop()  # type: ignore[no-untyped-call] # untyped in zenoh's stubs

    @staticmethod
    def _finish(query: zenoh.Query, data: bytes | None, error: bytes | None, _session: zenoh.Session) -> None:
        try:
            if data is not None:
                query.reply(query.key_expr, data)
            else:
                query.reply_err(error or b"error")
        except zenoh.ZError as exc:
            log.debug("mesh: replying to %s: %s", query.selector, exc)
        finally:
            query.drop()  # type: ignore[no-untyped-call] # untyped in zenoh's stubs

    async def answer(self, params: dict[str, str]) -> Summary | EventPage | StatePage:
        """The reply to one catch-up query (see the module docstring for the selectors)."""
        if "summary" in params:
            return self.summary(settled="all" not in params)
        origin = params.get("origin") or None
        pacing, asker = self._ctx.pacing, params.get("from", "")
        if "state" in params:
            return self.state_page(
                origin, params.get("after") or None, pacing.page_items(asker, self._ctx.cfg.batch_states)
            )
        since = _int(params.get("since", "0"), "since")
        most = pacing.page_items(asker, self._ctx.cfg.batch_events)
        limit = min(_int(params.get("limit", str(most)), "limit"), most)
        return await self.event_page(origin or self._ctx.me, since, max(1, limit))

    def summary(self, *, settled: bool = True) -> Summary:
        """Per origin: seq heads and state digest (of settled values only, unless not ``settled``)."""
        ctx = self._ctx
        cutoff = ctx.clock() - self._settle_s if settled else math.inf
        digests = _digests(ctx.scene.entities(), cutoff)
        origins = {}
        for origin in set(ctx.seqs.origins()) | set(digests):
            heads = ctx.seqs.heads(origin)
            count, digest = digests.get(origin, (0, 0))
            origins[origin] = OriginSummary(heads.contiguous, heads.max_seq, count, digest)
        return Summary(ctx.me, cutoff, origins)

    async def event_page(self, origin: str, since: int, limit: int) -> EventPage:
        """Events of ``origin`` after ``since``, from the journal."""
        events = await self._ctx.journal.events_since(origin, since, limit + 1)
        more = len(events) > limit
        return EventPage(origin, [event_wire(e) for e in events[:limit]], more)

    def state_page(self, origin: str | None, after: str | None, limit: int) -> StatePage:
        """Entities (and our own removals) ordered by id after ``after``."""
        ctx = self._ctx
        held: dict[str, StateChange] = {}
        if origin is None or origin == ctx.me:
            held.update(ctx.tombstones)
        for entity in ctx.scene.entities():
            if origin is None or entity.origin == origin:
                held[entity.id] = entity
        ids = sorted(i for i in held if after is None or i > after)
        page = ids[:limit]
        return StatePage([state_record(held[i]) for i in page], page[-1] if len(ids) > limit else None)

    # -- fetching ------------------------------------------------------------------------------

    def request(self, peer: str, *, full: bool = True) -> None:
        """Run a round against ``peer`` soon (``full``: compare every origin's state, not only the peer's)."""
        if peer == self._ctx.me:
            return
        self._pending[peer] = self._pending.get(peer, False) or full
        self._wake.set()

    def request_state(self, origin: str) -> None:
        """``origin`` sent a position delta whose full state we lack: fetch its state (at most every
        ``STATE_ON_MISS_S``); otherwise a drone that stops right then would stay where we lost it."""
        if origin in self._miss_timers or not self._ctx.links.is_up(origin):
            return
        # Throttled, but never dropped: a miss within the interval is served at its end, so the
        # value a drone stopped at is fetched even if deltas stop arriving.
        wait = self._last_state_miss.get(origin, -1e18) + STATE_ON_MISS_S - self._ctx.clock()
        self._miss_timers[origin] = asyncio.get_running_loop().call_later(max(0.0, wait), self._state_miss, origin)

    def _state_miss(self, origin: str) -> None:
        del self._miss_timers[origin]
        self._last_state_miss[origin] = self._ctx.clock()
        self.request(origin, full=True)

    def request_gap(self, origin: str) -> None:
        """A seq gap showed in ``origin``'s events: if it is still there after ``GAP_GRACE_S``, fetch it.

        The grace is for link budgets: a sender's alarms overtake its queued messages, whose seqs
        then arrive a little later by themselves.
        """
        if origin not in self._gap_timers:
            loop = asyncio.get_running_loop()
            self._gap_timers[origin] = loop.call_later(GAP_GRACE_S, self._gap_still_there, origin)

    def _gap_still_there(self, origin: str) -> None:
        del self._gap_timers[origin]
        if not self._ctx.seqs.heads(origin).gap:
            return
        now = self._ctx.clock()
        if now - self._last_gap.get(origin, -1e18) < GAP_RETRY_S:
            return
        self._last_gap[origin] = now
        if self._ctx.links.is_up(origin):
            self.request(origin, full=False)
        else:
            for peer in self._ctx.links.up_peers():
                self.request(peer, full=False)

    async def run(self) -> None:
        """Run requested rounds, and an audit round against every reachable peer each interval."""
        audit_s = self._ctx.cfg.audit_interval_s
        loop = asyncio.get_running_loop()
        next_audit = loop.time() + audit_s
        async with asyncio.TaskGroup() as group:
            while True:
                try:
                    async with asyncio.timeout_at(next_audit):
                        await self._wake.wait()
                except TimeoutError:
                    next_audit = loop.time() + audit_s
                    for peer in self._ctx.links.up_peers():
                        self._pending.setdefault(peer, False)
                self._wake.clear()
                for peer, full in list(self._pending.items()):
                    if peer in self._running:
                        continue  # runs again when the current round ends
                    del self._pending[peer]
                    self._running.add(peer)
                    group.create_task(self._guarded_round(peer, full), name=f"mesh-catchup-{peer}")

    async def _guarded_round(self, peer: str, full: bool) -> None:
        done = False
        try:
            done = await self.round(peer, full=full)
        except SessionLost:
            raise  # only a new session mends it: the component starts again
        except (MeshError, TimeoutError) as exc:
            log.info("mesh %s: catch-up with %s stopped: %s", self._ctx.me, peer, exc)
        finally:
            self._running.discard(peer)
            if peer in self._pending:
                self._wake.set()
        if done:
            self._retry_s.pop(peer, None)
        else:
            self._retry_later(peer, full)

    def _retry_later(self, peer: str, full: bool) -> None:
        # A peer whose token we just saw may not have its queryable routed to us yet (Zenoh
        # sends the declarations one by one), and a link may drop mid-round: try again.
        if not self._ctx.links.is_up(peer):
            self._retry_s.pop(peer, None)
            return
        delay = self._retry_s.get(peer, RETRY_MIN_S)
        self._retry_s[peer] = min(delay * 2, self._ctx.cfg.audit_interval_s)
        log.debug("mesh %s: catch-up with %s incomplete; again in %.1f s", self._ctx.me, peer, delay)
        old = self._timers.pop(peer, None)
        if old is not None:
            old.cancel()
        self._timers[peer] = asyncio.get_running_loop().call_later(
            delay, functools.partial(self.request, peer, full=full)
        )

    async def round(self, peer: str, *, full: bool = True) -> bool:
        """Fetch from ``peer`` what it holds and we lack; False if it did not answer."""
        ctx = self._ctx
        loop = asyncio.get_running_loop()
        started = loop.time()
        replies = await self._query(peer, "summary;all" if full else "summary")
        if not replies:
            log.debug("mesh %s: %s did not answer the summary query", ctx.me, peer)
            return False
        ctx.links.rtt(peer, loop.time() - started, ctx.clock())
        summary = decode_summary(replies[0])
        ctx.counters.catchup_rounds += 1
        mine = _digests(ctx.scene.entities(), summary.cutoff)
        complete = True
        for origin, theirs in sorted(summary.origins.items()):
            if origin == ctx.me:
                continue
            if ctx.seqs.behind(origin, Heads(theirs.contiguous, theirs.max_seq)):
                complete &= await self._fetch_events(peer, origin)
            if (theirs.entities, theirs.digest) != mine.get(origin, (0, 0)) and self._want_state(peer, origin, full):
                complete &= await self._fetch_state(peer, origin)
        return complete

    def _want_state(self, peer: str, origin: str, full: bool) -> bool:
        # A full round (the peer just appeared) takes every origin it relays. An audit takes the
        # peer's own state, and that of origins we cannot reach ourselves (the peer relays them),
        # each at most once a minute; an origin we reach is audited at the source.
        if full:
            return True
        if origin != peer and self._ctx.links.is_up(origin):
            return False
        now = self._ctx.clock()
        if now - self._state_fetched.get((peer, origin), -1e18) < STATE_REFETCH_S:
            return False
        self._state_fetched[(peer, origin)] = now
        return True

    async def _fetch_events(self, peer: str, origin: str) -> bool:
        since = self._ctx.seqs.heads(origin).contiguous
        for _ in range(MAX_PAGES):
            replies = await self._query(peer, f"origin={origin};since={since}")
            if not replies:
                return False
            page = decode_event_page(replies[0])
            events = [event_from_wire(w) for w in page.events]
            if any(e.origin != origin or e.seq <= since for e in events):
                raise WireError(f"{peer} answered events of {origin} after {since} with others")
            await self._store(events)
            self._ctx.counters.catchup_events += len(events)
            if not page.more or not events:
                return True
            since = events[-1].seq
        return True

    async def _fetch_state(self, peer: str, origin: str) -> bool:
        ctx = self._ctx
        after = ""
        for _ in range(MAX_PAGES):
            replies = await self._query(peer, f"state;origin={origin}" + (f";after={after}" if after else ""))
            if not replies:
                return False
            page = decode_state_page(replies[0])
            for record in page.records:
                if record.origin == ctx.me or record.origin != origin:
                    continue
                change = state_from_body(record.body, record.id, record.origin)
                if isinstance(change, Removed) and ctx.scene.get(change.id) is None:
                    continue  # nothing to remove; do not store tombstones of things never held
                if ctx.scene.apply_state(change):
                    ctx.counters.catchup_states += 1
            if page.next_after is None:
                return True
            after = page.next_after
        return True

    async def _query(self, peer: str, params: str) -> list[bytes]:
        ctx = self._ctx
        selector = f"{journal_key(peer)}?{params};from={ctx.me}"
        refusals: list[bytes] = []
        try:
            replies = await ctx.session.get(selector, ctx.cfg.query_timeout_s, refusals)
        except TimeoutError:
            ctx.links.probed(peer, False, ctx.clock())
            raise
        now = ctx.clock()
        ctx.links.probed(peer, bool(replies or refusals), now)  # a refusal ("busy") crossed the link: not lost
        for data in replies:
            ctx.links.heard(peer, len(data), now)
        if any(len(d) > ctx.cfg.max_payload_bytes for d in replies):
            ctx.counters.dropped_oversize += 1
            return []
        return replies[:1]

    async def aclose(self) -> None:
        """Stop retries and answering queries in progress."""
        for timer in [*self._timers.values(), *self._gap_timers.values(), *self._miss_timers.values()]:
            timer.cancel()
        self._timers.clear()
        self._gap_timers.clear()
        self._miss_timers.clear()
        for task in list(self._serving):
            task.cancel()
        if self._serving:
            await asyncio.wait(self._serving, timeout=2.0)


def parse_parameters(text: str) -> dict[str, str]:
    """Zenoh selector parameters (``a=1;b;c=x``) as a dict; a bare name maps to ``""``."""
    out = {}
    for part in text.split(";"):
        if part:
            name, _, value = part.partition("=")
            out[name] = value
    return out


def _digests(entities: Iterable[Entity], cutoff: float) -> dict[str, tuple[int, int]]:
    # A node's own entity is left out: its timestamp moves with every health reading, but it crosses
    # the mesh only when it changes or at the heartbeat (publish.py), so the copy a peer holds is
    # settled while the origin's is not, and every audit would refetch that origin's whole state.
    # The heartbeat is its repair.
    groups: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for entity in entities:
        if entity.ts <= cutoff and not isinstance(entity, Node):
            groups[entity.origin].append((entity.id, entity.ts))
    return {origin: (len(pairs), state_digest(pairs)) for origin, pairs in groups.items()}


def _int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise MeshError(f"{name} must be a whole number, not {text[:40]!r}") from None
    if value < 0:
        raise MeshError(f"{name} must not be negative")
    return value
