"""The command-post page in headless chromium against a real `fieldkit run` node."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
import pytest
from kit import NodeProcess
from playwright.sync_api import Page, expect

from edge.auth import Role

if TYPE_CHECKING:  # fixtures' types; pytest itself resolves conftest.py
    from browser.conftest import OpenPage, PageSession

pytestmark = pytest.mark.browser

WAIT_MS = 10_000
UNIT_ID = "unit:pdt:4242"


def wait_live(session: PageSession) -> None:
    expect(session.page.locator("#conn")).to_have_attribute("data-state", "live", timeout=WAIT_MS)


def put_unit(admin: httpx.Client, ts: float, lat: float, lon: float, **fields: object) -> None:
    body = {"kind": "unit", "id": UNIT_ID, "origin": "kit-test", "ts": ts, "name": "测试-01",
            "pos": {"lat": lat, "lon": lon}, **fields}
    response = admin.post("/api/entities", json=body)
    assert response.status_code == 200, response.text


def raise_alert(pilot: httpx.Client, title: str) -> str:
    response = pilot.post("/api/alerts", json={"title": title, "severity": "emergency"})
    assert response.status_code == 201, response.text
    alert_id: str = response.json()["alert"]["id"]
    return alert_id


def alert_record(client: httpx.Client, alert_id: str) -> dict[str, object]:
    records = {r["alert"]["id"]: r for r in client.get("/api/alerts").json()}
    return records[alert_id]


def centre_of(page: Page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_injected_unit_appears_on_the_map_and_moves(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(session)
    assert "token" not in page.url  # taken out of the address bar
    admin = node_process.client(Role.ADMIN)
    now = time.time()

    put_unit(admin, now, 36.70, 119.16, talkgroup="tg-1", battery_pct=81.0)
    selector = f'[data-entity-id="{UNIT_ID}"]'
    marker = page.locator(selector)
    expect(marker).to_be_visible(timeout=WAIT_MS)
    expect(marker).to_contain_text("测试-01")
    expect(page.locator("#count-unit")).to_have_text("1")
    x, y = centre_of(page, selector)

    put_unit(admin, now + 1, 36.705, 119.168, talkgroup="tg-1", battery_pct=80.0)
    # About 550 m north and 700 m east at zoom 14: tens of pixels up and to the right.
    page.wait_for_function(
        """([sel, x, y]) => {
            const r = document.querySelector(sel).getBoundingClientRect();
            return r.x + r.width / 2 > x + 20 && r.y + r.height / 2 < y - 20;
        }""",
        arg=[selector, x, y], timeout=WAIT_MS,
    )

    marker.click()
    fields = page.locator("#detail-fields")
    expect(fields).to_contain_text(UNIT_ID)
    expect(fields).to_contain_text("36.70500, 119.16800")
    expect(fields).to_contain_text("tg-1")
    expect(fields).to_contain_text("80 %")
    expect(fields).to_contain_text("s ago")
    page.locator("#track-btn").click()
    expect(page.locator("#track-status")).to_contain_text("points in the last 30 min", timeout=WAIT_MS)
    expect(page.locator("path[data-track]")).to_have_count(1)
    session.assert_no_errors()


def test_pilot_acknowledges_an_alert_from_the_page(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(session)
    pilot = node_process.client(Role.PILOT)

    alert_id = raise_alert(pilot, "紧急告警 test alarm")
    item = page.locator(f'[data-alert-id="{alert_id}"]')
    expect(item).to_contain_text("紧急告警 test alarm", timeout=WAIT_MS)
    expect(item).to_contain_text("raised")
    expect(item).to_have_class("alert sev-emergency st-raised")
    expect(item).not_to_contain_text("null")  # absent fields leave no trace
    expect(page.locator("#alert-count")).to_have_text("1")

    item.get_by_role("button", name="Acknowledge").click()
    expect(item).to_contain_text("acknowledged by pilot tester", timeout=WAIT_MS)
    expect(item.get_by_role("button", name="Acknowledge")).to_have_count(0)
    record = alert_record(pilot, alert_id)
    assert (record["status"], record["acked_by"]) == ("acknowledged", "pilot tester")

    item.get_by_role("button", name="Clear").click()
    expect(item).to_have_count(0, timeout=WAIT_MS)  # cleared alerts leave the open list
    assert alert_record(pilot, alert_id)["status"] == "cleared"
    session.assert_no_errors()


def test_messages_are_sent_from_and_shown_in_the_page(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(session)
    pilot = node_process.client(Role.PILOT)

    page.locator("#message-text").fill("到达指定位置 In position (from the page)")
    page.get_by_role("button", name="Send").click()
    listed = page.locator("#messages")
    expect(listed).to_contain_text("到达指定位置 In position (from the page)", timeout=WAIT_MS)
    expect(page.locator("#message-text")).to_have_value("")
    sent = [(m["sender"], m["to"], m["text"]) for m in pilot.get("/api/messages").json()]
    assert ("pilot tester", "all", "到达指定位置 In position (from the page)") in sent

    response = pilot.post("/api/messages", json={"text": "需要增援 Need reinforcement", "to": "tg-2"})
    assert response.status_code == 201, response.text
    last = listed.locator("li").last
    expect(last).to_contain_text("需要增援 Need reinforcement", timeout=WAIT_MS)
    expect(last).to_contain_text("pilot tester → tg-2")
    expect(listed.locator("li")).to_have_count(2)  # the page's own message is not shown twice
    session.assert_no_errors()


def test_viewer_gets_no_command_buttons_and_is_refused(open_page: OpenPage, node_process: NodeProcess) -> None:
    pilot = node_process.client(Role.PILOT)
    alert_id = raise_alert(pilot, "viewer test alarm")
    refused = node_process.client(Role.VIEWER).post(f"/api/alerts/{alert_id}/ack")
    assert refused.status_code == 403, "the server refuses a viewer whatever the page shows"
    for role, shown in ((Role.PILOT, True), (Role.VIEWER, False)):
        session = open_page(role)
        page = session.page
        wait_live(session)
        item = page.locator(f'[data-alert-id="{alert_id}"]')
        expect(item).to_contain_text("raised", timeout=WAIT_MS)
        expect(page.locator("body")).to_have_attribute("data-role", role.name.lower(), timeout=WAIT_MS)
        buttons = (item.get_by_role("button", name="Acknowledge"), page.locator("#message-form"))
        for locator in buttons:
            (expect(locator).to_be_visible if shown else expect(locator).to_be_hidden)()
        session.assert_no_errors()
    assert alert_record(pilot, alert_id)["status"] == "raised"


def test_without_a_token_the_page_asks_for_one(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(None)
    page = session.page
    form = page.locator("#token-form")
    expect(form).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#conn")).to_have_attribute("data-state", "signed-out")

    page.locator("#token-input").fill("fk_not-a-real-token")
    form.get_by_role("button", name="Open").click()
    expect(page.locator("#token-error")).to_contain_text("rejected", timeout=WAIT_MS)
    expect(form).to_be_visible()

    page.locator("#token-input").fill(node_process.tokens[Role.VIEWER])
    form.get_by_role("button", name="Open").click()
    wait_live(session)
    expect(form).to_be_hidden()
    session.assert_no_errors()


def test_lost_connection_is_shown_as_offline(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.VIEWER)
    wait_live(session)
    node_process.proc.terminate()
    node_process.proc.wait(10)
    conn = session.page.locator("#conn")
    expect(conn).to_have_attribute("data-state", "offline", timeout=WAIT_MS)
    expect(conn).to_contain_text("reconnecting in")
    # Reconnection attempts against the stopped node are logged by chromium as failed connections.
    session.assert_no_errors("WebSocket connection to")
