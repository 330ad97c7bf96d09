"""Geofences (pure): inside, crossings by rule and by whom, paths across keep-out zones."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from edge.scene import FenceFor, Marker, Position, Shape, Unit, Vehicle
from edge.scene.geofence import FenceBook, contains, distance_m, path_crosses

LAT, LON = 36.70, 119.16
SQUARE = [
    (LAT - 0.001, LON - 0.001),
    (LAT - 0.001, LON + 0.001),
    (LAT + 0.001, LON + 0.001),
    (LAT + 0.001, LON - 0.001),
]


def fence(**rules: object) -> Marker:
    values: dict[str, object] = {"name": "zone", "shape": Shape.POLYGON, "points": SQUARE, "fence_entry": True, **rules}
    return Marker(id="marker:kit:zone", origin="kit", ts=1.0, **values)  # type: ignore[arg-type]


def unit(ts: float, lat: float, lon: float = LON, kind: type[Unit | Vehicle] = Unit) -> Unit | Vehicle:
    prefix = "unit:pdt" if kind is Unit else "vehicle:kit"
    return kind(id=f"{prefix}:7", origin="kit", ts=ts, pos=Position(lat=lat, lon=lon))


def test_contains_polygon_and_circle() -> None:
    assert contains(fence(), (LAT, LON)) is True
    assert contains(fence(), (LAT + 0.002, LON)) is False
    circle = fence(shape=Shape.CIRCLE, points=[(LAT, LON)], radius_m=100.0)
    assert contains(circle, (LAT + 0.0008, LON)) is True  # ~89 m north
    assert contains(circle, (LAT + 0.001, LON)) is False  # ~111 m
    assert contains(fence(shape=Shape.LINE, points=SQUARE[:2]), (LAT, LON)) is None
    assert math.isclose(distance_m((LAT, LON), (LAT + 1, LON)), 111_195, rel_tol=1e-3)


def test_contains_a_concave_polygon() -> None:
    l_shape = fence(points=[(0.0, 0.0), (0.0, 2.0), (1.0, 2.0), (1.0, 1.0), (2.0, 1.0), (2.0, 0.0)])
    assert contains(l_shape, (0.5, 0.5)) and contains(l_shape, (1.5, 0.5)) and contains(l_shape, (0.5, 1.5))
    assert contains(l_shape, (1.5, 1.5)) is False, "the notch of the L is outside"


def test_entry_and_exit_by_rule_and_the_first_sighting_is_no_crossing() -> None:
    book = FenceBook()
    book.put_fence(fence(fence_exit=True))
    assert book.observe(unit(1, LAT)) == []  # first seen inside: it did not cross
    assert [c.entered for c in book.observe(unit(2, LAT + 0.01))] == [False]
    assert book.observe(unit(3, LAT + 0.02)) == []  # still outside
    (entered,) = book.observe(unit(4, LAT))
    assert entered.entered and entered.entity.ts == 4
    assert entered.alert_id.startswith("fence-")
    keep_in = FenceBook()
    keep_in.put_fence(fence(fence_entry=False, fence_exit=True))
    keep_in.observe(unit(1, LAT + 0.01))
    assert keep_in.observe(unit(2, LAT)) == []  # entering a keep-in zone is fine


def test_whom_a_fence_watches_and_editing_starts_it_afresh() -> None:
    book = FenceBook()
    book.put_fence(fence(fence_for=FenceFor.DRONES))
    book.observe(unit(1, LAT + 0.01))
    assert book.observe(unit(2, LAT)) == []  # a radio unit, and the fence is for drones
    book.observe(unit(1, LAT + 0.01, kind=Vehicle))
    assert len(book.observe(unit(2, LAT, kind=Vehicle))) == 1
    book.put_fence(fence(fence_for=FenceFor.BOTH, name="moved"))
    assert book.observe(unit(3, LAT + 0.01, kind=Vehicle)) == []  # known afresh
    book.put_fence(fence(fence_entry=False))  # no rules left: no longer a fence
    assert book.fences == []


def test_crossing_ids_are_stable_per_crossing() -> None:
    a, b = FenceBook(), FenceBook()
    for book in (a, b):
        book.put_fence(fence())
        book.observe(unit(1, LAT + 0.01))
    first, second = a.observe(unit(2, LAT)), b.observe(unit(2, LAT))
    assert first[0].alert_id == second[0].alert_id  # the same breach seen twice is one alert
    a.observe(unit(3, LAT + 0.01))
    assert a.observe(unit(4, LAT))[0].alert_id != first[0].alert_id


def test_paths_across_polygons_and_circles() -> None:
    zone = fence()
    south, north = (LAT - 0.01, LON), (LAT + 0.01, LON)
    assert path_crosses(zone, south, north)  # straight through, both ends outside
    assert not path_crosses(zone, south, (LAT - 0.01, LON + 0.01))
    assert path_crosses(zone, (LAT, LON), north)  # starting inside
    assert not path_crosses(zone, (LAT - 0.01, LON + 0.0015), (LAT + 0.01, LON + 0.0015))  # passes beside
    circle = fence(shape=Shape.CIRCLE, points=[(LAT, LON)], radius_m=100.0)
    assert path_crosses(circle, (LAT, LON - 0.01), (LAT, LON + 0.01))
    assert not path_crosses(circle, (LAT + 0.0015, LON - 0.01), (LAT + 0.0015, LON + 0.01))  # ~167 m north


@given(st.floats(-0.005, 0.005), st.floats(-0.005, 0.005), st.floats(-0.005, 0.005), st.floats(-0.005, 0.005))
def test_a_path_with_an_end_inside_always_crosses(dlat0: float, dlon0: float, dlat1: float, dlon1: float) -> None:
    start, end = (LAT + dlat0, LON + dlon0), (LAT + dlat1, LON + dlon1)
    zone = fence()
    if contains(zone, start) or contains(zone, end):
        assert path_crosses(zone, start, end)
    assert path_crosses(zone, start, end) == path_crosses(zone, end, start)
