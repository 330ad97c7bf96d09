"""The one H.264 encoder a feed may have (the sim camera's, or a WHIP publisher's re-encode).

x264 with ``ultrafast``/``zerolatency`` and no B-frames: measured ~4 ms per 720p frame on one core
(aiortc's default preset ~24 ms), no frame delay, and nothing Chromium decodes badly. SPS/PPS are
repeated before every IDR so a viewer can start at any keyframe. A keyframe request (a new viewer,
a browser's PLI) is a flag the next :meth:`encode` honours; it may be set from any thread.
"""

from __future__ import annotations

import fractions
import threading
from dataclasses import dataclass

import av
from av.video.frame import PictureType

from .relay import VIDEO_TIME_BASE, AccessUnit


@dataclass(frozen=True, slots=True)
class Profile:
    """What one encoder produces; per-feed variants for narrow links are further profiles."""

    width: int = 640
    height: int = 360
    fps: float = 15.0
    bitrate_kbps: int = 800
    keyframe_interval_s: float = 2.0


class H264Encoder:
    """Encode frames to Annex-B access units; one per feed, never one per viewer."""

    instances = 0  # every encoder ever made in this process: the test that viewers add none counts it

    def __init__(self, profile: Profile) -> None:
        type(self).instances += 1
        self.profile = profile
        keyint = max(1, round(profile.fps * profile.keyframe_interval_s))
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height = profile.width, profile.height
        codec.pix_fmt = "yuv420p"
        codec.time_base = VIDEO_TIME_BASE
        codec.framerate = fractions.Fraction(profile.fps).limit_denominator(1000)
        codec.bit_rate = profile.bitrate_kbps * 1000
        codec.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": (
                f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0:repeat-headers=1"
                f":vbv-maxrate={profile.bitrate_kbps}:vbv-bufsize={profile.bitrate_kbps}"
            ),
        }
        self._codec = codec
        self._force = threading.Event()
        self.frames = 0

    def request_keyframe(self) -> None:
        """Make the next encoded frame an IDR (thread-safe)."""
        self._force.set()

    def encode(self, frame: av.VideoFrame, pts_90k: int, captured: float) -> list[AccessUnit]:
        """Encode one frame (any format/size; converted here once) to zero or more access units."""
        if frame.format.name != "yuv420p" or frame.width != self.profile.width or frame.height != self.profile.height:
            frame = frame.reformat(width=self.profile.width, height=self.profile.height, format="yuv420p")
        frame.pts = pts_90k
        frame.time_base = VIDEO_TIME_BASE
        if self._force.is_set():
            self._force.clear()
            frame.pict_type = PictureType.I
        else:
            frame.pict_type = PictureType.NONE
        self.frames += 1
        units = []
        for packet in self._codec.encode(frame):
            data = bytes(packet)
            pts = packet.pts if packet.pts is not None else pts_90k
            units.append(AccessUnit.of(data, pts, keyframe=packet.is_keyframe, captured=captured))
        return units
