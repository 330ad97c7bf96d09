"""One ingest, many viewers: encoded H.264 access units fanned out to every WebRTC sender.

aiortc's ``MediaRelay`` shares *decoded* frames, so each sender still encodes (N viewers, N
encoders). Here a source publishes encoded access units once and each viewer's :class:`RelayTrack`
hands the same ``av.Packet`` to aiortc, whose H.264 sender then only packetizes. Nothing per viewer
decodes or encodes, which is what keeps an extra viewer at a few percent of a core.

A viewer must start at a keyframe. When it subscribes, the relay asks the source for one (the sim
and WHIP encoders honour it at once); a source that cannot (RTSP, RTP, MPEG-TS pass-through) has its
current group of pictures replayed to the newcomer instead, so nobody waits for the next IDR. A
viewer that falls behind (its queue is full) is cut back to the next keyframe rather than allowed
to grow memory or lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = logging.getLogger(__name__)

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
MAX_GOP_REPLAY = 300  # access units kept for replay to a newcomer (10 s at 30 fps)


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One encoded picture as Annex-B with its timing; shared read-only by every viewer."""

    packet: av.Packet[Any]  # pts in 1/90000 s
    keyframe: bool
    captured: float  # wall-clock seconds when the picture was taken (or received)
    size: int

    @classmethod
    def of(cls, data: bytes, pts_90k: int, *, keyframe: bool, captured: float) -> AccessUnit:
        packet = av.Packet(data)
        packet.pts = packet.dts = pts_90k
        packet.time_base = VIDEO_TIME_BASE
        return cls(packet, keyframe, captured, len(data))


@dataclass(slots=True)
class RelayStats:
    """What a feed carried, for the scene and /metrics."""

    units: int = 0
    keyframes: int = 0
    bytes: int = 0
    viewer_drops: int = 0  # access units a slow viewer skipped
    last_unit: float | None = None  # monotonic
    _window: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=512))

    def note(self, unit: AccessUnit, now: float) -> None:
        self.units += 1
        self.bytes += unit.size
        self.keyframes += unit.keyframe
        self.last_unit = now
        self._window.append((now, unit.size))

    def rates(self, now: float, span_s: float = 2.0) -> tuple[float, float]:
        """(frames per second, kbit/s) over the last ``span_s`` seconds."""
        recent = [size for t, size in self._window if now - t <= span_s]
        return len(recent) / span_s, sum(recent) * 8 / span_s / 1000


class RelayTrack(MediaStreamTrack):
    """A viewer's video track: ``recv()`` returns the relay's packets, starting at a keyframe."""

    kind = "video"

    def __init__(self, relay: Relay, *, queue_size: int, consumer: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__()
        self._relay = relay
        # With a ``consumer`` loop (the WebRTC loop, media.rtcloop) recv() runs there while the relay
        # runs on its own loop: everything from one side to the other goes by call_soon_threadsafe.
        self.consumer = consumer
        self._home = asyncio.get_running_loop() if consumer is not None else None
        self._queue: asyncio.Queue[AccessUnit | None] = asyncio.Queue(queue_size)
        self._waiting_for_key = True
        self.delivered = 0
        self.dropped = 0

    def offer(self, unit: AccessUnit) -> None:
        """Queue ``unit`` for this viewer (called on the relay's loop)."""
        if self.consumer is None:
            self.take(unit)
        else:
            self.consumer.call_soon_threadsafe(self.take, unit)

    def _to_relay(self, call: Callable[..., None], *args: Any) -> None:
        """Run ``call`` on the relay's loop."""
        if self._home is None:
            call(*args)
        else:
            with contextlib.suppress(RuntimeError):  # the node's loop is closing
                self._home.call_soon_threadsafe(call, *args)

    def take(self, unit: AccessUnit) -> None:
        """Queue ``unit`` (on the loop recv() runs on)."""
        if self.readyState != "live":
            return
        if self._waiting_for_key and not unit.keyframe:
            return
        if self._queue.full():
            self._cut_back()
            return
        self._waiting_for_key = False
        self._queue.put_nowait(unit)

    def _cut_back(self) -> None:
        dropped = self._queue.qsize()
        while not self._queue.empty():
            self._queue.get_nowait()
        self.dropped += dropped
        self._waiting_for_key = True
        self._to_relay(self._relay.viewer_fell_behind, dropped)

    def request_keyframe(self) -> None:
        """A browser's PLI/FIR for this viewer, passed to the relay (and through it, the source)."""
        self._to_relay(self._relay.request_keyframe)

    async def recv(self) -> av.Packet[Any]:  # aiortc's sender takes packets as well as frames
        if self.readyState != "live":
            raise MediaStreamError
        unit = await self._queue.get()
        if unit is None:
            raise MediaStreamError
        self.delivered += 1
        return unit.packet

    def stop(self) -> None:
        """End the track (on the loop recv() runs on)."""
        if self.readyState == "live":
            self._to_relay(self._relay.unsubscribe, self)
            if self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait(None)  # wake a recv() in progress
        super().stop()

    def end(self) -> None:
        """End the track from the relay's loop (the feed is gone)."""
        if self.consumer is None:
            self.stop()
        else:
            with contextlib.suppress(RuntimeError):  # the WebRTC loop is already closed
                self.consumer.call_soon_threadsafe(self.stop)


def _take_all(tracks: list[RelayTrack], unit: AccessUnit) -> None:
    for track in tracks:
        track.take(unit)


class Relay:
    """Fans one feed's access units out to its viewers; see the module doc."""

    def __init__(
        self,
        name: str,
        *,
        request_keyframe: Callable[[], None] | None = None,
        viewer_queue: int = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.stats = RelayStats()
        self._request_keyframe = request_keyframe
        self._viewer_queue = viewer_queue
        self._clock = clock
        self._viewers: set[RelayTrack] = set()
        self._gop: list[AccessUnit] = []
        self.keyframe_requests = 0
        self._listeners: list[Callable[[AccessUnit], None]] = []

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    @property
    def forces_keyframes(self) -> bool:
        """Whether the source makes a keyframe on request (else newcomers get the current GOP)."""
        return self._request_keyframe is not None

    def publish(self, unit: AccessUnit) -> None:
        """Hand one access unit to every viewer and listener (on the loop)."""
        self.stats.note(unit, self._clock())
        if unit.keyframe:
            self._gop = [unit]
        elif self._gop and len(self._gop) < MAX_GOP_REPLAY:
            self._gop.append(unit)
        away: dict[asyncio.AbstractEventLoop, list[RelayTrack]] = {}
        for viewer in tuple(self._viewers):
            if viewer.consumer is None:
                viewer.take(unit)
            else:
                away.setdefault(viewer.consumer, []).append(viewer)
        for loop, tracks in away.items():  # one hand-over per loop and unit, not one per viewer
            with contextlib.suppress(RuntimeError):  # the WebRTC loop is already closed
                loop.call_soon_threadsafe(_take_all, tracks, unit)
        for listener in tuple(self._listeners):
            listener(unit)

    def subscribe(self, consumer: asyncio.AbstractEventLoop | None = None) -> RelayTrack:
        """A new viewer's track; it starts at a keyframe (see the module doc).

        ``consumer``: the loop that will call its ``recv()`` when that is not this one.
        """
        track = RelayTrack(self, queue_size=self._viewer_queue, consumer=consumer)
        self._viewers.add(track)
        if self.forces_keyframes:
            self.request_keyframe()
        else:
            for unit in self._gop[: self._viewer_queue - 1]:
                track.offer(unit)
        return track

    def unsubscribe(self, track: RelayTrack) -> None:
        self._viewers.discard(track)

    def viewer_fell_behind(self, dropped: int) -> None:
        """A viewer's queue was full: it skipped ``dropped`` units and waits for a keyframe."""
        self.stats.viewer_drops += dropped
        self.request_keyframe()

    def current_gop(self) -> list[AccessUnit]:
        """The current group of pictures from its keyframe (what a newcomer of a pass-through source is shown)."""
        return list(self._gop)

    def listen(self, listener: Callable[[AccessUnit], None]) -> Callable[[], None]:
        """Call ``listener`` with every access unit (snapshots, recording); returns the way to stop."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def request_keyframe(self) -> None:
        """Ask the source for a keyframe (a new or recovering viewer, a PLI/FIR from a browser)."""
        self.keyframe_requests += 1
        if self._request_keyframe is not None:
            self._request_keyframe()

    def close(self) -> None:
        """End every viewer's track (the feed is gone)."""
        for viewer in tuple(self._viewers):
            viewer.end()
        self._viewers.clear()
        self._gop = []
