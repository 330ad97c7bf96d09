"""Who may call what: bearer tokens checked against the node's token store, by role."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from edge.auth import Principal, Role
from edge.node import EdgeNode

NodeDep = NamedDependency[EdgeNode]  # every handler gets the node it serves


def bearer(connection: ASGIConnection) -> str | None:  # type: ignore[type-arg]
    """The bearer token of a request, if it carries one."""
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authorize(connection: ASGIConnection, handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """Guard: the route's ``opt["role"]`` is the least role allowed; 401 without a valid token, 403 below it."""
    needed: Role = handler.opt.get("role", Role.ADMIN)
    node: EdgeNode = connection.app.state.node
    token = bearer(connection)
    principal = node.tokens.verify(token) if token else None
    if principal is None:
        raise NotAuthorizedException(
            "a valid bearer token is needed (fieldkit token create --role viewer)",
            headers={"WWW-Authenticate": 'Bearer realm="fieldkit"'},
        )
    if principal.role < needed:
        held = principal.role.name.lower()
        raise PermissionDeniedException(f"this needs the {needed.name.lower()} role; the token is {held}")
    connection.state.principal = principal


def principal_of(connection: ASGIConnection) -> Principal:  # type: ignore[type-arg]
    """The principal the guard found for this request."""
    principal: Principal = connection.state.principal
    return principal
