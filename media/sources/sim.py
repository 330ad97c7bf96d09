"""The sim camera: :class:`~media.sources.scenery.Scenery` rendered and H.264-encoded once per feed.

Rendering and encoding run in a thread of its own (:mod:`media.threads`), paced to the profile's
frame rate: neither should hold the event loop (~1 ms to render and ~2-4 ms to encode a frame at
640x360). Each access unit is handed to the relay on the loop. The thread checks a stop flag every
frame, so cancelling the feed ends it within one frame period. Setting ``paused`` stalls the camera
(a scenario's fault, ``sim/timeline.py``): no frames until it is cleared, then a keyframe so viewers
resume at once.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time

import av

from media.encoder import H264Encoder, Profile
from media.relay import Relay
from media.threads import in_own_thread

from . import SourceError, StreamInfo
from .scenery import Scenery


class SimCamera:
    """A synthetic aerial (or thermal) camera; see the module doc."""

    kind = "sim"
    forces_keyframes = True

    def __init__(
        self,
        profile: Profile,
        *,
        variants: dict[str, Profile] | None = None,
        thermal: bool = False,
        seed: int = 1,
        label: str = "",
    ) -> None:
        self.profile = profile
        self.info = StreamInfo("H264", profile.width, profile.height, profile.fps)
        self._scenery = Scenery(profile.width, profile.height, thermal=thermal, seed=seed, label=label)
        self._variants = variants or {}
        self._encoders: dict[str, H264Encoder] = {}
        self.paused = False  # True: produce nothing (a stalled camera), read by the worker thread each frame
        # Narrow-link variants: the same rendered picture encoded again, smaller — once per variant,
        # shared by all its viewers. Each has its own relay, fed by this source.
        self.variant_relays = {
            name: Relay(f"{label}:{name}", request_keyframe=functools.partial(self.request_keyframe, name))
            for name in self._variants
        }

    def request_keyframe(self, variant: str = "main") -> None:
        encoder = self._encoders.get(variant)
        if encoder is not None:
            encoder.request_keyframe()

    async def run(self, relay: Relay) -> None:
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        self._encoders = {"main": H264Encoder(self.profile)}
        self._encoders.update({name: H264Encoder(p) for name, p in self._variants.items()})
        try:
            await in_own_thread(functools.partial(self._produce, loop, relay, stop), name="sim camera")
        finally:
            stop.set()
        raise SourceError("the sim camera stopped")

    def _outputs(self, relay: Relay) -> list[tuple[H264Encoder, Relay, int]]:
        """(encoder, relay, every how many frames) for the main picture and each variant."""
        outputs = [(self._encoders["main"], relay, 1)]
        for name, profile in self._variants.items():
            every = max(1, round(self.profile.fps / profile.fps))
            outputs.append((self._encoders[name], self.variant_relays[name], every))
        return outputs

    def _produce(self, loop: asyncio.AbstractEventLoop, relay: Relay, stop: threading.Event) -> None:
        outputs = self._outputs(relay)
        period = 1.0 / self.profile.fps
        origin = due = time.monotonic()
        n = 0
        stalled = False
        while not stop.is_set():
            if self.paused:
                stalled = True
                stop.wait(period)
                continue
            if stalled:
                stalled, due = False, time.monotonic()  # no burst to catch up: frames resume from now
                for encoder, _, _ in outputs:
                    encoder.request_keyframe()
            delay = due - time.monotonic()
            if delay > 0:
                stop.wait(delay)
            elif delay < -1.0:  # fell a second behind (a stalled machine): skip ahead, don't burst
                due = time.monotonic()
            due += period
            captured, elapsed = time.time(), time.monotonic() - origin
            image = self._scenery.render(n, elapsed, captured)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
            for encoder, target, every in outputs:
                if n % every:
                    continue
                for unit in encoder.encode(frame, round(elapsed * 90000), captured):
                    try:
                        loop.call_soon_threadsafe(target.publish, unit)
                    except RuntimeError:  # the loop is closing
                        return
            n += 1
