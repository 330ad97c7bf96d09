"""Video on the mesh, as one part of the mesh component: snapshots both ways, live video on demand.

``MeshFeeds`` bundles what ``snapshots.py`` and ``video.py`` do for one node: it declares their
subscribers on each session the component opens, runs their tasks, and answers the API (a remote
feed's newest snapshot) and the media service (``watch``, through ``media.sources.mesh.MeshVideo``).
The node's own feeds are read from its media service when there is one; a node without video
still receives and serves other nodes' snapshots and can watch their feeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zenoh

from media.relay import AccessUnit, Relay
from media.snapshot import Snapshot

from .context import MeshContext
from .feedwire import SNAP_ALL, split_stream, stream_name, want_all
from .inbox import Inbox
from .snapshots import RemoteSnapshot, SnapshotBoard, SnapshotSender
from .video import VideoOrigin, VideoWatch

if TYPE_CHECKING:
    from edge.node import EdgeNode

MAX_SNAP_INBOX = 1000
MAX_WANT_INBOX = 1000


class MeshFeeds:
    """Snapshots and live video of feeds across the mesh (see the module doc)."""

    def __init__(self, ctx: MeshContext, node: EdgeNode, loop: asyncio.AbstractEventLoop) -> None:
        self._node = node
        self.board = SnapshotBoard(ctx)
        self.sender = SnapshotSender(ctx, self._local_snapshots)
        self.origin = VideoOrigin(ctx, self._local_relay)
        self.watcher = VideoWatch(ctx)
        self._snaps: Inbox[tuple[str, bytes]] = Inbox(loop, self.board.handle, MAX_SNAP_INBOX)
        self._wants: Inbox[tuple[str, bytes]] = Inbox(loop, self.origin.handle_wants, MAX_WANT_INBOX)

    # -- what the node's other parts ask -------------------------------------------------------

    def snapshot(self, node: str, feed: str) -> RemoteSnapshot | None:
        """The newest snapshot received of ``node``'s ``feed``."""
        return self.board.latest(node, feed)

    def check(self, node: str) -> None:
        """MeshVideo: raise if ``node``'s feeds cannot be watched now."""
        self.watcher.check(node)

    async def watch(self, node: str, feed: str, profile: str, on_unit: Callable[[AccessUnit], None]) -> None:
        """MeshVideo: ``node``'s ``feed`` (``profile``) into ``on_unit`` until cancelled."""
        await self.watcher.watch(node, stream_name(feed, profile), on_unit)

    def request_keyframe(self, node: str, feed: str, profile: str) -> None:
        """MeshVideo: ask the origin for a keyframe."""
        self.watcher.request_keyframe(node, stream_name(feed, profile))

    def report(self) -> dict[str, object]:
        """Counters, for the mesh's report."""
        o, w = self.origin, self.watcher
        return {
            **self.board.counters(),
            "snapshots_sent": self.sender.sent,
            "snapshot_bytes_sent": self.sender.sent_bytes,
            "snapshot_inbox_dropped": self._snaps.dropped,
            "video_sending": o.sending,
            "video_wants": o.wants,
            "video_wants_refused": o.wants_refused,
            "video_wants_dropped": o.wants_dropped + self._wants.dropped,
            "video_units_sent": o.units_sent,
            "video_bytes_sent": o.bytes_sent,
            "video_units_dropped": o.units_dropped,
            "video_watching": [f"{n}/{f}" for n, f in w.watching],
            "video_subscriptions": w.subscriptions,
            "video_wants_sent": w.wants_sent,
            "video_units_received": w.units_received,
            "video_bytes_received": w.bytes_received,
            "video_units_dropped_malformed": w.units_dropped_malformed,
            "video_units_dropped_oversize": w.units_dropped_oversize,
            "video_units_skipped": w.units_skipped,
        }

    # -- the mesh component's hooks ------------------------------------------------------------

    def declare(self, session: zenoh.Session, me: str) -> list[Any]:
        """Our subscribers on a new session (on the session's thread)."""
        snaps, wants = self._snaps.push, self._wants.push

        def on_snap(sample: zenoh.Sample) -> None:  # on a Zenoh thread
            snaps((str(sample.key_expr), sample.payload.to_bytes()))

        def on_want(sample: zenoh.Sample) -> None:  # on a Zenoh thread
            wants((str(sample.key_expr), sample.payload.to_bytes()))

        remote = zenoh.Locality.REMOTE
        return [
            session.declare_subscriber(SNAP_ALL, on_snap, allowed_origin=remote),
            session.declare_subscriber(want_all(me), on_want, allowed_origin=remote),
        ]

    async def run(self) -> None:
        """Send snapshots and wanted video until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.sender.run(), name="mesh-snapshots")
                group.create_task(self.origin.run(), name="mesh-video")
        finally:
            self.close()

    def close(self) -> None:
        """Stop sending and receiving; safe to call twice."""
        self.origin.close()
        self._snaps.close()
        self._wants.close()

    # -- this node's feeds ---------------------------------------------------------------------

    def _local_snapshots(self) -> dict[str, Snapshot]:
        media = self._node.media
        if media is None:
            return {}
        return {name: snap for name, d in media.derived.items() if (snap := d.snapshots.latest) is not None}

    def _local_relay(self, stream: str) -> Relay | None:
        """Our relay of a stream name (``<feed>`` or ``<feed>.<profile>``), or None."""
        feed, profile = split_stream(stream)
        media = self._node.media
        runner = media.feeds.get(feed) if media is not None else None
        return runner.relays.get(profile) if runner is not None else None
