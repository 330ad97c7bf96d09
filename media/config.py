"""The `[media]` section: the feeds a node ingests and how it serves them (``[[media.feeds]]``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from msgspec import Meta, Struct


def _doc(text: str) -> Meta:
    return Meta(description=text)


FeedName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
SourceKind = Literal["sim", "rtsp", "rtp", "mpegts", "whip"]
Analysis = Literal["hotspot", "motion"]


class VariantConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A smaller encode of a sim or WHIP feed for narrow links, made once and shared by its viewers."""

    name: Annotated[FeedName, _doc("Variant name, chosen by a viewer with ?profile=<name> (e.g. low).")]
    width: Annotated[int, _doc("Picture width."), Meta(ge=64, le=3840, multiple_of=2)] = 320
    height: Annotated[int, _doc("Picture height."), Meta(ge=64, le=2160, multiple_of=2)] = 180
    fps: Annotated[float, _doc("Frames per second (a divisor of the feed's)."), Meta(gt=0, le=60)] = 5.0
    bitrate_kbps: Annotated[int, _doc("Target bitrate."), Meta(ge=20, le=20000)] = 150


class FeedConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One video feed: where it comes from and what it shows."""

    name: Annotated[FeedName, _doc("Feed name, unique on this node; its id is feed:<node>:<name>.")]
    source: Annotated[
        SourceKind,
        _doc(
            "`sim`: a synthetic aerial camera encoded here once; `rtsp`: pull H.264 from `url`; `rtp`: H.264 "
            "over RTP/UDP described by the SDP file in `url`; `mpegts`: MPEG-TS over UDP at `url` "
            "(udp://host:port); `whip`: a publisher sends it with WHIP (POST /api/feeds/<name>/whip)."
        ),
    ] = "sim"
    url: Annotated[str, _doc("Source address for rtsp/rtp/mpegts (never logged with its password).")] = ""
    title: Annotated[str, _doc("What the page shows for the feed (default: its name).")] = ""
    vehicle_sysid: Annotated[
        Annotated[int, Meta(ge=1, le=255)] | None,
        _doc("MAVLink system id of the drone carrying the camera: the feed follows its position and heading."),
    ] = None
    lat: Annotated[Annotated[float, Meta(ge=-90, le=90)] | None, _doc("Fixed camera: latitude (WGS-84).")] = None
    lon: Annotated[Annotated[float, Meta(ge=-180, le=180)] | None, _doc("Fixed camera: longitude (WGS-84).")] = None
    heading_deg: Annotated[float, _doc("Camera heading relative to the vehicle (or north)."), Meta(ge=0, lt=360)] = 0.0
    fov_deg: Annotated[float, _doc("Horizontal field of view."), Meta(gt=0, le=180)] = 70.0
    range_m: Annotated[float, _doc("How far the camera usefully sees (the map cone's length)."), Meta(gt=0)] = 300.0
    thermal: Annotated[bool, _doc("A thermal camera (the sim renders heat; hotspot analysis applies).")] = False
    width: Annotated[int, _doc("Sim: picture width."), Meta(ge=64, le=3840, multiple_of=2)] = 640
    height: Annotated[int, _doc("Sim: picture height."), Meta(ge=64, le=2160, multiple_of=2)] = 360
    fps: Annotated[float, _doc("Sim: frames per second."), Meta(gt=0, le=60)] = 15.0
    bitrate_kbps: Annotated[int, _doc("Sim and WHIP re-encode: target bitrate."), Meta(ge=50, le=20000)] = 800
    variants: Annotated[
        list[VariantConfig], _doc("Sim feeds: smaller encodes for narrow links (pass-through feeds have none).")
    ] = []
    analysis: Annotated[list[Analysis], _doc("OpenCV analysis to run on this feed (it decodes, so opt in).")] = []
    overlay: Annotated[
        bool,
        _doc(
            "Also serve <name>-overlay: this feed with the drone's telemetry drawn on it (decoded and encoded "
            "once on this kit, for all its viewers)."
        ),
    ] = False
    public_url: Annotated[str, _doc("A URL other tools (ATAK, VLC) can open for this feed, if any.")] = ""


class MediaSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Video: ingest once per feed, relay encoded packets to every WebRTC (WHEP) viewer."""

    enabled: Annotated[bool, _doc("Serve video feeds.")] = True
    feeds: Annotated[list[FeedConfig], _doc("The feeds this node ingests.")] = []
    ice_addresses: Annotated[
        list[str],
        _doc(
            "Addresses WebRTC offers to viewers (ICE host candidates). Empty: the API's bind address, or every "
            "interface when the API binds 0.0.0.0."
        ),
    ] = []
    max_viewers_per_feed: Annotated[int, _doc("WHEP sessions per feed."), Meta(ge=1, le=500)] = 20
    max_viewers: Annotated[int, _doc("WHEP sessions on this node in all."), Meta(ge=1, le=2000)] = 60
    viewer_queue: Annotated[int, _doc("Access units buffered per viewer before it is cut back to a keyframe.")] = 60
    stall_s: Annotated[float, _doc("A feed with no video for this long is shown as stalled."), Meta(gt=0)] = 5.0
    snapshot_interval_s: Annotated[float, _doc("Seconds between snapshots of a feed."), Meta(ge=1)] = 5.0
    snapshot_max_bytes: Annotated[int, _doc("A snapshot is made smaller until it fits."), Meta(ge=2000)] = 20_000
    recordings_dir: Annotated[str, _doc("Where recordings go (default: <data_dir>/recordings).")] = ""
    whip_max_publishers: Annotated[int, _doc("WHIP publishers at once."), Meta(ge=0, le=50)] = 4


def problems(section: MediaSection, path: str = "media") -> list[str]:
    """What msgspec cannot see, each with its key path."""
    found: list[str] = []
    seen: dict[str, int] = {}
    for i, feed in enumerate(section.feeds):
        where = f"{path}.feeds[{i}]"
        if feed.name in seen:
            found.append(f"{where}.name: {feed.name!r} is already feed {seen[feed.name]}")
        seen.setdefault(feed.name, i)
        if feed.source in ("rtsp", "rtp", "mpegts") and not feed.url:
            found.append(f"{where}.url: a {feed.source} feed needs a url")
        elif feed.source == "rtp" and not feed.url.startswith("udp://") and not Path(feed.url).is_file():
            found.append(f"{where}.url: no SDP file {feed.url} (or give udp://HOST:PORT)")
        elif feed.source == "mpegts" and not feed.url.startswith("udp://"):
            found.append(f"{where}.url: an mpegts feed listens on udp://HOST:PORT")
        if (feed.lat is None) != (feed.lon is None):
            found.append(f"{where}.lat / {where}.lon: give both or neither")
        if feed.overlay and len(feed.name) > 24:
            found.append(f"{where}.name: at most 24 characters for a feed with an overlay (<name>-overlay)")
        names = [v.name for v in feed.variants]
        if "main" in names or len(set(names)) != len(names):
            found.append(f"{where}.variants: names must be unique and not 'main'")
        if feed.variants and feed.source != "sim":
            found.append(f"{where}.variants: only a sim feed encodes variants (others are passed through)")
        if feed.vehicle_sysid is not None and feed.lat is not None:
            found.append(f"{where}: a feed follows its vehicle (vehicle_sysid) or stands still (lat/lon), not both")
    return found
