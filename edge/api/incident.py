"""Routes for looking back over the incident: the time range the journal can replay, and the log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import Response, Router, get
from litestar.exceptions import ValidationException
from litestar.params import FromQuery, QueryParameter

from edge.api.guards import NodeDep, authorize
from edge.auth import Role
from edge.incidentlog import LOG_KINDS, LogEntry, entry, matches, to_csv
from edge.node import EdgeNode

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


MAX_LOG = 50_000  # the newest lines in one answer: a longer incident is exported in pieces by time


async def _log(
    node: EdgeNode, *, since: float, until: float | None, kinds: list[str] | None, text: str, limit: int
) -> list[LogEntry]:
    unknown = sorted(set(kinds or ()) - set(LOG_KINDS))
    if unknown:
        raise ValidationException(f"unknown log kind(s) {', '.join(unknown)}; known: {', '.join(LOG_KINDS)}")
    end = until if until is not None else node.clock()
    if end < since:
        raise ValidationException("until must not be before since")
    assert node.scene is not None
    scene = node.scene
    events = (await node.journal.events_between(since, end, MAX_LOG, newest_first=True))[::-1]

    def title_of(alert_id: str) -> str | None:
        record = scene.alert(alert_id)
        return record.alert.title if record else None

    lines = [line for e in events if matches(line := entry(e, title_of), kinds or (), text)]
    return lines[-limit:]


@get("/log", opt=VIEW)
async def incident_log(
    node: NodeDep,
    *,
    since: Annotated[float, QueryParameter(ge=0)] = 0.0,
    until: Annotated[float | None, QueryParameter(ge=0)] = None,
    kind: FromQuery[list[str] | None] = None,
    q: Annotated[str, QueryParameter(max_length=200)] = "",
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_LOG)] = 2000,
) -> list[LogEntry]:
    """The incident log, oldest first: the newest ``limit`` lines of the given kinds containing ``q``."""
    return await _log(node, since=since, until=until, kinds=kind, text=q, limit=limit)


@get("/log.csv", opt=VIEW, media_type="text/csv; charset=utf-8")
async def incident_log_csv(
    node: NodeDep,
    *,
    since: Annotated[float, QueryParameter(ge=0)] = 0.0,
    until: Annotated[float | None, QueryParameter(ge=0)] = None,
    kind: FromQuery[list[str] | None] = None,
    q: Annotated[str, QueryParameter(max_length=200)] = "",
) -> Response[bytes]:
    """The incident log as CSV (UTF-8 with a byte-order mark, so spreadsheets read Chinese right)."""
    lines = await _log(node, since=since, until=until, kinds=kind, text=q, limit=MAX_LOG)
    stamp = datetime.fromtimestamp(node.clock(), UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        ("\ufeff" + to_csv(lines)).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="incident-log-{node.node_id}-{stamp}.csv"'},
    )


incident_router = Router(path="/api", guards=[authorize], route_handlers=[replay_span, incident_log, incident_log_csv])
