"""Per-process CPU and RSS over the benchmark's window, with psutil."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psutil  # type: ignore[import-untyped]


@dataclass
class Watched:
    """One process: CPU time at the window's start, RSS samples (MB) taken during it."""

    name: str
    proc: psutil.Process
    cpu_at_start: float = 0.0
    cpu_pct: float = 0.0
    rss_mb: list[float] = field(default_factory=list)
    rss_at: list[float] = field(default_factory=list)  # seconds since the window started


class Sampler:
    """CPU share of one core over a window and RSS sampled every ``every_s``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.watched = [Watched(name, psutil.Process(pid)) for name, pid in pids.items()]
        self._start = 0.0

    def start(self) -> None:
        """Open the window."""
        self._start = time.monotonic()
        for w in self.watched:
            w.cpu_at_start = _cpu_s(w.proc)
        self.sample()

    def sample(self) -> None:
        """Take one RSS sample of every process still alive."""
        at = time.monotonic() - self._start
        for w in self.watched:
            try:
                w.rss_mb.append(w.proc.memory_info().rss / 2**20)
                w.rss_at.append(at)
            except psutil.Error:
                pass

    def stop(self) -> None:
        """Close the window: CPU % of one core per process."""
        wall = time.monotonic() - self._start
        if not self.watched or not self.watched[0].rss_at or wall - self.watched[0].rss_at[-1] > 1.0:
            self.sample()  # the window's end, unless a sample was just taken
        for w in self.watched:
            try:
                w.cpu_pct = 100 * (_cpu_s(w.proc) - w.cpu_at_start) / wall
            except psutil.Error:
                w.cpu_pct = float("nan")


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)
