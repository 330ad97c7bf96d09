"""The page in Simplified Chinese and English, in headless chromium against a real `fieldkit run` node:
switching changes the page's text, stays chosen across a reload, and Chinese aliases and messages render."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from browser.cmdpost import WAIT_MS, put_unit, screenshot, wait_live
from kit import NodeProcess
from playwright.sync_api import Page, expect

from edge.auth import Role

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = pytest.mark.browser

UNIT = "unit:pdt:1001"


def texts(page: Page) -> dict[str, str]:
    ids = ["tab-messages", "tab-log", "timeline-play", "timeline-live", "alerts-empty", "conn", "sign-out"]
    return {i: page.locator(f"#{i}").inner_text() for i in ids}


def cjk_glyph_width_em(page: Page) -> float:
    """The width of one CJK character in the page's own font, in em: 1.0 when a real CJK glyph is drawn."""
    return float(
        page.evaluate(
            """() => {
                const style = getComputedStyle(document.body);
                const ctx = document.createElement("canvas").getContext("2d");
                ctx.font = `${style.fontSize} ${style.fontFamily}`;
                return ctx.measureText("指挥中心到达").width / 6 / parseFloat(style.fontSize);
            }"""
        )
    )


def test_switching_language_changes_the_page_text(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(page)
    put_unit(node_process.client(Role.ADMIN), UNIT, time.time(), 36.70, 119.16, name="指挥-01", team="指挥组")
    sent = node_process.client(Role.PILOT).post("/api/messages", json={"text": "已到达现场 开始侦察"})
    assert sent.status_code == 201
    english = texts(page)
    assert english == {
        "tab-messages": "Messages",
        "tab-log": "Log",
        "timeline-play": "Play",
        "timeline-live": "Live",
        "alerts-empty": "No open alerts.",
        "conn": "live",
        "sign-out": "Change token",
    }

    page.locator("#lang").select_option("zh")
    expect(page.locator("#tab-messages")).to_have_text("消息")
    assert texts(page) == {
        "tab-messages": "消息",
        "tab-log": "日志",
        "timeline-play": "回放",
        "timeline-live": "实时",
        "alerts-empty": "暂无未解除的告警。",
        "conn": "实时",
        "sign-out": "更换令牌",
    }
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.title() == "fieldkit · 指挥所"
    expect(page.locator('#draw-bar [data-shape="polygon"]')).to_have_text("多边形")
    page.locator(f'[data-entity-id="{UNIT}"]').click(timeout=WAIT_MS)
    fields = page.locator("#detail-fields")
    expect(fields).to_contain_text("名称")
    expect(fields).to_contain_text("指挥-01")
    expect(fields).to_contain_text("指挥组")
    expect(page.locator("#messages")).to_contain_text("已到达现场 开始侦察")
    assert cjk_glyph_width_em(page) == pytest.approx(1.0, abs=0.05)  # drawn with a CJK font, not boxes
    screenshot(page, "page-zh")

    page.reload()
    wait_live(page)
    expect(page.locator("#tab-messages")).to_have_text("消息")  # the choice is kept
    expect(page.locator("#lang")).to_have_value("zh")
    page.locator("#lang").select_option("en")
    expect(page.locator("#tab-messages")).to_have_text("Messages")
    assert texts(page) == english
    session.assert_no_errors()
