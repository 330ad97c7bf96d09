"""Basemap options: offline MBTiles/PMTiles files on the node, or an XYZ tile URL the browser loads itself.

Kept apart from ``edge.api`` so that ``edge.config`` can check them without importing the web app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from msgspec import Meta, Struct

Zoom = Annotated[int, Meta(ge=0, le=24)]


class Basemap(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One basemap the page offers in its layer control."""

    name: Annotated[str, Meta(description="Name shown in the page's layer control."), Meta(max_length=60)]
    source: Annotated[
        str,
        Meta(
            description="A local `.mbtiles` or `.pmtiles` (v3, raster) file served by the node at "
            "/tiles/N/{z}/{x}/{y}, "
            "or an `http(s)://` XYZ template with {z}, {x}, {y} (and {s} for `subdomains`) that the browser loads "
            "directly (needs a network)."
        ),
    ]
    crs: Annotated[
        Literal["wgs84", "gcj02"],
        Meta(
            description='Datum of the tiles. "gcj02" (AMap and other Chinese web maps) makes the page shift what it '
            'draws by the WGS-84 -> GCJ-02 offset, for display only; Tianditu (CGCS2000) and OSM are "wgs84".'
        ),
    ] = "wgs84"
    attribution: Annotated[str, Meta(description="Attribution text shown on the map.")] = ""
    subdomains: Annotated[str, Meta(description="Letters or digits substituted for {s} in a URL template.")] = ""
    max_zoom: Annotated[Zoom, Meta(description="Deepest zoom of a URL template (files say their own).")] = 18

    @property
    def is_url(self) -> bool:
        """The browser loads this basemap from the network, not from the node."""
        return self.source.startswith(("http://", "https://"))


def problems(basemaps: list[Basemap], where: str = "api.basemaps") -> list[str]:
    """What is wrong with each basemap, with its key path."""
    found = []
    for i, basemap in enumerate(basemaps):
        at = f"{where}[{i}].source"
        if basemap.is_url:
            missing = [k for k in ("{z}", "{x}", "{y}") if k not in basemap.source]
            if missing:
                found.append(f"{at}: a tile URL needs {', '.join(missing)}")
            if "{s}" in basemap.source and not basemap.subdomains:
                found.append(f"{at}: the URL has {{s}} but no subdomains are given")
        elif Path(basemap.source).suffix not in (".mbtiles", ".pmtiles"):
            found.append(f"{at}: give a .mbtiles or .pmtiles file or an http(s) URL template")
        elif not Path(basemap.source).is_file():
            found.append(f"{at}: no such file {basemap.source}")
    return found
