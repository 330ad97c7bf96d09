"""Video routes under /api/: the feeds, WHEP for viewers and WHIP for publishers.

WHEP (``POST /api/feeds/{name}/whep``, viewer role) and WHIP (``POST /api/feeds/{name}/whip``,
pilot role: publishing puts video in everyone's picture) take an ``application/sdp`` offer and
answer ``201 Created`` with the SDP answer and a ``Location`` naming the session; ``DELETE`` on that
URL ends it. aiortc answers with every ICE candidate included, so there is no trickle (``PATCH``).
A body that is not a usable offer gets 400 with the reason; a full feed or node, 503.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Request, Response, Router, delete, get, post
from litestar.exceptions import (
    ClientException,
    NotFoundException,
    ServiceUnavailableException,
)
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

from edge.api.guards import NodeDep, authorize, principal_of
from edge.auth import Role
from edge.scene import Entity
from media.service import MediaService, NoSuchFeed, TooManyViewers
from media.webrtc import MAX_SDP_BYTES, OfferError

VIEW = {"role": Role.VIEWER}
PILOT = {"role": Role.PILOT}
SDP = "application/sdp"


def _media(node: NodeDep) -> MediaService:
    if node.media is None:
        raise NotFoundException("video is not enabled on this node")
    return node.media


async def _offer(request: Request) -> str:  # type: ignore[type-arg]
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != SDP:
        raise ClientException(
            f"the body must be {SDP}, not {kind or 'untyped'}", status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE
        )
    body = await request.body()
    if len(body) > MAX_SDP_BYTES:
        raise ClientException(f"the offer is larger than {MAX_SDP_BYTES} bytes")
    try:
        return body.decode()
    except UnicodeDecodeError as exc:
        raise ClientException("the offer is not UTF-8 text") from exc


@get("/feeds", opt=VIEW, sync_to_thread=False)
def list_feeds(node: NodeDep) -> list[Entity]:
    """Every feed in the picture (this node's and those shared by other nodes)."""
    assert node.scene is not None
    return node.scene.entities("feed")


@post("/feeds/{name:str}/whep", opt=VIEW, status_code=201)
async def whep(
    node: NodeDep,
    name: FromPath[str],
    request: Request,  # type: ignore[type-arg]
    profile: Annotated[str, QueryParameter(max_length=32)] = "main",
) -> Response[str]:
    """Watch a feed (``?profile=low`` for a narrow-link variant): an SDP offer in, ``201`` with the answer
    and the session's ``Location`` out."""
    media = _media(node)
    offer = await _offer(request)
    try:
        viewer, answer = await media.open_viewer(name, offer, principal_of(request).label, profile)
    except NoSuchFeed as exc:
        raise NotFoundException(str(exc)) from exc
    except TooManyViewers as exc:
        raise ServiceUnavailableException(str(exc)) from exc
    except OfferError as exc:
        raise ClientException(str(exc)) from exc
    location = f"/api/feeds/{name}/whep/{viewer.id}"
    return Response(answer, status_code=201, media_type=SDP, headers={"Location": location})


@delete("/feeds/{name:str}/whep/{session:str}", opt=VIEW, status_code=204)
async def whep_end(node: NodeDep, name: FromPath[str], session: FromPath[str]) -> None:
    """Stop watching."""
    if not await _media(node).close_viewer(name, session):
        raise NotFoundException("no such viewing session")


@post("/feeds/{name:str}/whip", opt=PILOT, status_code=201)
async def whip(node: NodeDep, name: FromPath[str], request: Request) -> Response[str]:  # type: ignore[type-arg]
    """Publish a camera into a ``whip`` feed: an SDP offer in, ``201`` with the answer out."""
    media = _media(node)
    offer = await _offer(request)
    try:
        answer = await media.open_publisher(name, offer, principal_of(request).label)
    except NoSuchFeed as exc:
        raise NotFoundException(str(exc)) from exc
    except OfferError as exc:
        raise ClientException(str(exc)) from exc
    return Response(answer, status_code=201, media_type=SDP, headers={"Location": f"/api/feeds/{name}/whip/session"})


@delete("/feeds/{name:str}/whip/session", opt=PILOT, status_code=204)
async def whip_end(node: NodeDep, name: FromPath[str]) -> None:
    """Stop publishing."""
    try:
        ended = await _media(node).close_publisher(name)
    except NoSuchFeed as exc:
        raise NotFoundException(str(exc)) from exc
    if not ended:
        raise NotFoundException("nobody is publishing on this feed")


video_router = Router(path="/api", guards=[authorize], route_handlers=[list_feeds, whep, whep_end, whip, whip_end])
