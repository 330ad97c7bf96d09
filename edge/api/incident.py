"""Routes for looking back over the incident: the time range the journal can replay."""

from __future__ import annotations

import msgspec
from litestar import Router, get

from edge.api.guards import NodeDep, authorize
from edge.auth import Role

VIEW = {"role": Role.VIEWER}


class ReplaySpan(msgspec.Struct, frozen=True):
    """What the timeline can show: from the first stored time to now, on the node's clock."""

    start: float
    now: float


@get("/replay/span", opt=VIEW)
async def replay_span(node: NodeDep) -> ReplaySpan:
    """The first time the journal holds anything for, and the node's time now."""
    first, _ = await node.journal.span()
    now = node.clock()
    return ReplaySpan(start=min(first, now) if first is not None else now, now=now)


incident_router = Router(path="/api", guards=[authorize], route_handlers=[replay_span])
