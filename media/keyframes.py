"""The one decoder a feed may have: its keyframes, decoded in a thread for snapshots and analysis.

Viewers never cause decoding (the relay passes packets through); what needs pixels — the JPEG
snapshot, the OpenCV analysis — shares this decoder, fed only keyframes and at most one every
``min_interval_s``. An IDR access unit decodes on its own (the relay puts SPS/PPS before it), so the
decoder is drained and reset after each one: no reference frames or reorder delay carry over, and a
B-frame source cannot hold a picture back. Decoding runs in a worker thread fed by a one-slot
queue: if the thread is busy, the newer keyframe replaces the waiting one (the freshest picture is
the one worth having). Consumers are called in that thread with a BGR image and its capture time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable

import av
import numpy as np
import numpy.typing as npt

from media.relay import AccessUnit, Relay

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
Consumer = Callable[[Image, float], object]  # what it returns is ignored


class KeyframeDecoder:
    """Decodes a feed's keyframes for its consumers; see the module doc."""

    instances = 0  # every decoder made in this process: the test that viewers add none counts it

    def __init__(self, feed: str, *, min_interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        type(self).instances += 1
        self.feed = feed
        self.min_interval_s = min_interval_s
        self.decoded = 0
        self.failed = 0
        self._clock = clock
        self._last: float | None = None
        self._consumers: list[Consumer] = []
        self._slot: queue.Queue[AccessUnit | None] = queue.Queue(1)
        self._detach: list[Callable[[], None]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"keyframes {feed}", daemon=True)
        self._thread.start()

    def add(self, consumer: Consumer) -> None:
        """Call ``consumer(image_bgr, captured)`` in the decoder thread for every decoded keyframe."""
        self._consumers.append(consumer)

    def attach(self, relay: Relay) -> None:
        """Take keyframes from ``relay`` (until :meth:`aclose`)."""
        self._detach.append(relay.listen(self.offer))

    def offer(self, unit: AccessUnit) -> None:
        """Hand over an access unit (on the loop); only a keyframe that is due is kept."""
        now = self._clock()
        if self._closed or not unit.keyframe or (self._last is not None and now - self._last < self.min_interval_s):
            return
        self._last = now
        with contextlib.suppress(queue.Empty):
            self._slot.get_nowait()  # a keyframe still waiting is older: replace it
        self._slot.put_nowait(unit)

    async def aclose(self) -> None:
        """Stop taking keyframes and end the thread; safe to call twice."""
        for detach in self._detach:
            detach()
        self._detach.clear()
        if not self._closed:
            self._closed = True
            await asyncio.to_thread(self._slot.put, None)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        codec = av.CodecContext.create("h264", "r")
        while (unit := self._slot.get()) is not None:
            try:
                frames = [*codec.decode(av.Packet(bytes(unit.packet))), *codec.decode(None)]
            except av.error.FFmpegError as exc:
                frames = []
                if not self.failed:
                    log.warning("feed %s: a keyframe did not decode (%s); further failures counted", self.feed, exc)
            codec.flush_buffers()
            if not frames:
                self.failed += 1
                continue
            image: Image = np.asarray(frames[-1].to_ndarray(format="bgr24"), dtype=np.uint8)
            self.decoded += 1
            for consumer in tuple(self._consumers):
                try:
                    consumer(image, unit.captured)
                except Exception:
                    log.exception("feed %s: a keyframe consumer failed", self.feed)
