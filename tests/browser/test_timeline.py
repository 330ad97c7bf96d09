"""The timeline in headless chromium against a real `fieldkit run` node: scrub back to stored positions
and the alerts open then, play forward, and return to live."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from browser.cmdpost import WAIT_MS, fast_history_node, put_unit, screenshot, until, wait_live
from kit import NodeProcess, stop_process
from playwright.sync_api import Page, expect

from edge.auth import Role

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = pytest.mark.browser

UNIT = "unit:pdt:3001"
A, B, C = (36.70, 119.16), (36.71, 119.17), (36.72, 119.18)


@pytest.fixture
def node_process(tmp_path: Path) -> Iterator[NodeProcess]:
    node = fast_history_node(tmp_path)
    try:
        yield node
    finally:
        stop_process(node.proc)


def replayed_lat(viewer: httpx.Client, at: float) -> float | None:
    picture = viewer.get("/api/replay", params={"at": at}).json()
    return next((e["pos"]["lat"] for e in picture["entities"] if e["id"] == UNIT), None)


def scrub(page: Page, at: float) -> None:
    page.locator("#timeline-slider").fill(str(int(at)))
    expect(page.locator("#timeline")).to_have_attribute("data-shown", str(int(at)), timeout=WAIT_MS)


def test_scrubbing_shows_stored_positions_and_open_alerts_then_live(
    open_page: OpenPage, node_process: NodeProcess
) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(page)
    admin, viewer = node_process.client(Role.ADMIN), node_process.client(Role.VIEWER)
    now = time.time()
    put_unit(admin, UNIT, now - 40, *A, name="一中队-01")
    until(lambda: replayed_lat(viewer, now - 35) == A[0], "the first position in the journal")
    put_unit(admin, UNIT, now - 20, *B, name="一中队-01")
    until(lambda: replayed_lat(viewer, now - 15) == B[0], "the second position in the journal")
    put_unit(admin, UNIT, now, *C, name="一中队-01")
    alert = node_process.client(Role.PILOT).post("/api/alerts", json={"title": "现在的告警 alarm now"})
    alert_id = alert.json()["alert"]["id"]

    page.locator(f'[data-entity-id="{UNIT}"]').click(timeout=WAIT_MS)
    fields, item = page.locator("#detail-fields"), page.locator(f'[data-alert-id="{alert_id}"]')
    expect(fields).to_contain_text(f"{C[0]:.5f}, {C[1]:.5f}")
    expect(item).to_be_visible(timeout=WAIT_MS)

    scrub(page, now - 30)
    expect(page.locator("#timeline")).to_have_attribute("data-mode", "replay")
    expect(fields).to_contain_text(f"{A[0]:.5f}, {A[1]:.5f}")
    expect(item).to_have_count(0)  # not raised yet at that time
    expect(page.locator("#timeline-time")).to_contain_text("replay")
    expect(page.locator("#message-form")).to_be_hidden()  # the past cannot be acted on
    screenshot(page, "timeline-replay")

    scrub(page, now - 10)
    expect(fields).to_contain_text(f"{B[0]:.5f}, {B[1]:.5f}")

    page.locator("#timeline-live").click()
    expect(page.locator("#timeline")).to_have_attribute("data-mode", "live")
    expect(fields).to_contain_text(f"{C[0]:.5f}, {C[1]:.5f}", timeout=WAIT_MS)
    expect(item).to_be_visible(timeout=WAIT_MS)
    session.assert_no_errors()


def test_playback_runs_forward_and_returns_to_live(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(page)
    admin, viewer = node_process.client(Role.ADMIN), node_process.client(Role.VIEWER)
    now = time.time()
    put_unit(admin, UNIT, now - 60, *A)
    until(lambda: replayed_lat(viewer, now - 55) == A[0], "the first position in the journal")
    put_unit(admin, UNIT, now - 2, *B)
    scrub(page, now - 50)
    page.locator(f'[data-entity-id="{UNIT}"]').click(timeout=WAIT_MS)
    expect(page.locator("#detail-fields")).to_contain_text(f"{A[0]:.5f}")

    shown: list[float] = []
    page.locator("#timeline-speed").select_option("10")
    page.locator("#timeline-play").click()
    expect(page.locator("#timeline-play")).to_have_text("Pause")
    for _ in range(3):  # the shown time moves forward by itself
        page.wait_for_function(
            "t => Number(document.querySelector('#timeline').dataset.shown) > t", arg=shown[-1] if shown else now - 50
        )
        shown.append(float(page.locator("#timeline").get_attribute("data-shown") or 0))
    assert shown == sorted(shown) and shown[0] > now - 50
    page.locator("#timeline-speed").select_option("60")  # at 60x the rest of the minute passes in seconds
    expect(page.locator("#timeline")).to_have_attribute("data-mode", "live", timeout=WAIT_MS)
    expect(page.locator("#detail-fields")).to_contain_text(f"{B[0]:.5f}", timeout=WAIT_MS)
    session.assert_no_errors()


def test_an_alert_raised_while_looking_back_still_sounds_and_is_acknowledged(
    open_page: OpenPage, node_process: NodeProcess
) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(page)
    admin, pilot = node_process.client(Role.ADMIN), node_process.client(Role.PILOT)
    now = time.time()
    put_unit(admin, UNIT, now - 30, *A)
    scrub(page, now - 20)
    banner = page.locator("#alarm-banner")
    expect(banner).to_be_hidden()

    alert_id = pilot.post("/api/alerts", json={"title": "回看时的告警 raised now", "severity": "emergency"}).json()
    alert_id = alert_id["alert"]["id"]
    expect(banner).to_contain_text("回看时的告警 raised now", timeout=WAIT_MS)  # the node is asked while replaying
    expect(page.locator(f'[data-alert-id="{alert_id}"]')).to_have_count(0)  # the panel still shows the past
    expect(page.locator("#timeline")).to_have_attribute("data-mode", "replay")
    page.keyboard.press("a")
    expect(banner).to_be_hidden(timeout=WAIT_MS)
    until(lambda: pilot.get("/api/alerts").json()[0]["status"] == "acknowledged", "the acknowledgement")
    page.locator("#timeline-live").click()
    expect(page.locator(f'[data-alert-id="{alert_id}"]')).to_contain_text("acknowledged", timeout=WAIT_MS)
    expect(banner).to_be_hidden()
    session.assert_no_errors()
