"""The incident log in headless chromium against a real `fieldkit run` node: one chronological list of what
happened, filtered by kind and text, exported as a CSV file that parses."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import pytest
from browser.cmdpost import WAIT_MS, screenshot, wait_live
from kit import NodeProcess
from playwright.sync_api import expect

from edge.auth import Role

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = pytest.mark.browser


def test_log_lists_filters_and_exports_csv(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(page)
    pilot = node_process.client(Role.PILOT)
    alert_id = pilot.post("/api/alerts", json={"title": "二号楼起火 fire in building 2"}).json()["alert"]["id"]
    assert pilot.post(f"/api/alerts/{alert_id}/ack").status_code == 200
    assert pilot.post("/api/messages", json={"text": "请求增援 send backup", "to": "tg-1"}).status_code == 201
    assert pilot.post("/api/messages", json={"text": "=HYPERLINK(1)"}).status_code == 201  # a formula, as text
    marker = {"shape": "point", "points": [[36.7, 119.16]], "name": "集结点", "category": "staging_area"}
    assert pilot.post("/api/markers", json=marker).status_code == 201

    page.locator("#tab-log").click()
    log = page.locator("#log")
    expect(log.locator("li")).to_have_count(5, timeout=WAIT_MS)
    lines = log.locator("li")
    expect(lines.nth(0)).to_contain_text("draw")  # newest first
    expect(lines.nth(3)).to_contain_text("acknowledged: 二号楼起火 fire in building 2")
    expect(lines.nth(4)).to_contain_text("[warning] 二号楼起火 fire in building 2")
    screenshot(page, "incident-log")

    page.locator("#log-kind").select_option("message")
    expect(log.locator("li")).to_have_count(2, timeout=WAIT_MS)
    page.locator("#log-filter").fill("backup")
    expect(log.locator("li")).to_have_count(1, timeout=WAIT_MS)
    expect(log.locator("li")).to_contain_text("请求增援 send backup")

    page.locator("#log-kind").select_option("")
    page.locator("#log-filter").fill("")
    expect(log.locator("li")).to_have_count(5, timeout=WAIT_MS)
    with page.expect_download() as download:
        page.locator("#log-export").click()
    path = download.value.path()
    assert download.value.suggested_filename.startswith("incident-log-kit-test-")
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    assert [r["kind"] for r in rows] == ["alert", "ack", "message", "message", "action"]
    assert rows[0]["what"] == "[warning] 二号楼起火 fire in building 2 — raised by pilot tester"
    assert (rows[1]["who"], rows[1]["target"]) == ("pilot tester", alert_id)
    assert (rows[2]["who"], rows[2]["what"], rows[2]["target"]) == ("pilot tester", "请求增援 send backup", "tg-1")
    assert rows[3]["what"] == "'=HYPERLINK(1)"  # a spreadsheet shows it, does not run it
    assert rows[4]["what"] == "draw" and rows[4]["target"].startswith("marker:kit-test:")
    assert all(r["time_utc"].endswith("Z") and float(r["ts"]) > 0 for r in rows)
    assert [float(r["ts"]) for r in rows] == sorted(float(r["ts"]) for r in rows)
    session.assert_no_errors()
