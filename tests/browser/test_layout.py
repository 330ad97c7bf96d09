"""The main views at 1366x768 (a field laptop): everything the operator needs is on screen without
scrolling the page, and each view is saved as a screenshot under tests/artifacts/."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from browser.cmdpost import SCREEN, WAIT_MS, put_unit, screenshot, wait_live
from kit import NodeProcess
from playwright.sync_api import Page, expect

from edge.auth import Role

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = pytest.mark.browser

LAT, LON = 36.70, 119.16
TEAMS = [("指挥组", "9001 指挥 Command"), ("一中队", "9002 一中队"), ("二中队", "9003 二中队")]


def on_screen(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0 and box["y"] >= 0, selector
    assert box["x"] + box["width"] <= SCREEN["width"] + 0.5, selector
    assert box["y"] + box["height"] <= SCREEN["height"] + 0.5, selector


def fits(page: Page) -> None:
    size = page.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.scrollHeight]")
    assert size == [SCREEN["width"], SCREEN["height"]]  # the page itself never scrolls
    for selector in ("#timeline-live", "#tab-log", "#lang", "#sign-out", '#draw-bar [data-shape="circle"]', "#conn"):
        on_screen(page, selector)


def test_main_views_fit_a_1366x768_laptop(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    page.set_viewport_size(SCREEN)
    wait_live(page)
    admin, pilot = node_process.client(Role.ADMIN), node_process.client(Role.PILOT)
    now = time.time()
    for i in range(12):
        team, talkgroup = TEAMS[i % 3]
        lat, lon = LAT + 0.009 * (i // 4 - 1) + 0.002 * (i % 2), LON + 0.013 * (i % 4 - 1.5)
        put_unit(
            admin,
            f"unit:pdt:{1001 + i}",
            now,
            lat,
            lon,
            name=f"{team}-{i + 1:02d}",
            team=team,
            talkgroup=talkgroup,
            battery_pct=90.0 - 5 * i,
            talking=i == 4,
        )
    zone = [
        [LAT + 0.0025, LON - 0.01],
        [LAT + 0.015, LON - 0.005],
        [LAT + 0.01, LON + 0.01],
        [LAT - 0.0025, LON + 0.005],
    ]
    markers = [
        {
            "name": "化工厂 危险区",
            "shape": "polygon",
            "points": zone,
            "category": "hazard_zone",
            "color": "#e8590c",
            "fence_entry": True,
            "fence_for": "both",
        },
        {
            "name": "集结区 staging",
            "shape": "circle",
            "points": [[LAT - 0.015, LON - 0.015]],
            "radius_m": 400,
            "category": "staging_area",
            "color": "#2f9e44",
        },
        {
            "name": "消防栓 hydrant",
            "shape": "point",
            "points": [[LAT - 0.004, LON + 0.021]],
            "category": "water_source",
            "color": "#1c7ed6",
        },
        {
            "name": "警戒线 cordon",
            "shape": "line",
            "points": [[LAT - 0.02, LON - 0.025], [LAT - 0.02, LON + 0.025]],
            "category": "cordon",
            "color": "#c2255c",
        },
    ]
    for body in markers:
        assert pilot.post("/api/markers", json=body).status_code == 201
    pilot.post("/api/alerts", json={"title": "一中队-04 紧急按钮 emergency button", "severity": "emergency"})
    pilot.post("/api/messages", json={"text": "二中队已到达集结区 second team at staging", "to": "all"})
    expect(page.locator("#count-unit")).to_have_text("12", timeout=WAIT_MS)
    expect(page.locator("#count-marker")).to_have_text("4", timeout=WAIT_MS)
    page.locator("#tab-roster").click()
    page.locator('[data-unit-id="unit:pdt:1005"]').click()
    page.locator("#tab-messages").click()
    fits(page)
    screenshot(page, "main-view")

    page.locator("#tab-roster").click()
    fits(page)
    screenshot(page, "roster")
    page.locator("#lang").select_option("zh")
    page.locator("#tab-log").click()
    expect(page.locator("#log li").first).to_be_visible(timeout=WAIT_MS)
    fits(page)
    screenshot(page, "log-zh")
    session.assert_no_errors()
