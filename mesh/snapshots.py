"""Feed snapshots over the mesh: each node sends the newest JPEG of its feeds, peers keep the latest.

Sender. A snapshot is the budget's class 4 ("snapshots (feeds)", ``budget.py``): it goes only when
no alarm, message or due position waits, and its bytes are charged to the same token bucket, so a
picture never holds an alarm back for longer than its own time on the link. How often, per link
class (the narrowest among the peers that are up, as for everything this node publishes):

    lan  every 5 s   |  lte  every 10 s  |  mesh  every 30 s (as made, <= 20 KB)
    narrowband  every 300 s, re-encoded to <= 4 KB (about 4 s of a 9.6 kbit/s channel)

and only a snapshot newer than the one last sent, except that when a peer (re)appears every
feed's newest goes at once (the newcomer holds none). Samples go with congestion control DROP:
a newer picture follows.

Receiver. ``SnapshotBoard`` keeps the newest snapshot per (node, feed), at most ``MAX_ENTRIES``
(the least recently updated goes first), after checking the key, the origin (a node whose
liveliness token is up), the size and the JPEG markers; whatever fails is counted and logged once
per origin. ``GET /api/feeds/{feed id}/snapshot.jpg`` on any node serves these.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import zenoh

from media.snapshot import Snapshot, shrink_jpeg

from .budget import LinkClass, narrowest
from .context import MeshContext
from .errors import SessionError, WireError
from .feedwire import MAX_SNAPSHOT_BYTES, SnapW, decode_snapshot, encode, parse_feed_key, snap_key

log = logging.getLogger(__name__)

SNAPSHOT_CLASS = 4  # budget.py's class for snapshots (feeds)
SNAP_EVERY_S: dict[LinkClass, float] = {"lan": 5.0, "lte": 10.0, "mesh": 30.0, "narrowband": 300.0}
SNAP_MAX_BYTES: dict[LinkClass, int] = {"lan": 20_000, "lte": 20_000, "mesh": 20_000, "narrowband": 4_000}
TICK_S = 0.5
MAX_ENTRIES = 256
MAX_WARNED = 1000  # origins remembered for "log once"; past it, every drop logs at DEBUG


class DropLog:
    """Log a dropped payload at WARNING once per origin, then at DEBUG (a hostile flood stays quiet)."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._warned: set[str] = set()

    def __call__(self, key: str, why: str) -> None:
        node = key.split("/")[1][:40] if key.count("/") >= 2 else key[:40]
        first = node not in self._warned and len(self._warned) < MAX_WARNED
        if first:
            self._warned.add(node)
        log.log(
            logging.WARNING if first else logging.DEBUG, "mesh: dropped %s on %s: %s", self._what, key[:120], why[:200]
        )


@dataclass(frozen=True, slots=True)
class RemoteSnapshot:
    """The newest snapshot of another node's feed, as received."""

    node: str
    feed: str
    jpeg: bytes
    width: int
    height: int
    captured: float
    received: float


class SnapshotSender:
    """Sends this node's feeds' newest snapshots at its link class's pace (see the module doc)."""

    def __init__(self, ctx: MeshContext, local: Callable[[], dict[str, Snapshot]]) -> None:
        self._ctx = ctx
        self._local = local  # feed name -> its newest snapshot
        self._sent: dict[str, tuple[float, float]] = {}  # feed -> (when sent, captured)
        self._link_changes = -1
        self.sent = 0
        self.sent_bytes = 0

    def link_class(self) -> LinkClass | None:
        """The narrowest class among the peers that are up (None: nobody to send to)."""
        ctx = self._ctx
        peers = ctx.links.up_peers()
        if not peers:
            return None
        return narrowest([ctx.pacing.peer_class(p) for p in peers])

    async def run(self) -> None:
        """Send what is due every ``TICK_S`` until cancelled."""
        while True:
            await asyncio.sleep(TICK_S)
            await self.tick()

    async def tick(self) -> None:
        """Send each feed's snapshot that is due and fits the budget now."""
        ctx = self._ctx
        cls = self.link_class()
        if cls is None:
            return
        if ctx.links.changes != self._link_changes:  # someone (re)appeared: it holds none of ours
            self._link_changes = ctx.links.changes
            self._sent.clear()
        for feed, snap in list(self._local().items()):
            now = ctx.clock()
            last = self._sent.get(feed)
            if last is not None and (last[1] >= snap.captured or now - last[0] < SNAP_EVERY_S[cls]):
                continue
            if ctx.pacing.waiting_above(SNAPSHOT_CLASS, now):
                return  # strict priority: the rest waits for the next tick
            jpeg = await asyncio.to_thread(shrink_jpeg, snap.jpeg, SNAP_MAX_BYTES[cls])
            payload = encode(SnapW(snap.captured, snap.width, snap.height, jpeg))
            key = snap_key(ctx.me, feed)
            if not ctx.pacing.affords_everywhere(len(key) + len(payload), ctx.clock()):
                return
            if await self._put(key, payload):
                ctx.pacing.sent_everywhere(len(key) + len(payload), ctx.clock())
                self._sent[feed] = (now, snap.captured)

    async def _put(self, key: str, payload: bytes) -> bool:
        def put(session: zenoh.Session) -> None:
            session.put(key, payload, congestion_control=zenoh.CongestionControl.DROP, priority=zenoh.Priority.DATA_LOW)

        try:
            async with self._ctx.session_lock:
                await self._ctx.session.call(put)
        except SessionError as exc:
            log.debug("mesh: snapshot not sent (%s)", exc)
            return False
        self._ctx.links.publish(len(payload))
        self.sent += 1
        self.sent_bytes += len(payload)
        return True


class SnapshotBoard:
    """The newest snapshot of every other node's feeds, bounded, from untrusted samples."""

    def __init__(self, ctx: MeshContext, max_entries: int = MAX_ENTRIES) -> None:
        self._ctx = ctx
        self._max = max_entries
        self._held: OrderedDict[tuple[str, str], RemoteSnapshot] = OrderedDict()
        self._warn = DropLog("a snapshot")
        self.received = 0
        self.dropped_malformed = 0  # bad key, not a JPEG, wrong schema
        self.dropped_oversize = 0
        self.dropped_unknown = 0  # from a node whose liveliness token is not up, or our own origin

    def latest(self, node: str, feed: str) -> RemoteSnapshot | None:
        """The newest snapshot of ``node``'s ``feed``, if one came."""
        return self._held.get((node, feed))

    def counters(self) -> dict[str, int]:
        return {
            "snapshots_received": self.received,
            "snapshots_held": len(self._held),
            "snapshots_dropped_malformed": self.dropped_malformed,
            "snapshots_dropped_oversize": self.dropped_oversize,
            "snapshots_dropped_unknown": self.dropped_unknown,
        }

    def handle(self, batch: list[tuple[str, bytes]]) -> None:
        """Keep each good snapshot of ``batch`` (called on the loop by an inbox)."""
        for key, payload in batch:
            self._one(key, payload)

    def _one(self, key: str, payload: bytes) -> None:
        ctx = self._ctx
        parsed = parse_feed_key(key)
        if parsed is None or parsed.what != "snap":
            self._drop(key, "not a snapshot key", "malformed")
            return
        if parsed.node == ctx.me or not ctx.links.is_up(parsed.node):
            self._drop(key, "from a node that is not up", "unknown")
            return
        ctx.links.heard(parsed.node, len(payload), ctx.clock())
        try:
            snap = decode_snapshot(payload, MAX_SNAPSHOT_BYTES)
        except WireError as exc:
            self._drop(key, str(exc), "oversize" if len(payload) > MAX_SNAPSHOT_BYTES else "malformed")
            return
        where = (parsed.node, parsed.feed)
        held = self._held.get(where)
        if held is not None and held.captured > snap.captured:
            return  # an older picture arriving late
        self.received += 1
        self._held[where] = RemoteSnapshot(
            parsed.node, parsed.feed, snap.jpeg, snap.width, snap.height, snap.captured, ctx.clock()
        )
        self._held.move_to_end(where)
        while len(self._held) > self._max:
            self._held.popitem(last=False)

    def _drop(self, key: str, why: str, kind: str) -> None:
        if kind == "oversize":
            self.dropped_oversize += 1
        elif kind == "unknown":
            self.dropped_unknown += 1
        else:
            self.dropped_malformed += 1
        self._warn(key, why)
