"""Video routes under /api/: the feeds, WHEP for viewers and WHIP for publishers.

WHEP (``POST /api/feeds/{name}/whep``, viewer role) and WHIP (``POST /api/feeds/{name}/whip``,
pilot role: publishing puts video in everyone's picture) take an ``application/sdp`` offer and
answer ``201 Created`` with the SDP answer and a ``Location`` naming the session; ``DELETE`` on that
URL ends it. aiortc answers with every ICE candidate included, so there is no trickle (``PATCH``).
A body that is not a usable offer gets 400 with the reason; a full feed or node, 503.

Each feed also has its newest snapshot (``GET /api/feeds/{name}/snapshot.jpg``, a JPEG of at most
``[media] snapshot_max_bytes``), and can be recorded (``POST /api/feeds/{name}/recording``, pilot)
to MP4 files listed and downloaded under ``/api/recordings``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, delete, get, post
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotFoundException,
    ServiceUnavailableException,
)
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import File
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_415_UNSUPPORTED_MEDIA_TYPE
from msgspec import Struct

from edge.api.guards import NodeDep, authorize, principal_of
from edge.auth import Role
from edge.scene import Entity
from media.derived import RecordingError
from media.remote import split_feed_id
from media.service import MediaService, NoSuchFeed, RecordingFile, TooManyViewers
from media.sources.mesh import RemoteRefused, RemoteUnavailable
from media.webrtc import MAX_SDP_BYTES, OfferError

VIEW = {"role": Role.VIEWER}
PILOT = {"role": Role.PILOT}
# What the WHEP/WHIP endpoints may answer besides 201, so the OpenAPI document lists it.
_SDP_ERRORS: list[type[HTTPException]] = [NotFoundException, ServiceUnavailableException]
_NOT_SDP = {HTTP_415_UNSUPPORTED_MEDIA_TYPE: ResponseSpec(dict[str, Any], description="the offer is not SDP")}
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


@post("/feeds/{name:str}/whep", opt=VIEW, status_code=201, raises=_SDP_ERRORS, responses=_NOT_SDP)
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
    except RemoteRefused as exc:  # a narrowband link to the feed's node: snapshots only
        raise ClientException(str(exc), status_code=HTTP_409_CONFLICT) from exc
    except (TooManyViewers, RemoteUnavailable) as exc:
        raise ServiceUnavailableException(str(exc)) from exc
    except OfferError as exc:
        raise ClientException(str(exc)) from exc
    location = f"/api/feeds/{name}/whep/{viewer.id}"
    return Response(answer, status_code=201, media_type=SDP, headers={"Location": location})


@delete("/feeds/{name:str}/whep/{session:str}", opt=VIEW, status_code=204, raises=[NotFoundException])
async def whep_end(node: NodeDep, name: FromPath[str], session: FromPath[str]) -> None:
    """Stop watching."""
    if not await _media(node).close_viewer(name, session):
        raise NotFoundException("no such viewing session")


@post("/feeds/{name:str}/whip", opt=PILOT, status_code=201, raises=_SDP_ERRORS, responses=_NOT_SDP)
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


@delete("/feeds/{name:str}/whip/session", opt=PILOT, status_code=204, raises=[NotFoundException])
async def whip_end(node: NodeDep, name: FromPath[str]) -> None:
    """Stop publishing."""
    try:
        ended = await _media(node).close_publisher(name)
    except NoSuchFeed as exc:
        raise NotFoundException(str(exc)) from exc
    if not ended:
        raise NotFoundException("nobody is publishing on this feed")


@get("/feeds/{name:str}/snapshot.jpg", opt=VIEW, sync_to_thread=False, raises=[NotFoundException])
def snapshot(node: NodeDep, name: FromPath[str]) -> Response[bytes]:
    """The feed's newest snapshot: a JPEG small enough for a narrow link (``[media] snapshot_max_bytes``).

    ``name`` is one of this node's feeds, or any feed's id (``feed:<node>:<name>``): another node's
    feed is answered with the newest snapshot that node sent over the mesh."""
    where = split_feed_id(name)
    if where is not None and where[0] != node.node_id:
        remote = node.mesh.feeds.snapshot(*where) if node.mesh is not None and node.mesh.feeds else None
        if remote is None:
            raise NotFoundException(f"no snapshot of {name} has come over the mesh yet")
        return _jpeg(remote.jpeg, remote.captured, remote.node)
    try:
        snap = _media(node).snapshot(where[1] if where else name)
    except NoSuchFeed as exc:
        raise NotFoundException(str(exc)) from exc
    if snap is None:
        raise NotFoundException("no snapshot of this feed yet")
    return _jpeg(snap.jpeg, snap.captured, node.node_id)


def _jpeg(jpeg: bytes, captured: float, origin: str) -> Response[bytes]:
    headers = {"Cache-Control": "no-store", "X-Captured": f"{captured:.3f}", "X-Origin": origin}
    return Response(jpeg, media_type="image/jpeg", headers=headers)


class RecordingRequest(Struct, frozen=True, forbid_unknown_fields=True):
    """Start (``true``) or stop (``false``) recording a feed."""

    record: bool


class RecordingAnswer(Struct, frozen=True):
    feed: str
    recording: bool
    file: str


@post("/feeds/{name:str}/recording", opt=PILOT, status_code=200, raises=[NotFoundException],
      responses={HTTP_409_CONFLICT: ResponseSpec(dict[str, Any], description="the feed cannot record now")})
async def record(
    node: NodeDep,
    name: FromPath[str],
    data: JSONBody[RecordingRequest],
    request: Request,  # type: ignore[type-arg]
) -> RecordingAnswer:
    """Start or stop recording a feed to MP4 (remuxed: no decoding, no encoding)."""
    media, who = _media(node), principal_of(request).label
    try:
        if data.record:
            file = await media.start_recording(name, who)
        else:
            file = await media.stop_recording(name, who)
    except NoSuchFeed as exc:
        raise NotFoundException(str(exc)) from exc
    except RecordingError as exc:
        raise ClientException(str(exc), status_code=HTTP_409_CONFLICT) from exc
    return RecordingAnswer(feed=name, recording=data.record, file=file)


@get("/recordings", opt=VIEW, sync_to_thread=False)
def list_recordings(node: NodeDep) -> list[RecordingFile]:
    """This node's recordings, newest first."""
    return _media(node).recordings()


@get("/recordings/{file:str}", opt=VIEW, sync_to_thread=False, raises=[NotFoundException])
def download_recording(node: NodeDep, file: FromPath[str]) -> File:
    """One recording as an MP4 file (fragmented: it plays while still being written)."""
    path = _media(node).recording_path(file)
    if path is None:
        raise NotFoundException("no such recording")
    return File(path=path, filename=file, media_type="video/mp4")


video_router = Router(
    path="/api",
    guards=[authorize],
    route_handlers=[
        list_feeds,
        whep,
        whep_end,
        whip,
        whip_end,
        snapshot,
        record,
        list_recordings,
        download_recording,
    ],
)
