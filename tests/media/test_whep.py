"""WHEP end to end: a node's sim feed watched by independent aiortc viewers over real HTTP and RTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from kit import LocalNode, kit_config, start_local, stop_local
from prometheus_client.parser import text_string_to_metric_families
from whep_client import SIM_FEED, watch

from edge.auth import Role
from edge.scene import Feed
from media.encoder import H264Encoder


async def _feed(local: LocalNode, state: str, viewers: int | None = None, timeout: float = 10.0) -> Feed:
    assert local.node.scene is not None
    for _ in range(int(timeout / 0.1)):
        feed = local.node.scene.get("feed:kit-test:cam1")
        if isinstance(feed, Feed) and feed.state == state and (viewers is None or feed.viewers == viewers):
            return feed
        await asyncio.sleep(0.1)
    raise AssertionError(f"feed never became {state} with {viewers} viewers: {feed}")


async def test_viewer_decodes_frames_stamped_by_the_sim_camera(cam_node: LocalNode) -> None:
    async with cam_node.client(Role.VIEWER) as client:
        viewer = await watch(client, "cam1")
        try:
            await viewer.wait_frames(20)
            frames = [s.frame for s in viewer.stamps]
            assert len(frames) >= 18, "the stamp strip must survive H.264 at the sim's bitrate"
            assert frames == sorted(frames), "frames arrive in capture order"
            assert all(0 <= age < 5000 for age in viewer.ages_ms)
            feed = await _feed(cam_node, "live", viewers=1)
            assert (feed.codec, feed.width, feed.height, feed.source) == ("H264", 320, 180, "sim")
            assert feed.fps and feed.fps > 5
            assert feed.bitrate_kbps is not None and feed.bitrate_kbps > 0
            samples = {
                (s.name, s.labels.get("feed") or s.labels.get("loop")): s.value
                for family in text_string_to_metric_families((await client.get("/metrics")).text)
                for s in family.samples
            }
            assert samples[("fieldkit_webrtc_viewers", None)] == 1
            assert 0 <= samples[("fieldkit_loop_lag_seconds", "webrtc")] < 5  # the viewers' loop is watched too
            assert samples[("fieldkit_feed_keyframes_total", "cam1")] >= 1
            assert samples[("fieldkit_feed_access_units_total", "cam1")] >= 20
        finally:
            await viewer.close(client)
        await _feed(cam_node, "live", viewers=0)


async def test_more_viewers_add_no_encoder(cam_node: LocalNode) -> None:
    async with cam_node.client(Role.VIEWER) as client:
        first = await watch(client, "cam1")
        await first.wait_frames(5)
        encoders = H264Encoder.instances
        others = [await watch(client, "cam1") for _ in range(4)]
        try:
            for viewer in others:
                await viewer.wait_frames(10)
            assert H264Encoder.instances == encoders, "a viewer must not make an encoder"
            media = cam_node.node.media
            assert media is not None
            for viewer in media.viewers.values():
                for sender in viewer.pc.getSenders():
                    encoder = sender._RTCRtpSender__encoder  # type: ignore[attr-defined]
                    assert encoder is None or encoder.codec is None, "aiortc must only packetize, never encode"
            assert media.feeds["cam1"].relay.viewers == 5
        finally:
            for viewer in [first, *others]:
                await viewer.close(client)


async def test_delete_ends_the_session(cam_node: LocalNode) -> None:
    async with cam_node.client(Role.VIEWER) as client:
        viewer = await watch(client, "cam1")
        await viewer.wait_frames(3)
        assert (await client.delete(viewer.location)).status_code == 204
        await asyncio.wait_for(viewer.ended.wait(), 10)
        assert (await client.delete(viewer.location)).status_code == 404
        await viewer.close()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        ("hello", "application/sdp", 400, "not an SDP offer"),
        ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "application/sdp", 400, "video section"),
        ("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n", "application/sdp", 400, "H.264"),
        (
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n",
            "application/sdp",
            400,
            "could not be used",
        ),
        ("{}", "application/json", 415, "application/sdp"),
        ("v=0 m=video " + "x" * 70_000, "application/sdp", 413, "Too Large"),
    ],
)
async def test_bad_offers_are_refused_with_a_reason(
    cam_node: LocalNode, body: str, content_type: str, status: int, reason: str
) -> None:
    async with cam_node.client(Role.VIEWER) as client:
        response = await client.post("/api/feeds/cam1/whep", content=body, headers={"Content-Type": content_type})
        assert response.status_code == status, response.text
        assert reason in response.json()["detail"]
        # the feed and its other viewers carry on
        viewer = await watch(client, "cam1")
        await viewer.wait_frames(3)
        await viewer.close(client)


async def test_whep_needs_a_token_and_a_known_feed(cam_node: LocalNode) -> None:
    async with cam_node.client(None) as anonymous:
        response = await anonymous.post(
            "/api/feeds/cam1/whep", content="v=0", headers={"Content-Type": "application/sdp"}
        )
        assert response.status_code == 401
    async with cam_node.client(Role.VIEWER) as client:
        response = await client.post("/api/feeds/nope/whep", content="v=0", headers={"Content-Type": "application/sdp"})
        assert response.status_code == 404


async def test_a_narrow_link_variant_is_encoded_once_for_all_its_viewers(tmp_path: Path) -> None:
    feed = {**SIM_FEED, "variants": [{"name": "low", "width": 160, "height": 90, "fps": 5.0, "bitrate_kbps": 100}]}
    node, task = await start_local(kit_config(tmp_path, media={"feeds": [feed]}))
    local = LocalNode(node, node.api_url or "", {Role.VIEWER: node.tokens.create(Role.VIEWER, "viewer")})
    try:
        async with local.client(Role.VIEWER) as client:
            encoders = H264Encoder.instances
            low = [await watch(client, "cam1", profile="low") for _ in range(3)]
            main = await watch(client, "cam1")
            for viewer in low:
                await viewer.wait_frames(4)
            await main.wait_frames(4)
            assert H264Encoder.instances == encoders, "main and low were encoded before anyone watched"
            assert all(v.sizes == {(160, 90)} for v in low) and main.sizes == {(320, 180)}
            response = await client.post(
                "/api/feeds/cam1/whep?profile=huge", content="v=0", headers={"Content-Type": "application/sdp"}
            )
            assert response.status_code == 404 and "has no profile 'huge'" in response.json()["detail"]
            feed_entity = await _feed(local, "live", viewers=4)
            assert feed_entity.profiles == ["main", "low"]
            for viewer in [*low, main]:
                await viewer.close(client)
    finally:
        await stop_local(node, task)
