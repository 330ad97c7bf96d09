"""Command-post mode on the page: the hub of three `fieldkit run` processes draws the mesh link map
(a line per linked pair, coloured by quality, the numbers in its tooltip) and each kit's health."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser.cmdpost import WAIT_MS, wait_live
from kit import NodeProcess, kit_config, spawn_node, stop_process, write_config
from playwright.sync_api import Locator, Page, expect

from edge.auth import Role

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = pytest.mark.browser

LINK_WAIT_MS = 30_000
# Short audits and heartbeats: RTT is measured by each catch-up round and health rides the heartbeat.
FAST = {"audit_interval_s": 0.5, "node_heartbeat_s": 0.5, "lease_s": 1.5, "retry_max_s": 0.5}
PLACES = {"hub": (36.700, 119.160), "edge1": (36.706, 119.170), "edge2": (36.694, 119.172)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def node_process(tmp_path: Path) -> Iterator[NodeProcess]:
    """The hub (a command post) whose page the test opens; two kits dial it."""
    zenoh_port = free_port()
    started: list[NodeProcess] = []
    try:
        for name in ("hub", "edge1", "edge2"):
            mesh = {**FAST, "listen": [f"tcp/127.0.0.1:{zenoh_port}"]} if name == "hub" else {
                **FAST, "connect": [f"tcp/127.0.0.1:{zenoh_port}"]}
            lat, lon = PLACES[name]
            node = {"id": name, "role": "command-post" if name == "hub" else "edge", "lat": lat, "lon": lon}
            (tmp_path / name).mkdir()
            config = kit_config(tmp_path / name, node=node, mesh=mesh)
            started.append(spawn_node(write_config(tmp_path / name, config)))
        yield started[0]
    finally:
        for proc in reversed(started):
            stop_process(proc.proc)


def point_at(page: Page, selector: str, shows: Locator) -> None:
    """Move the mouse onto the middle of ``selector`` until ``shows`` appears (the map may still be
    settling after it fitted the kits, moving the line from under a pointer that stood still)."""
    for _ in range(20):
        box = page.locator(selector).bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x - 40, y + 40)
        page.mouse.move(x, y, steps=4)
        if shows.count():
            return
        page.wait_for_timeout(250)


def test_hub_page_draws_the_link_map_and_each_kit_s_health(open_page: OpenPage) -> None:
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(page)

    for edge in ("edge1", "edge2"):  # a line per linked pair, each end measured (RTT in ms)
        line = page.locator(f'path[data-link="{edge}|hub"]')
        expect(line).to_have_attribute("data-quality", "good", timeout=LINK_WAIT_MS)
        tip = page.locator(f'[data-link-tip="{edge}|hub"]')
        point_at(page, f'path[data-link="{edge}|hub"]', tip)
        expect(tip).to_contain_text("RTT", timeout=WAIT_MS)
        expect(tip).to_contain_text(" ms")
        assert "RTT —" not in tip.inner_text()
    assert page.locator('path[data-link="edge1|edge2"]').count() == 0  # the two kits never linked directly

    label = page.locator('.fk-kit-health [data-kit="node:edge1"]')  # a kit's health under its marker
    expect(label).to_contain_text("CPU", timeout=LINK_WAIT_MS)
    expect(label).to_contain_text("Memory")
    assert "%" in label.inner_text() and "CPU —" not in label.inner_text()

    page.locator('[data-entity-id="node:edge1"]').click(force=True)  # and in its details
    section = page.locator("#kit-health")
    expect(section).to_be_visible(timeout=WAIT_MS)
    expect(section).to_contain_text("Memory")
    expect(section).to_contain_text("MB")
    expect(section).to_contain_text("Mesh link hub")
    session.assert_no_errors()
