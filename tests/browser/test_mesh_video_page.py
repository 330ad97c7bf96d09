"""Another kit's camera on the command post's page, in headless chromium: two `fieldkit run` processes
(a post and an edge with a sim camera) linked by Zenoh on loopback. Over a wide link the post's tile
plays the edge's feed live (relayed by the post over the mesh); over a narrowband link it shows the
edge's newest snapshot, carried by the mesh, and says why.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser.conftest import VIEWPORT
from browser.test_video_page import WAIT_MS
from kit import NodeProcess, kit_config, spawn_node, stop_process, write_config
from playwright.sync_api import Browser, Locator, Page, expect

from edge.auth import Role

pytestmark = pytest.mark.browser

FEED = {"name": "cam1", "title": "Edge camera", "source": "sim", "width": 320, "height": 180, "fps": 15.0,
        "lat": 36.701, "lon": 119.161, "heading_deg": 45.0, "fov_deg": 60.0, "range_m": 150.0}  # fmt: skip
FEED_ID = "feed:edge1:cam1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def endpoint(port: int) -> str:
    return f"tcp/127.0.0.1:{port}"


def spawn(tmp: Path, name: str, role: str, mesh: dict[str, object], media: dict[str, object]) -> NodeProcess:
    (tmp / name).mkdir()
    mesh = {"lease_s": 1.5, "retry_min_s": 0.1, "retry_max_s": 0.5, **mesh}
    config = kit_config(tmp / name, node={"id": name, "role": role}, mesh=mesh, media=media)
    return spawn_node(write_config(tmp / name, config))


@pytest.fixture
def pair(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    """The post and edge1, linked; ``request.param``: the link class each gives the other."""
    link = request.param
    port = free_port()
    started: list[NodeProcess] = []
    hub_mesh = {"listen": [endpoint(port)], "peer_link_classes": {"edge1": link}}
    edge_mesh = {"connect": [endpoint(port)], "peer_link_classes": {"hub": link}}
    try:
        started.append(spawn(tmp_path, "hub", "command-post", hub_mesh, {}))
        started.append(spawn(tmp_path, "edge1", "edge", edge_mesh, {"feeds": [FEED]}))
        yield started[0], started[1]
    finally:
        for node in started:
            stop_process(node.proc)


def open_edge_camera(browser: Browser, hub: NodeProcess) -> tuple[Page, Locator, list[str]]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(WAIT_MS * 2)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(hub.url + f"#token={hub.tokens[Role.VIEWER]}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    cone = page.locator(f'path[data-feed-id="{FEED_ID}"]')  # the edge's feed, in the post's picture
    expect(cone).to_have_count(1, timeout=WAIT_MS * 2)
    cone.click()
    tile = page.locator(f'#video-dock .tile[data-feed-id="{FEED_ID}"]')
    expect(tile).to_be_visible()
    return page, tile, errors


@pytest.mark.parametrize("pair", ["lan"], indirect=True)
def test_the_post_plays_an_edge_s_camera_live(webrtc_browser: Browser, pair: tuple[NodeProcess, NodeProcess]) -> None:
    hub, _ = pair
    page, tile, errors = open_edge_camera(webrtc_browser, hub)
    page.wait_for_function(
        "() => Number(document.querySelector('#video-dock .tile')?.dataset.framesDecoded || 0) > 10",
        timeout=WAIT_MS * 2,
    )
    video = tile.locator("video")
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [320, 180]
    expect(tile.locator(".still")).to_be_hidden()
    assert errors == []


@pytest.mark.parametrize("pair", ["narrowband"], indirect=True)
def test_over_a_narrowband_link_the_post_shows_the_edge_s_snapshot(
    webrtc_browser: Browser, pair: tuple[NodeProcess, NodeProcess]
) -> None:
    hub, _ = pair
    page, tile, errors = open_edge_camera(webrtc_browser, hub)
    still = tile.locator("img.still")
    expect(still).to_be_visible(timeout=WAIT_MS * 2)  # the page asks again every 5 s until one came
    page.wait_for_function(
        "() => document.querySelector('#video-dock .tile img.still')?.naturalWidth > 0", timeout=WAIT_MS * 2
    )
    expect(tile.locator(".note")).to_contain_text("too narrow for live video")
    expect(tile.locator("video")).to_be_hidden()
    assert errors == []
