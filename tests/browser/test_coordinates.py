"""Coordinates on the page: decimal degrees by default, MGRS as a setting. The page's mgrs.js is held to the
`mgrs` package (GeoTrans, an independent implementation) over the globe, its zone exceptions and both hemispheres."""

from __future__ import annotations

import math
import random
import re
import time
from typing import TYPE_CHECKING

import mgrs
import pytest
from browser.cmdpost import WAIT_MS, put_unit, wait_live
from kit import NodeProcess
from playwright.sync_api import expect

from edge.auth import Role

if TYPE_CHECKING:
    from browser.conftest import OpenPage

pytestmark = pytest.mark.browser

SPECIAL = [
    (36.70, 119.16),  # Weifang, the sim's home
    (39.915, 116.404),  # Beijing
    (22.3, 114.17),  # Hong Kong
    (-33.9, 18.4),  # south of the equator
    (0.0001, 3.0),  # just north of the equator, on a central meridian
    (-0.0001, -177.5),
    (60.0, 5.0),  # zone 32V widened over Norway
    (57.0, 3.5),
    (78.0, 15.0),  # Svalbard: zones 31X, 33X, 35X, 37X
    (80.0, 8.9),
    (75.0, 20.9),
    (83.9, 40.0),
    (-79.9, -60.0),
    (21.3, -157.9),
]


def spaced(reference: str) -> str:
    m = re.fullmatch(r"(\d\d[A-Z])([A-Z]{2})(\d{5})(\d{5})", reference)
    assert m, reference
    return " ".join(m.groups())


def test_mgrs_js_agrees_with_the_mgrs_package(open_page: OpenPage) -> None:
    page = open_page(None).page
    rng = random.Random(11)
    points = SPECIAL + [(rng.uniform(-80, 83.99), rng.uniform(-180, 179.99)) for _ in range(2000)]
    ours = page.evaluate(
        """async (pts) => { const m = await import('/static/mgrs.js');
             return pts.map(([a, b]) => {
               const u = m.toUtm(a, b);
               return [m.toMgrs(a, b), u.easting, u.northing];
             }); }""",
        points,
    )
    theirs = [mgrs.MGRS().toMGRS(lat, lon) for lat, lon in points]
    differ = [(p, o, g) for p, o, g in zip(points, ours, theirs, strict=True) if o[0] != g]
    # GeoTrans nudges a value within a hair of the next metre up before truncating; we truncate exactly.
    # So the only differences allowed: one metre in one axis, where our metres lie within 2 mm of that line.
    for _, (ours_ref, easting, northing), geotrans in differ:
        axis = next(i for i in (0, 1) if ours_ref[5 + 5 * i: 10 + 5 * i] != geotrans[5 + 5 * i: 10 + 5 * i])
        metres = (easting, northing)[axis]
        assert math.ceil(metres) - metres < 0.002, (ours_ref, geotrans, metres)
        assert int(geotrans[5 + 5 * axis: 10 + 5 * axis]) - int(ours_ref[5 + 5 * axis: 10 + 5 * axis]) == 1
        other = slice(10 - 5 * axis, 15 - 5 * axis)
        assert (ours_ref[:5], ours_ref[other]) == (geotrans[:5], geotrans[other])
    assert len(differ) < len(points) / 200
    assert page.evaluate("async () => (await import('/static/mgrs.js')).toMgrs(85, 10)") is None  # polar: UPS


def test_positions_in_degrees_then_mgrs_when_chosen(open_page: OpenPage, node_process: NodeProcess) -> None:
    put_unit(node_process.client(Role.ADMIN), "unit:pdt:31", time.time(), 36.70, 119.16, name="31")
    session = open_page(Role.VIEWER)
    page = session.page
    wait_live(page)
    page.locator('[data-entity-id="unit:pdt:31"]').click()
    fields = page.locator("#detail-fields")
    expect(fields).to_contain_text("36.70000, 119.16000", timeout=WAIT_MS)

    page.locator("#coords").select_option("mgrs")
    expected = spaced(mgrs.MGRS().toMGRS(36.70, 119.16))
    expect(fields).to_contain_text(expected, timeout=WAIT_MS)
    expect(fields).not_to_contain_text("36.70000")
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    expect(page.locator("#pointer-position")).to_have_text(re.compile(r"^50S [A-Z]{2} \d{5} \d{5}$"))

    page.reload()  # the setting is kept
    wait_live(page)
    expect(page.locator("#coords")).to_have_value("mgrs")
    page.locator("#coords").select_option("dd")
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    expect(page.locator("#pointer-position")).to_have_text(re.compile(r"^36\.\d{5}, 119\.\d{5}$"))
    session.assert_no_errors()
