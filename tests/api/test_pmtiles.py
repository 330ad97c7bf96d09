"""PMTiles v3 basemaps: archives written by the reference `pmtiles` package, read by edge/api/pmtiles.py and
served at /tiles/N/{z}/{x}/{y}; damaged archives are refused, not read past their end."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest
from kit import kit_config, start_local, stop_local
from pmtiles.tile import Compression, TileType
from pmtiles.tile import zxy_to_tileid as reference_tileid
from pmtiles.writer import Writer

from edge.api.pmtiles import PMTiles, PMTilesError, parse_directory, parse_header, zxy_to_tileid
from edge.config import ConfigError, parse


def tile_bytes(z: int, x: int, y: int) -> bytes:
    pad = (z * 7919 + x * 104729 + y * 1299709) % 251  # lengths that do not compress away
    return b"\x89PNG\r\n\x1a\n" + f"{z}/{x}/{y}".encode() + b"." * pad


def write_pmtiles(path: Path, tiles: list[tuple[int, int, int]], *, tile_type: TileType = TileType.PNG) -> None:
    """An archive by the reference writer (gzip directories, as its writer always does)."""
    with path.open("wb") as f:
        writer = Writer(f)
        for z, x, y in sorted(tiles, key=lambda t: reference_tileid(*t)):
            writer.write_tile(reference_tileid(z, x, y), tile_bytes(z, x, y))
        zooms = [t[0] for t in tiles]
        writer.finalize(
            {"tile_type": tile_type, "tile_compression": Compression.NONE, "min_zoom": min(zooms),
             "max_zoom": max(zooms), "min_lon_e7": 1190000000, "min_lat_e7": 366000000, "max_lon_e7": 1193000000,
             "max_lat_e7": 368000000, "center_zoom": min(zooms), "center_lon_e7": 1191600000,
             "center_lat_e7": 367000000},
            {"attribution": "test"},
        )


def test_hilbert_ids_match_the_reference() -> None:
    rng = random.Random(9)
    for _ in range(5000):
        z = rng.randint(0, 24)
        x, y = rng.randrange(1 << z), rng.randrange(1 << z)
        assert zxy_to_tileid(z, x, y) == reference_tileid(z, x, y)


def test_every_tile_of_a_reference_archive_reads_back(tmp_path: Path) -> None:
    tiles = [(z, x, y) for z in range(4) for x in range(1 << z) for y in range(1 << z)]
    path = tmp_path / "world.pmtiles"
    write_pmtiles(path, tiles)
    archive = PMTiles(str(path))
    try:
        assert (archive.header.min_zoom, archive.header.max_zoom, archive.media_type) == (0, 3, "image/png")
        for z, x, y in tiles:
            assert archive.tile(z, x, y) == tile_bytes(z, x, y)
        assert archive.tile(4, 0, 0) is None  # deeper than the archive
    finally:
        archive.close()


def test_leaf_directories_are_followed(tmp_path: Path) -> None:
    # Enough distinct tiles that the reference writer splits the directory into a root and leaves.
    rng = random.Random(3)
    tiles = [(10, x, y) for x in range(300, 500) for y in range(300, 450) if rng.random() < 0.4]
    path = tmp_path / "leaves.pmtiles"
    write_pmtiles(path, tiles)
    archive = PMTiles(str(path))
    try:
        assert archive.header.leaf_length > 0
        assert all(archive.tile(*t) == tile_bytes(*t) for t in tiles[::97])
        absent = sorted({(10, x, y) for x in range(300, 500) for y in range(300, 450)} - set(tiles))
        assert all(archive.tile(*t) is None for t in absent[::53])
    finally:
        archive.close()


def test_damaged_archives_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.pmtiles"
    write_pmtiles(good, [(0, 0, 0)])
    data = good.read_bytes()
    with pytest.raises(PMTilesError, match="magic"):
        parse_header(b"PMTilez" + data[7:])
    with pytest.raises(PMTilesError, match="version 2"):
        parse_header(data[:7] + b"\x02" + data[8:])
    truncated = tmp_path / "short.pmtiles"
    truncated.write_bytes(data[:130])
    with pytest.raises(PMTilesError, match="outside the file"):
        PMTiles(str(truncated))
    with pytest.raises(PMTilesError, match="inside a varint"):
        parse_directory(b"\x01\x80")
    with pytest.raises(PMTilesError, match="holds"):
        parse_directory(b"\x05\x01\x02")
    vector = tmp_path / "vector.pmtiles"
    write_pmtiles(vector, [(0, 0, 0)], tile_type=TileType.MVT)
    with pytest.raises(PMTilesError, match="vector tiles"):
        PMTiles(str(vector))


async def test_a_pmtiles_basemap_is_served_beside_a_url_template(tmp_path: Path) -> None:
    path = tmp_path / "weifang.pmtiles"
    write_pmtiles(path, [(z, x, y) for z in range(3) for x in range(1 << z) for y in range(1 << z)])
    basemaps = [
        {"name": "Weifang", "source": str(path)},
        {"name": "AMap", "source": "http://127.0.0.1:9/{z}/{x}/{y}.png", "crs": "gcj02", "max_zoom": 17},
    ]
    node, task = await start_local(kit_config(tmp_path, api={"basemaps": basemaps}))
    try:
        async with httpx.AsyncClient(base_url=node.api_url) as client:
            assert (await client.get("/api/basemap")).json() == {"layers": [
                {"name": "Weifang", "crs": "wgs84", "attribution": "local pmtiles", "tiles": "/tiles/0/{z}/{x}/{y}",
                 "min_zoom": 0, "max_zoom": 2},
                {"name": "AMap", "crs": "gcj02", "attribution": "", "tiles": "http://127.0.0.1:9/{z}/{x}/{y}.png",
                 "subdomains": "", "max_zoom": 17},
            ]}
            r = await client.get("/tiles/0/2/3/1")
            assert (r.status_code, r.content, r.headers["content-type"]) == (200, tile_bytes(2, 3, 1), "image/png")
            assert (await client.get("/tiles/0/3/0/0")).status_code == 404  # not in the archive
            assert (await client.get("/tiles/1/2/3/1")).status_code == 404  # a URL basemap: the browser loads it
    finally:
        await stop_local(node, task)


async def test_a_damaged_archive_is_left_out_of_the_list(tmp_path: Path) -> None:
    good, vector = tmp_path / "good.pmtiles", tmp_path / "vector.pmtiles"
    write_pmtiles(good, [(0, 0, 0)])
    write_pmtiles(vector, [(0, 0, 0)], tile_type=TileType.MVT)
    basemaps = [{"name": "vector", "source": str(vector)}, {"name": "good", "source": str(good)}]
    node, task = await start_local(kit_config(tmp_path, api={"basemaps": basemaps}))
    try:
        async with httpx.AsyncClient(base_url=node.api_url) as client:
            layers = (await client.get("/api/basemap")).json()["layers"]
            assert [(x["name"], x["tiles"]) for x in layers] == [("good", "/tiles/1/{z}/{x}/{y}")]
            assert (await client.get("/tiles/0/0/0/0")).status_code == 404
            assert (await client.get("/tiles/1/0/0/0")).status_code == 200
    finally:
        await stop_local(node, task)


def test_bad_basemaps_are_config_problems(tmp_path: Path) -> None:
    text = (
        '[[api.basemaps]]\nname = "a"\nsource = "https://tiles.example/{z}/{x}.png"\n'
        f'[[api.basemaps]]\nname = "b"\nsource = "{tmp_path / "none.pmtiles"}"\n'
        '[[api.basemaps]]\nname = "c"\nsource = "map.tif"\ncrs = "bd09"\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert caught.value.problems == ['api.basemaps[2].crs: must be one of wgs84, gcj02 (got \'bd09\')']
    with pytest.raises(ConfigError) as caught:
        parse(text.replace('crs = "bd09"\n', ""))
    assert caught.value.problems == [
        "api.basemaps[0].source: a tile URL needs {y}",
        f"api.basemaps[1].source: no such file {tmp_path / 'none.pmtiles'}",
        "api.basemaps[2].source: give a .mbtiles or .pmtiles file or an http(s) URL template",
    ]
