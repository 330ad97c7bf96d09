"""A command-post browser trusts the incident authority once and then opens a kit's HTTPS page cleanly.

Debian's chromium with its own NSS certificate database (what "import the CA" does on a laptop), filled
with NSS's certutil. A browser that has not imported the authority refuses the page.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kit import kit_config, spawn_node, stop_process, write_config
from playwright.sync_api import Error, expect, sync_playwright

from edge.auth import Role
from edge.deploy import certs

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def nss_home(home: Path, ca: Path | None) -> Path:
    """A HOME whose NSS database trusts ``ca`` for websites (or nothing)."""
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run(["certutil", "-d", f"sql:{db}", "-N", "--empty-password"], check=True, capture_output=True)
    if ca is not None:
        subprocess.run(["certutil", "-d", f"sql:{db}", "-A", "-t", "C,,", "-n", "incident CA", "-i", str(ca)],
                       check=True, capture_output=True)
    return home


@pytest.fixture
def https_kit(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A kit serving HTTPS with a certificate from its authority: (url, viewer token, ca.pem)."""
    ca = tmp_path / "ca"
    certs.init_ca(ca, "Weifang fire incident CA")
    cert, key = certs.issue(ca, "kit-test", [])
    config = kit_config(tmp_path, api={"tls_cert": str(cert), "tls_key": str(key)})
    node = spawn_node(write_config(tmp_path, config))
    try:
        yield node.url, node.tokens[Role.VIEWER], ca / "ca.pem"
    finally:
        stop_process(node.proc)


def open_in_chromium(home: Path, url: str) -> str:
    """Open ``url`` in chromium with ``home``'s NSS database; the connection state the page reached."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, env={"HOME": str(home)})
        try:
            page = browser.new_page()
            page.goto(url)
            expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=10_000)
            return page.locator("#conn").get_attribute("data-state") or ""
        finally:
            browser.close()


def test_a_browser_that_imported_the_authority_opens_the_page(https_kit: tuple[str, str, Path], tmp_path: Path) -> None:
    url, token, ca = https_kit
    assert url.startswith("https://")
    assert open_in_chromium(nss_home(tmp_path / "laptop", ca), f"{url}#token={token}") == "live"


def test_a_browser_without_the_authority_refuses_the_page(https_kit: tuple[str, str, Path], tmp_path: Path) -> None:
    url, token, _ = https_kit
    with pytest.raises(Error, match="ERR_CERT_AUTHORITY_INVALID"):
        open_in_chromium(nss_home(tmp_path / "stranger", None), f"{url}#token={token}")
