"""Snapshots: a small JPEG of a feed every few seconds, for where live video cannot go.

A snapshot must fit a narrowband mesh link, so :func:`encode_jpeg` scales the picture down to
``max_width`` and then steps the JPEG quality down, and the size down again, until it is at most
``max_bytes`` (20 KB by default), keeping the aspect ratio. Pictures come from the feed's
:class:`~media.keyframes.KeyframeDecoder` (keyframes only); the encoding runs in its thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from media.keyframes import Image, KeyframeDecoder

QUALITIES = (80, 65, 50, 40, 30, 20)
SHRINK = 0.75
MIN_WIDTH = 64


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One JPEG of a feed."""

    jpeg: bytes
    width: int
    height: int
    quality: int
    captured: float  # wall clock of the picture


def encode_jpeg(image: Image, *, max_bytes: int = 20_000, max_width: int = 640) -> tuple[bytes, int, int, int]:
    """(jpeg, width, height, quality): the best quality at the largest size that fits ``max_bytes``.

    The smallest attempt is returned when nothing fits (a picture of pure noise at 64 px wide).
    """
    height, width = image.shape[:2]
    scale = min(1.0, max_width / width)
    while True:
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        scaled = image if (w, h) == (width, height) else cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        for quality in QUALITIES:
            ok, buf = cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise ValueError("OpenCV could not encode the picture as JPEG")
            best = (buf.tobytes(), w, h, quality)
            if len(best[0]) <= max_bytes:
                return best
        if w * SHRINK < MIN_WIDTH:
            return best  # the smallest, lowest-quality attempt
        scale *= SHRINK


class Snapshotter:
    """At most one snapshot every ``interval_s`` from a feed's decoded keyframes."""

    def __init__(
        self,
        *,
        interval_s: float = 5.0,
        max_bytes: int = 20_000,
        max_width: int = 640,
        on_snapshot: Callable[[Snapshot], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self.max_bytes = max_bytes
        self.max_width = max_width
        self.latest: Snapshot | None = None
        self.taken = 0
        self._on_snapshot = on_snapshot
        self._clock = clock
        self._last: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, decoder: KeyframeDecoder) -> None:
        """Take pictures from ``decoder``; ``on_snapshot`` will be called on this (running) loop."""
        self._loop = asyncio.get_running_loop()
        decoder.add(self.take)

    def take(self, image: Image, captured: float) -> None:
        """Make a snapshot of ``image`` if one is due (called in the decoder's thread)."""
        now = self._clock()
        if self._last is not None and now - self._last < self.interval_s:
            return
        self._last = now
        jpeg, width, height, quality = encode_jpeg(image, max_bytes=self.max_bytes, max_width=self.max_width)
        snapshot = Snapshot(jpeg, width, height, quality, captured)
        self.latest = snapshot
        self.taken += 1
        if self._on_snapshot is not None and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._on_snapshot, snapshot)


def shrink_jpeg(jpeg: bytes, max_bytes: int) -> bytes:
    """``jpeg`` itself if it fits ``max_bytes``, else the picture re-encoded smaller (a narrow mesh link)."""
    if len(jpeg) <= max_bytes:
        return jpeg
    decoded = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError("not a JPEG OpenCV can read")
    image: Image = np.asarray(decoded, dtype=np.uint8)
    return encode_jpeg(image, max_bytes=max_bytes, max_width=image.shape[1])[0]
