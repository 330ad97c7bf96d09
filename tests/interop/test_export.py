"""GeoJSON and KML export: the pure writers (parsed back by shapely and an XML parser), the API, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from kit import FIELDKIT, kit_config, start_local, stop_local, write_config
from shapely.geometry import shape

from edge.auth import Role
from edge.export import circle, geojson, kml
from edge.scene import Marker, Position, Shape, Snapshot, TrackPoint, Unit, Vehicle

NOW = 1_700_000_000.0
KML = "{http://www.opengis.net/kml/2.2}"
GX = "{http://www.google.com/kml/ext/2.2}"

UNIT = Unit(id="unit:pdt:1", origin="k", ts=NOW, name="Rescue 1", pos=Position(lat=36.5, lon=120.25))
DRONE = Vehicle(id="vehicle:k:1", origin="k", ts=NOW, pos=Position(lat=36.6, lon=120.3, alt_msl_m=80.0), armed=True)
POLY = Marker(id="marker:k:p", origin="k", ts=NOW, shape=Shape.POLYGON, points=[(36.0, 120.0), (36.1, 120.0),
              (36.1, 120.2)], color="#00ff00", pos=Position(lat=36.0, lon=120.0))
CIRCLE = Marker(id="marker:k:c", origin="k", ts=NOW, shape=Shape.CIRCLE, points=[(36.05, 120.1)], radius_m=500.0,
                pos=Position(lat=36.05, lon=120.1))
NOWHERE = Unit(id="unit:pdt:2", origin="k", ts=NOW)
SNAP = Snapshot(ts=NOW, entities=[UNIT, DRONE, POLY, CIRCLE, NOWHERE], alerts=[], messages=[])
TRACKS = {"unit:pdt:1": [TrackPoint(NOW - 20, 36.4, 120.2), TrackPoint(NOW - 10, 36.45, 120.22),
                         TrackPoint(NOW, 36.5, 120.25)]}


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lat1, lon1), (lat2, lon2) = map(lambda p: (math.radians(p[0]), math.radians(p[1])), (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_geojson_is_lon_lat_and_parses_back() -> None:
    doc = json.loads(json.dumps(geojson(SNAP, TRACKS)))
    assert doc["type"] == "FeatureCollection"
    features = {f["id"]: f for f in doc["features"]}
    assert set(features) == {"unit:pdt:1", "vehicle:k:1", "marker:k:p", "marker:k:c", "track:unit:pdt:1"}
    for feature in doc["features"]:
        assert feature["type"] == "Feature"
        assert shape(feature["geometry"]).is_valid
    assert features["unit:pdt:1"]["geometry"] == {"type": "Point", "coordinates": [120.25, 36.5]}
    assert features["unit:pdt:1"]["properties"]["name"] == "Rescue 1"
    assert features["vehicle:k:1"]["properties"]["alt_msl_m"] == 80.0
    poly = shape(features["marker:k:p"]["geometry"])
    assert poly.geom_type == "Polygon" and poly.exterior.coords[0] == (120.0, 36.0)
    assert len(poly.exterior.coords) == 4  # closed
    ring = shape(features["marker:k:c"]["geometry"])
    assert features["marker:k:c"]["properties"]["radius_m"] == 500.0
    assert all(abs(_metres((36.05, 120.1), (lat, lon)) - 500.0) < 0.5 for lon, lat in ring.exterior.coords)
    track = features["track:unit:pdt:1"]
    assert shape(track["geometry"]).geom_type == "LineString"
    assert track["geometry"]["coordinates"][0] == [120.2, 36.4]
    assert len(track["properties"]["times"]) == 3


def test_circle_is_closed_and_crosses_the_antimeridian_sanely() -> None:
    ring = circle(0.0, 179.999, 1000.0)
    assert ring[0] == ring[-1]
    assert all(-180.0 <= lon <= 180.0 for _, lon in ring)


def test_kml_parses_with_styles_placemarks_and_gx_track() -> None:
    root = ET.fromstring(kml(SNAP, TRACKS, name="Kit A"))
    assert root.tag == f"{KML}kml"
    doc = root.find(f"{KML}Document")
    assert doc is not None
    styles = {s.get("id") for s in doc.findall(f"{KML}Style")}
    assert {"unit", "vehicle", "marker-marker:k:p"} <= styles
    marks = {p.get("id"): p for p in doc.iter(f"{KML}Placemark")}
    assert set(marks) == {"unit:pdt:1", "vehicle:k:1", "marker:k:p", "marker:k:c", "track:unit:pdt:1"}
    assert marks["unit:pdt:1"].findtext(f"{KML}Point/{KML}coordinates") == "120.2500000,36.5000000"
    ring = marks["marker:k:p"].findtext(f"{KML}Polygon/{KML}outerBoundaryIs/{KML}LinearRing/{KML}coordinates")
    assert ring is not None and ring.split()[0] == ring.split()[-1] == "120.0000000,36.0000000"
    poly_style = next(s for s in doc.findall(f"{KML}Style") if s.get("id") == "marker-marker:k:p")
    assert poly_style.findtext(f"{KML}LineStyle/{KML}color") == "ff00ff00"
    track = marks["track:unit:pdt:1"].find(f"{GX}Track")
    assert track is not None
    assert len(track.findall(f"{KML}when")) == len(track.findall(f"{GX}coord")) == 3
    assert track.findall(f"{GX}coord")[0].text == "120.2000000 36.4000000 0.0"


@pytest.mark.asyncio
async def test_api_exports_now_a_past_picture_and_tracks_and_the_cli_reads_the_stopped_journal(
    tmp_path: Path,
) -> None:
    config = kit_config(tmp_path, node={"lat": 36.0, "lon": 120.0}, journal={"history_interval_s": 0.1})
    config_path = write_config(tmp_path, config)
    node, task = await start_local(config)
    try:
        tokens = {r: node.tokens.create(r, r.name.lower()) for r in Role}
        scene = node.scene
        assert scene is not None
        t0 = time.time() - 30
        for i in range(4):
            scene.apply_state(Unit(id="unit:pdt:9", origin="kit-test", ts=t0 + 5 * i, name="Walker",
                                   pos=Position(lat=36.0 + i / 100, lon=120.0)))
            await scene.flush(history=True)
        import httpx  # noqa: PLC0415

        headers = {"Authorization": f"Bearer {tokens[Role.VIEWER]}"}
        async with httpx.AsyncClient(base_url=node.api_url or "", headers=headers) as api:
            now = (await api.get("/api/export.geojson", params={"tracks_since": t0 - 1})).json()
            past = (await api.get("/api/export.geojson", params={"at": t0 + 6})).json()
            kml_body = (await api.get("/api/export.kml", params={"tracks_since": t0 - 1})).content
            bad = await api.get("/api/export.geojson", params={"tracks_since": t0, "tracks_until": t0 - 5})
            assert (await httpx.AsyncClient(base_url=node.api_url or "").get("/api/export.kml")).status_code == 401
        assert bad.status_code == 400
        walker = next(f for f in now["features"] if f["id"] == "unit:pdt:9")
        assert walker["geometry"]["coordinates"] == [120.0, 36.03]
        track = next(f for f in now["features"] if f["id"] == "track:unit:pdt:9")
        assert [c[1] for c in track["geometry"]["coordinates"]] == [36.0, 36.01, 36.02, 36.03]
        then = next(f for f in past["features"] if f["id"] == "unit:pdt:9")
        assert then["geometry"]["coordinates"] == [120.0, 36.01]
        assert ET.fromstring(kml_body).find(f".//{GX}Track") is not None
    finally:
        await stop_local(node, task)
    out = tmp_path / "picture.geojson"
    run = subprocess.run(
        [*FIELDKIT, "export", "--format", "geojson", "--config", str(config_path), "-o", str(out),
         "--tracks-since", str(t0 - 1)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(out.read_text())
    ids = {f["id"] for f in doc["features"]}
    assert {"unit:pdt:9", "node:kit-test", "track:unit:pdt:9"} <= ids
    kml_out = subprocess.run(
        [*FIELDKIT, "export", "--format", "kml", "--config", str(config_path), "--at", str(t0 + 6)],
        capture_output=True, timeout=60, check=True,
    ).stdout
    coords = [p.findtext(f"{KML}Point/{KML}coordinates") for p in ET.fromstring(kml_out).iter(f"{KML}Placemark")
              if p.get("id") == "unit:pdt:9"]
    assert coords == ["120.0000000,36.0100000"]
