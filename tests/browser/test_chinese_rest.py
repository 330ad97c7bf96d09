"""The parts of the page that stayed English in Chinese mode now follow the switch: drone rows and command
results, roster tooltips, the marker's Edit/Delete, the MAVLink badge's words (headless chromium, real node)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from browser.cmdpost import WAIT_MS, put_unit, wait_live
from kit import NodeProcess
from playwright.sync_api import expect

from edge.auth import Role

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = pytest.mark.browser

DRONE = "vehicle:kit-test:7"


def test_drone_roster_and_marker_words_switch_to_chinese(open_page: OpenPage, node_process: NodeProcess) -> None:
    admin = node_process.client(Role.ADMIN)
    now = time.time()
    put_unit(admin, "unit:pdt:1001", now, 36.70, 119.16, name="指挥-01", talkgroup="tg:9", battery_pct=80)
    drone = {"kind": "vehicle", "id": DRONE, "origin": "kit-test", "ts": now, "name": "UAV-7", "mode": "AUTO",
             "armed": False, "pos": {"lat": 36.702, "lon": 119.16, "alt_msl_m": 55.0, "alt_rel_m": 30.0},
             "heading_deg": 90.0, "satellites": 10, "gps_fix": "3d", "link_ok": False, "sysid": 7}
    assert admin.post("/api/entities", json=drone).status_code == 200
    marker = {"name": "水源", "shape": "point", "category": "water_source", "points": [[36.699, 119.161]]}
    assert node_process.client(Role.PILOT).post("/api/markers", json=marker).status_code in (200, 201)

    session = open_page(Role.PILOT)
    page = session.page
    wait_live(page)
    page.locator("#lang").select_option("zh")

    page.locator(f'[data-entity-id="{DRONE}"]').click()
    fields = page.locator("#detail-fields")
    rows = ("AUTO · 已上锁", "相对高度 30.0 米 · 海拔 55.0 米", "航向 90°", "3d 定位 · 10 颗卫星", "丢失", "系统号 7")
    for text in rows:
        expect(fields).to_contain_text(text, timeout=WAIT_MS)
    controls = page.locator("#drone-controls")
    controls.get_by_role("button", name="返航").click()
    result = page.locator("#cmd-results li").first
    expect(result).to_have_attribute("data-result", "no_vehicle", timeout=WAIT_MS)
    expect(result).to_contain_text("返航 无此飞行器")
    page.locator("#lang").select_option("en")  # a result already shown is rewritten in the other language
    expect(result).to_contain_text("RTL no vehicle: ")
    page.locator("#lang").select_option("zh")

    page.locator("#tab-roster").click()
    row = page.locator('[data-unit-id="unit:pdt:1001"]')
    expect(row.locator(".presence")).to_have_attribute("title", "在线", timeout=WAIT_MS)
    expect(row.locator(".heard")).to_have_attribute("title", "最后收到")
    expect(row.locator(".battery")).to_have_attribute("title", "电量")
    expect(row.locator(".talk")).to_have_attribute("title", "正在通话")
    page.locator("#tab-drones").click()
    expect(page.locator(f'[data-vehicle-id="{DRONE}"] .drone-state')).to_have_attribute(
        "title", "已上锁, 链路丢失", timeout=WAIT_MS)

    page.locator('[data-entity-id^="marker:"]').click()
    expect(page.locator("#marker-edit")).to_have_text("编辑", timeout=WAIT_MS)
    expect(page.locator("#marker-delete")).to_have_text("删除")
    session.assert_no_errors("status of 404")
