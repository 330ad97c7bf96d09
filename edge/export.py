"""The picture (and tracks) as GeoJSON (RFC 7946) and KML 2.2, for GIS tools (pure, plus a journal reader).

GeoJSON coordinates are ``[lon, lat]`` (RFC 7946 §3.1.1); a circle, which GeoJSON cannot express,
is a 64-gon polygon with the radius kept in ``radius_m``. Entities without a position are left out
(GIS tools cannot place them). Tracks are LineStrings (GeoJSON) and ``gx:Track`` (KML, with times).
"""

from __future__ import annotations

import math
import sqlite3
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from edge.journal.replay import picture_at
from edge.journal.store import APPLICATION_ID
from edge.scene import Entity, Marker, Shape, Snapshot, TrackPoint

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG): good to ~0.5 % for drawing a circle
CIRCLE_SIDES = 64
KML_NS = "http://www.opengis.net/kml/2.2"
GX_NS = "http://www.google.com/kml/ext/2.2"
_KIND_COLOR = {"unit": "#1f77b4", "vehicle": "#d62728", "feed": "#9467bd", "node": "#2ca02c", "marker": "#ff6600"}

Tracks = Mapping[str, list[TrackPoint]]


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def circle(lat: float, lon: float, radius_m: float, sides: int = CIRCLE_SIDES) -> list[tuple[float, float]]:
    """A closed ring of ``(lat, lon)`` around a centre at ``radius_m`` (great-circle destination points)."""
    d = radius_m / EARTH_RADIUS_M
    phi1, lam1 = math.radians(lat), math.radians(lon)
    ring = []
    for i in range(sides):
        bearing = 2 * math.pi * i / sides
        phi2 = math.asin(math.sin(phi1) * math.cos(d) + math.cos(phi1) * math.sin(d) * math.cos(bearing))
        lam2 = lam1 + math.atan2(
            math.sin(bearing) * math.sin(d) * math.cos(phi1), math.cos(d) - math.sin(phi1) * math.sin(phi2)
        )
        ring.append((math.degrees(phi2), (math.degrees(lam2) + 540.0) % 360.0 - 180.0))
    return [*ring, ring[0]]


def _shape(entity: Entity) -> tuple[str, list[tuple[float, float]]] | None:
    """(GeoJSON geometry type, ``(lat, lon)`` points) of an entity, or None if it has no place."""
    if isinstance(entity, Marker) and entity.points:
        pts = list(entity.points)
        if entity.shape is Shape.LINE and len(pts) >= 2:
            return "LineString", pts
        if entity.shape is Shape.POLYGON and len(pts) >= 3:
            return "Polygon", pts if pts[0] == pts[-1] else [*pts, pts[0]]
        if entity.shape is Shape.CIRCLE and entity.radius_m:
            return "Polygon", circle(pts[0][0], pts[0][1], entity.radius_m)
        return "Point", pts[:1]
    if entity.pos is None:
        return None
    return "Point", [(entity.pos.lat, entity.pos.lon)]


def _properties(entity: Entity) -> dict[str, Any]:
    props: dict[str, Any] = msgspec.to_builtins(entity)
    props.pop("points", None)
    pos = props.pop("pos", None)
    if pos:
        props.update({k: v for k, v in pos.items() if k.startswith("alt_") and v is not None})
    props["kind"] = entity.__struct_config__.tag
    props["time"] = _iso(entity.ts)
    return props


def _geometry(kind: str, pts: list[tuple[float, float]]) -> dict[str, Any]:
    coords = [[lon, lat] for lat, lon in pts]
    if kind == "Point":
        return {"type": "Point", "coordinates": coords[0]}
    if kind == "LineString":
        return {"type": "LineString", "coordinates": coords}
    return {"type": "Polygon", "coordinates": [coords]}


def geojson(snapshot: Snapshot, tracks: Tracks | None = None) -> dict[str, Any]:
    """A FeatureCollection of every placed entity, then one LineString per track."""
    features: list[dict[str, Any]] = []
    for entity in sorted(snapshot.entities, key=lambda e: e.id):
        shape = _shape(entity)
        if shape is not None:
            features.append(
                {"type": "Feature", "id": entity.id, "geometry": _geometry(*shape), "properties": _properties(entity)}
            )
    for entity_id, points in sorted((tracks or {}).items()):
        if len(points) < 2:
            continue
        features.append(
            {
                "type": "Feature",
                "id": f"track:{entity_id}",
                "geometry": {"type": "LineString", "coordinates": [[p.lon, p.lat] for p in points]},
                "properties": {
                    "kind": "track",
                    "entity_id": entity_id,
                    "times": [_iso(p.ts) for p in points],
                    "alt_msl_m": [p.alt_msl_m for p in points],
                },
            }
        )
    return {"type": "FeatureCollection", "properties": {"time": _iso(snapshot.ts)}, "features": features}


def _kml_color(color: str, alpha: int = 0xFF) -> str:
    """``#rrggbb`` as KML's ``aabbggrr``."""
    return f"{alpha:02x}{color[5:7]}{color[3:5]}{color[1:3]}".lower()


def _style(doc: ET.Element, style_id: str, color: str) -> None:
    style = ET.SubElement(doc, "Style", id=style_id)
    ET.SubElement(ET.SubElement(style, "IconStyle"), "color").text = _kml_color(color)
    line = ET.SubElement(style, "LineStyle")
    ET.SubElement(line, "color").text = _kml_color(color)
    ET.SubElement(line, "width").text = "3"
    ET.SubElement(ET.SubElement(style, "PolyStyle"), "color").text = _kml_color(color, 0x60)


def _kml_coords(pts: list[tuple[float, float]]) -> str:
    return " ".join(f"{lon:.7f},{lat:.7f}" for lat, lon in pts)


def _placemark(folder: ET.Element, entity: Entity, kind: str, pts: list[tuple[float, float]]) -> None:
    mark = ET.SubElement(folder, "Placemark", id=entity.id)
    ET.SubElement(mark, "name").text = entity.name or entity.id
    tag = entity.__struct_config__.tag
    style = f"marker-{entity.id}" if isinstance(entity, Marker) else str(tag)
    ET.SubElement(mark, "styleUrl").text = f"#{style}"
    ET.SubElement(ET.SubElement(mark, "TimeStamp"), "when").text = _iso(entity.ts)
    data = ET.SubElement(mark, "ExtendedData")
    for key, value in _properties(entity).items():
        if value is not None and not isinstance(value, dict | list):
            item = ET.SubElement(data, "Data", name=key)
            ET.SubElement(item, "value").text = str(value)
    if kind == "Point":
        ET.SubElement(ET.SubElement(mark, "Point"), "coordinates").text = _kml_coords(pts)
    elif kind == "LineString":
        ET.SubElement(ET.SubElement(mark, "LineString"), "coordinates").text = _kml_coords(pts)
    else:
        ring = ET.SubElement(ET.SubElement(ET.SubElement(mark, "Polygon"), "outerBoundaryIs"), "LinearRing")
        ET.SubElement(ring, "coordinates").text = _kml_coords(pts)


def kml(snapshot: Snapshot, tracks: Tracks | None = None, *, name: str = "fieldkit") -> bytes:
    """A KML document: one styled Placemark per placed entity, one ``gx:Track`` per track."""
    ET.register_namespace("", KML_NS)
    ET.register_namespace("gx", GX_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = ET.SubElement(root, "Document")
    ET.SubElement(doc, "name").text = f"{name} {_iso(snapshot.ts)}"
    for kind, color in _KIND_COLOR.items():
        _style(doc, kind, color)
    for entity in snapshot.entities:
        if isinstance(entity, Marker):
            _style(doc, f"marker-{entity.id}", entity.color)
    folder = ET.SubElement(doc, "Folder")
    ET.SubElement(folder, "name").text = "Picture"
    for entity in sorted(snapshot.entities, key=lambda e: e.id):
        shape = _shape(entity)
        if shape is not None:
            _placemark(folder, entity, *shape)
    _kml_tracks(doc, tracks or {})
    _qualify(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def _kml_tracks(doc: ET.Element, tracks: Tracks) -> None:
    if not tracks:
        return
    folder = ET.SubElement(doc, "Folder")
    ET.SubElement(folder, "name").text = "Tracks"
    for entity_id, points in sorted(tracks.items()):
        if not points:
            continue
        mark = ET.SubElement(folder, "Placemark", id=f"track:{entity_id}")
        ET.SubElement(mark, "name").text = f"track {entity_id}"
        ET.SubElement(mark, "styleUrl").text = f"#{entity_id.split(':', 1)[0]}"
        track = ET.SubElement(mark, f"{{{GX_NS}}}Track")
        for p in points:
            ET.SubElement(track, "when").text = _iso(p.ts)
        for p in points:
            alt = p.alt_msl_m if p.alt_msl_m is not None else 0.0
            ET.SubElement(track, f"{{{GX_NS}}}coord").text = f"{p.lon:.7f} {p.lat:.7f} {alt:.1f}"


def _qualify(element: ET.Element) -> None:
    """Put every unqualified element in the KML namespace (ElementTree needs it spelled out)."""
    for el in element.iter():
        if not el.tag.startswith("{"):
            el.tag = f"{{{KML_NS}}}{el.tag}"


def read_journal(
    path: Path, at: float, tracks_since: float | None, tracks_until: float | None
) -> tuple[Snapshot, dict[str, list[TrackPoint]]]:
    """The picture at ``at`` and tracks from a journal file, opened read-only (the node may be stopped)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            raise ValueError(f"{path} is not a fieldkit journal")
        snapshot = picture_at(conn, at)
        found: dict[str, list[TrackPoint]] = {}
        if tracks_since is not None:
            until = tracks_until if tracks_until is not None else at
            rows = conn.execute(
                "SELECT id, ts, lat, lon, alt_msl_m FROM tracks WHERE ts>=? AND ts<=? ORDER BY id, ts",
                (tracks_since, until),
            )
            for entity_id, *point in rows:
                found.setdefault(entity_id, []).append(TrackPoint(*point))
        return snapshot, found
    finally:
        conn.close()


def track_ids(entities: Iterable[Entity]) -> list[str]:
    """Entities whose tracks an export includes: everything that moves (not drawings)."""
    return [e.id for e in entities if not isinstance(e, Marker) and e.pos is not None]
