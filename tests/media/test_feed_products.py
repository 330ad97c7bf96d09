"""A node's feeds end to end beyond live video: snapshots over the API, recordings started and stopped
by a pilot and read back, a thermal feed's hotspot as an alert placed on the ground, and an RTP feed
from ffmpeg that stalls and comes back while its viewer stays connected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from kit import LocalNode, kit_config, start_local, stop_local
from mediakit import X264_LIVE, ffmpeg, free_udp_port, process
from whep_client import SIM_FEED, watch

from edge.auth import Role
from edge.scene import Alert, AlertStatus, Feed, Severity
from media.encoder import H264Encoder
from media.keyframes import KeyframeDecoder

THERMAL = {
    "name": "ir",
    "source": "sim",
    "thermal": True,
    "width": 320,
    "height": 180,
    "fps": 10.0,
    "lat": 36.7,
    "lon": 119.16,
    "heading_deg": 90.0,
    "analysis": ["hotspot"],
}


async def _node(tmp_path: Path, *feeds: dict[str, object], **media: object) -> tuple[LocalNode, asyncio.Task[None]]:
    node, task = await start_local(kit_config(tmp_path, media={"feeds": list(feeds), **media}))
    tokens = {role: node.tokens.create(role, f"{role.name.lower()} tester") for role in Role}
    assert node.api_url is not None
    return LocalNode(node, node.api_url, tokens), task


@pytest.fixture
async def products_node(tmp_path: Path) -> AsyncIterator[LocalNode]:
    local, task = await _node(tmp_path, SIM_FEED, THERMAL, snapshot_interval_s=1.0)
    try:
        yield local
    finally:
        await stop_local(local.node, task)


async def _until(check, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.1)):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition never held")


async def test_snapshots_are_small_jpegs_of_the_feed(products_node: LocalNode) -> None:
    scene = products_node.node.scene
    assert scene is not None
    feed = await _until(lambda: (f := scene.get("feed:kit-test:cam1")) and f.snapshot_ts and f)
    assert isinstance(feed, Feed)
    async with products_node.client(Role.VIEWER) as client:
        response = await client.get("/api/feeds/cam1/snapshot.jpg")
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
        assert len(response.content) <= 20_000
        image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[1] * 9 == image.shape[0] * 16, "the feed's aspect ratio"
        assert abs(float(response.headers["x-captured"]) - feed.snapshot_ts) < 10
        assert (await client.get("/api/feeds/nope/snapshot.jpg")).status_code == 404
    async with products_node.client(None) as anonymous:
        assert (await anonymous.get("/api/feeds/cam1/snapshot.jpg")).status_code == 401


async def test_viewers_add_no_decoder(products_node: LocalNode) -> None:
    decoders = KeyframeDecoder.instances
    async with products_node.client(Role.VIEWER) as client:
        viewers = [await watch(client, "cam1") for _ in range(3)]
        for viewer in viewers:
            await viewer.wait_frames(5)
            await viewer.close(client)
    assert KeyframeDecoder.instances == decoders, "snapshots and analysis share the feed's one decoder"


async def test_a_pilot_records_a_feed_and_anyone_downloads_it(products_node: LocalNode) -> None:
    async with products_node.client(Role.VIEWER) as viewer:
        refused = await viewer.post("/api/feeds/cam1/recording", json={"record": True})
        assert refused.status_code == 403
    async with products_node.client(Role.PILOT) as pilot:
        started = await pilot.post("/api/feeds/cam1/recording", json={"record": True})
        assert started.status_code == 200, started.text
        file = started.json()["file"]
        again = await pilot.post("/api/feeds/cam1/recording", json={"record": True})
        assert again.status_code == 409 and "already recording" in again.json()["detail"]
        scene = products_node.node.scene
        assert scene is not None
        await _until(lambda: (f := scene.get("feed:kit-test:cam1")) and f.recording)
        await asyncio.sleep(2.5)
        stopped = await pilot.post("/api/feeds/cam1/recording", json={"record": False})
        assert stopped.status_code == 200 and stopped.json()["file"] == file
        listed = (await pilot.get("/api/recordings")).json()
        assert [r["name"] for r in listed] == [file] and listed[0]["feed"] == "cam1" and not listed[0]["recording"]
        download = await pilot.get(f"/api/recordings/{file}")
        assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
        assert (await pilot.get("/api/recordings/..%2Fjournal.sqlite")).status_code == 404
        audits = (await pilot.get("/api/events?kind=audit&since=0")).json()
        assert {(a["action"], a["result"]) for a in audits} >= {("start-recording", file), ("stop-recording", file)}
    path = Path(products_node.node.config.data_dir) / "recordings" / file
    assert path.read_bytes() == download.content
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and (stream.width, stream.height) == (320, 180)
        frames = sum(1 for _ in container.decode(stream))
    assert 15 <= frames <= 60, "about 2.5 s at 15 fps, remuxed from the relay"


async def test_a_thermal_hotspot_becomes_an_alert_on_the_ground(products_node: LocalNode) -> None:
    scene = products_node.node.scene
    assert scene is not None
    hotspot = "video:kit-test:ir:hotspot"
    record = await _until(lambda: next((a for a in scene.alerts() if a.alert.id.startswith(hotspot)), None))
    alert: Alert = record.alert
    assert alert.severity is Severity.WARNING and alert.entity_id == "feed:kit-test:ir"
    assert alert.title == "Hotspot seen by ir" and record.status is AlertStatus.RAISED
    # the sim's fire is right of and below the centre of a nadir picture whose top is east (heading 90),
    # seen from 30 m: on the ground a few metres south (right) and west (below) of the camera
    assert alert.pos is not None and 36.6995 < alert.pos.lat < 36.7 and 119.1595 < alert.pos.lon < 119.16
    await asyncio.sleep(2.5)
    assert len([a for a in scene.alerts() if a.alert.id.startswith("video:kit-test:ir:")]) == 1, "one per episode"


async def test_an_rtp_feed_that_stalls_comes_back_to_its_viewer(tmp_path: Path) -> None:
    port = free_udp_port()
    rtp = {"name": "downlink", "source": "rtp", "url": f"udp://127.0.0.1:{port}"}
    local, task = await _node(tmp_path, rtp, stall_s=2.0)
    scene = local.node.scene
    assert scene is not None
    state = lambda: (f := scene.get("feed:kit-test:downlink")) and f.state  # noqa: E731
    try:
        async with local.client(Role.VIEWER) as client:
            with process(ffmpeg(*X264_LIVE, "-f", "rtp", f"rtp://127.0.0.1:{port}", seconds=30)):
                await _until(lambda: state() == "live")
                viewer = await watch(client, "downlink")
                await viewer.wait_frames(10)
            # the sender is gone: the feed says so, and the viewer stays connected
            await _until(lambda: state() in ("stalled", "error"))
            feed = scene.get("feed:kit-test:downlink")
            assert isinstance(feed, Feed) and feed.state in ("stalled", "error")
            assert not viewer.ended.is_set()
            before = viewer.frames
            with process(ffmpeg(*X264_LIVE, "-f", "rtp", f"rtp://127.0.0.1:{port}", seconds=30)):
                await _until(lambda: state() == "live", timeout=30)
                await viewer.wait_frames(before + 10, timeout=20)
            await viewer.close(client)
    finally:
        await stop_local(local.node, task)


async def test_a_telemetry_overlay_is_one_more_encode_shared_by_its_viewers(tmp_path: Path) -> None:
    feed = {**SIM_FEED, "overlay": True}
    local, task = await _node(tmp_path, feed)
    scene = local.node.scene
    assert scene is not None
    try:
        overlay = await _until(lambda: (f := scene.get("feed:kit-test:cam1-overlay")) and f.state == "live" and f)
        assert isinstance(overlay, Feed) and overlay.source == "overlay" and overlay.name == "cam1 + telemetry"
        async with local.client(Role.VIEWER) as client:
            encoders = H264Encoder.instances
            plain = await watch(client, "cam1")
            drawn = [await watch(client, "cam1-overlay") for _ in range(3)]
            await plain.wait_frames(10)
            for viewer in drawn:
                await viewer.wait_frames(10)
            assert H264Encoder.instances == encoders, "the overlay's one encoder existed before anyone watched"
            # the same pictures (the stamp strip survives), with the telemetry box drawn on them
            assert len(drawn[0].stamps) >= 5
            assert plain.box_brightness and drawn[0].box_brightness
            assert max(drawn[0].box_brightness) < min(plain.box_brightness) - 20, "a dark box with text lines"
            for viewer in [plain, *drawn]:
                await viewer.close(client)
    finally:
        await stop_local(local.node, task)
