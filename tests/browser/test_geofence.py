"""Geofences in headless chromium against a real `fieldkit run` node: a unit crossing into a keep-out zone
raises an alert on the node that cannot be missed on the page and is acknowledged with the keyboard."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import pytest
from browser.cmdpost import WAIT_MS, put_unit, screenshot, until, wait_live
from kit import NodeProcess
from playwright.sync_api import expect

from edge.auth import Role

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = pytest.mark.browser

UNIT = "unit:pdt:5001"
LAT, LON = 36.70, 119.16
ZONE = [[LAT - 0.002, LON - 0.002], [LAT - 0.002, LON + 0.002], [LAT + 0.002, LON + 0.002], [LAT + 0.002, LON - 0.002]]


def test_unit_entering_a_keep_out_zone_raises_an_alert_acknowledged_by_keyboard(
    open_page: OpenPage, node_process: NodeProcess
) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(page)
    admin, pilot = node_process.client(Role.ADMIN), node_process.client(Role.PILOT)
    zone = {
        "name": "化工厂 chemical plant",
        "shape": "polygon",
        "points": ZONE,
        "category": "hazard_zone",
        "fence_entry": True,
        "fence_for": "units",
    }
    assert pilot.post("/api/markers", json=zone).status_code == 201
    now = time.time()
    put_unit(admin, UNIT, now - 2, LAT + 0.01, LON, name="二中队-03")
    put_unit(admin, UNIT, now - 1, LAT + 0.005, LON, name="二中队-03")  # still outside: no alert
    time.sleep(0.5)
    assert pilot.get("/api/alerts").json() == []
    banner = page.locator("#alarm-banner")
    expect(banner).to_be_hidden()

    put_unit(admin, UNIT, now, LAT + 0.001, LON, name="二中队-03")  # inside
    until(lambda: len(pilot.get("/api/alerts").json()) == 1, "the breach alert")
    (record,) = pilot.get("/api/alerts").json()
    alert = record["alert"]
    assert (alert["entity_id"], alert["ts"], alert["severity"]) == (UNIT, pytest.approx(now), "emergency")
    assert alert["title"] == "二中队-03 entered 化工厂 chemical plant"

    expect(banner).to_be_visible(timeout=WAIT_MS)
    expect(banner).to_contain_text("二中队-03 entered 化工厂 chemical plant")
    expect(banner).to_contain_text("1 unacknowledged")
    expect(page.locator(f'[data-alert-id="{alert["id"]}"]')).to_have_class(re.compile(r"\bst-raised\b"))
    assert page.title().startswith("(1) ⚠")
    screenshot(page, "geofence-alarm")

    page.locator("#map").click(position={"x": 5, "y": 300})  # a gesture: browsers start audio only after one
    expect(banner).to_have_attribute("data-sound", "running", timeout=WAIT_MS)
    expect(banner).to_have_attribute("data-beeps", re.compile(r"[1-9]"), timeout=WAIT_MS)

    page.locator("#message-text").press("a")  # typing a message is not a shortcut
    expect(page.locator("#message-text")).to_have_value("a")
    page.wait_for_timeout(500)
    assert pilot.get("/api/alerts").json()[0]["status"] == "raised"
    page.locator("#message-text").fill("")
    page.locator("#map").click(position={"x": 5, "y": 300})
    page.keyboard.press("c")  # centre on it: the unit is selected
    expect(page.locator("#detail-fields")).to_contain_text(UNIT)
    page.keyboard.press("a")
    expect(banner).to_be_hidden(timeout=WAIT_MS)
    until(lambda: pilot.get("/api/alerts").json()[0]["status"] == "acknowledged", "the acknowledgement")
    assert pilot.get("/api/alerts").json()[0]["acked_by"] == "pilot tester"
    assert not page.title().startswith("(")
    beeps = banner.get_attribute("data-beeps")
    page.wait_for_timeout(3000)  # longer than the beep interval: silent now
    assert banner.get_attribute("data-beeps") == beeps

    put_unit(admin, UNIT, now + 1, LAT + 0.01, LON, name="二中队-03")  # leaving: this zone only alerts on entry
    time.sleep(0.5)
    assert len(pilot.get("/api/alerts").json()) == 1
    session.assert_no_errors()


def test_a_viewer_pressing_a_is_told_it_may_not_acknowledge(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(page)
    pilot = node_process.client(Role.PILOT)
    assert pilot.post("/api/alerts", json={"title": "manual alarm", "severity": "warning"}).status_code == 201
    expect(page.locator("#alarm-banner")).to_be_visible(timeout=WAIT_MS)
    page.keyboard.press("a")
    expect(page.locator("#alert-error")).to_contain_text("pilot role", timeout=WAIT_MS)
    expect(page.locator("#alarm-banner")).to_be_visible()
    assert pilot.get("/api/alerts").json()[0]["status"] == "raised"
    session.assert_no_errors("status of 403")
