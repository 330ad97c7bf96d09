"""Issue #9's shared view: a read-only link an admin makes for another agency, opened in chromium."""

from __future__ import annotations

import pytest
from kit import NodeProcess
from playwright.sync_api import Browser, expect

from edge.auth import Role

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1366, "height": 768}
WAIT_MS = 10_000


def test_share_link_shows_the_picture_without_command_buttons(browser: Browser, node_process: NodeProcess) -> None:
    admin = node_process.client(Role.ADMIN)
    alert = node_process.client(Role.PILOT).post("/api/alerts", json={"title": "堤坝渗漏 levee seep"})
    assert alert.status_code == 201, alert.text
    alert_id = alert.json()["alert"]["id"]
    created = admin.post("/api/shares", json={"label": "市水务局 Water bureau", "expires_in_s": 3600})
    assert created.status_code == 201, created.text
    share = created.json()
    assert share["url"] == f"{node_process.url}#token={share['token']}"

    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(share["url"])
        expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        item = page.locator(f'[data-alert-id="{alert_id}"]')
        expect(item).to_contain_text("levee seep", timeout=WAIT_MS)
        expect(page.locator("body")).to_have_attribute("data-role", "viewer", timeout=WAIT_MS)
        expect(item.locator("button")).to_have_count(2)  # built, but not shown to a viewer
        for button in item.locator("button").all():
            expect(button).to_be_hidden()
        expect(page.locator("#message-form")).to_be_hidden()
        assert errors == []
    finally:
        context.close()

    with node_process.client(None) as anyone:
        headers = {"Authorization": f"Bearer {share['token']}"}
        assert anyone.get("/api/scene", headers=headers).status_code == 200
        assert anyone.post(f"/api/alerts/{alert_id}/ack", headers=headers).status_code == 403
        assert anyone.post("/api/messages", json={"text": "x"}, headers=headers).status_code == 403


def test_revoking_a_share_cuts_the_open_page_off_at_once(browser: Browser, node_process: NodeProcess) -> None:
    admin = node_process.client(Role.ADMIN)
    share = admin.post("/api/shares", json={"label": "Red Cross", "expires_in_s": 3600}).json()
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(share["url"])
        expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        assert admin.delete(f"/api/tokens/{share['info']['id']}").status_code == 200
        expect(page.locator("#token-gate")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#token-error")).to_have_text("This token was revoked by an administrator.")
        expect(page.locator("#conn")).to_have_attribute("data-state", "signed-out")
    finally:
        context.close()
