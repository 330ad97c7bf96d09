"""Other nodes' feeds served here: one relay per remote feed, fed over the mesh while it has viewers.

A command post's viewer of another kit's feed (``POST /api/feeds/feed:<node>:<name>/whep``) is
served like a local one, from a relay on this node; the relay's source is a
:class:`~media.sources.mesh.MeshSource`, run by a :class:`~media.feed.FeedRunner` (so the feed's
state — live, stalled — is judged the same way as a local one). However many viewers a remote
feed has here, there is one relay and one watch on the mesh; when its last viewer has been gone
for ``LINGER_S`` the runner stops, and with it the wants that keep the origin sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from media.config import FeedConfig, MediaSection
from media.feed import FeedRunner
from media.relay import Relay
from media.sources.mesh import MeshSource, MeshVideo, RemoteUnavailable

log = logging.getLogger(__name__)

LINGER_S = 5.0  # a viewer who reloads the page finds the relay still running


def split_feed_id(feed_id: str) -> tuple[str, str] | None:
    """(node, name) of ``feed:<node>:<name>``; None if it is not a feed id."""
    parts = feed_id.split(":")
    if len(parts) != 3 or parts[0] != "feed" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class RemoteFeeds:
    """The relays of other nodes' feeds on this node (see the module doc)."""

    def __init__(
        self, mesh: Callable[[], MeshVideo | None], cfg: MediaSection, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._mesh = mesh
        self._cfg = cfg
        self._clock = clock
        self.runners: dict[str, FeedRunner] = {}  # by feed id, ``<feed id>.<profile>`` for a variant
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._idle_since: dict[str, float] = {}
        self.opened = 0  # relays made, in all (a second viewer of one feed makes none)

    def relay(self, feed_id: str, profile: str = "main") -> Relay:
        """The relay of another node's feed (``profile``: main or a variant it encodes), started if needed;
        raises RemoteRefused/RemoteUnavailable."""
        key = feed_id if profile == "main" else f"{feed_id}.{profile}"
        runner = self.runners.get(key)
        if runner is not None:
            self._idle_since.pop(key, None)
            return runner.relay
        where = split_feed_id(feed_id)
        mesh = self._mesh()
        if where is None:
            raise RemoteUnavailable(f"{feed_id!r} is not a feed id")
        if mesh is None:
            raise RemoteUnavailable("the mesh is not running on this node")
        node, name = where
        mesh.check(node)
        cfg = FeedConfig(name=name, source="sim", title=key)  # source is unused: the runner is given its source
        source = MeshSource(mesh, node, name, profile)
        runner = FeedRunner(cfg, source, viewer_queue=self._cfg.viewer_queue, stall_s=self._cfg.stall_s)
        self.runners[key] = runner
        self._tasks[key] = asyncio.create_task(runner.run(), name=f"remote-feed-{key}")
        self.opened += 1
        log.info("serving %s here over the mesh", key)
        return runner.relay

    def state(self, feed_id: str) -> str | None:
        """live, stalled, starting or error for a remote feed served here; None if it is not."""
        runner = self.runners.get(feed_id)
        return runner.observed_state() if runner is not None else None

    async def run(self) -> None:
        """Stop the relays whose viewers have all gone, until cancelled."""
        try:
            while True:
                await asyncio.sleep(1.0)
                await self.reap(self._clock())
        finally:
            await self.aclose()

    async def reap(self, now: float) -> None:
        """Stop each remote feed that has had no viewer for ``LINGER_S``."""
        for feed_id, runner in list(self.runners.items()):
            if runner.relay.viewers:
                self._idle_since.pop(feed_id, None)
            elif now - self._idle_since.setdefault(feed_id, now) >= LINGER_S:
                log.info("no one watches %s here any more; stopping its relay", feed_id)
                await self._stop(feed_id)

    async def _stop(self, feed_id: str) -> None:
        runner = self.runners.pop(feed_id)
        self._idle_since.pop(feed_id, None)
        task = self._tasks.pop(feed_id)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        runner.relay.close()

    async def aclose(self) -> None:
        """Stop every remote feed; safe to call twice."""
        for feed_id in list(self.runners):
            await self._stop(feed_id)
