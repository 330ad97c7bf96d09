"""Basemap fixtures for browser tests: real PNG tiles, a PMTiles archive by the reference writer, a loopback
XYZ tile server that records what it was asked for, and Web Mercator pixel maths done independently of the page."""

from __future__ import annotations

import math
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer


def png(rgb: tuple[int, int, int], size: int = 8) -> bytes:
    """A small solid-colour PNG (the browser scales it to the tile)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def global_pixel(lat: float, lon: float, zoom: int) -> tuple[float, float]:
    """Web Mercator pixel of a point in the whole world's tile grid at ``zoom`` (256-pixel tiles)."""
    scale = 256 * 2**zoom
    y = (1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2
    return (lon + 180) / 360 * scale, y * scale


def pixel_to_latlon(px: float, py: float, zoom: int) -> tuple[float, float]:
    """The inverse of ``global_pixel``."""
    scale = 256 * 2**zoom
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / scale))))
    return lat, px / scale * 360 - 180


def write_pmtiles(path: Path, lat: float, lon: float, zooms: range, radius: int = 4) -> None:
    """A raster archive of green tiles covering ``radius`` tiles around (lat, lon) at each zoom."""
    tiles = []
    for z in zooms:
        cx, cy = (int(v // 256) for v in global_pixel(lat, lon, z))
        tiles += [(z, x, y) for x in range(cx - radius, cx + radius + 1) for y in range(cy - radius, cy + radius + 1)]
    with path.open("wb") as f:
        writer = Writer(f)
        for z, x, y in sorted(tiles, key=lambda t: zxy_to_tileid(*t)):
            writer.write_tile(zxy_to_tileid(z, x, y), png((120, 200, 120)))
        writer.finalize(
            {"tile_type": TileType.PNG, "tile_compression": Compression.NONE, "min_zoom": zooms.start,
             "max_zoom": zooms.stop - 1, "min_lon_e7": 0, "min_lat_e7": 0, "max_lon_e7": 0, "max_lat_e7": 0,
             "center_zoom": zooms.start, "center_lon_e7": int(lon * 1e7), "center_lat_e7": int(lat * 1e7)},
            {},
        )


@dataclass
class TileServer:
    """A loopback XYZ server: every path it was asked for, answered with a PNG."""

    url: str
    paths: list[str] = field(default_factory=list)


@contextmanager
def tile_server() -> Iterator[TileServer]:
    """Serve PNG tiles on 127.0.0.1 (never the internet) for as long as the block runs."""
    tile = png((200, 180, 140))
    server_state = TileServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
