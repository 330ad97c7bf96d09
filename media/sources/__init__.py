"""Where a feed's encoded video comes from: the sim camera, RTSP, RTP/MPEG-TS over UDP, or WHIP.

Every source has the same shape (:class:`Source`): ``run(relay)`` publishes access units into the
feed's relay until cancelled and raises :class:`SourceError` (with a plain-words reason) when the
source fails, so the service can show why and the supervisor can retry. ``info`` says what the
stream is once known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from media.relay import Relay


class SourceError(Exception):
    """A source stopped or cannot start; the message says why in plain words."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a source carries."""

    codec: str = "H264"
    width: int | None = None
    height: int | None = None
    fps: float | None = None


class Source(Protocol):
    """A feed's ingest (see the module doc)."""

    kind: str  # sim, rtsp, rtp, mpegts, whip, overlay
    info: StreamInfo
    forces_keyframes: bool  # True: request_keyframe() makes one; False: the relay replays the GOP

    def request_keyframe(self) -> None: ...

    async def run(self, relay: Relay) -> None: ...
