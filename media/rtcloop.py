"""The WebRTC loop: every WHEP viewer's peer connection runs on an event loop of its own thread.

A viewer costs aiortc's packetizing, SRTP and one ``sendto`` per packet: about a third of the node's
loop time with 20 viewers, in bursts (a keyframe is dozens of packets per viewer). On the node's
loop those bursts stood between a drone's or a radio's datagram and the picture: the incident
benchmark's p99 from wire to WebSocket was mostly that wait. On a loop of its own the packet work
still shares the GIL, but it lets go of it at every ``sendto`` and SRTP call, so the node's loop
waits for a packet at most, not for a frame to 20 viewers.

What crosses between the two loops is small and one-way each time: the relay hands each access unit
to a viewer's track (``call_soon_threadsafe``), and a track hands keyframe requests, drops and its
end back to the relay's loop (:class:`media.relay.RelayTrack`). The service awaits coroutines that
open and close peer connections with :meth:`RtcLoop.run`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from edge.looplag import LoopLag

log = logging.getLogger(__name__)

T = TypeVar("T")


class RtcLoop:
    """An asyncio loop in a daemon thread, started on first use and stopped by :meth:`close`."""

    def __init__(self, name: str = "webrtc") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.lag = LoopLag(name)  # how late this loop runs: ICE consent answers wait on it (edge.looplag)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop (started if it was not)."""
        with self._lock:
            if self._loop is None:
                self._loop = self._start()
            return self._loop

    @property
    def started(self) -> bool:
        """Whether the loop's thread runs (nothing starts it until the first viewer)."""
        return self._loop is not None

    def _start(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(self.lag.start)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        ready.wait()
        return loop

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the WebRTC loop and await its result from the caller's loop.

        Cancelling the caller cancels the coroutine over there too.
        """
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wrap_future(future)

    def close(self, timeout_s: float = 5.0) -> None:
        """Cancel what still runs there, stop the loop and join its thread (idempotent)."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return

        async def wind_down() -> None:
            self.lag.stop()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(wind_down(), loop)
        thread.join(timeout_s)
        if thread.is_alive():
            log.warning("the WebRTC loop did not stop within %.0f s", timeout_s)
