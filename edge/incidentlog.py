"""The incident log: every journaled event as one line people read — alerts, acknowledgements,
messages, delivery reports, calls, drone commands and operator actions — and its CSV form (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import msgspec

from edge.scene import Alert, AlertAck, AlertClear, Audit, Call, Event, Message, Receipt

LOG_KINDS = ("alert", "ack", "clear", "message", "receipt", "call", "command", "action")
COLUMNS = ("time_utc", "ts", "kind", "who", "what", "target", "origin", "id")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell starting with these


class LogEntry(msgspec.Struct, frozen=True):
    """One line of the incident log."""

    ts: float
    time_utc: str
    kind: str  # one of LOG_KINDS
    who: str
    what: str
    target: str
    origin: str
    id: str


def kind_of(event: Event) -> str:
    """The log kind of an event: drone commands are told apart from other operator actions."""
    if isinstance(event, Audit):
        return "command" if event.action.startswith("drone ") else "action"
    if isinstance(event, AlertAck):
        return "ack"
    if isinstance(event, AlertClear):
        return "clear"
    return str(event.__struct_config__.tag)


def entry(event: Event, title_of: Callable[[str], str | None]) -> LogEntry:
    """The log line of one event; ``title_of`` names an alert by its id (for acks and clears)."""
    who, what, target = _describe(event, title_of)
    when = datetime.fromtimestamp(event.ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return LogEntry(event.ts, when, kind_of(event), who, what, target, event.origin, event.id)


def _describe(event: Event, title_of: Callable[[str], str | None]) -> tuple[str, str, str]:
    if isinstance(event, Alert):
        text = f" — {event.text}" if event.text else ""
        return event.origin, f"[{event.severity.value}] {event.title}{text}", event.entity_id or ""
    if isinstance(event, AlertAck | AlertClear):
        verb = "acknowledged" if isinstance(event, AlertAck) else "cleared"
        title = title_of(event.alert_id)
        return event.by, f"{verb}: {title}" if title else verb, event.alert_id
    if isinstance(event, Message):
        via = f" (via {event.via})" if event.via else ""
        return event.sender, event.text + via, event.to
    if isinstance(event, Receipt):
        outcome = "delivered" if event.ok else f"failed: {event.reason or 'no reason given'}"
        return event.recipient, f"{outcome} after {event.attempts} attempt(s)", event.message_id
    if isinstance(event, Call):
        return event.caller, f"{event.call_type} call on {event.talkgroup}, {event.duration_s:.0f} s", event.talkgroup
    result = f" → {event.result}" if event.result else ""
    return event.actor, f"{event.action}{result}", event.target


def matches(line: LogEntry, kinds: Iterable[str], text: str) -> bool:
    """Whether a line is of one of ``kinds`` (any, if none) and contains ``text`` (any case)."""
    wanted = set(kinds)
    if wanted and line.kind not in wanted:
        return False
    needle = text.casefold()
    return not needle or any(needle in f.casefold() for f in (line.who, line.what, line.target))


def to_csv(lines: Iterable[LogEntry]) -> str:
    """The log as CSV (RFC 4180), a header first; cells a spreadsheet would run as formulas are quoted with '."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow([_cell(getattr(line, c)) for c in COLUMNS])
    return out.getvalue()


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value
