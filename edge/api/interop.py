"""Interop routes: ``/metrics`` (Prometheus) and the picture as GeoJSON and KML for GIS tools."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler
from litestar.params import QueryParameter
from prometheus_client import CollectorRegistry

from edge.api.guards import NodeDep, authorize
from edge.auth import Role
from edge.export import geojson, kml, track_ids
from edge.metrics import CONTENT_TYPE, registry_for, render
from edge.node import EdgeNode
from edge.scene import Snapshot, TrackPoint

VIEW = {"role": Role.VIEWER}
# Litestar adds "; charset=utf-8" to a text/ media type itself: given CONTENT_TYPE whole, the header
# carried the charset twice, which strict scrapers refuse (schemathesis showed it).
_METRICS_MEDIA = CONTENT_TYPE.removesuffix("; charset=utf-8")
MAX_TRACK_SPAN_S = 7 * 86400.0


def metrics_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """A viewer token, unless ``api.metrics_public`` says the scrape port is trusted."""
    node: EdgeNode = connection.app.state.node
    if not node.config.api.metrics_public:
        authorize(connection, handler)


def _registry(request: Request) -> CollectorRegistry:  # type: ignore[type-arg]
    state = request.app.state
    if state.get("metrics") is None:
        state.metrics = registry_for(state.node, lambda: int(state.live_clients))
    registry: CollectorRegistry = state.metrics
    return registry


@get("/metrics", opt=VIEW, guards=[metrics_guard], sync_to_thread=False, media_type=_METRICS_MEDIA)
def metrics(request: Request) -> Response[bytes]:  # type: ignore[type-arg]
    """The node's counters in the Prometheus text format."""
    return Response(render(_registry(request)), media_type=_METRICS_MEDIA)


async def _picture(
    node: EdgeNode, at: float | None, since: float | None, until: float | None
) -> tuple[Snapshot, dict[str, list[TrackPoint]]]:
    assert node.scene is not None
    snapshot = await node.journal.picture_at(at) if at is not None else node.scene.snapshot()
    tracks: dict[str, list[TrackPoint]] = {}
    if since is not None:
        end = until if until is not None else (at if at is not None else node.clock())
        if end < since:
            raise ValidationException("tracks_until must not be before tracks_since")
        if end - since > MAX_TRACK_SPAN_S:
            raise ValidationException(f"a track window is at most {MAX_TRACK_SPAN_S / 86400:.0f} days")
        for entity_id in track_ids(snapshot.entities):
            tracks[entity_id] = await node.journal.track(entity_id, since, end)
    return snapshot, tracks


LAST_TS = 253_402_300_799.0  # 9999-12-31T23:59:59Z: the last time an export can write (fuzz: 1e16 made a 500)
Time = Annotated[float | None, QueryParameter(ge=0, le=LAST_TS)]


@get("/export.geojson", opt=VIEW, media_type="application/geo+json")
async def export_geojson(
    node: NodeDep, at: Time = None, tracks_since: Time = None, tracks_until: Time = None
) -> Response[dict[str, Any]]:
    """The picture (now, or ``at``) as a GeoJSON FeatureCollection, with tracks if a window is given."""
    snapshot, tracks = await _picture(node, at, tracks_since, tracks_until)
    return Response(geojson(snapshot, tracks), media_type="application/geo+json")


@get("/export.kml", opt=VIEW, media_type="application/vnd.google-earth.kml+xml")
async def export_kml(
    node: NodeDep, at: Time = None, tracks_since: Time = None, tracks_until: Time = None
) -> Response[bytes]:
    """The picture (now, or ``at``) as KML, with tracks as gx:Track if a window is given."""
    snapshot, tracks = await _picture(node, at, tracks_since, tracks_until)
    body = kml(snapshot, tracks, name=node.config.node.name or node.node_id)
    return Response(body, media_type="application/vnd.google-earth.kml+xml")


export_router = Router(path="/api", guards=[authorize], route_handlers=[export_geojson, export_kml])
interop_handlers: list[HTTPRouteHandler | Router] = [metrics, export_router]
