"""One feed: its source kept running (with backoff), its relay, and what the scene says about it.

A source that fails (an RTSP camera rebooting, a WHIP publisher that walked away, a stalled
downlink) ends with a :class:`~media.sources.SourceError`; the runner shows the reason on the feed,
logs it once per distinct reason, waits and starts it again, while the feed's viewers stay connected
and resume at the next keyframe. One feed failing never touches another.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from media.config import FeedConfig
from media.relay import Relay
from media.sources import Source, SourceError

log = logging.getLogger(__name__)

BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 15.0


class FeedRunner:
    """Runs one feed's source forever; ``state`` and ``error`` say how it is going."""

    def __init__(
        self,
        cfg: FeedConfig,
        source: Source,
        *,
        viewer_queue: int,
        stall_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.source = source
        request = source.request_keyframe if source.forces_keyframes else None
        self.relay = Relay(cfg.name, request_keyframe=request, viewer_queue=viewer_queue, clock=clock)
        # "main", plus the narrow-link variants a source produces itself (the sim camera's smaller encodes)
        self.relays: dict[str, Relay] = {"main": self.relay, **getattr(source, "variant_relays", {})}
        self.state = "starting"
        self.error: str | None = None
        self.restarts = 0
        self._stall_s = stall_s
        self._clock = clock
        self._logged: str | None = None
        self._failed_at: float | None = None  # when the source last ended (video before it is history)

    @property
    def name(self) -> str:
        return self.cfg.name

    def observed_state(self) -> str:
        """live, stalled (no video for ``stall_s``), waiting (WHIP: no publisher), starting or error."""
        last = self.relay.stats.last_unit
        fresh = last is not None and self._clock() - last <= self._stall_s
        if fresh and last is not None and (self._failed_at is None or last > self._failed_at):
            return "live"
        if self.state in ("error", "waiting"):
            return self.state
        return "starting" if last is None else "stalled"

    async def run(self) -> None:
        delay = BACKOFF_MIN_S
        while True:
            self.state = "running" if self.source.kind != "whip" else "waiting"
            started = self._clock()
            try:
                await self.source.run(self.relay)
                reason = "the source ended"
            except SourceError as exc:
                reason = str(exc)
            except (OSError, ValueError, RuntimeError) as exc:  # PyAV/aiortc raise these for a bad stream
                reason = f"{exc.__class__.__name__}: {exc}"
            if self._clock() - started > 30.0:
                delay = BACKOFF_MIN_S  # it ran a while: a fresh failure, not a crash loop
            self.restarts += 1
            self._failed_at = self._clock()
            self.state, self.error = ("waiting", reason) if self.source.kind == "whip" else ("error", reason)
            if reason != self._logged:
                self._logged = reason
                log.warning("feed %s: %s; retrying", self.name, reason)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX_S)

    def mark_live(self) -> None:
        """The source produced video again: clear the shown error."""
        self.error = None
        self._logged = None
