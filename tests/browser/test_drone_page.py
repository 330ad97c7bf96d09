"""The page's drone parts in headless chromium against a real `fieldkit run` node: the drone symbol,
its label, heading, trail and home; a tethered drone's tether and ceiling; the telemetry panel; the
command buttons and the answers they show; the MAVLink badge.

The test node runs without a drone service (its config is the plain one), so vehicles are put into
the picture through the admin API with the fields the drone service sets, and every command gets
the service's real answer for that case: 404 ``no_vehicle``, "drones are not enabled on this node".
Flying a real SITL vehicle from the page is for ``fieldkit sim`` (see the drones tests for the API).
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from kit import NodeProcess
from playwright.sync_api import Page, Request, Route, expect

from edge.auth import Role

if TYPE_CHECKING:  # fixtures' types; pytest itself resolves conftest.py
    from browser.conftest import OpenPage, PageSession

pytestmark = pytest.mark.browser

WAIT_MS = 10_000
HOME = (36.70, 119.16)
DRONE = "vehicle:kit-test:7"  # this node's id (tests/kit.py) and a sysid
HTTP_ERRORS = ("status of 404", "status of 403")  # chromium logs each refused request itself
OK, NEAR, LIMIT = "#0e8a9a", "#e07b00", "#d0312d"  # the tether's colours (static/drones.js)


def wait_live(session: PageSession) -> None:
    expect(session.page.locator("#conn")).to_have_attribute("data-state", "live", timeout=WAIT_MS)


def put_vehicle(admin: httpx.Client, ts: float, vehicle_id: str = DRONE, **fields: Any) -> None:
    """Put a vehicle into the picture as the drone service would publish it (fields override)."""
    body: dict[str, Any] = {
        "kind": "vehicle",
        "id": vehicle_id,
        "origin": "kit-test",
        "ts": ts,
        "name": "UAV-7 无人机",
        "pos": {"lat": HOME[0] + 0.002, "lon": HOME[1], "alt_msl_m": 55.0, "alt_rel_m": 30.0},
        "mode": "AUTO",
        "armed": True,
        "heading_deg": 90.0,
        "ground_speed_mps": 5.0,
        "battery_pct": 76.0,
        "battery_v": 11.74,
        "battery_a": 18.0,
        "sysid": 7,
        "autopilot": "ardupilot",
        "vehicle_type": "quadrotor",
        "climb_mps": 0.0,
        "gps_fix": "3d",
        "satellites": 10,
        "ekf_ok": True,
        "home": {"lat": HOME[0], "lon": HOME[1], "alt_msl_m": 25.0},
        "link_loss_pct": 2.5,
        "last_heard_ts": ts,
        **fields,
    }
    response = admin.post("/api/entities", json=body)
    assert response.status_code == 200, response.text


def tethered(alt_rel_m: float, tension_n: float = 13.0) -> dict[str, Any]:
    """A tethered drone's fields: hovering 10 m east of its home, ceiling 100 m."""
    return {
        "tethered": True,
        "pos": {"lat": HOME[0], "lon": HOME[1] + 0.0001, "alt_msl_m": 25.0 + alt_rel_m, "alt_rel_m": alt_rel_m},
        "tether_length_m": alt_rel_m + 2,
        "tether_tension_n": tension_n,
        "tether_power": True,
        "tether_v": 48.0,
        "tether_ceiling_m": 100.0,
        "mode": "GUIDED",
    }


def marker(vehicle_id: str = DRONE) -> str:
    return f'[data-entity-id="{vehicle_id}"] .fk-mark'


def select_drone(page: Page, vehicle_id: str = DRONE) -> None:
    page.locator(marker(vehicle_id)).click(timeout=WAIT_MS)
    expect(page.locator("#drone-controls")).to_be_visible()


def vertices(page: Page, selector: str) -> int:
    d = page.locator(selector).get_attribute("d") or ""
    return len(re.findall(r"[ML]", d))


def test_drone_marker_label_heading_trail_home_and_telemetry(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(session)
    admin = node_process.client(Role.ADMIN)
    now = time.time()

    put_vehicle(admin, now)
    mark = page.locator(marker())
    expect(mark).to_be_visible(timeout=WAIT_MS)
    expect(mark.locator(".fk-label")).to_have_text("UAV-7 无人机 · 30 m · 76 %AUTO")
    expect(mark.locator(".fk-mode")).to_have_text("AUTO")
    expect(mark).to_have_class(re.compile(r"\bfk-armed\b"))
    glyph = mark.locator("svg.fk-drone")
    expect(glyph).to_have_attribute("style", re.compile(r"rotate\(90deg\)"))
    expect(page.locator(f'[data-home-for="{DRONE}"]')).to_have_count(1)
    expect(page.locator(f'[data-tether-for="{DRONE}"]')).to_have_count(0)  # not tethered
    expect(page.locator("#count-vehicle")).to_have_text("1")

    # Three moves north, zigzagging (Leaflet would draw points in a straight line as one segment), turning:
    # the symbol turns, the label follows, the trail grows to four points.
    for step, heading in enumerate((0.0, 200.0, 315.0), start=1):
        lat, lon = HOME[0] + 0.002 + 0.001 * step, HOME[1] + 0.001 * (step % 2)
        pos = {"lat": lat, "lon": lon, "alt_msl_m": 55.0 + step, "alt_rel_m": 30.0 + step}
        put_vehicle(admin, now + step, pos=pos, heading_deg=heading, battery_pct=76.0 - step, armed=step < 3)
    expect(glyph).to_have_attribute("style", re.compile(r"rotate\(315deg\)"), timeout=WAIT_MS)
    expect(mark.locator(".fk-label")).to_contain_text("UAV-7 无人机 · 33 m · 73 %")
    expect(mark).not_to_have_class(re.compile(r"\bfk-armed\b"))
    trail = f'path[data-trail-for="{DRONE}"]'
    expect(page.locator(trail)).to_have_count(1)
    page.wait_for_function(
        "sel => (document.querySelector(sel).getAttribute('d').match(/[ML]/g) || []).length === 4",
        arg=trail, timeout=WAIT_MS,
    )

    put_vehicle(admin, now + 4, link_ok=False, link_loss_pct=100.0, armed=False, heading_deg=315.0, battery_pct=73.0,
                pos={"lat": HOME[0] + 0.005, "lon": HOME[1], "alt_msl_m": 58.0, "alt_rel_m": 33.0})
    expect(mark).to_have_class(re.compile(r"\bfk-link-lost\b"), timeout=WAIT_MS)

    select_drone(page)
    fields = page.locator("#detail-fields")
    for text in (DRONE, "AUTO · disarmed", "36.70500, 119.16000", "33.0 m rel. · 58.0 m MSL",
                 "5.0 m/s (18 km/h) · heading 315° · climb 0.0 m/s", "73 % · 11.74 V · 18.0 A",
                 "3d fix · 10 satellites", "LOST · 100.0 % loss · heard", "s ago",
                 "ardupilot · quadrotor · sysid 7"):
        expect(fields).to_contain_text(text)
    expect(fields).not_to_contain_text("Tether")
    expect(fields).not_to_contain_text("false")  # absent values leave no trace

    page.locator("#tab-drones").click()
    row = page.locator(f'[data-vehicle-id="{DRONE}"]')
    expect(row).to_contain_text("UAV-7 无人机")
    expect(row).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator("#drones-count")).to_have_text("0/1")  # armed / all
    session.assert_no_errors()


def test_tethered_drone_shows_its_tether_and_ceiling_in_colour(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(session)
    admin = node_process.client(Role.ADMIN)
    now = time.time()
    tether = page.locator(f'path[data-tether-for="{DRONE}"]')
    ceiling = page.locator(f'path[data-ceiling-for="{DRONE}"]')
    label = page.locator(f'[data-ceiling-label-for="{DRONE}"]')

    put_vehicle(admin, now, **tethered(50.0))
    expect(tether).to_have_attribute("stroke", OK, timeout=WAIT_MS)
    expect(ceiling).to_have_attribute("stroke", OK)
    expect(ceiling).to_have_attribute("stroke-dasharray", "6 6")
    expect(label).to_have_text("tether ceiling 100 m · at 50 m")

    history = []
    steps = [
        (85.0, 13.0, "tether ceiling 100 m · at 85 m · near the tether ceiling"),
        (97.0, 13.0, "tether ceiling 100 m · at 97 m · at the tether ceiling"),
        (50.0, 160.0, "tether ceiling 100 m · at 50 m · tension high"),
        (50.0, 20.0, "tether ceiling 100 m · at 50 m"),
    ]
    for ts, (alt, tension, text) in enumerate(steps, start=1):
        put_vehicle(admin, now + ts, **tethered(alt, tension))
        expect(label).to_have_text(text, timeout=WAIT_MS)
        history.append((tether.get_attribute("data-level"), tether.get_attribute("stroke"),
                        ceiling.get_attribute("stroke"), label.get_attribute("data-level")))
    assert history == [
        ("near", NEAR, NEAR, "near"),
        ("limit", LIMIT, LIMIT, "limit"),
        ("limit", LIMIT, LIMIT, "limit"),  # tension high, far below the ceiling
        ("ok", OK, OK, "ok"),
    ]

    put_vehicle(admin, now + 9, **tethered(97.0))
    expect(label).to_contain_text("at the tether ceiling", timeout=WAIT_MS)
    select_drone(page)
    tether_row = page.locator("#detail-fields .tether-limit")
    expect(tether_row).to_have_text("99 m out · 13 N · ground power · 48.0 V · ceiling 100 m · at the tether ceiling")

    put_vehicle(admin, now + 10, tethered=False)  # the tether was cast off: no line, no ring
    expect(tether).to_have_count(0, timeout=WAIT_MS)
    expect(ceiling).to_have_count(0)
    expect(label).to_have_count(0)
    session.assert_no_errors()


def answer_without_drones(node_process: NodeProcess) -> tuple[int, dict[str, Any]]:
    """What this node says to a command for a vehicle it cannot reach (no request of the page's)."""
    response = node_process.client(Role.PILOT).post(f"/api/vehicles/{DRONE}/commands", json={"command": "rtl"})
    return response.status_code, response.json()


def test_pilot_commands_post_and_show_the_answer(open_page: OpenPage, node_process: NodeProcess) -> None:
    status, answer = answer_without_drones(node_process)
    assert (status, answer["result"]) == (404, "no_vehicle")
    session = open_page(Role.PILOT)
    page = session.page
    wait_live(session)
    admin = node_process.client(Role.ADMIN)
    put_vehicle(admin, time.time())
    select_drone(page)
    controls = page.locator("#drone-controls")
    results = page.locator("#cmd-results li")
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data or "{}")) if "/commands" in r.url else None)

    # RTL, held in flight by the browser: every command button waits, then the node's answer shows.
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/commands", hold)
    controls.get_by_role("button", name="RTL").click()
    expect(results.first).to_have_attribute("data-result", "sending")
    for name in ("Arm", "Disarm", "RTL", "Land", "Take off", "Go to…", "Set mode"):
        expect(controls.get_by_role("button", name=name, exact=True)).to_be_disabled()
    for _ in range(100):  # the route handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/commands")
    expect(results.first).to_have_attribute("data-result", "no_vehicle", timeout=WAIT_MS)
    expect(results.first).to_contain_text(f"RTL no vehicle: {answer['detail']}")
    expect(results).to_have_count(1)  # "sending…" was replaced
    expect(controls.get_by_role("button", name="RTL")).to_be_enabled()

    page.locator("#takeoff-alt").fill("35")
    controls.get_by_role("button", name="Take off").click()
    expect(results.first).to_have_attribute("data-command", "takeoff", timeout=WAIT_MS)
    expect(results.first).to_have_attribute("data-result", "no_vehicle", timeout=WAIT_MS)

    page.locator("#mode-select").select_option("LOITER")
    controls.get_by_role("button", name="Set mode").click()
    expect(results.first).to_have_attribute("data-command", "mode", timeout=WAIT_MS)

    # Go to: pick a point on the map east of the drone, confirm it with an altitude.
    controls.get_by_role("button", name="Go to…").click()
    expect(page.locator("#map")).to_have_class(re.compile(r"\bfk-picking\b"))
    box = page.locator(marker()).bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2)
    expect(page.locator(f'[data-goto-target="{DRONE}"]')).to_have_count(1)
    page.locator("#goto-alt").fill("42")
    controls.get_by_role("button", name="Confirm go to").click()
    expect(results.first).to_have_attribute("data-command", "goto", timeout=WAIT_MS)
    expect(results.first).to_have_attribute("data-result", "no_vehicle", timeout=WAIT_MS)
    expect(page.locator(f'[data-goto-target="{DRONE}"]')).to_have_count(0)  # refused: the target goes

    # Disarm in the air asks first; nothing is sent until it is confirmed.
    count = len(sent)
    controls.get_by_role("button", name="Disarm", exact=True).click()
    confirm = controls.locator(".cmd-confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("is flying at 30 m")
    assert len(sent) == count
    confirm.get_by_role("button", name="Disarm in the air").click()
    expect(results.first).to_have_attribute("data-command", "disarm", timeout=WAIT_MS)
    expect(confirm).to_be_hidden()

    goto = sent[3]
    assert (goto["command"], goto["alt_m"]) == ("goto", 42)
    assert abs(goto["lat"] - (HOME[0] + 0.002)) < 0.0003 and goto["lon"] > HOME[1] + 0.0005
    assert [{k: v for k, v in s.items() if k != "lat" and k != "lon"} for s in sent] == [
        {"command": "rtl"},
        {"command": "takeoff", "alt_m": 35},
        {"command": "mode", "mode": "LOITER"},
        {"command": "goto", "alt_m": 42},
        {"command": "disarm"},
    ]

    # Another kit's drone is commanded through that kit: the page says so and sends nothing.
    put_vehicle(admin, time.time(), vehicle_id="vehicle:kit-other:4", pos={"lat": HOME[0] - 0.003, "lon": HOME[1]})
    select_drone(page, "vehicle:kit-other:4")
    expect(controls.locator(".drone-note")).to_contain_text("flown through kit kit-other")
    expect(controls.get_by_role("button", name="RTL")).to_be_disabled()
    session.assert_no_errors(*HTTP_ERRORS)


def test_viewer_is_told_up_front_and_cannot_command(open_page: OpenPage, node_process: NodeProcess) -> None:
    refused = node_process.client(Role.VIEWER).post(f"/api/vehicles/{DRONE}/commands", json={"command": "rtl"})
    assert refused.status_code == 403, "the server refuses a viewer whatever the page shows"
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(session)
    put_vehicle(node_process.client(Role.ADMIN), time.time())
    select_drone(page)
    controls = page.locator("#drone-controls")
    # /api/whoami said "viewer": no command is offered (not even shown), and none is sent.
    expect(controls.locator(".drone-note")).to_contain_text("viewer token", timeout=WAIT_MS)
    for command in ("land", "rtl", "arm"):
        expect(controls.locator(f'[data-command="{command}"]')).to_be_hidden()
    expect(page.locator("#cmd-results li")).to_have_count(0)
    session.assert_no_errors(*HTTP_ERRORS)


def links_report(radio_state: str) -> list[dict[str, Any]]:
    """Two links as GET /api/drones/links gives them (drones.LinkReport), the second one in ``radio_state``."""
    return [
        {"name": "sitl", "kind": "udp-connect", "state": "up", "failures": 0, "last_error": None, "local_port": 40000,
     "peers": [{"name": "sitl", "frames_in": 1200, "bytes_in": 40000, "frames_out": 3, "bytes_out": 90, "filtered": 0,
                "rate_dropped": 0, "duplicates": 0, "send_dropped": 0, "framer": {"bad_crc": 2},
                "systems": [[1, 1], [2, 1]]}]},
    {"name": "radio", "kind": "serial", "state": radio_state, "failures": 3, "last_error": "no such port",
     "local_port": None, "peers": []},
    ]


def test_mavlink_badge_shows_the_links(open_page: OpenPage, node_process: NodeProcess) -> None:
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(session)
    badge = page.locator("#mavlink")
    assert node_process.client(Role.VIEWER).get("/api/drones/links").json() == []
    expect(badge).to_be_hidden()  # this node has no drone service

    # The node's answer as a node with links would give it (the shape of drones.LinkReport).
    radio = {"state": "reconnecting"}

    def links(route: Route, request: Request) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(links_report(radio["state"])))

    page.route("**/api/drones/links", links)
    page.reload()
    wait_live(session)
    expect(badge).to_have_text("MAVLink: 1/2 links up", timeout=WAIT_MS)
    expect(badge).to_have_attribute("data-state", "degraded")
    title = badge.get_attribute("title") or ""
    assert "sitl (udp-connect): up · 1200 frames in · 2 bad CRC" in title
    assert "radio (serial): reconnecting · no peer yet · last error: no such port" in title
    assert "systems seen: 1, 2" in title

    radio["state"] = "up"
    page.reload()
    wait_live(session)
    expect(badge).to_have_text("MAVLink: 2 links up", timeout=WAIT_MS)
    expect(badge).to_have_attribute("data-state", "up")
    session.assert_no_errors()
