"""An independent WHEP viewer and WHIP publisher built on aiortc, speaking to a node over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from dataclasses import dataclass, field

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from media import stamp

# A small sim camera (cam1) for the media tests.
SIM_FEED = {"name": "cam1", "source": "sim", "width": 320, "height": 180, "fps": 15.0, "lat": 36.7, "lon": 119.16}


@dataclass
class WhepViewer:
    """A viewer that decodes every frame and reads the burned-in stamp."""

    pc: RTCPeerConnection
    location: str
    frames: int = 0
    stamps: list[stamp.Stamp] = field(default_factory=list)
    sizes: set[tuple[int, int]] = field(default_factory=set)
    box_brightness: list[float] = field(default_factory=list)  # mean grey where an overlay draws its box
    ages_ms: list[int] = field(default_factory=list)
    first_frame_s: float | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def wait_frames(self, n: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.frames < n:
            assert time.monotonic() < deadline, f"only {self.frames} of {n} frames arrived"
            await asyncio.sleep(0.05)

    async def close(self, client: httpx.AsyncClient | None = None) -> None:
        if client is not None:
            await client.delete(self.location)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                await self._task
        await self.pc.close()


async def watch(client: httpx.AsyncClient, feed: str, profile: str = "main") -> WhepViewer:
    """Open a WHEP session on ``feed`` (``profile``) through ``client`` (which carries the token)."""
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    started = time.monotonic()
    response = await client.post(
        f"/api/feeds/{feed}/whep?profile={profile}",
        content=pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/sdp")
    viewer = WhepViewer(pc, response.headers["location"])

    @pc.on("track")
    def _track(track: MediaStreamTrack) -> None:
        viewer._task = asyncio.ensure_future(_pull(viewer, track, started))

    await pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
    return viewer


async def _pull(viewer: WhepViewer, track: MediaStreamTrack, started: float) -> None:
    try:
        while True:
            frame = await track.recv()
            now = time.time()
            image = frame.to_ndarray(format="bgr24")  # type: ignore[union-attr]
            if viewer.first_frame_s is None:
                viewer.first_frame_s = time.monotonic() - started
            viewer.frames += 1
            viewer.sizes.add((image.shape[1], image.shape[0]))
            viewer.box_brightness.append(float(image[20:60, 8:120].mean()))
            read = stamp.read(image)
            if read is not None:
                viewer.stamps.append(read)
                viewer.ages_ms.append(read.age_ms(int(now * 1000)))
    except MediaStreamError:
        viewer.ended.set()


class StampedCamera(MediaStreamTrack):
    """A publisher's camera: the sim scenery with the stamp strip, as decoded frames (what a browser sends)."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: float = 15.0) -> None:
        super().__init__()
        from media.sources.scenery import Scenery  # noqa: PLC0415

        self._scenery = Scenery(width, height, seed=3, label="whip")
        self._period = 1 / fps
        self._n = 0
        self._start = time.monotonic()

    async def recv(self) -> VideoFrame:  # type: ignore[override]
        due = self._start + self._n * self._period
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        image = self._scenery.render(self._n, self._n * self._period, time.time())
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = round(self._n * self._period * 90000), fractions.Fraction(1, 90000)
        self._n += 1
        return frame


@dataclass
class WhipPublisher:
    pc: RTCPeerConnection
    location: str


async def publish(client: httpx.AsyncClient, feed: str, track: MediaStreamTrack) -> WhipPublisher:
    """Publish ``track`` to ``feed`` over WHIP."""
    pc = RTCPeerConnection()
    pc.addTransceiver(track, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    response = await client.post(
        f"/api/feeds/{feed}/whip", content=pc.localDescription.sdp, headers={"Content-Type": "application/sdp"}
    )
    assert response.status_code == 201, response.text
    await pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
    return WhipPublisher(pc, response.headers["location"])
