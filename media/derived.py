"""What a feed yields besides live video: its snapshots, its analysis findings and its recording.

Each feed has at most one :class:`~media.keyframes.KeyframeDecoder` (keyframes only, in a thread),
shared by its snapshotter and, when the feed opts in, its OpenCV analysis; the recording remuxes
the relay's access units without decoding. Nothing here depends on how many people watch.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path

from media.analysis import FeedAnalysis, Finding, sim_overlays
from media.config import FeedConfig, MediaSection
from media.feed import FeedRunner
from media.keyframes import KeyframeDecoder
from media.recording import Recorder
from media.snapshot import Snapshot, Snapshotter

RECORDING_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}-\d{8}T\d{6}Z\.mp4$")


class RecordingError(RuntimeError):
    """A recording cannot start or stop; the message says why."""


class FeedDerived:
    """One feed's decoder, snapshotter, analysis and recorder."""

    def __init__(
        self,
        runner: FeedRunner,
        cfg: MediaSection,
        *,
        on_snapshot: Callable[[str, Snapshot], None],
        on_finding: Callable[[str, Finding], None],
    ) -> None:
        self.runner = runner
        name = runner.name
        feed: FeedConfig = runner.cfg
        interval = min(cfg.snapshot_interval_s, 2.0) if feed.analysis else cfg.snapshot_interval_s
        self.decoder = KeyframeDecoder(name, min_interval_s=interval)
        self.snapshots = Snapshotter(
            interval_s=cfg.snapshot_interval_s,
            max_bytes=cfg.snapshot_max_bytes,
            on_snapshot=lambda snap: on_snapshot(name, snap),
        )
        self.analysis: FeedAnalysis | None = None
        if feed.analysis:
            ignore = sim_overlays(feed.width, feed.height) if feed.source == "sim" else []
            self.analysis = FeedAnalysis(
                hotspots="hotspot" in feed.analysis,
                motion="motion" in feed.analysis,
                ignore=ignore,
                on_finding=lambda finding: on_finding(name, finding),
            )
        self.recorder: Recorder | None = None
        self.recording_file: str | None = None

    def start(self) -> None:
        """Begin taking keyframes (on the running loop)."""
        self.decoder.attach(self.runner.relay)
        self.snapshots.attach(self.decoder)
        if self.analysis is not None:
            self.analysis.attach(self.decoder)

    async def record(self, folder: Path) -> str:
        """Start recording into ``folder``; the file's name."""
        if self.recorder is not None:
            raise RecordingError(f"feed {self.runner.name!r} is already recording to {self.recording_file}")
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        name = f"{self.runner.name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.mp4"
        self.recorder = Recorder(folder / name, self.runner.source.info)
        self.recorder.attach(self.runner.relay)
        self.recording_file = name
        self.runner.relay.request_keyframe()  # the file starts at the next keyframe: make it soon
        return name

    async def stop_recording(self) -> str:
        """Finish the recording; the file's name."""
        recorder, name = self.recorder, self.recording_file
        if recorder is None or name is None:
            raise RecordingError(f"feed {self.runner.name!r} is not recording")
        self.recorder = self.recording_file = None
        await recorder.aclose()
        if recorder.error:
            raise RecordingError(recorder.error)
        return name

    async def close(self) -> None:
        if self.recorder is not None:
            await self.stop_recording()
        await self.decoder.aclose()
