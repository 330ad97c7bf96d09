"""The WGS-84 -> GCJ-02 display offset (edge/gcj02.py, twin of the page's gcj02.js) against published points.

Reference values: wandergis/coordtransform's README and test (116.404, 39.915), repeated by coordtransform-rs;
hujiulong/gcoord's unit test for the inverse (123, 45). The browser test checks the JS twin against this.
"""

from __future__ import annotations

import math
import random

import pytest

from edge.gcj02 import outside_china, to_gcj02, to_wgs84


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dlat = (a[0] - b[0]) * 111_320.0
    dlon = (a[1] - b[1]) * 111_320.0 * math.cos(math.radians(a[0]))
    return math.hypot(dlat, dlon)


def test_forward_matches_the_published_point() -> None:
    assert to_gcj02(39.915, 116.404) == pytest.approx((39.91640428150164, 116.41024449916938), abs=1e-12)


def test_inverse_matches_the_published_point() -> None:
    assert to_wgs84(45.0, 123.0) == pytest.approx((44.99804071, 122.99395597), abs=5e-6)


def test_outside_china_nothing_moves() -> None:
    assert outside_china(48.85, 2.35) and to_gcj02(48.85, 2.35) == (48.85, 2.35) == to_wgs84(48.85, 2.35)


def test_offset_is_hundreds_of_metres_and_the_inverse_undoes_it() -> None:
    rng = random.Random(2)
    for _ in range(2000):
        wgs = (rng.uniform(18.0, 53.0), rng.uniform(74.0, 134.0))
        shown = to_gcj02(*wgs)
        assert 1.0 < metres(wgs, shown) < 1000.0
        assert metres(to_wgs84(*shown), wgs) < 1e-3
