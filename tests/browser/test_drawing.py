"""Drawing in headless chromium against a real `fieldkit run` node: a pilot's polygon becomes a marker that
a second browser sees; it is edited and deleted; a viewer gets no drawing tools."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from browser.cmdpost import WAIT_MS, screenshot, until, wait_live
from kit import NodeProcess
from playwright.sync_api import Page, expect

from edge.auth import Role

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = pytest.mark.browser

SHAPE = 'path[data-entity-id^="marker:"]'


def click_map(page: Page, dx: float, dy: float) -> None:
    """Click the map ``dx``, ``dy`` pixels from its centre."""
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy)


def test_polygon_drawn_in_one_browser_is_a_marker_another_sees(open_page: OpenPage, node_process: NodeProcess) -> None:
    drawer, watcher = open_page(Role.PILOT), open_page(Role.VIEWER)
    a, b = drawer.page, watcher.page
    wait_live(a)
    wait_live(b)
    expect(a.locator("#draw-bar")).to_be_visible()
    expect(b.locator("#draw-bar")).to_be_hidden()  # a viewer may look, not draw

    a.locator('#draw-bar [data-shape="polygon"]').click()
    form = a.locator("#draw-form")
    expect(form).to_be_visible()
    expect(form.get_by_role("button", name="Save")).to_be_disabled()
    for dx, dy in ((-120, -80), (120, -80), (0, 100)):
        click_map(a, dx, dy)
    a.locator("#draw-category").select_option("hazard_zone")
    a.locator("#draw-label").fill("危险区 Gas leak")
    screenshot(a, "drawing")
    form.get_by_role("button", name="Save").click()
    expect(form).to_be_hidden(timeout=WAIT_MS)

    expect(b.locator(SHAPE)).to_have_count(1, timeout=WAIT_MS)
    expect(a.locator(SHAPE)).to_have_count(1, timeout=WAIT_MS)
    (marker,) = node_process.client(Role.VIEWER).get("/api/markers").json()
    assert (marker["shape"], len(marker["points"]), marker["name"], marker["category"], marker["color"]) == (
        "polygon",
        3,
        "危险区 Gas leak",
        "hazard_zone",
        "#e8590c",
    )
    lats = sorted(p[0] for p in marker["points"])
    assert lats[0] < lats[1] == pytest.approx(lats[2])  # one corner south, two north: as clicked

    b.locator(SHAPE).click()
    expect(b.locator("#detail-fields")).to_contain_text("危险区 Gas leak")
    expect(b.locator("#marker-controls")).to_be_hidden()

    a.locator(SHAPE).click()
    a.locator("#marker-edit").click()
    expect(a.locator("#draw-label")).to_have_value("危险区 Gas leak")
    a.locator("#draw-label").fill("警戒区 Cordon")
    a.locator("#draw-category").select_option("cordon")
    form.get_by_role("button", name="Save").click()
    expect(b.locator("#detail-fields")).to_contain_text("警戒区 Cordon", timeout=WAIT_MS)
    (edited,) = node_process.client(Role.VIEWER).get("/api/markers").json()
    assert (edited["id"], edited["category"], edited["points"]) == (marker["id"], "cordon", marker["points"])

    a.locator("#marker-edit").click()  # reshape: a square instead of the triangle
    a.locator("#draw-restart").click()
    expect(form.get_by_role("button", name="Save")).to_be_disabled()
    for dx, dy in ((-60, -60), (60, -60), (60, 60), (-60, 60)):
        click_map(a, dx, dy)
    form.get_by_role("button", name="Save").click()
    until(lambda: len(node_process.client(Role.VIEWER).get("/api/markers").json()[0]["points"]) == 4, "the new shape")
    expect(b.locator("#detail-fields")).to_contain_text("警戒区 Cordon")

    a.locator("#marker-delete").click()
    expect(b.locator(SHAPE)).to_have_count(0, timeout=WAIT_MS)
    until(lambda: node_process.client(Role.VIEWER).get("/api/markers").json() == [], "the marker to be erased")
    actions = [e["action"] for e in node_process.client(Role.VIEWER).get("/api/events?kind=audit&since=0").json()]
    assert actions == ["draw", "edit-marker", "edit-marker", "erase"]
    drawer.assert_no_errors()
    watcher.assert_no_errors()


def test_circle_geofence_is_drawn_with_its_rules(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(page)
    page.locator('#draw-bar [data-shape="circle"]').click()
    expect(page.locator("#draw-form .fence")).to_be_visible()
    click_map(page, 0, 0)
    click_map(page, 100, 0)
    page.locator("#fence-entry").check()
    page.locator("#fence-for").select_option("units")
    page.locator("#draw-label").fill("禁入区 keep out")
    page.locator("#draw-form").get_by_role("button", name="Save").click()
    expect(page.locator(SHAPE)).to_have_count(1, timeout=WAIT_MS)
    (marker,) = node_process.client(Role.VIEWER).get("/api/markers").json()
    assert (marker["shape"], len(marker["points"]), marker["fence_entry"], marker["fence_exit"]) == (
        "circle",
        1,
        True,
        False,
    )
    assert marker["fence_for"] == "units" and 100 < marker["radius_m"] < 5000
    page.locator(SHAPE).click()
    expect(page.locator("#detail-fields")).to_contain_text("entry (units)")
    session.assert_no_errors()
