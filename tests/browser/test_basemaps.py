"""Basemaps in headless chromium against a real `fieldkit run` node: a PMTiles archive served by the node
and drawn, an XYZ URL template loaded from a loopback tile server, and a GCJ-02 basemap under which units
are drawn at their GCJ-02 pixel and a polygon drawn on it is stored in WGS-84."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser.cmdpost import WAIT_MS, put_unit, until, wait_live
from browser.tiles import TileServer, global_pixel, pixel_to_latlon, tile_server, write_pmtiles
from kit import NodeProcess, kit_config, spawn_node, stop_process, write_config
from playwright.sync_api import Page, expect

from edge.auth import Role
from edge.gcj02 import to_gcj02, to_wgs84

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = pytest.mark.browser

HOME = (36.70, 119.16)  # the page's default view (Weifang)
LOADED = "(img) => img.complete && img.naturalWidth > 0"


@pytest.fixture
def xyz() -> Iterator[TileServer]:
    with tile_server() as server:
        yield server


@pytest.fixture
def node_process(tmp_path: Path, xyz: TileServer) -> Iterator[NodeProcess]:
    archive = tmp_path / "weifang.pmtiles"
    write_pmtiles(archive, *HOME, zooms=range(13, 17))
    basemaps = [
        {"name": "Weifang offline", "source": str(archive)},
        {"name": "OSM online", "source": xyz.url + "/osm/{z}/{x}/{y}.png", "attribution": "loopback"},
        {"name": "AMap", "source": xyz.url + "/amap/{z}/{x}/{y}.png", "crs": "gcj02", "max_zoom": 19},
    ]
    node = spawn_node(write_config(tmp_path, kit_config(tmp_path, api={"basemaps": basemaps})))
    try:
        yield node
    finally:
        stop_process(node.proc)


def centre_tile(zoom: int, lat: float, lon: float) -> tuple[int, int]:
    px, py = global_pixel(lat, lon, zoom)
    return int(px // 256), int(py // 256)


def choose_basemap(page: Page, name: str) -> None:
    page.locator(".leaflet-control-layers").hover()
    page.get_by_role("radio", name=name).check()
    page.mouse.move(5, 5)


def loaded_tiles(page: Page, src_part: str) -> list[dict[str, float | str]]:
    """Tiles whose image decoded, with their place on screen."""
    return page.evaluate(
        """(part) => [...document.querySelectorAll('img.leaflet-tile')]
             .filter((img) => img.src.includes(part) && img.complete && img.naturalWidth > 0)
             .map((img) => { const r = img.getBoundingClientRect();
                             return { src: img.src, x: r.x, y: r.y, w: r.width }; })""",
        src_part,
    )


def gcj02_at_zoom_18(page: Page) -> tuple[float, float]:
    """Choose the GCJ-02 basemap, zoom to 18 (a pixel is about half a metre), and return where on the
    screen the world's pixel (0, 0) lies, read from a loaded tile's numbers: independent of the page's maths."""
    choose_basemap(page, "AMap")
    for _ in range(3):  # the page fits one entity at zoom 15
        page.locator(".leaflet-control-zoom-in").click()
        page.wait_for_timeout(400)
    until(lambda: len(loaded_tiles(page, "/amap/18/")) >= 4, "GCJ-02 tiles at zoom 18")
    page.wait_for_timeout(300)
    tile = loaded_tiles(page, "/amap/18/")[0]
    *_, x_part, y_part = str(tile["src"]).split("/")
    tx, ty = int(x_part), int(y_part.removesuffix(".png"))
    return float(tile["x"]) - tx * 256, float(tile["y"]) - ty * 256


def metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    north = (a[0] - b[0]) * 111_320
    east = (a[1] - b[1]) * 111_320 * math.cos(math.radians(a[0]))
    return math.hypot(north, east)


def test_pmtiles_basemap_is_drawn_then_the_xyz_template_is_loaded(
    open_page: OpenPage, node_process: NodeProcess, xyz: TileServer
) -> None:
    session = open_page(Role.VIEWER)
    page = session.page
    statuses: dict[str, int] = {}
    page.on("response", lambda r: statuses.__setitem__(r.url, r.status) if "/tiles/" in r.url else None)
    page.reload()  # the token stays in this tab's sessionStorage: now every tile response is seen
    wait_live(page)

    cx, cy = centre_tile(14, *HOME)
    centre = f"{node_process.url}tiles/0/14/{cx}/{cy}"
    until(lambda: statuses.get(centre) == 200, "the centre tile from the PMTiles archive")
    until(lambda: len(loaded_tiles(page, "/tiles/0/14/")) >= 6, "PMTiles tiles drawn")
    assert set(statuses.values()) == {200}
    assert xyz.paths == []  # the online basemap is not touched until chosen

    choose_basemap(page, "OSM online")
    until(lambda: f"/osm/14/{cx}/{cy}.png" in xyz.paths, "the centre tile asked of the XYZ server")
    until(lambda: len(loaded_tiles(page, xyz.url + "/osm/14/")) >= 6, "XYZ tiles drawn")
    expect(page.locator("img.leaflet-tile[src*='/tiles/0/']")).to_have_count(0, timeout=WAIT_MS)
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("loopback")
    session.assert_no_errors()


def test_gcj02_basemap_shifts_what_is_drawn_and_clicks_come_back_wgs84(
    open_page: OpenPage, node_process: NodeProcess, xyz: TileServer
) -> None:
    put_unit(node_process.client(Role.ADMIN), "unit:pdt:7", time.time(), *HOME, name="7")
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(page)

    # the page's gcj02.js agrees with edge/gcj02.py (which test_gcj02.py holds to published points)
    rng = random.Random(5)
    points = [(rng.uniform(20, 50), rng.uniform(80, 130)) for _ in range(200)]
    twins = page.evaluate(
        """async (pts) => { const m = await import('/static/gcj02.js');
             return pts.map(([a, b]) => [...m.toGcj02(a, b), ...m.toWgs84(a, b)]); }""",
        points,
    )
    for (lat, lon), got in zip(points, twins, strict=True):
        assert got == pytest.approx([*to_gcj02(lat, lon), *to_wgs84(lat, lon)], abs=1e-9)

    origin = gcj02_at_zoom_18(page)

    box = page.locator('[data-entity-id="unit:pdt:7"]').bounding_box()
    assert box is not None
    drawn = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    gx, gy = global_pixel(*to_gcj02(*HOME), 18)
    assert math.dist(drawn, (origin[0] + gx, origin[1] + gy)) < 1.5
    wx, wy = global_pixel(*HOME, 18)
    assert math.dist(drawn, (origin[0] + wx, origin[1] + wy)) > 500  # unshifted it would be ~1000 px away

    page.locator('#draw-bar [data-shape="polygon"]').click()
    clicks = [(round(drawn[0] + dx), round(drawn[1] + dy)) for dx, dy in ((-150, -90), (160, -70), (10, 120))]
    for x, y in clicks:
        page.mouse.click(x, y)
    page.locator("#draw-label").fill("GCJ test zone")
    page.locator("#draw-form").get_by_role("button", name="Save").click()
    expect(page.locator("#draw-form")).to_be_hidden(timeout=WAIT_MS)
    (marker,) = node_process.client(Role.VIEWER).get("/api/markers").json()
    for (x, y), (lat, lon) in zip(clicks, marker["points"], strict=True):
        want = to_wgs84(*pixel_to_latlon(x - origin[0], y - origin[1], 18))
        assert metres_apart((lat, lon), want) < 0.5, (x, y, lat, lon, want)
    session.assert_no_errors()


def test_a_go_to_picked_on_a_gcj02_basemap_is_sent_in_wgs84(open_page: OpenPage, node_process: NodeProcess) -> None:
    drone = {"kind": "vehicle", "id": "vehicle:kit-test:7", "origin": "kit-test", "ts": time.time(), "name": "UAV-7",
             "mode": "GUIDED", "armed": True, "pos": {"lat": HOME[0], "lon": HOME[1], "alt_rel_m": 30.0}, "sysid": 7,
             "home": {"lat": HOME[0], "lon": HOME[1]}}
    assert node_process.client(Role.ADMIN).post("/api/entities", json=drone).status_code == 200
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(page)
    origin = gcj02_at_zoom_18(page)
    page.locator('[data-entity-id="vehicle:kit-test:7"]').click()
    page.locator('#drone-controls [data-command="goto"]').first.click()
    box = page.locator("#map").bounding_box()
    assert box is not None
    x, y = round(box["x"] + box["width"] / 2 + 140), round(box["y"] + box["height"] / 2 - 110)
    page.mouse.click(x, y)
    sent: list[dict[str, object]] = []
    page.route("**/commands", lambda route: (sent.append(route.request.post_data_json), route.continue_()))
    page.get_by_role("button", name="Confirm go to").click()
    until(lambda: len(sent) == 1, "the go-to command sent")
    body = sent[0]
    assert body["command"] == "goto"
    want = to_wgs84(*pixel_to_latlon(x - origin[0], y - origin[1], 18))
    assert metres_apart((float(str(body["lat"])), float(str(body["lon"]))), want) < 0.5, (body, want)
    session.assert_no_errors("status of 404")
