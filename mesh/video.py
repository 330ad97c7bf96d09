"""Live video over the mesh: a feed's encoded access units, sent only while another node wants them.

Why this shape. Video is the one thing on the mesh that is large and worthless unless someone is
looking, so nothing is sent by default. A node that wants a feed (a command post whose viewer
opened another kit's feed) subscribes to ``fk/<origin>/video/<feed>`` and puts a *want* on
``fk/<origin>/want/<feed>`` every ``WANT_EVERY_S``; the origin publishes while a want is fresher
than ``WANT_TTL_S`` and stops by itself when wants stop (the viewer left, the link went down, the
post restarted): no state to tear down, no unsubscribe to lose. A want may ask for a keyframe (a
new watcher, a viewer's PLI, a gap in ``seq``); the origin's source makes one, or a pass-through
source's current GOP is sent first. The access units cross as they were encoded (no transcoding),
with congestion control DROP and the lowest priority, so alarms and positions always go first and
a congested link loses pictures rather than queueing them; the receiver then waits for the next
keyframe. A narrowband link never carries video: the watcher refuses before asking, and the origin
ignores a want from a node its own configuration puts behind a narrowband link.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zenoh

from media.h264 import is_keyframe
from media.relay import AccessUnit, Relay
from media.sources.mesh import RemoteRefused, RemoteUnavailable

from .context import MeshContext
from .errors import SessionError, WireError
from .feedwire import (
    MAX_UNIT_BYTES,
    UnitW,
    WantW,
    decode_unit,
    decode_want,
    encode,
    parse_feed_key,
    video_key,
    want_key,
)
from .inbox import Inbox
from .snapshots import DropLog

log = logging.getLogger(__name__)

WANT_EVERY_S = 1.0
WANT_TTL_S = 3.5  # a want older than this no longer keeps the origin sending
KEYFRAME_EVERY_S = 0.5  # keyframe requests per feed at most this often
MAX_PENDING = 120  # units waiting at the origin; past it the queue is dropped and restarts at a keyframe
MAX_RX_INBOX = 300
VIDEO_PRIORITY = zenoh.Priority.BACKGROUND


@dataclass
class _Stream:
    """One of our feeds being sent: how to stop listening, and where it stands."""

    detach: Callable[[], None]
    seq: int = 0
    waiting_key: bool = True
    key_asked: float = -1e9
    wanted_by: dict[str, float] = field(default_factory=dict)  # node -> when it last wanted


class VideoOrigin:
    """Sends this node's feeds to the nodes that want them (see the module doc)."""

    def __init__(self, ctx: MeshContext, relay_of: Callable[[str], Relay | None]) -> None:
        self._ctx = ctx
        self._relay_of = relay_of  # our feed by name, or None
        self._streams: dict[str, _Stream] = {}
        self._pending: deque[tuple[str, UnitW]] = deque()
        self._wake = asyncio.Event()
        self._warn = DropLog("video")
        self.wants = 0
        self.wants_refused = 0  # from a node behind a narrowband link
        self.wants_dropped = 0  # malformed, unknown node or feed
        self.units_sent = 0
        self.bytes_sent = 0
        self.units_dropped = 0  # queue overflow, or waiting for a keyframe

    @property
    def sending(self) -> list[str]:
        """Our feeds being sent now."""
        return sorted(self._streams)

    def handle_wants(self, batch: list[tuple[str, bytes]]) -> None:
        """Take wants addressed to us (on the loop, from an inbox)."""
        for key, payload in batch:
            try:
                self._want(key, decode_want(payload))
            except WireError as exc:
                self.wants_dropped += 1
                self._warn(key, str(exc))

    def _want(self, key: str, want: WantW) -> None:
        ctx = self._ctx
        parsed = parse_feed_key(key)
        if parsed is None or parsed.what != "want" or parsed.node != ctx.me:
            raise WireError("not a want addressed to this node")
        if want.node == ctx.me or not ctx.links.is_up(want.node):
            raise WireError(f"a want from {want.node!r}, which is not up")
        if ctx.pacing.peer_class(want.node) == "narrowband":
            self.wants_refused += 1
            self._warn(key, f"{want.node} is behind a narrowband link: snapshots only")
            return
        relay = self._relay_of(parsed.feed)
        if relay is None:
            raise WireError(f"no feed {parsed.feed!r} here")
        self.wants += 1
        now = ctx.clock()
        stream = self._streams.get(parsed.feed)
        if stream is None:
            stream = self._start(parsed.feed, relay)
        elif want.keyframe and now - stream.key_asked >= KEYFRAME_EVERY_S:
            stream.key_asked = now
            relay.request_keyframe()
        stream.wanted_by[want.node] = now

    def _start(self, feed: str, relay: Relay) -> _Stream:
        log.info("mesh %s: sending feed %s (wanted)", self._ctx.me, feed)
        stream = _Stream(detach=relay.listen(functools.partial(self._on_unit, feed)), key_asked=self._ctx.clock())
        self._streams[feed] = stream
        if relay.forces_keyframes:
            relay.request_keyframe()
        else:
            for unit in relay.current_gop():  # starts at its keyframe
                self._on_unit(feed, unit)
        return stream

    def _on_unit(self, feed: str, unit: AccessUnit) -> None:
        stream = self._streams.get(feed)
        if stream is None:
            return
        stream.seq += 1  # counted even when dropped here, so the receiver sees the gap
        if stream.waiting_key and not unit.keyframe:
            self.units_dropped += 1
            return
        if len(self._pending) >= MAX_PENDING:  # the session's thread is behind: start again at a keyframe
            self.units_dropped += len(self._pending) + 1
            self._pending.clear()
            for name, s in self._streams.items():
                s.waiting_key = True
                relay = self._relay_of(name)
                if relay is not None:
                    relay.request_keyframe()
            return
        stream.waiting_key = False
        pts = unit.packet.pts or 0
        self._pending.append((feed, UnitW(stream.seq, pts, unit.keyframe, unit.captured, bytes(unit.packet))))
        self._wake.set()

    def expire(self, now: float) -> None:
        """Stop sending feeds nobody wanted for ``WANT_TTL_S``."""
        for feed, stream in list(self._streams.items()):
            stream.wanted_by = {n: t for n, t in stream.wanted_by.items() if now - t <= WANT_TTL_S}
            if not stream.wanted_by:
                log.info("mesh %s: feed %s no longer wanted; not sending it", self._ctx.me, feed)
                stream.detach()
                del self._streams[feed]

    async def run(self) -> None:
        """Send queued units, and expire wants, until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._expiring(), name="mesh-video-expire")
            group.create_task(self._sending(), name="mesh-video-send")

    async def _expiring(self) -> None:
        while True:
            await asyncio.sleep(WANT_EVERY_S / 2)
            self.expire(self._ctx.clock())

    async def _sending(self) -> None:
        ctx = self._ctx
        while True:
            await self._wake.wait()
            self._wake.clear()
            feeds = [feed for feed, _ in self._pending]
            batch = [(video_key(ctx.me, feed), encode(unit)) for feed, unit in self._pending]
            self._pending.clear()
            if not batch:
                continue
            try:
                async with ctx.session_lock:
                    await ctx.session.call(functools.partial(_put_all, batch))
            except SessionError as exc:
                log.debug("mesh: video not sent (%s)", exc)
                continue
            now = ctx.clock()
            for feed, (_, payload) in zip(feeds, batch, strict=True):
                ctx.links.publish(len(payload), "video")
                stream = self._streams.get(feed)
                for peer in stream.wanted_by if stream is not None else ():
                    ctx.links.sent_to(peer, len(payload), now)  # only the watchers' links carry it
                self.bytes_sent += len(payload)
            self.units_sent += len(batch)

    def close(self) -> None:
        """Stop listening to every feed; safe to call twice."""
        for stream in self._streams.values():
            stream.detach()
        self._streams.clear()
        self._pending.clear()


def _put_all(batch: list[tuple[str, bytes]], session: zenoh.Session) -> None:
    for key, payload in batch:
        session.put(key, payload, congestion_control=zenoh.CongestionControl.DROP, priority=VIDEO_PRIORITY)


@dataclass
class _Rx:
    """What a watcher knows of the units it received."""

    next_seq: int | None = None
    waiting_key: bool = True


class VideoWatch:
    """Watches other nodes' feeds for this node's media service (media.sources.mesh.MeshVideo)."""

    def __init__(self, ctx: MeshContext) -> None:
        self._ctx = ctx
        self._watching: set[tuple[str, str]] = set()
        self._keyframe: dict[tuple[str, str], bool] = {}
        self._key_asked: dict[tuple[str, str], float] = {}
        self._wakes: dict[tuple[str, str], asyncio.Event] = {}
        self._warn = DropLog("video")
        self.subscriptions = 0  # subscribers declared, in all
        self.wants_sent = 0
        self.units_received = 0
        self.bytes_received = 0
        self.units_dropped_malformed = 0
        self.units_dropped_oversize = 0
        self.units_skipped = 0  # after a gap, until the next keyframe

    @property
    def watching(self) -> list[tuple[str, str]]:
        """(node, feed) watched now."""
        return sorted(self._watching)

    def check(self, node: str) -> None:
        """Raise RemoteRefused (narrowband) or RemoteUnavailable (not up, or this node) for ``node``."""
        ctx = self._ctx
        if node == ctx.me:
            raise RemoteUnavailable("that feed is this node's own")
        link_class = ctx.pacing.peer_class(node)
        if link_class == "narrowband":
            raise RemoteRefused(
                f"the link to {node} is narrowband: live video does not cross it (its snapshots do, "
                f"at GET /api/feeds/<feed id>/snapshot.jpg)"
            )
        if not ctx.links.is_up(node):
            raise RemoteUnavailable(f"{node} is not reachable on the mesh now")

    def request_keyframe(self, node: str, feed: str) -> None:
        """Ask ``node`` for a keyframe of ``feed`` with the next want (sent at once)."""
        key = (node, feed)
        now = self._ctx.clock()
        if now - self._key_asked.get(key, -1e9) < KEYFRAME_EVERY_S:
            return
        self._key_asked[key] = now
        self._keyframe[key] = True
        wake = self._wakes.get(key)
        if wake is not None:
            wake.set()

    async def watch(self, node: str, feed: str, on_unit: Callable[[AccessUnit], None]) -> None:
        """Subscribe to ``node``'s ``feed`` and keep wanting it until cancelled; one watch per feed."""
        self.check(node)
        key = (node, feed)
        if key in self._watching:
            raise RemoteUnavailable(f"{node}'s feed {feed} is watched already")
        self._watching.add(key)
        rx = _Rx()
        inbox: Inbox[tuple[str, bytes]] = Inbox(
            asyncio.get_running_loop(), functools.partial(self._received, key, rx, on_unit), MAX_RX_INBOX
        )
        session = self._ctx.session
        sub: Any = None
        opens = -1
        try:
            while True:
                if session.opens != opens:  # first time, or the session was reopened (the old one took the sub)
                    sub = await self._subscribe(video_key(node, feed), inbox.push)
                    opens = session.opens
                    self._keyframe[key] = True
                await self._put_want(node, feed, self._keyframe.pop(key, False))
                wake = self._wakes[key] = asyncio.Event()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(WANT_EVERY_S):
                        await wake.wait()
        finally:
            inbox.close()
            self._watching.discard(key)
            for book in (self._wakes, self._keyframe, self._key_asked):
                book.pop(key, None)
            if sub is not None and session.opens == opens:
                with contextlib.suppress(SessionError, zenoh.ZError, RuntimeError):
                    await session.call(lambda _: sub.undeclare())

    async def _subscribe(self, key_expr: str, push: Callable[[tuple[str, bytes]], None]) -> Any:
        def on_sample(sample: zenoh.Sample) -> None:  # on a Zenoh thread
            push((str(sample.key_expr), sample.payload.to_bytes()))

        def declare(session: zenoh.Session) -> Any:
            return session.declare_subscriber(key_expr, on_sample, allowed_origin=zenoh.Locality.REMOTE)

        sub = await self._ctx.session.call(declare)
        self.subscriptions += 1
        return sub

    async def _put_want(self, node: str, feed: str, keyframe: bool) -> None:
        payload = encode(WantW(self._ctx.me, keyframe))

        def put(session: zenoh.Session) -> None:
            session.put(
                want_key(node, feed),
                payload,
                congestion_control=zenoh.CongestionControl.DROP,
                priority=zenoh.Priority.DATA,
            )

        try:
            await self._ctx.session.call(put)
        except SessionError as exc:  # reopening: the next want goes on the new session
            log.debug("mesh: want not sent (%s)", exc)
            return
        self.wants_sent += 1

    def _received(
        self, key: tuple[str, str], rx: _Rx, on_unit: Callable[[AccessUnit], None], batch: list[tuple[str, bytes]]
    ) -> None:
        for sample_key, payload in batch:
            parsed = parse_feed_key(sample_key)
            if parsed is None or parsed.what != "video" or (parsed.node, parsed.feed) != key:
                self.units_dropped_malformed += 1
                self._warn(sample_key, "not the video key watched")
                continue
            self._ctx.links.heard(parsed.node, len(payload), self._ctx.clock())
            try:
                unit = decode_unit(payload, MAX_UNIT_BYTES)
            except WireError as exc:
                if len(payload) > MAX_UNIT_BYTES:
                    self.units_dropped_oversize += 1
                else:
                    self.units_dropped_malformed += 1
                self._warn(sample_key, str(exc))
                continue
            self._unit(key, rx, unit, on_unit)

    def _unit(self, key: tuple[str, str], rx: _Rx, unit: UnitW, on_unit: Callable[[AccessUnit], None]) -> None:
        keyframe = unit.keyframe and is_keyframe(unit.data)  # the flag alone is not trusted
        if rx.next_seq is not None and unit.seq != rx.next_seq and not keyframe:
            rx.waiting_key = True  # a unit was lost on the way: the picture would break until an IDR
            self.request_keyframe(*key)
        rx.next_seq = unit.seq + 1
        if rx.waiting_key and not keyframe:
            self.units_skipped += 1
            return
        rx.waiting_key = False
        self.units_received += 1
        self.bytes_received += len(unit.data)
        on_unit(AccessUnit.of(unit.data, unit.pts_90k, keyframe=keyframe, captured=unit.captured))
