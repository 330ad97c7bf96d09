"""The Litestar application and the uvicorn server that runs it inside the node's event loop."""

from __future__ import annotations

import asyncio
import logging
import socket

import uvicorn
from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from edge import __version__
from edge.api.bodies import refuse_deep_json
from edge.api.drones import drones_router
from edge.api.guards import NodeDep
from edge.api.incident import incident_router
from edge.api.interop import interop_handlers
from edge.api.live import live
from edge.api.page import page_handlers
from edge.api.routes import Health, api_router, health_of
from edge.api.tokens import tokens_router
from edge.api.video import video_router
from edge.journal import JournalUnavailable
from edge.node import EdgeNode

log = logging.getLogger(__name__)


@get("/healthz", sync_to_thread=False)
def healthz(node: NodeDep) -> Health:
    """Each component's state and the scene's counters (no picture data, so no token needed)."""
    return health_of(node)


def _journal_down(request: Request, exc: JournalUnavailable) -> Response[dict[str, object]]:  # type: ignore[type-arg]
    return Response({"status_code": 503, "detail": f"not stored, so not accepted: {exc}"}, status_code=503)


def _http_error(request: Request, exc: HTTPException) -> Response[dict[str, object]]:  # type: ignore[type-arg]
    body: dict[str, object] = {"status_code": exc.status_code, "detail": exc.detail}
    if exc.extra:
        body["extra"] = exc.extra
    return Response(body, status_code=exc.status_code, headers=exc.headers, media_type=MediaType.JSON)


def _server_error(request: Request, exc: Exception) -> Response[dict[str, object]]:  # type: ignore[type-arg]
    # Without this a 500 left no trace: logging_config=None keeps Litestar's own logger off.
    log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    return Response({"status_code": 500, "detail": "Internal Server Error"}, status_code=500, media_type=MediaType.JSON)


def create_app(node: EdgeNode) -> Litestar:
    """The whole HTTP surface of one node."""
    return Litestar(
        route_handlers=[
            healthz,
            api_router,
            drones_router,
            video_router,
            tokens_router,
            incident_router,
            live,
            *interop_handlers,
            *page_handlers,
        ],
        dependencies={"node": Provide(lambda: node, sync_to_thread=False)},
        state=State({"node": node, "live_clients": 0, "metrics": None}),
        request_max_body_size=node.config.api.max_body_bytes,
        before_request=refuse_deep_json,  # before a body reaches the JSON decoder (edge/api/bodies.py)
        exception_handlers={JournalUnavailable: _journal_down, HTTPException: _http_error, Exception: _server_error},
        openapi_config=OpenAPIConfig(
            title="fieldkit", version=__version__, path="/api/schema", render_plugins=[JsonRenderPlugin()]
        ),
        logging_config=None,  # the CLI configures logging once for the whole process
        debug=False,
    )


class ApiServer:
    """Component: serve the app with uvicorn on the node's loop until cancelled."""

    name = "api"

    def __init__(self, node: EdgeNode) -> None:
        self.node = node

    async def run(self) -> None:
        cfg = self.node.config.api
        sock = _listen(cfg.host, cfg.port)
        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(
            create_app(self.node),
            lifespan="off",
            log_level="warning",
            access_log=False,
            ws_max_size=64 * 1024,
            timeout_graceful_shutdown=1,
            server_header=False,
            log_config=None,
            ssl_certfile=cfg.tls_cert or None,  # the incident authority's node certificate (fieldkit certs)
            ssl_keyfile=cfg.tls_key or None,
        )
        server = uvicorn.Server(config)
        config.load()
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        scheme = "https" if cfg.tls_cert else "http"
        self.node.api_url = f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}/"
        self.node.ready.set()
        log.info("serving %s", self.node.api_url)
        try:
            await server.main_loop()
        finally:
            server.should_exit = True
            await asyncio.shield(server.shutdown(sockets=[sock]))


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says it is TCP; with proto 0, Nagle + delayed ACK added ~40 ms stalls to live deltas.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
