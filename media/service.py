"""The media component: every feed of this node, its WHEP viewers and WHIP publishers, in the scene.

Each configured feed gets a :class:`~media.feed.FeedRunner` (its source, kept running) and a relay;
viewers attach to the relay through :mod:`media.webrtc`. Once a second the service puts each feed in
the picture — state, codec, size, measured fps and bitrate, viewers, and where the camera looks (a
drone's camera follows the drone's position and heading) — publishing only what changed, plus a
refresh every 30 s so a late observer sees a fresh timestamp.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from edge.scene import Alert, AlertClear, Audit, Feed, Position, Vehicle
from media.alerts import FindingAlerts
from media.analysis import Finding
from media.config import FeedConfig, MediaSection
from media.derived import RECORDING_NAME, FeedDerived
from media.encoder import Profile
from media.feed import FeedRunner
from media.ice import host_addresses_for, use_host_addresses, use_rfc7675_consent
from media.relay import Relay
from media.remote import RemoteFeeds, split_feed_id
from media.rtcloop import RtcLoop
from media.snapshot import Snapshot
from media.sources import Source, SourceError
from media.sources.demux import MpegTsSource, RtpSource, RtspSource
from media.sources.mesh import MeshVideo
from media.sources.overlay import OverlaySource
from media.sources.sim import SimCamera
from media.sources.tsudp import udp_address
from media.sources.whip import WhipSource
from media.webrtc import OfferError, Viewer, answer_offer, close_all

if TYPE_CHECKING:
    from edge.node import EdgeNode

log = logging.getLogger(__name__)

REFRESH_S = 30.0


class RecordingFile(msgspec.Struct, frozen=True, kw_only=True):
    """A recording on this node's disk."""

    name: str
    feed: str
    size_bytes: int
    modified: float
    recording: bool = False  # still being written


class NoSuchFeed(LookupError):
    """No feed of that name on this node."""


class TooManyViewers(RuntimeError):
    """The feed or the node is at its viewer limit."""


def make_source(cfg: FeedConfig, seed: int, stall_s: float = 5.0) -> Source:
    """The source a feed's config asks for."""
    profile = Profile(cfg.width, cfg.height, cfg.fps, cfg.bitrate_kbps)
    if cfg.source == "sim":
        variants = {v.name: Profile(v.width, v.height, v.fps, v.bitrate_kbps) for v in cfg.variants}
        return SimCamera(profile, variants=variants, thermal=cfg.thermal, seed=seed, label=cfg.name)
    if cfg.source == "whip":
        return WhipSource(profile)
    if cfg.source == "rtsp":
        return RtspSource(cfg.url, stall_s=stall_s)
    if cfg.source == "mpegts":
        return MpegTsSource(cfg.url, stall_s=stall_s)
    if cfg.url.startswith("udp://"):  # rtp: a bare port, packetization-mode 1 assumed
        host, port = udp_address(cfg.url)
        return RtpSource(port=port, host=host, stall_s=stall_s)
    try:
        sdp = Path(cfg.url).read_text(encoding="utf-8")[: RtpSource.MAX_SDP_BYTES + 1]
    except OSError as exc:
        raise SourceError(f"cannot read the SDP file {cfg.url}: {exc.strerror or exc}") from exc
    return RtpSource(sdp, stall_s=stall_s)


class MediaService:
    """Component: run the feeds and serve their viewers (see the module doc)."""

    name = "media"

    def __init__(self, node: EdgeNode, cfg: MediaSection, *, clock: Callable[[], float] = time.time) -> None:
        self.node = node
        self.cfg = cfg
        self.clock = clock
        self.feeds: dict[str, FeedRunner] = {
            f.name: FeedRunner(
                f, make_source(f, i + 1, cfg.stall_s), viewer_queue=cfg.viewer_queue, stall_s=cfg.stall_s
            )
            for i, f in enumerate(cfg.feeds)
        }
        for parent in [r for r in self.feeds.values() if r.cfg.overlay]:
            overlay = self._overlay_of(parent, cfg)
            self.feeds[overlay.name] = overlay
        self.derived = {
            name: FeedDerived(runner, cfg, on_snapshot=self._snapshot_taken, on_finding=self._found)
            for name, runner in self.feeds.items()
        }
        self.findings = FindingAlerts(node.node_id)
        self._pending: set[asyncio.Task[None]] = set()
        self.viewers: dict[str, Viewer] = {}
        self.rtc = RtcLoop()  # where the viewers' peer connections run (media.rtcloop)
        self._published: dict[str, tuple[object, ...]] = {}
        self._published_at: dict[str, float] = {}
        self.recordings_dir = Path(cfg.recordings_dir) if cfg.recordings_dir else node.config.data_dir / "recordings"
        self.remote = RemoteFeeds(self._mesh_video, cfg)  # other nodes' feeds, watched over the mesh

    def _mesh_video(self) -> MeshVideo | None:
        mesh = self.node.mesh
        return mesh.feeds if mesh is not None else None

    def _overlay_of(self, parent: FeedRunner, cfg: MediaSection) -> FeedRunner:
        """The derived feed ``<name>-overlay``: ``parent`` with telemetry drawn on it, encoded once."""
        p = parent.cfg
        title = f"{p.title or p.name} + telemetry"
        derived = msgspec.structs.replace(
            p, name=f"{p.name}-overlay", title=title, overlay=False, analysis=[], variants=[]
        )
        profile = Profile(p.width, p.height, p.fps, p.bitrate_kbps)
        source = OverlaySource(parent.relay, parent.source.info, profile)
        return FeedRunner(derived, source, viewer_queue=cfg.viewer_queue, stall_s=cfg.stall_s)

    def _telemetry(self, runner: FeedRunner) -> tuple[str, ...]:
        """The lines an overlay draws: the carrying drone's numbers, or the camera's place."""
        scene = self.node.scene
        feed = self.entity(runner)
        lines = [time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(self.clock()))]
        vehicle = scene.get(feed.vehicle_id) if scene and feed.vehicle_id else None
        if isinstance(vehicle, Vehicle):
            lines.append(f"{vehicle.name or vehicle.id}  {vehicle.mode or ''}{'  ARMED' if vehicle.armed else ''}")
            if vehicle.pos is not None:
                alt = "" if vehicle.pos.alt_rel_m is None else f"  alt {vehicle.pos.alt_rel_m:.0f} m"
                lines.append(f"{vehicle.pos.lat:.5f} {vehicle.pos.lon:.5f}{alt}")
            speed = "" if vehicle.ground_speed_mps is None else f"{vehicle.ground_speed_mps:.1f} m/s  "
            heading = "" if vehicle.heading_deg is None else f"hdg {vehicle.heading_deg:.0f}  "
            battery = "" if vehicle.battery_pct is None else f"bat {vehicle.battery_pct:.0f}%"
            lines.append(f"{speed}{heading}{battery}".strip())
        elif feed.pos is not None:
            lines.append(f"{feed.pos.lat:.5f} {feed.pos.lon:.5f}  hdg {feed.heading_deg or 0:.0f}")
        return tuple(line for line in lines if line)

    def feed_id(self, name: str) -> str:
        return f"feed:{self.node.node_id}:{name}"

    def feed(self, name: str) -> FeedRunner:
        runner = self.feeds.get(name)
        if runner is None:
            raise NoSuchFeed(f"no feed {name!r} on this node")
        return runner

    async def run(self) -> None:
        use_host_addresses(host_addresses_for(self.node.config.api.host, self.cfg.ice_addresses))
        use_rfc7675_consent()  # a viewer stays while it answers, however late (media.ice)
        for derived in self.derived.values():
            derived.start()
        try:
            async with asyncio.TaskGroup() as group:
                for runner in self.feeds.values():
                    group.create_task(runner.run(), name=f"feed-{runner.name}")
                group.create_task(self._report(), name="feed-report")
                group.create_task(self.remote.run(), name="remote-feeds")
        finally:
            await close_all(list(self.viewers.values()))
            self.viewers.clear()
            if self.rtc.started:  # joining its thread may take a moment: not on the loop
                await asyncio.to_thread(self.rtc.close)
            for runner in self.feeds.values():
                if isinstance(runner.source, WhipSource):
                    await runner.source.hang_up()
                for relay in runner.relays.values():
                    relay.close()
            for derived in self.derived.values():
                await derived.close()

    # -- viewers (WHEP) -------------------------------------------------------------------------

    async def open_viewer(self, name: str, offer_sdp: str, who: str, profile: str = "main") -> tuple[Viewer, str]:
        """A WHEP session on feed ``name`` (``profile``: main or a variant); raises NoSuchFeed, TooManyViewers
        or OfferError."""
        relays = self._relays_of(name, profile)
        relay = relays.get(profile)
        if relay is None:
            raise NoSuchFeed(f"feed {name!r} has no profile {profile!r} (it has {', '.join(relays)})")
        if len(self.viewers) >= self.cfg.max_viewers:
            raise TooManyViewers(f"this node serves at most {self.cfg.max_viewers} viewers")
        if sum(r.viewers for r in relays.values()) >= self.cfg.max_viewers_per_feed:
            raise TooManyViewers(f"feed {name!r} serves at most {self.cfg.max_viewers_per_feed} viewers")
        viewer, answer = await answer_offer(relay, name, offer_sdp, who, self._forget, rtc=self.rtc)
        self.viewers[viewer.id] = viewer
        log.info("viewer %s of feed %s opened by %s", viewer.id, name, who)
        return viewer, answer

    def local_name(self, name: str) -> str | None:
        """The name of our feed called ``name`` or ``feed:<us>:<name>``; None for another node's feed id."""
        where = split_feed_id(name)
        if where is None:
            return name
        return where[1] if where[0] == self.node.node_id else None

    def _relays_of(self, name: str, profile: str) -> dict[str, Relay]:
        """A feed's relays by profile: ours, or the one relay of another node's feed (over the mesh)."""
        local = self.local_name(name)
        if local is not None:
            return self.feed(local).relays
        scene = self.node.scene
        entity = scene.get(name) if scene is not None else None
        where = split_feed_id(name)
        if not isinstance(entity, Feed) or where is None or entity.origin != where[0]:
            raise NoSuchFeed(f"no feed {name!r} in the picture")
        if profile != "main" and profile not in entity.profiles:
            raise NoSuchFeed(f"feed {name!r} has no profile {profile!r} (it has {', '.join(entity.profiles)})")
        return {profile: self.remote.relay(name, profile)}

    async def close_viewer(self, name: str, viewer_id: str) -> bool:
        viewer = self.viewers.get(viewer_id)
        if viewer is None or viewer.feed != name:
            return False
        self._forget(viewer)
        await viewer.close()
        return True

    def _forget(self, viewer: Viewer) -> None:
        self.viewers.pop(viewer.id, None)

    # -- publishers (WHIP) ----------------------------------------------------------------------

    async def open_publisher(self, name: str, offer_sdp: str, who: str) -> str:
        """Accept a WHIP publisher on feed ``name`` (a feed with ``source = "whip"``)."""
        runner = self.feed(name)
        if not isinstance(runner.source, WhipSource):
            raise OfferError(f"feed {name!r} takes its video from {runner.cfg.source}, not from WHIP")
        answer = await runner.source.accept(offer_sdp, who)
        log.info("WHIP publisher %s on feed %s", who, name)
        return answer

    async def close_publisher(self, name: str) -> bool:
        source = self.feed(name).source
        if not isinstance(source, WhipSource) or not source.busy:
            return False
        await source.hang_up()
        return True

    # -- snapshots, analysis, recordings -------------------------------------------------------

    def snapshot(self, name: str) -> Snapshot | None:
        """The feed's newest snapshot (a JPEG of at most ``snapshot_max_bytes``), if one was taken."""
        self.feed(name)
        return self.derived[name].snapshots.latest

    def _snapshot_taken(self, name: str, snapshot: Snapshot) -> None:
        self._publish(self.feeds[name])

    def _found(self, name: str, finding: Finding) -> None:
        scene = self.node.scene
        if scene is None:
            return
        feed = self.entity(self.feeds[name])
        vehicle = scene.get(feed.vehicle_id) if feed.vehicle_id else None
        altitude = vehicle.pos.alt_rel_m if isinstance(vehicle, Vehicle) and vehicle.pos else None
        for alert in self.findings.found(name, feed, finding, self.clock(), altitude):
            self._store(alert)

    def _store(self, event: Alert | AlertClear | Audit) -> None:
        """Journal ``event`` in the background (findings arrive on the loop, outside any request)."""

        async def store() -> None:
            assert self.node.scene is not None
            try:
                await self.node.scene.append(event)
            except Exception as exc:  # the journal says why; the next finding raises it again
                log.error("could not store %s %s: %s", type(event).__name__, event.id, exc)
                if isinstance(event, Alert):
                    self.findings.forget(event.id)

        task = asyncio.create_task(store())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def start_recording(self, name: str, who: str) -> str:
        """Record feed ``name`` to MP4 (remuxed, never re-encoded); the file's name."""
        self.feed(name)
        file = await self.derived[name].record(self.recordings_dir)
        await self._audit(who, "start-recording", name, file)
        self._publish(self.feeds[name])
        return file

    async def stop_recording(self, name: str, who: str) -> str:
        self.feed(name)
        file = await self.derived[name].stop_recording()
        await self._audit(who, "stop-recording", name, file)
        self._publish(self.feeds[name])
        return file

    async def _audit(self, who: str, action: str, name: str, file: str) -> None:
        assert self.node.scene is not None
        await self.node.scene.append(
            Audit(
                id=f"audit-{secrets.token_hex(8)}",
                origin=self.node.node_id,
                ts=self.clock(),
                actor=who,
                action=action,
                target=self.feed_id(name),
                result=file,
            )
        )

    def recordings(self) -> list[RecordingFile]:
        """This node's recordings, newest first."""
        if not self.recordings_dir.is_dir():
            return []
        found = []
        for path in self.recordings_dir.glob("*.mp4"):
            if RECORDING_NAME.match(path.name):
                stat = path.stat()
                feed = path.name.rsplit("-", 1)[0]
                found.append(RecordingFile(name=path.name, feed=feed, size_bytes=stat.st_size, modified=stat.st_mtime))
        recording = {d.recording_file for d in self.derived.values()}
        found = [msgspec.structs.replace(f, recording=f.name in recording) for f in found]
        return sorted(found, key=lambda f: f.modified, reverse=True)

    def recording_path(self, file: str) -> Path | None:
        """The path of recording ``file`` if it is one of ours (no other file can be named)."""
        if not RECORDING_NAME.match(file):
            return None
        path = self.recordings_dir / file
        return path if path.is_file() else None

    # -- the scene ------------------------------------------------------------------------------

    async def _report(self) -> None:
        while True:
            for runner in self.feeds.values():
                self._publish(runner)
                if isinstance(runner.source, OverlaySource):
                    parent = self.feeds[runner.name.removesuffix("-overlay")]
                    runner.source.lines = self._telemetry(parent)
            for clear in self.findings.expired(self.clock()):
                self._store(clear)
            await asyncio.sleep(1.0)

    def entity(self, runner: FeedRunner) -> Feed:
        """The feed as the picture shows it now."""
        cfg, now = runner.cfg, self.clock()
        state = runner.observed_state()
        if state == "live" and runner.error:
            runner.mark_live()
        fps, kbps = runner.relay.stats.rates(time.monotonic())
        info = runner.source.info
        pos: Position | None = (
            Position(lat=cfg.lat, lon=cfg.lon) if cfg.lat is not None and cfg.lon is not None else None
        )
        heading: float | None = cfg.heading_deg
        vehicle_id = None
        if cfg.vehicle_sysid is not None:
            vehicle_id = f"vehicle:{self.node.node_id}:{cfg.vehicle_sysid}"
            vehicle = self.node.scene.get(vehicle_id) if self.node.scene else None
            if isinstance(vehicle, Vehicle):
                pos = vehicle.pos
                heading = ((vehicle.heading_deg or 0.0) + cfg.heading_deg) % 360
        return Feed(
            id=self.feed_id(cfg.name),
            origin=self.node.node_id,
            ts=now,
            name=cfg.title or cfg.name,
            pos=pos,
            state=state,
            codec=f"{info.codec} (B-frames)" if getattr(runner.source, "has_b_frames", False) else info.codec,
            width=info.width,
            height=info.height,
            fps=round(fps * 2) / 2 if state == "live" else 0.0,
            viewers=sum(r.viewers for r in runner.relays.values()),
            vehicle_id=vehicle_id,
            heading_deg=None if heading is None else round(heading, 1),
            fov_deg=cfg.fov_deg,
            source=runner.source.kind,
            url=cfg.public_url or None,
            bitrate_kbps=round(kbps, -1) if state == "live" else 0.0,
            range_m=cfg.range_m,
            thermal=cfg.thermal,
            recording=self.derived[cfg.name].recorder is not None,
            snapshot_ts=snap.captured if (snap := self.derived[cfg.name].snapshots.latest) else None,
            error=None if state == "live" else runner.error,
            profiles=list(runner.relays),
        )

    def _publish(self, runner: FeedRunner) -> None:
        scene = self.node.scene
        if scene is None:
            return
        feed = self.entity(runner)
        key = tuple(getattr(feed, f) for f in feed.__struct_fields__ if f not in ("ts", "bitrate_kbps", "fps"))
        coarse = (round((feed.fps or 0) / 5), round((feed.bitrate_kbps or 0) / 200))
        if self._published.get(feed.id) == (*key, *coarse) and feed.ts - self._published_at.get(feed.id, 0) < REFRESH_S:
            return
        self._published[feed.id] = (*key, *coarse)
        self._published_at[feed.id] = feed.ts
        scene.apply_state(feed)
