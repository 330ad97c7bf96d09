"""The event-loop lateness probe: a blocked loop is one stall, counted, logged at its start and end."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from edge import looplag
from edge.looplag import LoopLag

pytestmark = pytest.mark.asyncio


async def test_a_blocked_loop_is_one_stall_with_its_worst_lateness(caplog: pytest.LogCaptureFixture) -> None:
    lag = LoopLag("test", every_s=0.02, stall_s=0.25)
    lag.start()
    try:
        await asyncio.sleep(0.1)
        assert lag.stalls == 0 and lag.worst_s() < 0.25
        with caplog.at_level(logging.WARNING, logger="edge.looplag"):
            time.sleep(0.6)  # the point: the loop is blocked
            await asyncio.sleep(0.1)
        assert lag.stalls == 1
        assert 0.55 <= lag.worst_s() < 3.0
        assert 0.55 <= lag.stalled_s < 3.0
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 2 and "test loop is running" in said[0] and "on time again" in said[1], said
    finally:
        lag.stop()


async def test_stalls_within_a_minute_are_counted_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    lag = LoopLag("test", every_s=0.02, stall_s=0.25)
    lag.start()
    try:
        with caplog.at_level(logging.WARNING, logger="edge.looplag"):
            for _ in range(3):
                time.sleep(0.5)
                await asyncio.sleep(0.1)
        assert lag.stalls == 3
        assert len(caplog.records) == 2, [r.getMessage() for r in caplog.records]  # the first stall's start and end
    finally:
        lag.stop()


async def test_the_worst_lateness_is_read_from_another_thread_while_the_loop_is_stuck() -> None:
    lag = LoopLag("test", every_s=0.02, stall_s=0.1)
    lag.start()
    try:
        await asyncio.sleep(0.05)
        seen: list[float] = []
        reader = threading.Thread(target=lambda: (time.sleep(0.3), seen.append(lag.worst_s())))
        reader.start()
        time.sleep(0.5)  # the probe cannot run: only its being overdue shows
        reader.join()
        assert seen and seen[0] >= 0.2
    finally:
        lag.stop()


async def test_old_lateness_leaves_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(looplag, "WINDOW_S", 0.2)
    lag = LoopLag("test", every_s=0.02, stall_s=0.1)
    lag.start()
    try:
        time.sleep(0.15)
        await asyncio.sleep(0.05)
        assert lag.worst_s() >= 0.1
        await asyncio.sleep(0.4)
        assert lag.worst_s() < 0.1
    finally:
        lag.stop()
