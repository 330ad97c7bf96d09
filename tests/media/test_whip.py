"""WHIP end to end: an aiortc publisher's camera becomes a feed that an independent viewer watches;
the feed is decoded once and encoded once whatever the number of viewers, and a publisher that goes
away leaves the feed waiting (viewers stay connected) until the next one publishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kit import LocalNode, kit_config, start_local, stop_local
from whep_client import StampedCamera, publish, watch

from edge.auth import Role
from edge.scene import Feed
from media.encoder import H264Encoder

FEEDS = {"feeds": [{"name": "phone", "source": "whip", "title": "Phone camera"}]}


@pytest.fixture
async def whip_node(tmp_path: Path) -> AsyncIterator[LocalNode]:
    node, task = await start_local(kit_config(tmp_path, media=FEEDS))
    tokens = {role: node.tokens.create(role, f"{role.name.lower()} tester") for role in Role}
    assert node.api_url is not None
    try:
        yield LocalNode(node, node.api_url, tokens)
    finally:
        await stop_local(node, task)


async def _state(local: LocalNode, state: str) -> Feed:
    assert local.node.scene is not None
    feed = None
    for _ in range(150):
        feed = local.node.scene.get("feed:kit-test:phone")
        if isinstance(feed, Feed) and feed.state == state:
            return feed
        await asyncio.sleep(0.1)
    raise AssertionError(f"feed never became {state}: {feed}")


async def test_a_published_camera_is_watched_by_others(whip_node: LocalNode) -> None:
    await _state(whip_node, "waiting")
    async with whip_node.client(Role.PILOT) as pilot, whip_node.client(Role.VIEWER) as client:
        encoders = H264Encoder.instances
        publisher = await publish(pilot, "phone", StampedCamera(320, 240))
        try:
            first = await watch(client, "phone")
            second = await watch(client, "phone")
            await first.wait_frames(15)
            await second.wait_frames(15)
            assert H264Encoder.instances == encoders + 1, "one encoder for the feed, none per viewer"
            assert len(first.stamps) >= 10, "the publisher's picture arrives intact"
            feed = await _state(whip_node, "live")
            assert (feed.source, feed.width, feed.height, feed.viewers) == ("whip", 320, 240, 2)

            # the publisher goes away: the feed waits, its viewers stay connected
            await publisher.pc.close()
            feed = await _state(whip_node, "waiting")
            assert feed.error == "the WHIP publisher went away"
            assert not first.ended.is_set()

            # the next publisher's video reaches the viewers already there
            publisher = await publish(pilot, "phone", StampedCamera(320, 240))
            before = first.frames
            await first.wait_frames(before + 10)
            await _state(whip_node, "live")
        finally:
            await publisher.pc.close()
            for viewer in (first, second):
                await viewer.close(client)


async def test_publishing_needs_a_pilot_and_a_whip_feed(whip_node: LocalNode) -> None:
    async with whip_node.client(Role.VIEWER) as viewer:
        response = await viewer.post(
            "/api/feeds/phone/whip", content="v=0", headers={"Content-Type": "application/sdp"}
        )
        assert response.status_code == 403
    async with whip_node.client(Role.PILOT) as pilot:
        response = await pilot.post("/api/feeds/nope/whip", content="v=0", headers={"Content-Type": "application/sdp"})
        assert response.status_code == 404
        response = await pilot.post(
            "/api/feeds/phone/whip", content="hello", headers={"Content-Type": "application/sdp"}
        )
        assert response.status_code == 400 and "not an SDP offer" in response.json()["detail"]
        # one publisher at a time
        publisher = await publish(pilot, "phone", StampedCamera())
        try:
            response = await pilot.post(
                "/api/feeds/phone/whip",
                content=publisher.pc.localDescription.sdp,
                headers={"Content-Type": "application/sdp"},
            )
            assert response.status_code == 400 and "already has a publisher" in response.json()["detail"]
            assert (await pilot.delete(publisher.location)).status_code == 204
            await _state(whip_node, "waiting")
        finally:
            await publisher.pc.close()
