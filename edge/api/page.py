"""The command-post page, its static files (Leaflet from xstatic-leaflet: no CDN) and the basemap routes."""

from __future__ import annotations

from pathlib import Path

import xstatic.pkg.leaflet
from litestar import Response, get
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from edge.api.tiles import basemap_list, tile

STATIC = Path(__file__).parent / "static"
LEAFLET = Path(xstatic.pkg.leaflet.BASE_DIR)


@get("/", include_in_schema=False, sync_to_thread=False)
def index() -> Response[bytes]:
    """The command-post page."""
    return Response((STATIC / "index.html").read_bytes(), media_type="text/html; charset=utf-8")


page_handlers: list[ControllerRouterHandler] = [
    index,
    tile,
    basemap_list,
    create_static_files_router(path="/static/leaflet", directories=[LEAFLET], include_in_schema=False),
    create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
]
