"""Headless Debian chromium driven by Playwright, and pages of a `fieldkit run` node opened in it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kit import NodeProcess
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from edge.auth import Role

CHROMIUM = Path("/usr/bin/chromium")
# Debian's build, not one downloaded by `playwright install`; nothing may reach the internet.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
# WebRTC between chromium and the node on loopback (TESTBED.md).
WEBRTC_ARGS = [
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def browser() -> Iterator[Browser]:
    # Function scope: Playwright's sync API keeps an event loop running in this thread while it is
    # open, which would break every asyncio test that pytest runs after it.
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def webrtc_browser() -> Iterator[Browser]:
    """A browser that may open WebRTC sessions to a node on loopback."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + WEBRTC_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageSession:
    """One page of the node, with every uncaught exception and console error it produced."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def record(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def assert_no_errors(self, *expected: str) -> None:
        """No JS errors, apart from console lines containing one of ``expected`` (e.g. an HTTP status)."""
        unexpected = [e for e in self.errors if not any(x in e for x in expected)]
        assert unexpected == []


OpenPage = Callable[[Role | None], PageSession]


@pytest.fixture
def open_page(browser: Browser, node_process: NodeProcess) -> Iterator[OpenPage]:
    """Open the node's page in a fresh browser context, with ``#token=`` for a role or without a token."""
    contexts = []

    def open_(role: Role | None) -> PageSession:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(10_000)
        contexts.append(context)
        session = PageSession(context.new_page())
        session.page.on("pageerror", lambda exc: session.errors.append(f"pageerror: {exc}"))
        session.page.on("console", session.record)
        fragment = f"#token={node_process.tokens[role]}" if role is not None else ""
        session.page.goto(node_process.url + fragment)
        return session

    try:
        yield open_
    finally:
        for context in contexts:
            context.close()
