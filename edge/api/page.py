"""The command-post page, its static files (Leaflet from xstatic-leaflet: no CDN) and basemap tiles."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated

import xstatic.pkg.leaflet
from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from edge.api.guards import NodeDep

STATIC = Path(__file__).parent / "static"
LEAFLET = Path(xstatic.pkg.leaflet.BASE_DIR)


@get("/", include_in_schema=False, sync_to_thread=False)
def index() -> Response[bytes]:
    """The command-post page."""
    return Response((STATIC / "index.html").read_bytes(), media_type="text/html; charset=utf-8")


@get("/tiles/{z:int}/{x:int}/{y:int}", include_in_schema=False, sync_to_thread=True)
def tile(
    node: NodeDep,
    z: Annotated[int, PathParameter(ge=0, le=24)],
    x: Annotated[int, PathParameter(ge=0)],
    y: Annotated[int, PathParameter(ge=0)],
) -> Response[bytes]:
    """One basemap tile (XYZ numbering) from the configured MBTiles file (TMS rows inside)."""
    path = node.config.api.mbtiles
    if not path:
        raise NotFoundException("no MBTiles basemap configured")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (1 << z) - 1 - y),
        ).fetchone()
        fmt = conn.execute("SELECT value FROM metadata WHERE name='format'").fetchone()
    if row is None:
        raise NotFoundException("no tile there")
    media = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}.get(fmt[0] if fmt else "", "image/png")
    return Response(row[0], media_type=media, headers={"Cache-Control": "max-age=86400"})


@get("/api/basemap", include_in_schema=False, sync_to_thread=True)
def basemap(node: NodeDep) -> dict[str, object]:
    """What the page should draw under the picture: the MBTiles tile URL and zoom range, or the grid."""
    path = node.config.api.mbtiles
    if not path:
        return {"mbtiles": False, "tiles": "/tiles/{z}/{x}/{y}"}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        meta = dict(conn.execute("SELECT name, value FROM metadata WHERE name IN ('minzoom', 'maxzoom')"))
    zooms = {f"{k[:3]}_zoom": int(v) for k, v in meta.items() if str(v).isdigit()}
    return {"mbtiles": True, "tiles": "/tiles/{z}/{x}/{y}", **zooms}


page_handlers: list[ControllerRouterHandler] = [
    index,
    tile,
    basemap,
    create_static_files_router(path="/static/leaflet", directories=[LEAFLET], include_in_schema=False),
    create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
]
