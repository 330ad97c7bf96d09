"""The page's radio parts in headless chromium against a real `fieldkit run` node: roster, on-air strip,
talking and offline markers, trails, and the message recipient picker.

Units are put into the picture through the admin API with the fields a radio gateway sets. Calls,
receipts and messages that came in over a radio (``via``) cannot be injected through the API; they
are for the end-to-end test with the simulated gateway.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from kit import NodeProcess
from playwright.sync_api import expect

from edge.auth import Role

if TYPE_CHECKING:  # fixtures' types; pytest itself resolves conftest.py
    from browser.conftest import OpenPage, PageSession

pytestmark = pytest.mark.browser

WAIT_MS = 10_000
HOME = (36.70, 119.16)


def wait_live(session: PageSession) -> None:
    expect(session.page.locator("#conn")).to_have_attribute("data-state", "live", timeout=WAIT_MS)


def put_unit(admin: httpx.Client, radio: int, name: str, ts: float, **fields: object) -> str:
    """Put ``unit:pdt:<radio>`` into the picture, at HOME unless ``pos`` is given."""
    unit_id = f"unit:pdt:{radio}"
    body = {
        "kind": "unit",
        "id": unit_id,
        "origin": "kit-test",
        "ts": ts,
        "name": name,
        "pos": {"lat": HOME[0], "lon": HOME[1]},
        **fields,
    }
    response = admin.post("/api/entities", json=body)
    assert response.status_code == 200, response.text
    return unit_id


def marker(unit_id: str) -> str:
    return f'[data-entity-id="{unit_id}"] .fk-mark'


def row(unit_id: str) -> str:
    return f'[data-unit-id="{unit_id}"]'


def test_roster_groups_units_shows_presence_filters_and_selects(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(session)
    admin = node_process.client(Role.ADMIN)
    now = time.time()
    lead = put_unit(admin, 1001, "指挥-01", now, team="指挥组", talkgroup="9001 指挥 Command", battery_pct=74.0)
    first = put_unit(
        admin,
        1002,
        "一中队-01",
        now - 30,
        team="一中队",
        talkgroup="9002",
        battery_pct=12.0,
        pos={"lat": 36.702, "lon": 119.163},
    )
    away = put_unit(
        admin,
        1003,
        "一中队-02",
        now - 700,
        team="一中队",
        talkgroup="9002",
        online=False,
        pos={"lat": 36.698, "lon": 119.157},
    )
    loner = put_unit(admin, 1004, "散兵-01", now, talkgroup="9003 二中队 Team 2", pos=None)

    page.get_by_role("tab", name="Roster").click()
    expect(page.get_by_role("tab", name="Roster")).to_contain_text("3/4", timeout=WAIT_MS)
    team = page.locator('[data-group="一中队"]')
    expect(team.locator("[data-unit-id]")).to_have_count(2)
    expect(team.locator(".group-count")).to_have_text("1/2 online")
    expect(page.locator('[data-group="指挥组"] [data-unit-id]')).to_have_count(1)
    # No team: grouped by talkgroup, named by its full label; a unit without a position is listed too.
    expect(page.locator('[data-group="TG 9003 二中队 Team 2"] [data-unit-id]')).to_have_count(1)
    expect(page.locator(row(loner))).to_contain_text("1004")

    expect(page.locator(row(away))).to_have_class(re.compile(r"\boffline\b"))
    expect(page.locator(row(first))).to_have_class(re.compile(r"\bonline\b"))
    expect(page.locator(row(first))).to_contain_text(re.compile(r"12 %\s*(29|3\d) s ago"))
    expect(page.locator(row(away))).to_contain_text("12 min ago")
    expect(page.locator(row(lead))).to_contain_text("9001")
    expect(page.locator(marker(away))).to_have_class(re.compile(r"\bfk-offline\b"))
    expect(page.locator(marker(lead))).not_to_have_class(re.compile(r"\bfk-offline\b"))

    search = page.locator("#roster-filter")
    search.fill("1003")
    expect(page.locator("[data-unit-id]")).to_have_count(1)
    expect(page.locator("[data-unit-id]")).to_have_attribute("data-unit-id", away)
    search.fill("指挥")
    expect(page.locator("[data-unit-id]")).to_have_count(1)
    expect(page.locator("[data-unit-id]")).to_have_attribute("data-unit-id", lead)
    search.fill("nobody")
    expect(page.locator("#roster-empty")).to_contain_text("No unit matches")
    search.fill("")
    expect(page.locator("[data-unit-id]")).to_have_count(4)

    page.locator(row(first)).click()
    expect(page.locator("#detail-fields")).to_contain_text(first)
    expect(page.locator("#detail-fields")).to_contain_text("一中队")
    expect(page.locator(f'[data-entity-id="{first}"]')).to_have_class(re.compile(r"\bfk-selected\b"))
    expect(page.locator(row(first))).to_have_class(re.compile(r"\bselected\b"))
    page.locator(f'[data-entity-id="{lead}"]').click()  # and the other way round: map -> roster
    expect(page.locator(row(lead))).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator(row(first))).not_to_have_class(re.compile(r"\bselected\b"))

    # The call log came from GET /api/events?kind=call (an error there would show and be logged).
    page.get_by_role("tab", name="Calls").click()
    expect(page.locator("#calls-empty")).to_be_visible()
    expect(page.locator("#calls-error")).to_be_hidden()
    session.assert_no_errors()


def test_who_is_talking_shows_in_the_strip_on_the_map_and_in_the_roster(
    open_page: OpenPage, node_process: NodeProcess
) -> None:
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(session)
    admin = node_process.client(Role.ADMIN)
    now = time.time()
    put_unit(admin, 1002, "一中队-01", now, team="一中队", talkgroup="9002")
    expect(page.locator(marker("unit:pdt:1002"))).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#talking-empty")).to_be_visible()

    talker = put_unit(admin, 1001, "指挥-01", now - 5, talkgroup="9001 指挥 Command", talking=True)
    strip = page.locator('#talking li[data-talkgroup="9001"]')
    # Timed from the value where talking began (5 s before it reached the page).
    expect(strip).to_have_text(re.compile(r"^9001 · 指挥-01 speaking ([5-9]|\d\d) s$"), timeout=WAIT_MS)
    expect(page.locator("#talking li")).to_have_count(1)
    expect(page.locator("#talking-empty")).to_be_hidden()
    expect(page.locator(marker(talker))).to_have_class(re.compile(r"\bfk-talking\b"))
    expect(page.locator(marker("unit:pdt:1002"))).not_to_have_class(re.compile(r"\bfk-talking\b"))
    page.get_by_role("tab", name="Roster").click()
    expect(page.locator(f"{row(talker)} .talk")).to_be_visible()
    expect(page.locator(f"{row('unit:pdt:1002')} .talk")).to_be_hidden()

    strip.click()  # selects the one talking
    expect(page.locator("#detail-fields")).to_contain_text(talker)
    expect(page.locator("#detail-fields")).to_contain_text("Talking")

    put_unit(admin, 1001, "指挥-01", now + 1, talkgroup="9001 指挥 Command", talking=False)
    expect(page.locator("#talking li")).to_have_count(0, timeout=WAIT_MS)
    expect(page.locator("#talking-empty")).to_be_visible()
    expect(page.locator(marker(talker))).not_to_have_class(re.compile(r"\bfk-talking\b"))
    expect(page.locator(f"{row(talker)} .talk")).to_be_hidden()
    session.assert_no_errors()


def test_a_moving_unit_leaves_a_trail_in_its_talkgroup_colour(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(session)
    admin = node_process.client(Role.ADMIN)
    now = time.time()
    unit_id = "unit:pdt:1001"
    trail = page.locator(f'path[data-trail-for="{unit_id}"]')
    for step in range(4):  # where it started, then three moves, zigzag (Leaflet drops collinear points)
        pos = {"lat": HOME[0] + 0.002 * step, "lon": HOME[1] + 0.003 * (step % 2)}
        put_unit(admin, 1001, "指挥-01", now + step, talkgroup="9001", pos=pos)
        expect(page.locator(marker(unit_id))).to_be_visible(timeout=WAIT_MS)
        if step == 0:
            expect(trail).to_have_count(0)  # one position is not a trail yet
    # Four points: a move to, then three lines.
    expect(trail).to_have_attribute("d", re.compile(r"^M[^LM]+(L[^LM]+){3}$"), timeout=WAIT_MS)
    same_colour = page.evaluate(
        """([sel, id]) => {
            const probe = document.createElement("i");
            probe.style.color = document.querySelector(sel).getAttribute("stroke");
            document.body.append(probe);
            const stroke = getComputedStyle(probe).color;
            probe.remove();
            const dot = document.querySelector(`[data-entity-id="${id}"] .fk-dot`);
            return stroke === getComputedStyle(dot).backgroundColor;
        }""",
        [f'path[data-trail-for="{unit_id}"]', unit_id],
    )
    assert same_colour

    toggle = page.locator("#trails-toggle")
    toggle.uncheck()
    expect(trail).to_have_count(0)
    toggle.check()
    expect(trail).to_have_count(1)
    session.assert_no_errors()


def test_recipient_picker_offers_talkgroups_and_units_and_sends_to_the_choice(
    open_page: OpenPage, node_process: NodeProcess
) -> None:
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(session)
    admin = node_process.client(Role.ADMIN)
    pilot = node_process.client(Role.PILOT)
    now = time.time()
    put_unit(admin, 1001, "指挥-01", now, talkgroup="9001 指挥 Command")
    put_unit(admin, 1002, "一中队-01", now, talkgroup="9002")
    put_unit(admin, 1003, "一中队-02", now, talkgroup="9002 一中队 Team 1")

    picker = page.locator("#message-to")
    expect(picker.locator('option[value="unit:pdt:1003"]')).to_have_count(1, timeout=WAIT_MS)
    values = picker.locator("option").evaluate_all("options => options.map(o => [o.value, o.textContent])")
    assert values[:3] == [
        ["all", "all"],
        ["talkgroup:pdt:9001", "TG 9001 指挥 Command"],
        ["talkgroup:pdt:9002", "TG 9002 一中队 Team 1"],  # one entry, with the fullest name given
    ]
    assert sorted(values[3:]) == [  # units by alias, in the browser's collation
        ["unit:pdt:1001", "指挥-01 (1001)"],
        ["unit:pdt:1002", "一中队-01 (1002)"],
        ["unit:pdt:1003", "一中队-02 (1003)"],
    ]
    expect(picker).to_have_value("all")

    picker.select_option("talkgroup:pdt:9001")
    page.locator("#message-text").fill("全体集合 Assemble (to talkgroup)")
    page.get_by_role("button", name="Send").click()
    sent = page.locator("#messages li").filter(has_text="全体集合 Assemble (to talkgroup)")
    expect(sent).to_contain_text("pilot tester → TG 9001", timeout=WAIT_MS)
    # No gateway in this node: the text waits for a delivery report that does not come.
    expect(sent.locator(".receipt")).to_have_text("sending…")

    picker.select_option("unit:pdt:1002")
    put_unit(admin, 1004, "二中队-01", now + 1, talkgroup="9003")  # new choices do not move the chosen one
    expect(picker.locator('option[value="unit:pdt:1004"]')).to_have_count(1, timeout=WAIT_MS)
    expect(picker.locator('option[value="talkgroup:pdt:9003"]')).to_have_count(1)
    expect(picker).to_have_value("unit:pdt:1002")
    page.locator("#message-text").fill("请回电 Call back (to a unit)")
    page.get_by_role("button", name="Send").click()
    sent_unit = page.locator("#messages li").filter(has_text="请回电 Call back (to a unit)")
    expect(sent_unit).to_contain_text("pilot tester → 一中队-01", timeout=WAIT_MS)
    expect(sent_unit.locator(".receipt")).to_have_text("sending…")

    stored = {m["text"]: m["to"] for m in pilot.get("/api/messages").json()}
    assert stored["全体集合 Assemble (to talkgroup)"] == "talkgroup:pdt:9001"
    assert stored["请回电 Call back (to a unit)"] == "unit:pdt:1002"

    # A fresh page asks the journal for receipts of the radio texts it holds (none yet) without error.
    again = open_page(Role.PILOT)
    wait_live(again)
    reloaded = again.page.locator("#messages li").filter(has_text="请回电 Call back (to a unit)")
    expect(reloaded.locator(".receipt")).to_have_text("sending…", timeout=WAIT_MS)
    expect(again.page.locator("#message-error")).to_be_hidden()
    session.assert_no_errors()
    again.assert_no_errors()
