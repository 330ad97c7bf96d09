"""Video on the command-post page in headless Debian chromium: a click on a drone plays its camera
over WHEP from a real `fieldkit run` node (sim feed, H.264 relayed, never re-encoded), the camera's
cone is on the map, and closing the tile ends the WHEP session on the node.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser.conftest import VIEWPORT
from kit import NodeProcess, kit_config, spawn_node, stop_process, write_config
from playwright.sync_api import Browser, expect

from edge.auth import Role

pytestmark = pytest.mark.browser

WAIT_MS = 15_000
FEED = {
    "name": "uav7",
    "title": "UAV-7 camera",
    "source": "sim",
    "width": 640,
    "height": 360,
    "fps": 15.0,
    "vehicle_sysid": 7,
    "heading_deg": 0.0,
    "fov_deg": 60.0,
    "range_m": 200.0,
    "variants": [{"name": "low", "width": 320, "height": 180, "fps": 5.0, "bitrate_kbps": 150}],
}
DRONE = "vehicle:kit-test:7"


@pytest.fixture
def video_node(tmp_path: Path) -> Iterator[NodeProcess]:
    config_path = write_config(tmp_path, kit_config(tmp_path, media={"feeds": [FEED]}))
    node = spawn_node(config_path)
    try:
        yield node
    finally:
        stop_process(node.proc)


def put_drone(node: NodeProcess) -> None:
    body = {
        "kind": "vehicle",
        "id": DRONE,
        "origin": "kit-test",
        "ts": time.time(),
        "name": "UAV-7",
        "pos": {"lat": 36.702, "lon": 119.16, "alt_msl_m": 55.0, "alt_rel_m": 30.0},
        "heading_deg": 90.0,
        "armed": True,
        "mode": "GUIDED",
        "sysid": 7,
    }
    with node.client(Role.ADMIN) as admin:
        response = admin.post("/api/entities", json=body)
        assert response.status_code == 200, response.text


def viewers(node: NodeProcess) -> int:
    with node.client(Role.VIEWER) as client:
        (feed,) = client.get("/api/feeds").json()
        return int(feed["viewers"])


def test_clicking_a_drone_plays_its_camera(webrtc_browser: Browser, video_node: NodeProcess) -> None:
    put_drone(video_node)
    context = webrtc_browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(video_node.url + f"#token={video_node.tokens[Role.VIEWER]}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")

    # the camera's cone follows the drone (heading 90 + camera 0) and is on the map
    expect(page.locator('path[data-feed-id="feed:kit-test:uav7"]')).to_have_count(1)

    page.locator(f'[data-entity-id="{DRONE}"]').first.click()
    tile = page.locator('#video-dock .tile[data-feed-id="feed:kit-test:uav7"]')
    expect(tile).to_be_visible()
    expect(tile.locator(".title")).to_have_text("UAV-7 camera")

    # getStats() framesDecoded > 0, and the video element's clock advances
    page.wait_for_function(
        "() => Number(document.querySelector('#video-dock .tile')?.dataset.framesDecoded || 0) > 10",
        timeout=WAIT_MS,
    )
    video = tile.locator("video")
    first = video.evaluate("v => v.currentTime")
    page.wait_for_timeout(1000)
    later = video.evaluate("v => v.currentTime")
    assert later > first, "the video must be playing"
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [640, 360]
    deadline = time.monotonic() + 10
    while viewers(video_node) != 1:
        assert time.monotonic() < deadline, "the node must count the page as a viewer"
        time.sleep(0.2)

    # a narrow-link variant: the kit's second encode, picked from the tile
    tile.get_by_label("picture quality").select_option("low")
    page.wait_for_function(
        "() => document.querySelector('#video-dock .tile video')?.videoWidth === 320", timeout=WAIT_MS
    )
    deadline = time.monotonic() + 10
    while viewers(video_node) != 1:
        assert time.monotonic() < deadline, "switching quality replaces the session, it does not add one"
        time.sleep(0.2)

    # closing the tile ends the session on the node
    tile.get_by_role("button", name="close video").click()
    expect(tile).to_have_count(0)
    deadline = time.monotonic() + 10
    while viewers(video_node) != 0:
        assert time.monotonic() < deadline, "closing the tile must end the WHEP session"
        time.sleep(0.2)
    assert errors == []
    context.close()
