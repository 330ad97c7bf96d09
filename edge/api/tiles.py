"""Basemap tiles served by the node (MBTiles and PMTiles files) and the list of basemaps the page offers.

Local files are served at ``/tiles/{n}/{z}/{x}/{y}`` (n = place in the list), so the page treats every
offline basemap like an XYZ server; URL templates go to the page as they are, and the browser loads them.
"""

from __future__ import annotations

import logging
import sqlite3
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter

from edge.api.guards import NodeDep
from edge.api.pmtiles import PMTiles, PMTilesError
from edge.basemap import Basemap
from edge.config import Config

log = logging.getLogger(__name__)
_warned: set[str] = set()

MBTILES_MEDIA = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
CACHE = {"Cache-Control": "max-age=86400"}

# An open archive keeps its parsed root directory; a node serves a handful of basemaps for its lifetime.
_pmtiles = lru_cache(maxsize=8)(PMTiles)


def basemaps(config: Config) -> list[Basemap]:
    """Every configured basemap in layer-control order: ``api.mbtiles`` first, then ``api.basemaps``."""
    legacy = [Basemap(name="MBTiles", source=config.api.mbtiles)] if config.api.mbtiles else []
    return legacy + list(config.api.basemaps)


def _mbtiles_zooms(path: str) -> dict[str, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        meta = dict(conn.execute("SELECT name, value FROM metadata WHERE name IN ('minzoom', 'maxzoom')"))
    return {f"{k[:3]}_zoom": int(v) for k, v in meta.items() if str(v).isdigit()}


def describe(index: int, basemap: Basemap) -> dict[str, object]:
    """What the page needs to draw one basemap."""
    layer: dict[str, object] = {"name": basemap.name, "crs": basemap.crs, "attribution": basemap.attribution}
    if basemap.is_url:
        return {**layer, "tiles": basemap.source, "subdomains": basemap.subdomains, "max_zoom": basemap.max_zoom}
    layer["tiles"] = f"/tiles/{index}/{{z}}/{{x}}/{{y}}"
    kind = Path(basemap.source).suffix[1:]
    layer["attribution"] = basemap.attribution or f"local {kind}"
    if kind == "pmtiles":
        header = _pmtiles(basemap.source).header
        return {**layer, "min_zoom": header.min_zoom, "max_zoom": header.max_zoom}
    return {**layer, **_mbtiles_zooms(basemap.source)}


@get("/api/basemap", include_in_schema=False, sync_to_thread=True)
def basemap_list(node: NodeDep) -> dict[str, object]:
    """The basemaps for the page's layer control (it adds its own offline grid); a damaged file is left out."""
    layers = []
    for i, basemap in enumerate(basemaps(node.config)):
        try:
            layers.append(describe(i, basemap))
        except (PMTilesError, OSError, sqlite3.Error) as exc:
            if basemap.source not in _warned:  # once per file, not on every page load
                _warned.add(basemap.source)
                log.warning("basemap %r left out: %s", basemap.name, exc)
    return {"layers": layers}


def _mbtiles_tile(path: str, z: int, x: int, y: int) -> Response[bytes]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (1 << z) - 1 - y),  # MBTiles rows are TMS: origin at the bottom
        ).fetchone()
        fmt = conn.execute("SELECT value FROM metadata WHERE name='format'").fetchone()
    if row is None:
        raise NotFoundException("no tile there")
    media = MBTILES_MEDIA.get(fmt[0] if fmt else "", "image/png")
    return Response(row[0], media_type=media, headers=CACHE)


def _pmtiles_tile(path: str, z: int, x: int, y: int) -> Response[bytes]:
    try:
        archive = _pmtiles(path)
        data = archive.tile(z, x, y)
    except PMTilesError as exc:
        raise NotFoundException(f"damaged archive: {exc}") from exc
    if data is None:
        raise NotFoundException("no tile there")
    encoding = archive.content_encoding
    headers = CACHE | ({"Content-Encoding": encoding} if encoding else {})
    return Response(data, media_type=archive.media_type, headers=headers)


@get("/tiles/{layer:int}/{z:int}/{x:int}/{y:int}", include_in_schema=False, sync_to_thread=True)
def tile(
    node: NodeDep,
    layer: Annotated[int, PathParameter(ge=0, le=64)],
    z: Annotated[int, PathParameter(ge=0, le=24)],
    x: Annotated[int, PathParameter(ge=0)],
    y: Annotated[int, PathParameter(ge=0)],
) -> Response[bytes]:
    """One tile (XYZ numbering) of the local basemap file at place ``layer`` in the list."""
    layers = basemaps(node.config)
    if layer >= len(layers) or layers[layer].is_url:
        raise NotFoundException("no local basemap there")
    source = layers[layer].source
    if source.endswith(".pmtiles"):
        return _pmtiles_tile(source, z, x, y)
    return _mbtiles_tile(source, z, x, y)
