"""Helpers for the command-post browser tests: a node that keeps replay rows often, units, screenshots."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from kit import NodeProcess, kit_config, spawn_node, write_config
from playwright.sync_api import Page, expect

WAIT_MS = 10_000
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # gitignored: screenshots of the main views
SCREEN = {"width": 1366, "height": 768}


def fast_history_node(tmp_path: Path, **sections: dict[str, object]) -> NodeProcess:
    """A `fieldkit run` node that keeps a replay row every 0.2 s (10 s by default), so tests need not wait."""
    journal = {"history_interval_s": 0.2, **sections.pop("journal", {})}
    return spawn_node(write_config(tmp_path, kit_config(tmp_path, journal=journal, **sections)))


def wait_live(page: Page) -> None:
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=WAIT_MS)


def put_unit(admin: httpx.Client, unit_id: str, ts: float, lat: float, lon: float, **fields: object) -> None:
    body = {"kind": "unit", "id": unit_id, "origin": "kit-test", "ts": ts, "pos": {"lat": lat, "lon": lon}, **fields}
    response = admin.post("/api/entities", json=body)
    assert response.status_code == 200, response.text


def until(check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Poll ``check`` (a real node does its work on its own schedule) until it holds."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def screenshot(page: Page, name: str) -> Path:
    """Save the page at 1366x768 under tests/artifacts/ (the README shows some of these)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size(SCREEN)
    page.wait_for_timeout(300)  # let Leaflet redraw for the new size
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
