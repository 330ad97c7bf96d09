"""/api/tokens and /api/shares: admins list, create and revoke tokens, and make read-only share links.

A share link is a viewer token that must expire, put in the page URL's fragment (``#token=``): the
fragment never reaches a server or its logs, and the page opened with it shows the picture without
command buttons because the token is a viewer's (the server refuses its commands with 403 anyway).
"""

from __future__ import annotations

import logging
from typing import Annotated

import msgspec
from litestar import Request, Router, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from edge.api.guards import NodeDep, authorize, principal_of
from edge.auth import Role, TokenInfo

log = logging.getLogger(__name__)

ADMIN = {"role": Role.ADMIN}
MAX_SHARE_S = 30 * 86400.0  # a share link is for one incident, not for good

Label = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Lifetime = Annotated[float, msgspec.Meta(gt=0.0, le=365 * 86400.0)]


class NewToken(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A token to create: its role, who holds it, and (optionally) how long it lives."""

    role: Annotated[str, msgspec.Meta(pattern="^(viewer|pilot|admin)$")]
    label: Label
    expires_in_s: Lifetime | None = None


class NewShare(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A read-only link for another agency: who it is for and how long it works."""

    label: Label
    expires_in_s: Annotated[float, msgspec.Meta(gt=0.0, le=MAX_SHARE_S)] = 12 * 3600.0


class CreatedToken(msgspec.Struct, frozen=True):
    """A new token: shown once, here, and never again."""

    token: str
    info: TokenInfo
    url: str | None = None  # for a share: the page with the token in its fragment


def _info(node: NodeDep, token: str) -> TokenInfo:
    token_id = token.split("_")[1]
    return next(t for t in node.tokens.list() if t.id == token_id)


@get("/tokens", opt=ADMIN, sync_to_thread=False)
def list_tokens(node: NodeDep) -> list[TokenInfo]:
    """Every token of this node (ids, roles, labels, expiry; never secrets)."""
    return node.tokens.list()


@post("/tokens", opt=ADMIN, status_code=HTTP_201_CREATED, sync_to_thread=False)
def create_token(node: NodeDep, data: JSONBody[NewToken], request: Request) -> CreatedToken:  # type: ignore[type-arg]
    """A new token; its secret is in this answer only."""
    token = node.tokens.create(Role.parse(data.role), data.label, ttl_s=data.expires_in_s)
    info = _info(node, token)
    log.info("token %s (%s, %r) created by %s", info.id, info.role, info.label, principal_of(request).label)
    return CreatedToken(token=token, info=info)


@post("/shares", opt=ADMIN, status_code=HTTP_201_CREATED, sync_to_thread=False)
def create_share(node: NodeDep, data: JSONBody[NewShare], request: Request) -> CreatedToken:  # type: ignore[type-arg]
    """A read-only share link: a viewer token that expires, and the page URL that carries it."""
    token = node.tokens.create(Role.VIEWER, f"share: {data.label}", ttl_s=data.expires_in_s)
    info = _info(node, token)
    log.info("share %s (%r) created by %s", info.id, data.label, principal_of(request).label)
    base = str(request.base_url).rstrip("/") + "/"
    return CreatedToken(token=token, info=info, url=f"{base}#token={token}")


@delete("/tokens/{token_id:str}", opt=ADMIN, status_code=HTTP_200_OK, sync_to_thread=False)
def revoke_token(node: NodeDep, token_id: FromPath[str], request: Request) -> dict[str, str]:  # type: ignore[type-arg]
    """Revoke a token: refused on REST from now on, and its open live sockets are closed."""
    if not node.tokens.revoke(token_id):
        raise NotFoundException(f"no token {token_id}")
    log.info("token %s revoked by %s", token_id, principal_of(request).label)
    return {"revoked": token_id}


tokens_router = Router(
    path="/api", guards=[authorize], route_handlers=[list_tokens, create_token, create_share, revoke_token]
)
