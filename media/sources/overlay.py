"""A telemetry overlay: a derived feed showing another feed's picture with the drone's numbers on it.

It is a feed of its own (``<name>-overlay``), made once for all its viewers: the parent feed's
access units are decoded in a worker thread (every picture, since the overlay changes them all),
the telemetry lines are drawn onto each picture with OpenCV, and the result is encoded once by an
:class:`~media.encoder.H264Encoder`. So an overlay costs one decoder and one encoder per feed that
opts in, and nothing per viewer; the parent feed itself stays passed through. The lines are set from
the event loop (:attr:`lines`, replaced whole) and read by the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
from typing import Any

import av
import cv2

from media.encoder import H264Encoder, Profile
from media.relay import AccessUnit, Relay
from media.threads import in_own_thread

from . import SourceError, StreamInfo

QUEUE = 30  # access units waiting for the decoder; past that, skip to the next keyframe


class OverlaySource:
    """Draws :attr:`lines` onto ``parent``'s pictures and encodes the result once."""

    kind = "overlay"
    forces_keyframes = True

    def __init__(self, parent: Relay, info: StreamInfo, profile: Profile) -> None:
        self.parent = parent
        self.profile = profile
        self.info = StreamInfo("H264", info.width, info.height, info.fps)
        self.lines: tuple[str, ...] = ()
        self.dropped = 0
        self._encoder: H264Encoder | None = None

    def request_keyframe(self) -> None:
        if self._encoder is not None:
            self._encoder.request_keyframe()

    async def run(self, relay: Relay) -> None:
        loop = asyncio.get_running_loop()
        units: queue.Queue[AccessUnit | None] = queue.Queue(QUEUE)
        waiting_for_key = [True]

        def take(unit: AccessUnit) -> None:
            if waiting_for_key[0] and not unit.keyframe:
                return
            try:
                units.put_nowait(unit)
                waiting_for_key[0] = False
            except queue.Full:
                self.dropped += 1
                waiting_for_key[0] = True

        stop_listening = self.parent.listen(take)
        self.parent.request_keyframe()
        try:
            await in_own_thread(functools.partial(self._draw, units, relay, loop), name="overlay")
        finally:
            stop_listening()
            with contextlib.suppress(queue.Full):
                units.put_nowait(None)
        raise SourceError("the overlay stopped")

    def _draw(self, units: queue.Queue[AccessUnit | None], relay: Relay, loop: asyncio.AbstractEventLoop) -> None:
        decoder: Any = av.CodecContext.create("h264", "r")
        while (unit := units.get()) is not None:
            try:
                frames = decoder.decode(unit.packet)
            except av.error.FFmpegError:
                continue  # a damaged picture; the next keyframe resynchronises the decoder
            for frame in frames:
                image = frame.to_ndarray(format="bgr24")
                if self._encoder is None:
                    height, width = image.shape[:2]
                    size = (width & ~1, height & ~1)
                    self._encoder = H264Encoder(Profile(*size, self.profile.fps, self.profile.bitrate_kbps))
                    self.info = StreamInfo("H264", width & ~1, height & ~1, self.info.fps)
                draw_lines(image, self.lines)
                out = av.VideoFrame.from_ndarray(image, format="bgr24")
                for encoded in self._encoder.encode(out, unit.packet.pts or 0, unit.captured):
                    try:
                        loop.call_soon_threadsafe(relay.publish, encoded)
                    except RuntimeError:  # the loop is closing
                        return


def draw_lines(image: Any, lines: tuple[str, ...]) -> None:
    """Telemetry lines on a dark box in the picture's upper left, under the stamp strip."""
    if not lines:
        return
    scale, thickness, step = 0.45, 1, 16
    width = max(cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0][0] for line in lines)
    top = 16
    cv2.rectangle(image, (4, top), (12 + width, top + 6 + step * len(lines)), (0, 0, 0), -1)
    for i, line in enumerate(lines):
        y = top + step * (i + 1)
        cv2.putText(image, line, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (80, 255, 80), thickness, cv2.LINE_AA)
