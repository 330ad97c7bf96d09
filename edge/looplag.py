"""How late an event loop runs what is due: a probe asks to run every 100 ms and notes how late it ran.

A late loop delays everything on it at once. On the node's loop that is the picture (a drone's
datagram waits); on the WebRTC loop (:mod:`media.rtcloop`) it is every viewer's packets and their
ICE consent answers (under aioice's own rule, half a second late for half a minute closed the
connections: see :mod:`media.ice`). The probe costs one timer callback per 100 ms.

Reported in ``/metrics``: the worst lateness over the last 10 s and the number of stalls (runs of
probes later than ``stall_s``). A stall is logged when it starts and when it ends (how long it
lasted, how late the loop got); of stalls that follow within a minute only the count is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

log = logging.getLogger(__name__)

EVERY_S = 0.1
STALL_S = 0.25  # a stall: late enough to be felt (video stutters, positions wait), rare on a healthy kit
WINDOW_S = 10.0  # the worst lateness reported is over this span
LOG_EVERY_S = 60.0


class LoopLag:
    """The lateness probe of one loop; :meth:`start` it on that loop, :meth:`stop` it there too."""

    def __init__(self, name: str, *, every_s: float = EVERY_S, stall_s: float = STALL_S) -> None:
        self.name = name
        self.every_s = every_s
        self.stall_s = stall_s
        self.stalls = 0  # runs of late probes so far
        self.stalled_s = 0.0  # time spent in them
        self._recent: deque[tuple[float, float]] = deque(maxlen=int(WINDOW_S / every_s) + 1)  # (when, how late)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._stall_began: float | None = None
        self._stall_worst = 0.0
        self._last_log = float("-inf")
        self._logged = False  # whether the current stall's start was logged (then its end is too)
        self._unlogged = 0  # stalls not logged since the last line (at most one line a minute)

    def start(self) -> None:
        """Start probing the running loop."""
        self._loop = asyncio.get_running_loop()
        self._arm()

    def stop(self) -> None:
        """Stop probing (on the probed loop)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def worst_s(self) -> float:
        """The worst lateness over the last ``WINDOW_S``, counting a probe that is overdue now.

        Callable from any thread (``list`` copies the deque in one step under the GIL).
        """
        if self._loop is None:
            return 0.0
        now = self._loop.time()
        overdue = max(0.0, now - self._due) if self._handle is not None else 0.0
        return max([overdue, *(late for when, late in list(self._recent) if now - when <= WINDOW_S)])

    def _arm(self) -> None:
        assert self._loop is not None
        self._due = self._loop.time() + self.every_s
        self._handle = self._loop.call_at(self._due, self._probe)

    def _probe(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        late = now - self._due
        self._recent.append((now, late))
        if late > self.stall_s:
            if self._stall_began is None:
                self._began(now, late)
            self._stall_worst = max(self._stall_worst, late)
        elif self._stall_began is not None:
            self._ended(now)
        self._arm()

    def _began(self, now: float, late: float) -> None:
        self._stall_began, self._stall_worst = now - late, late
        self.stalls += 1
        self._logged = now - self._last_log >= LOG_EVERY_S
        if not self._logged:
            self._unlogged += 1
            return
        held = f" ({self._unlogged} more since the last line)" if self._unlogged else ""
        log.warning("the %s loop is running %.0f ms late%s", self.name, late * 1000, held)
        self._last_log, self._unlogged = now, 0

    def _ended(self, now: float) -> None:
        assert self._stall_began is not None
        lasted = now - self._stall_began
        self.stalled_s += lasted
        self._stall_began = None
        if self._logged:
            log.warning(
                "the %s loop is on time again after %.1f s, at worst %.0f ms late (%d stalls so far)",
                self.name, lasted, self._stall_worst * 1000, self.stalls,
            )  # fmt: skip
