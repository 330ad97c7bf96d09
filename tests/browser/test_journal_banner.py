"""The page says when its node's journal cannot store: a `fieldkit run` node with its journal on a
private tmpfs (root only) that the test fills up, then frees; the bar shows it and takes it away again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from browser.cmdpost import WAIT_MS, wait_live
from faults.diskkit import PrivateDisk
from kit import NodeProcess, kit_config, spawn_node, stop_process, write_config
from playwright.sync_api import expect

from edge.auth import Role

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a private file system needs root (CI runs as root)"),
]


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[PrivateDisk]:
    with PrivateDisk(tmp_path / "jfs", size_mb=16) as private:
        yield private


@pytest.fixture
def node_process(tmp_path: Path, disk: PrivateDisk) -> Iterator[NodeProcess]:
    journal = {"path": str(disk.where / "journal.sqlite"), "synchronous": "FULL"}
    node = spawn_node(write_config(tmp_path, kit_config(tmp_path, journal=journal)), prefix=disk.prefix)
    node.keep_reading()
    try:
        yield node
    finally:
        stop_process(node.proc)


def post_until_refused(node: NodeProcess) -> httpx.Response:
    with node.client(Role.PILOT) as pilot:
        for i in range(500):
            r = pilot.post("/api/messages", json={"text": f"on a full disk {i}"})
            if r.status_code != 201:
                return r
    raise AssertionError("500 messages acknowledged on a full disk")


def test_the_bar_says_the_journal_cannot_store_until_it_can(
    open_page: OpenPage, node_process: NodeProcess, disk: PrivateDisk
) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(page)
    banner = page.locator("#journal")
    expect(banner).to_be_hidden()
    disk.fill()
    assert post_until_refused(node_process).status_code == 503
    expect(banner).to_be_visible(timeout=WAIT_MS)
    expect(banner).to_have_text("journal cannot store: nothing new is accepted")
    disk.free()
    with node_process.client(Role.PILOT) as pilot:
        assert pilot.post("/api/messages", json={"text": "space again"}).status_code == 201
    expect(banner).to_be_hidden(timeout=WAIT_MS)
    session.assert_no_errors("503")
