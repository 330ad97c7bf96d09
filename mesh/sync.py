"""The mesh component: one Zenoh session sharing this node's scene with every peer it reaches.

``MeshSync(node, cfg)`` is added to an ``EdgeNode`` like any component (``name``, ``async run()``).
It opens the session, declares (in this order, so a peer that sees us can already ask us
anything) the state and event subscribers, the catch-up queryable, the liveliness subscriber and
finally our liveliness token; then it runs the publisher, the event store, catch-up rounds, the
dialer and, if configured, zeroconf discovery, until cancelled.

Dialing a newly found peer. The Python Zenoh session cannot add a connect endpoint once open, so
a found peer is dialed by reopening the session with the longer endpoint list (measured on
loopback: open ~2 ms, both sides see each other alive ~0.15 s later, then one catch-up round per
peer, which fetches only what is missing; every other link of the node drops for that time too).
To reopen rarely: of two kits that find each other only the one with the smaller node id dials
(the other accepts on its listen endpoint); the other dials too only if no direct link came up
within ``dial_grace_s``; finds within 0.3 s are batched into one reopen; and a peer already
linked directly (its Zenoh id among our transports, e.g. through gossip) is not dialed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import zenoh

from edge import __version__
from edge.scene import Node

from .catchup import Catchup
from .config import MeshSection
from .context import MeshContext
from .discovery import Announcement, Discovery
from .errors import MeshError, SessionError
from .feeds import MeshFeeds
from .inbox import Inbox
from .journal_view import read_journal_view
from .keys import ALIVE_ALL, EVENT_ALL, REMOVED_ALL, alive_key, parse_key, tier_subscription
from .links import LinkState
from .publish import Publisher
from .receive import Receiver, Sample
from .seqs import SeqBook
from .session import MeshSession

if TYPE_CHECKING:
    from edge.node import EdgeNode

log = logging.getLogger(__name__)

DIAL_DEBOUNCE_S = 0.3
READY_TIMEOUT_S = 30.0


class MeshSync:
    """Shares the scene over Zenoh: publish own changes, apply others', catch up, discover."""

    name = "mesh"

    def __init__(self, node: EdgeNode, cfg: MeshSection) -> None:
        self.node = node
        self.cfg = cfg
        self.session = MeshSession(cfg, node.config.node.role)
        self.ctx: MeshContext | None = None
        self.discovery: Discovery | None = None
        self.ready = asyncio.Event()  # set once the session is open and declared
        self._dial: list[str] = []
        self._dial_wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._generation = 0  # bumped when a session closes, so its late callbacks are ignored
        self._absent = Absences()  # up peers the liveliness query did not find, and how many times running
        self.reopened_at: float | None = None  # loop time the last reopen finished (to measure relinking)
        self._inbox: Inbox[Sample] | None = None
        self._publisher: Publisher | None = None
        self._receiver: Receiver | None = None
        self._catchup: Catchup | None = None
        self.feeds: MeshFeeds | None = None  # snapshots and live video across the mesh
        self._following: dict[str, int] = {}  # peer -> session generation its state tier was subscribed in

    # -- public view ---------------------------------------------------------------------------

    def links(self) -> list[LinkState]:
        """Every peer seen, with its link state."""
        return self.ctx.links.links() if self.ctx is not None else []

    def report(self) -> dict[str, object]:
        """Session, counters and links, for the node's health."""
        ctx = self.ctx
        return {
            "open": self.session.is_open,
            "zid": self.session.zid() if self.session.is_open else None,
            "opens": self.session.opens,
            "last_open_s": round(self.session.last_open_s, 4),
            "counters": ctx.counters.as_dict() if ctx else {},
            "published_bytes": ctx.links.published_bytes if ctx else 0,
            "inbox_dropped": self._inbox.dropped if self._inbox else 0,
            "deltas_without_base": self._receiver.deltas.dropped_no_base if self._receiver else 0,
            "links": [msgspec.to_builtins(link) for link in self.links()],
            "feeds": self.feeds.report() if self.feeds else {},
        }

    # -- running -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Open the session and share the scene until cancelled."""
        node = self.node
        scene = node.scene
        if scene is None:
            raise RuntimeError("the mesh needs the node's scene: start it from EdgeNode.run")
        loop = asyncio.get_running_loop()
        # Subscribe before reading the journal, so no change falls between the two.
        sub = scene.subscribe("mesh")
        try:
            view = await read_journal_view(node.journal, node.node_id)
            ctx = MeshContext(
                me=node.node_id,
                cfg=self.cfg,
                scene=scene,
                journal=node.journal,
                session=self.session,
                seqs=SeqBook(view.heads),
                clock=node.clock,
            )
            for removed in view.tombstones:
                ctx.keep_tombstone(removed)
            self.ctx = ctx
            catchup = Catchup(ctx, self._store)
            self._catchup = catchup
            self._receiver = Receiver(ctx, catchup.request_gap, catchup.request_state)
            self._publisher = Publisher(ctx, self._decorate if self.cfg.links_in_node else None)
            self._inbox = Inbox(loop, self._receiver.handle, self.cfg.max_inbox)
            self.feeds = MeshFeeds(ctx, node, loop)
            async with ctx.session_lock:
                await self.session.close()  # left open by a run that could not close it: start clean
                await self.session.open(self._dial)
                await self.session.declare(self._declare_on(loop))
            self.ready.set()
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._publisher.run(sub), name="mesh-publish")
                    group.create_task(self._receiver.run(), name="mesh-receive")
                    group.create_task(catchup.run(), name="mesh-catchup")
                    group.create_task(self._dialer(), name="mesh-dialer")
                    group.create_task(self._reconcile(), name="mesh-liveliness")
                    group.create_task(self.feeds.run(), name="mesh-feeds")
                    if self.cfg.discovery:
                        group.create_task(self._discover(), name="mesh-discovery")
            except ExceptionGroup as group_error:
                raise _first(group_error) from group_error  # so /healthz names the cause
        finally:
            sub.close()
            await self.aclose()

    async def aclose(self) -> None:
        """Withdraw from the mesh and close the session; safe to call twice.

        Each step is on its own: whatever fails before it, the session is closed (a restart of
        the component opens a new one).
        """
        self.ready.clear()
        self._generation += 1  # callbacks of the closing session are ignored from now on
        try:
            for task in list(self._tasks):
                task.cancel()
            discovery, self.discovery = self.discovery, None
            if discovery is not None:
                await _quietly(discovery.aclose(), "stopping discovery")
            if self._inbox is not None:
                self._inbox.close()
            if self.feeds is not None:
                self.feeds.close()
            if self._catchup is not None:
                await _quietly(self._catchup.aclose(), "stopping catch-up")
        finally:
            await self.session.close()

    async def _store(self, events: Any) -> set[str]:
        assert self._receiver is not None
        return await self._receiver.store(events)

    # -- declarations --------------------------------------------------------------------------

    def _declare_on(self, loop: asyncio.AbstractEventLoop) -> Callable[[zenoh.Session], list[Any]]:
        """What to declare, in order, on the session's thread; Zenoh's callbacks hand over to ``loop``."""
        assert self.ctx is not None and self._inbox is not None and self._catchup is not None
        assert self._publisher is not None and self.feeds is not None
        feeds = self.feeds
        push = self._inbox.push
        me = self.ctx.me
        catchup, publisher = self._catchup, self._publisher
        generation = self._generation

        def on_sample(sample: zenoh.Sample) -> None:  # on a Zenoh thread
            push((str(sample.key_expr), sample.payload.to_bytes()))

        def on_alive(sample: zenoh.Sample) -> None:  # on a Zenoh thread
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(
                    self._alive, str(sample.key_expr), sample.kind == zenoh.SampleKind.PUT, generation
                )

        def declare(session: zenoh.Session) -> list[Any]:
            remote = zenoh.Locality.REMOTE
            declared: list[Any] = [
                # Removals and events from everyone; live state per peer, in the tier of our link to it.
                session.declare_subscriber(REMOVED_ALL, on_sample, allowed_origin=remote),
                session.declare_subscriber(EVENT_ALL, on_sample, allowed_origin=remote),
                catchup.declare(session, loop),
                *publisher.declare(session, loop),
                *feeds.declare(session, me),
            ]
            liveliness = session.liveliness()
            declared.append(liveliness.declare_subscriber(ALIVE_ALL, on_alive, history=True))
            declared.append(liveliness.declare_token(alive_key(me)))  # last: peers that see it can ask us anything
            return declared

        return declare

    def _alive(self, key: str, up: bool, generation: int) -> None:
        ctx, catchup = self.ctx, self._catchup
        parsed = parse_key(key)
        if generation != self._generation or ctx is None or catchup is None or parsed is None or parsed.node == ctx.me:
            return
        changed = ctx.links.set_up(parsed.node, up, ctx.clock())
        if changed:
            log.info("mesh %s: %s is %s", ctx.me, parsed.node, "up" if up else "down")
            self._refresh_node()
        if up and self._following.get(parsed.node) != generation:
            self._following[parsed.node] = generation
            task = asyncio.get_running_loop().create_task(self._follow(parsed.node, generation))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif up:
            catchup.request(parsed.node, full=True)

    async def _follow(self, peer: str, generation: int) -> None:
        """Subscribe to ``peer``'s state in the tier of our link class to it (once a session), then catch up.

        In this order, so what the peer sends after answering the catch-up already reaches us live.
        """
        ctx, inbox, catchup = self.ctx, self._inbox, self._catchup
        assert ctx is not None and inbox is not None and catchup is not None
        push = inbox.push
        keys = tier_subscription(peer, ctx.pacing.peer_class(peer))

        def on_sample(sample: zenoh.Sample) -> None:  # on a Zenoh thread
            push((str(sample.key_expr), sample.payload.to_bytes()))

        def declare(session: zenoh.Session) -> list[Any]:
            remote = zenoh.Locality.REMOTE
            return [session.declare_subscriber(key, on_sample, allowed_origin=remote) for key in keys]

        try:
            async with ctx.session_lock:
                if generation != self._generation:
                    return  # the session was reopened meanwhile: its liveliness history follows again
                await self.session.declare(declare)
        except MeshError as exc:
            log.debug("mesh: subscribing to %s's state: %s", peer, exc)
            self._following.pop(peer, None)
            return
        catchup.request(peer, full=True)

    async def _reconcile(self) -> None:
        """Every audit interval, check the liveliness subscriber's view against a fresh query.

        The subscriber is only as good as the order Zenoh delivers token declarations in while
        links flap; a missed PUT would leave a reachable peer marked down and never caught up with.
        A peer the query does not find is marked down only when two queries in a row miss it (see
        :class:`Absences`).
        """
        while True:
            await asyncio.sleep(self.cfg.audit_interval_s)
            ctx = self.ctx
            if ctx is None or not self.session.is_open:
                continue
            try:
                keys = await self.session.liveliness_keys(ALIVE_ALL, self.cfg.query_timeout_s)
            except (zenoh.ZError, SessionError, TimeoutError) as exc:
                log.debug("mesh: liveliness query: %s", exc)
                continue
            alive = {k.node for k in map(parse_key, keys) if k is not None and k.node != ctx.me}
            for peer in alive - set(ctx.links.up_peers()):
                log.info("mesh %s: %s is alive though its token was missed", ctx.me, peer)
                self._alive(alive_key(peer), True, self._generation)
            for peer in self._absent.gone(set(ctx.links.up_peers()), alive):
                self._alive(alive_key(peer), False, self._generation)

    # -- links in our own node entity ----------------------------------------------------------

    def _decorate(self, node: Node) -> Node | None:
        """Our node entity with the link lines added, or None if it already has them."""
        assert self.ctx is not None
        if any(k.startswith("link:") for k in node.components):
            return None
        lines = self.ctx.links.components()
        if not lines:
            return None
        return msgspec.structs.replace(
            node,
            components={**node.components, **lines},
            links=self.ctx.links.report(self.ctx.clock(), self.ctx.pacing.peer_class),
            ts=math.nextafter(node.ts, math.inf),
        )

    def _refresh_node(self) -> None:
        ctx = self.ctx
        if ctx is None or not self.cfg.links_in_node:
            return
        current = ctx.scene.get(f"node:{ctx.me}")
        if not isinstance(current, Node):
            return
        base = {k: v for k, v in current.components.items() if not k.startswith("link:")}
        ts = max(ctx.clock(), math.nextafter(current.ts, math.inf))
        links = ctx.links.report(ctx.clock(), ctx.pacing.peer_class)
        ctx.scene.apply_state(
            msgspec.structs.replace(current, components={**base, **ctx.links.components()}, links=links, ts=ts)
        )

    # -- dialing found peers -------------------------------------------------------------------

    def dial(self, endpoint: str) -> None:
        """Add ``endpoint`` to the peers this node dials (the session reopens shortly)."""
        if endpoint in self._dial or endpoint in self.cfg.connect:
            return
        self._dial.append(endpoint)
        self._dial_wake.set()

    async def _dialer(self) -> None:
        while True:
            await self._dial_wake.wait()
            await asyncio.sleep(DIAL_DEBOUNCE_S)  # gather finds that arrive together into one reopen
            self._dial_wake.clear()
            if list(self.session.extra_connect) != self._dial:
                await self.reopen()

    async def reopen(self) -> float:
        """Close and reopen the session with the current endpoint list; returns the seconds it took."""
        ctx = self.ctx
        assert ctx is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with ctx.session_lock:
            self._generation += 1
            await self.session.close()
            for peer in ctx.links.up_peers():  # liveliness history brings them back, with a catch-up
                ctx.links.set_up(peer, False, ctx.clock())
            await self.session.open(self._dial)
            await self.session.declare(self._declare_on(loop))
        ctx.counters.reopens += 1
        self.reopened_at = loop.time()
        took = self.reopened_at - started
        log.info("mesh %s: session reopened in %.3f s to dial %s", ctx.me, took, self._dial)
        if self.discovery is not None:
            await self.discovery.update(zid=self.session.zid())
        return took

    async def _discover(self) -> None:
        if not self.cfg.listen:
            log.warning("mesh: discovery finds peers but cannot announce this node without a listen endpoint")
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                await self.node.ready.wait()
        except TimeoutError:
            log.warning("mesh: the API did not come up; announcing without an HTTP port")
        node_cfg = self.node.config.node
        me = Announcement(
            node_id=self.node.node_id,
            name=node_cfg.name or self.node.node_id,
            role=node_cfg.role,
            zenoh=self.cfg.listen[0] if self.cfg.listen else "",
            zid=self.session.zid(),
            http_port=_port(self.node.api_url),
            version=__version__,
        )
        self.discovery = Discovery(me, self._found, interfaces=self.cfg.discovery_interfaces)
        await self.discovery.start()
        await asyncio.Event().wait()  # until cancelled; aclose withdraws the announcement

    def _found(self, peer: Announcement) -> None:
        task = asyncio.get_running_loop().create_task(self._consider(peer), name=f"mesh-found-{peer.node_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consider(self, peer: Announcement) -> None:
        """Dial a found peer unless linked already; of two kits, the one with the larger id waits first."""
        if await self._linked(peer):
            return
        if self.node.node_id > peer.node_id:
            await asyncio.sleep(self.cfg.dial_grace_s)
            peer = self.discovery.found.get(peer.node_id, peer) if self.discovery is not None else peer
            if await self._linked(peer):
                return
            log.info("mesh: %s did not dial us within %g s; dialing it", peer.node_id, self.cfg.dial_grace_s)
        self.dial(peer.zenoh)

    async def _linked(self, peer: Announcement) -> bool:
        if not peer.zid:
            return False
        try:
            return peer.zid in await self.session.connected_zids()
        except SessionError:
            return False


def _first(group: BaseExceptionGroup[Exception]) -> Exception:
    """The first failure inside (possibly nested) task groups."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


async def _quietly(step: Awaitable[None], what: str) -> None:
    """Await one shutdown step; a failure is logged, never raised (the steps after it must run)."""
    try:
        await step
    except Exception as exc:
        log.warning("mesh: %s: %s: %s", what, type(exc).__name__, exc)


def _port(url: str | None) -> int:
    if not url:
        return 0
    with contextlib.suppress(ValueError):
        return int(url.rstrip("/").rsplit(":", 1)[1])
    return 0


class Absences:
    """Up peers missing from the liveliness query, counted; gone only when missing from ``needed`` in a row.

    The query returns the tokens that answered within its timeout. A loaded node, or a congested
    link, answers late: the peer is then missing from the result though it is there, and marking
    it down on one miss made the incident soak log "cp is down" and, 30 s later, "alive though its
    token was missed" every few minutes, each time with a full catch-up round. A peer that really
    left is told by the subscriber's DELETE at once; this is only the backstop for a missed one.
    """

    def __init__(self, needed: int = 2) -> None:
        self._needed = needed
        self._missed: dict[str, int] = {}

    def gone(self, up: set[str], alive: set[str]) -> set[str]:
        """The up peers to mark down after a query that found ``alive``."""
        self._missed = {peer: self._missed.get(peer, 0) + 1 for peer in up - alive}
        return {peer for peer, misses in self._missed.items() if misses >= self._needed}
