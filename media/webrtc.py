"""WHEP viewers: answer a browser's (or aiortc's) SDP offer with a sender fed by the feed's relay.

Each viewer is one ``RTCPeerConnection`` whose only track is a :class:`~media.relay.RelayTrack`:
aiortc packetizes the relay's access units and encodes nothing. H.264 (packetization-mode 1) is the
only codec offered back, since the relay carries nothing else; an offer that cannot take it is
refused with a reason. A browser's PLI/FIR reaches the relay (and, through it, the source) instead of
aiortc's sender, which would otherwise ignore it for pre-encoded packets. aiortc gathers every
candidate before answering, so the answer is complete (non-trickle WHEP, RFC 9725 style).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

from media.relay import Relay, RelayTrack
from media.rtcloop import RtcLoop

log = logging.getLogger(__name__)

MAX_SDP_BYTES = 64 * 1024


class OfferError(ValueError):
    """The SDP offer cannot be answered; the message says why."""


def h264_codecs() -> list[RTCRtpCodecCapability]:
    """aiortc's H.264 codecs with packetization-mode 1 (what the relay's packetizer produces)."""
    caps = RTCRtpSender.getCapabilities("video").codecs
    return [c for c in caps if c.mimeType.lower() == "video/h264" and c.parameters.get("packetization-mode") == "1"]


@dataclass
class Viewer:
    """One WHEP session; its peer connection lives on the WebRTC loop (:mod:`media.rtcloop`)."""

    id: str
    feed: str
    who: str
    track: RelayTrack
    rtc: RtcLoop
    pc: RTCPeerConnection | None = None
    started: float = field(default_factory=time.time)

    async def close(self) -> None:
        """Hang up (from the node's loop)."""
        await self.rtc.run(self._hang_up())

    async def _hang_up(self) -> None:
        self.track.stop()
        if self.pc is not None:
            await self.pc.close()


async def answer_offer(
    relay: Relay, feed: str, offer_sdp: str, who: str, on_close: Callable[[Viewer], None], *, rtc: RtcLoop
) -> tuple[Viewer, str]:
    """Open a viewer of ``relay`` for ``offer_sdp``; returns it and the SDP answer.

    ``on_close`` is called on the caller's loop when the connection fails or closes.
    """
    if len(offer_sdp.encode()) > MAX_SDP_BYTES:
        raise OfferError(f"the offer is larger than {MAX_SDP_BYTES} bytes")
    if not offer_sdp.startswith("v=0") or "m=video" not in offer_sdp:
        raise OfferError("the body is not an SDP offer with a video section")
    if "h264" not in offer_sdp.lower():
        raise OfferError("the offer accepts no H.264, the only codec this feed is carried in")
    home = asyncio.get_running_loop()
    track = relay.subscribe(consumer=rtc.loop)
    viewer = Viewer(id=secrets.token_urlsafe(12), feed=feed, who=who, track=track, rtc=rtc)

    def closed() -> None:  # on the WebRTC loop
        with contextlib.suppress(RuntimeError):  # the node's loop is closing
            home.call_soon_threadsafe(on_close, viewer)

    try:
        return viewer, await rtc.run(_negotiate(viewer, offer_sdp, closed))
    except OfferError:
        await viewer.close()
        raise
    except Exception as exc:  # aiortc raises ValueError/AttributeError/... on SDP it cannot use
        await viewer.close()
        raise OfferError(f"the offer could not be used: {exc.__class__.__name__}: {exc}") from exc


async def _negotiate(viewer: Viewer, offer_sdp: str, closed: Callable[[], None]) -> str:
    """On the WebRTC loop: the peer connection for ``viewer`` and its SDP answer."""
    pc = viewer.pc = RTCPeerConnection()
    # The transceiver exists before the offer is applied, so aiortc matches the offer's video
    # section to it and negotiates from our codec preference (H.264 only).
    transceiver = pc.addTransceiver(viewer.track, direction="sendonly")
    transceiver.setCodecPreferences(h264_codecs())
    # Forward keyframe requests to the source: aiortc's sender honours them only when it encodes.
    transceiver.sender._send_keyframe = viewer.track.request_keyframe  # type: ignore[method-assign]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    if transceiver.mid is None:
        raise OfferError("the offer's video section could not be matched")
    if not transceiver._codecs:
        raise OfferError("the offer accepts no H.264 with packetization-mode 1")
    answer = await pc.createAnswer()
    await pc.setLocalDescription(answer)

    @pc.on("connectionstatechange")
    async def _state() -> None:
        if pc.connectionState in ("failed", "closed"):
            log.info("viewer %s of %s (%s): connection %s", viewer.id, viewer.feed, viewer.who, pc.connectionState)
            await viewer._hang_up()
            closed()

    return str(pc.localDescription.sdp)


async def close_all(viewers: list[Viewer]) -> None:
    """Close viewers concurrently (service shutdown)."""
    await asyncio.gather(*(v.close() for v in viewers), return_exceptions=True)
