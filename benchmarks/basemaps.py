"""Basemap tile serving: the handler bodies behind /tiles/N/{z}/{x}/{y} for a PMTiles and an MBTiles file.

Run ``.venv/bin/python benchmarks/basemaps.py [--tiles N] [--reads R] [--repeats K] [--write-doc]``.

Both files hold the same ``--tiles`` raster tiles (zooms 10-16 around Weifang, 1-3 KB each, enough that
the PMTiles writer splits its directory into leaves). ``--reads`` random existing tiles are then read
through ``edge.api.tiles._pmtiles_tile`` / ``_mbtiles_tile`` (file lookup + Response, no HTTP), tiles/s.
Each is repeated ``--repeats`` times, shown as the median (lowest-highest). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from edge.api.tiles import _mbtiles_tile, _pmtiles_tile

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks.perfdoc from this checkout, however the script is started

from benchmarks.perfdoc import heading, publish  # noqa: E402

TITLE = "## Command post: basemap tiles from PMTiles and MBTiles files"

LAT, LON = 36.70, 119.16


def tile_set(count: int, rnd: random.Random) -> list[tuple[int, int, int]]:
    tiles: set[tuple[int, int, int]] = set()
    z = 10
    while len(tiles) < count:
        n = 1 << z
        cx, cy = int((LON + 180) / 360 * n), int(n * 0.306)  # ~36.7 N in Web Mercator rows
        span = min(n, 40 << (z - 10))
        for _ in range(min(count - len(tiles), span * span // 2)):
            tiles.add((z, cx + rnd.randrange(-span // 2, span // 2), cy + rnd.randrange(-span // 2, span // 2)))
        z = min(z + 1, 16)
    return sorted(tiles)


def build(folder: Path, tiles: list[tuple[int, int, int]], rnd: random.Random) -> tuple[str, str]:
    data = {t: os.urandom(rnd.randrange(1000, 3000)) for t in tiles}
    pm, mb = folder / "bench.pmtiles", folder / "bench.mbtiles"
    with pm.open("wb") as f:
        writer = Writer(f)  # type: ignore[no-untyped-call]
        for t in sorted(tiles, key=lambda t: zxy_to_tileid(*t)):
            writer.write_tile(zxy_to_tileid(*t), data[t])  # type: ignore[no-untyped-call]
        zooms = [t[0] for t in tiles]
        writer.finalize(  # type: ignore[no-untyped-call]
            {
                "tile_type": TileType.PNG,
                "tile_compression": Compression.NONE,
                "min_zoom": min(zooms),
                "max_zoom": max(zooms),
                "min_lon_e7": 0,
                "min_lat_e7": 0,
                "max_lon_e7": 0,
                "max_lat_e7": 0,
                "center_zoom": min(zooms),
                "center_lon_e7": 0,
                "center_lat_e7": 0,
            },
            {},
        )
    with sqlite3.connect(mb) as conn:
        conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        conn.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        conn.execute("INSERT INTO metadata VALUES ('format', 'png')")
        conn.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            [(z, x, (1 << z) - 1 - y, blob) for (z, x, y), blob in data.items()],
        )
    conn.close()
    return str(pm), str(mb)


def rate(read: Callable[[str, int, int, int], object], path: str, sample: list[tuple[int, int, int]]) -> float:
    start = time.perf_counter()
    for z, x, y in sample:
        read(path, z, x, y)
    return len(sample) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiles", type=int, default=20_000)
    parser.add_argument("--reads", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write-doc", action="store_true", help="replace its section in docs/PERFORMANCE.md")
    args = parser.parse_args()
    rnd = random.Random(1)
    tiles = tile_set(args.tiles, rnd)
    with tempfile.TemporaryDirectory() as folder:
        pm, mb = build(Path(folder), tiles, rnd)
        lines = [
            *heading(TITLE),
            f"{len(tiles):,} random 1-3 KB tiles at zooms 10-16, the same tiles in both files; {args.reads:,} random "
            f"reads x {args.repeats} through the handler bodies behind `/tiles/N/{{z}}/{{x}}/{{y}}`, no HTTP.",
            "",
            "| file | tiles/s, median (lowest-highest) | µs per tile (median) |",
            "|---|---|---:|",
        ]
        what = {"PMTiles": "root + leaf directories", "MBTiles": "indexed"}
        for name, read, path in (("PMTiles", _pmtiles_tile, pm), ("MBTiles", _mbtiles_tile, mb)):
            runs = [rate(read, path, rnd.choices(tiles, k=args.reads)) for _ in range(args.repeats)]
            median = statistics.median(runs)
            lines.append(
                f"| {name} ({os.path.getsize(path) / 1e6:.1f} MB, {what[name]}) | {median:,.0f} "
                f"({min(runs):,.0f}-{max(runs):,.0f}) | {1e6 / median:.0f} |"
            )
    lines += [
        "",
        "Reading: a PMTiles tile is one `pread` (directories cached); an MBTiles tile is mostly the read-only",
        "SQLite connection opened per request. A screen is ~30 tiles, so either is far beyond what browsers",
        "ask for, and the per-request connection stays for its simplicity.",
    ]
    publish(lines, write=args.write_doc)


if __name__ == "__main__":
    main()
