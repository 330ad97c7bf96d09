"""The page recovers by itself when its node restarts: headless chromium against a real `fieldkit run`
process that is stopped and started again on the same port, journal and token store."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser.cmdpost import WAIT_MS, put_unit, wait_live
from kit import NodeProcess, kit_config, spawn_node, stop_process, write_config
from playwright.sync_api import expect

from edge.auth import Role

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = pytest.mark.browser

RECOVER_MS = 30_000  # a generous bound for a slow machine; the page retries every few seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def node_process(tmp_path: Path) -> Iterator[NodeProcess]:
    # A fixed port: the restarted node must be where the page looks for it.
    node = spawn_node(write_config(tmp_path, kit_config(tmp_path, api={"port": free_port()})))
    try:
        yield node
    finally:
        stop_process(node.proc)


def test_page_recovers_after_the_node_restarts(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(page)
    admin = node_process.client(Role.ADMIN)
    now = time.time()
    put_unit(admin, "unit:pdt:7001", now, 36.70, 119.16, name="一中队-01")
    drawn = node_process.client(Role.PILOT).post(
        "/api/markers", json={"shape": "point", "points": [[36.701, 119.161]], "name": "集结点 staging"}
    )
    assert drawn.status_code == 201
    expect(page.locator('[data-entity-id="unit:pdt:7001"]')).to_be_visible(timeout=WAIT_MS)
    page.evaluate("window.__sameDocument = true")

    assert stop_process(node_process.proc) == 0
    conn = page.locator("#conn")
    expect(conn).to_have_attribute("data-state", "offline", timeout=WAIT_MS)
    restarted = spawn_node(node_process.config_path)
    try:
        assert restarted.url == node_process.url
        expect(conn).to_have_attribute("data-state", "live", timeout=RECOVER_MS)
        assert page.evaluate("window.__sameDocument") is True  # recovered without a reload
        # What was there before the restart comes back from the journal; what happens after it streams in.
        expect(page.locator(f'[data-entity-id="{drawn.json()["id"]}"]')).to_be_visible(timeout=WAIT_MS)
        expect(page.locator('[data-entity-id="unit:pdt:7001"]')).to_be_visible()
        put_unit(restarted.client(Role.ADMIN), "unit:pdt:7002", time.time(), 36.702, 119.162, name="二中队-02")
        expect(page.locator('[data-entity-id="unit:pdt:7002"]')).to_contain_text("二中队-02", timeout=WAIT_MS)
        alert = restarted.client(Role.PILOT).post("/api/alerts", json={"title": "重启后的告警 after restart"})
        expect(page.locator(f'[data-alert-id="{alert.json()["alert"]["id"]}"]')).to_be_visible(timeout=WAIT_MS)
        # The timeline reads the same journal: the time before the restart is still there to scrub to.
        page.locator("#timeline-slider").fill(str(int(now) + 1))
        expect(page.locator("#timeline")).to_have_attribute("data-shown", str(int(now) + 1), timeout=WAIT_MS)
        expect(page.locator('[data-entity-id="unit:pdt:7001"]')).to_be_visible()
        expect(page.locator('[data-entity-id="unit:pdt:7002"]')).to_have_count(0)  # not there yet then
    finally:
        stop_process(restarted.proc)
    # Chromium logs each attempt against the stopped node as a failed WebSocket connection, and each
    # request the page's panels made meanwhile (timeline range, MAVLink badge) as a refused resource.
    session.assert_no_errors("WebSocket connection to", "net::ERR_CONNECTION_REFUSED")
