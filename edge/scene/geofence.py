"""Geofences: which watched entities crossed which fence, and which paths cross a keep-out zone.

Pure: values and times are passed in. A fence is a polygon or circle :class:`Marker` with
``fence_entry`` (alert on entering: a keep-out zone) and/or ``fence_exit`` (alert on leaving: a
keep-in zone). Geometry is in a local flat projection around the fence, which is exact enough for
zones a few kilometres across away from the poles and the antimeridian; circles use haversine.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from .model import Entity, FenceFor, Marker, Shape, Unit, Vehicle

EARTH_RADIUS_M = 6_371_008.8
Point = tuple[float, float]  # (lat, lon) in degrees
XY = tuple[float, float]  # metres east and north of an origin


def is_fence(marker: Marker) -> bool:
    """Whether a marker has geofence rules and a shape that encloses an area."""
    return (marker.fence_entry or marker.fence_exit) and marker.shape in (Shape.POLYGON, Shape.CIRCLE)


def watches(fence: Marker, entity: Entity) -> bool:
    """Whether ``fence`` applies to ``entity`` (radio units, drones, or both)."""
    if isinstance(entity, Unit):
        return fence.fence_for is not FenceFor.DRONES
    if isinstance(entity, Vehicle):
        return fence.fence_for is not FenceFor.UNITS
    return False


def distance_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def contains(fence: Marker, point: Point) -> bool | None:
    """Whether ``point`` is inside a polygon or circle marker; None for other shapes or too few points."""
    if fence.shape is Shape.CIRCLE and fence.points and fence.radius_m is not None:
        return distance_m(fence.points[0], point) <= fence.radius_m
    if fence.shape is Shape.POLYGON and len(fence.points) >= 3:
        return _in_polygon(fence.points, point)
    return None


def _in_polygon(points: list[tuple[float, float]], point: Point) -> bool:
    lat, lon = point
    inside = False
    j = len(points) - 1
    for i, (lat_i, lon_i) in enumerate(points):  # ray casting
        lat_j, lon_j = points[j]
        if (lat_i > lat) != (lat_j > lat) and lon < lon_i + (lat - lat_i) * (lon_j - lon_i) / (lat_j - lat_i):
            inside = not inside
        j = i
    return inside


def path_crosses(fence: Marker, start: Point, end: Point) -> bool:
    """Whether the straight path from ``start`` to ``end`` touches the inside of ``fence``."""
    if contains(fence, start) or contains(fence, end):
        return True
    if fence.shape is Shape.CIRCLE and fence.points and fence.radius_m is not None:
        centre = fence.points[0]
        return _segment_distance((0.0, 0.0), _flat(centre, start), _flat(centre, end)) <= fence.radius_m
    if fence.shape is Shape.POLYGON and len(fence.points) >= 3:
        origin = fence.points[0]  # one projection for the fence, whichever way the path runs
        a, b = _flat(origin, start), _flat(origin, end)
        corners = [_flat(origin, p) for p in fence.points]
        return any(_segments_meet(a, b, corners[i - 1], corners[i]) for i in range(len(corners)))
    return False


def _flat(origin: Point, p: Point) -> XY:
    """``p`` in metres east and north of ``origin``."""
    k = math.pi * EARTH_RADIUS_M / 180
    return ((p[1] - origin[1]) * k * math.cos(math.radians(origin[0])), (p[0] - origin[0]) * k)


def _segment_distance(p: XY, a: XY, b: XY) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy)


def _segments_meet(a: XY, b: XY, c: XY, d: XY) -> bool:
    """Whether segments ab and cd share a point (touching counts: a path grazing a corner crosses)."""

    def side(p: XY, q: XY, r: XY) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2, d3, d4 = side(c, d, a), side(c, d, b), side(a, b, c), side(a, b, d)
    if d1 * d2 > 0 or d3 * d4 > 0:
        return False
    if d1 == d2 == 0:  # on one line: they meet only if they overlap
        return all(min(a[k], b[k]) <= max(c[k], d[k]) and min(c[k], d[k]) <= max(a[k], b[k]) for k in (0, 1))
    return True


@dataclass(frozen=True, slots=True)
class Crossing:
    """A watched entity entered or left a fence whose rules say to raise an alert for it."""

    fence: Marker
    entity: Entity
    entered: bool

    @property
    def alert_id(self) -> str:
        """Stable for this crossing, so the same breach seen twice (a restart, another node) is one alert."""
        key = f"{self.fence.id}|{self.entity.id}|{self.entered}|{self.entity.ts:.3f}"
        return "fence-" + hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:20]


class FenceBook:
    """The last known inside/outside of each watched entity for each fence.

    An entity's first position for a fence (a new fence, a new entity, after a restart) only sets
    where it is: a unit already inside a newly drawn zone did not cross into it. Editing a fence
    starts it afresh the same way.
    """

    def __init__(self) -> None:
        self._fences: dict[str, Marker] = {}
        self._inside: dict[tuple[str, str], bool] = {}

    @property
    def fences(self) -> list[Marker]:
        """The fences held."""
        return list(self._fences.values())

    def put_fence(self, marker: Marker) -> None:
        """Add, change or (if it has no rules any more) drop a fence."""
        self.drop_fence(marker.id)
        if is_fence(marker):
            self._fences[marker.id] = marker

    def drop_fence(self, marker_id: str) -> None:
        """Forget a fence and what was known about it."""
        if self._fences.pop(marker_id, None) is not None:
            self._inside = {k: v for k, v in self._inside.items() if k[0] != marker_id}

    def observe(self, entity: Entity) -> list[Crossing]:
        """Note a new value of ``entity``; the crossings it makes that a fence's rules alert on."""
        if entity.pos is None:
            return []
        point = (entity.pos.lat, entity.pos.lon)
        out = []
        for fence in self._fences.values():
            if not watches(fence, entity):
                continue
            inside = contains(fence, point)
            if inside is None:
                continue
            key = (fence.id, entity.id)
            before = self._inside.get(key)
            self._inside[key] = inside
            if before is None or before == inside:
                continue
            if (inside and fence.fence_entry) or (not inside and fence.fence_exit):
                out.append(Crossing(fence, entity, entered=inside))
        return out

    def forget(self, entity_id: str) -> None:
        """Forget an entity that left the picture."""
        self._inside = {k: v for k, v in self._inside.items() if k[1] != entity_id}
