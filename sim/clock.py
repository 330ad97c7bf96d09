"""The simulation's clock: wall time running ``speedup`` times faster (as ArduPilot SITL's --speedup)."""

from __future__ import annotations

import time


class SimClock:
    """Seconds since the epoch, advancing ``speedup`` times faster than real time from ``start``."""

    def __init__(self, speedup: float = 1.0, start: float | None = None) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        self.speedup = speedup
        self._start = time.time() if start is None else start
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return self._start + (time.monotonic() - self._t0) * self.speedup

    def real_seconds(self, sim_seconds: float) -> float:
        """How long to wait in real time for ``sim_seconds`` of simulated time."""
        return sim_seconds / self.speedup
