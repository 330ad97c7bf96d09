"""WHIP ingest: a browser or phone publishes its camera with one HTTP POST of an SDP offer.

aiortc hands received video over only as decoded frames, so a WHIP feed is decoded once and
encoded once (:class:`~media.encoder.H264Encoder`) and the relay shares the result: one decode and
one encode per publisher, none per viewer. Frames are converted to yuv420p once, at the encoder
(sharing other formats between senders crashed aiortc, its issue #767). When the publisher's
connection fails or its track ends, :meth:`run` raises and the feed waits for the next publisher.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from media.encoder import H264Encoder, Profile
from media.relay import Relay
from media.webrtc import MAX_SDP_BYTES, OfferError

from . import SourceError, StreamInfo

log = logging.getLogger(__name__)

FIRST_FRAME_TIMEOUT_S = 20.0


class WhipSource:
    """A feed whose video arrives by WHIP; one publisher at a time."""

    kind = "whip"
    forces_keyframes = True

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.info = StreamInfo("H264", profile.width, profile.height, profile.fps)
        self.pc: RTCPeerConnection | None = None
        self._track: asyncio.Queue[MediaStreamTrack] = asyncio.Queue(1)
        self._encoder: H264Encoder | None = None
        self.publisher: str | None = None

    @property
    def busy(self) -> bool:
        return self.pc is not None

    def request_keyframe(self) -> None:
        if self._encoder is not None:
            self._encoder.request_keyframe()

    async def accept(self, offer_sdp: str, who: str) -> str:
        """Answer a publisher's offer (raises :class:`OfferError`); its video then feeds :meth:`run`."""
        if len(offer_sdp.encode()) > MAX_SDP_BYTES:
            raise OfferError(f"the offer is larger than {MAX_SDP_BYTES} bytes")
        if not offer_sdp.startswith("v=0") or "m=video" not in offer_sdp:
            raise OfferError("the body is not an SDP offer with a video section")
        if self.pc is not None:
            raise OfferError("this feed already has a publisher")
        pc = RTCPeerConnection()
        self.pc, self.publisher = pc, who

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and self._track.empty():
                self._track.put_nowait(track)

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.hang_up()

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            for transceiver in pc.getTransceivers():
                transceiver.direction = "recvonly" if transceiver.kind == "video" else "inactive"
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc raises assorted errors on SDP it cannot use
            await self.hang_up()
            raise OfferError(f"the offer could not be used: {exc.__class__.__name__}: {exc}") from exc
        return pc.localDescription.sdp

    async def hang_up(self) -> None:
        """End the current publisher's session (DELETE, a failed connection, shutdown)."""
        pc, self.pc, self.publisher = self.pc, None, None
        while not self._track.empty():
            self._track.get_nowait().stop()
        if pc is not None:
            await pc.close()

    async def run(self, relay: Relay) -> None:
        track = await self._track.get()
        origin = time.monotonic()
        try:
            while True:
                try:
                    async with asyncio.timeout(FIRST_FRAME_TIMEOUT_S):
                        frame = await track.recv()
                except (MediaStreamError, TimeoutError):
                    break
                if not isinstance(frame, VideoFrame):
                    continue
                encoder = self._encoder
                if encoder is None:  # sized to the publisher's first frame; later sizes are scaled to it
                    width, height = _even(frame)
                    profile = replace(self.profile, width=width, height=height)
                    encoder = self._encoder = H264Encoder(profile)
                    self.info = StreamInfo("H264", width, height, profile.fps)
                captured = time.time()
                pts = round((time.monotonic() - origin) * 90000)
                for unit in await asyncio.to_thread(encoder.encode, frame, pts, captured):
                    relay.publish(unit)
        finally:
            self._encoder = None
            await self.hang_up()
        raise SourceError("the WHIP publisher went away")


def _even(frame: VideoFrame) -> tuple[int, int]:
    return frame.width & ~1, frame.height & ~1
