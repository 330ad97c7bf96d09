"""Basemap tiles from an MBTiles file, and replay of the picture through the API."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
from kit import kit_config, start_local, stop_local

from edge.auth import Role
from edge.config import ConfigError, parse
from edge.scene import Position, Unit

PNG = b"\x89PNG\r\n\x1a\n" + b"tile-bytes"


def make_mbtiles(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        conn.executemany("INSERT INTO metadata VALUES (?, ?)", [("format", "png"), ("minzoom", "1"), ("maxzoom", "2")])
        # MBTiles rows are TMS (origin at the bottom): XYZ y=1 at zoom 2 is TMS row 4-1-1 = 2.
        conn.execute("INSERT INTO tiles VALUES (2, 3, 2, ?)", (PNG,))
    conn.close()


async def test_tiles_come_from_the_mbtiles_file(tmp_path: Path) -> None:
    tiles = tmp_path / "map.mbtiles"
    make_mbtiles(tiles)
    node, task = await start_local(kit_config(tmp_path, api={"mbtiles": str(tiles)}))
    try:
        async with httpx.AsyncClient(base_url=node.api_url) as client:
            basemap = (await client.get("/api/basemap")).json()
            assert basemap == {"layers": [{
                "name": "MBTiles", "crs": "wgs84", "attribution": "local mbtiles", "tiles": "/tiles/0/{z}/{x}/{y}",
                "min_zoom": 1, "max_zoom": 2,
            }]}
            r = await client.get("/tiles/0/2/3/1")
            assert r.status_code == 200 and r.content == PNG and r.headers["content-type"] == "image/png"
            assert (await client.get("/tiles/0/2/3/2")).status_code == 404
            assert (await client.get("/tiles/1/2/3/1")).status_code == 404  # no second basemap
            assert (await client.get("/tiles/0/99/0/0")).status_code == 400
    finally:
        await stop_local(node, task)


async def test_no_mbtiles_means_the_grid(local_node) -> None:
    async with local_node.client(None) as client:
        assert (await client.get("/api/basemap")).json() == {"layers": []}
        assert (await client.get("/tiles/0/1/0/0")).status_code == 404


def test_missing_mbtiles_file_is_a_config_problem(tmp_path: Path) -> None:
    try:
        parse(f'[api]\nmbtiles = "{tmp_path / "nope.mbtiles"}"\n')
    except ConfigError as exc:
        assert exc.problems == [f"api.mbtiles: no such file {tmp_path / 'nope.mbtiles'}"]
    else:
        raise AssertionError("a missing basemap file must be reported")


async def test_replay_through_the_api(local_node) -> None:
    scene = local_node.node.scene
    t0 = time.time() - 100
    scene.apply_state(Unit(id="unit:pdt:5", origin="kit-test", ts=t0, pos=Position(lat=36.70, lon=119.16)))
    await scene.flush(history=True)
    scene.apply_state(Unit(id="unit:pdt:5", origin="kit-test", ts=t0 + 50, pos=Position(lat=36.75, lon=119.16)))
    await scene.flush(history=True)
    async with local_node.client(Role.VIEWER) as viewer:
        early = (await viewer.get("/api/replay", params={"at": t0 + 10})).json()
        late = (await viewer.get("/api/replay", params={"at": t0 + 60})).json()
        track = (await viewer.get("/api/entities/unit:pdt:5/track", params={"since": t0 - 1})).json()
    assert [e["pos"]["lat"] for e in early["entities"] if e["id"] == "unit:pdt:5"] == [36.70]
    assert [e["pos"]["lat"] for e in late["entities"] if e["id"] == "unit:pdt:5"] == [36.75]
    assert [p[1] for p in track] == [36.70, 36.75]
