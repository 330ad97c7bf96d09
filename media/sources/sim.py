"""The sim camera: :class:`~media.sources.scenery.Scenery` rendered and H.264-encoded once per feed.

Rendering and encoding run in a worker thread paced to the profile's frame rate (neither should hold
the event loop: ~1 ms to render and ~2-4 ms to encode a frame at 640x360); each access unit is handed
to the relay on the loop. The thread checks a stop flag every frame, so cancelling the feed ends it
within one frame period.
"""

from __future__ import annotations

import asyncio
import threading
import time

import av

from media.encoder import H264Encoder, Profile
from media.relay import Relay

from . import SourceError, StreamInfo
from .scenery import Scenery


class SimCamera:
    """A synthetic aerial (or thermal) camera; see the module doc."""

    kind = "sim"
    forces_keyframes = True

    def __init__(self, profile: Profile, *, thermal: bool = False, seed: int = 1, label: str = "") -> None:
        self.profile = profile
        self.info = StreamInfo("H264", profile.width, profile.height, profile.fps)
        self._scenery = Scenery(profile.width, profile.height, thermal=thermal, seed=seed, label=label)
        self._encoder: H264Encoder | None = None

    def request_keyframe(self) -> None:
        if self._encoder is not None:
            self._encoder.request_keyframe()

    async def run(self, relay: Relay) -> None:
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        self._encoder = H264Encoder(self.profile)
        try:
            await asyncio.to_thread(self._produce, self._encoder, loop, relay, stop)
        finally:
            stop.set()
        raise SourceError("the sim camera stopped")

    def _produce(
        self, encoder: H264Encoder, loop: asyncio.AbstractEventLoop, relay: Relay, stop: threading.Event
    ) -> None:
        period = 1.0 / self.profile.fps
        origin = due = time.monotonic()
        n = 0
        while not stop.is_set():
            delay = due - time.monotonic()
            if delay > 0:
                stop.wait(delay)
            elif delay < -1.0:  # fell a second behind (a stalled machine): skip ahead, don't burst
                due = time.monotonic()
            due += period
            captured, elapsed = time.time(), time.monotonic() - origin
            image = self._scenery.render(n, elapsed, captured)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            for unit in encoder.encode(frame, round(elapsed * 90000), captured):
                try:
                    loop.call_soon_threadsafe(relay.publish, unit)
                except RuntimeError:  # the loop is closing
                    return
            n += 1
