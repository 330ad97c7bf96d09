"""Radio events -> scene changes: units, presence, calls, texts, alarms (pure: ``now`` passed in).

One ``RadioPicture`` per radio system (``pdt`` by default). It keeps the last value of each unit so
that a position, a status and a call, each arriving alone, add up to one ``Unit``. Event ids are
derived from what the gateway said (unit, its message reference, the alarm's onset), so the same
report received twice — a retry, a redundant link — is applied once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import msgspec

from edge.scene import Alert, AlertClear, Call, Change, Message, Position, Severity, Unit

from .events import Alarm, AlarmKind, CallEnd, CallStart, Fix, FixMode, Presence, RadioEvent, Status, Text
from .framing import RadioError

log = logging.getLogger(__name__)

_TICK = 0.001  # a unit's successive values are at least this far apart in time
MAX_CALL_S = 300.0
_CLEAR = object()  # in ``_update``: set this field to None (None itself means "leave as it is")
_NOT_TALKING: dict[str, object] = {
    "talking": False,
    "talking_on": _CLEAR,
    "talking_since": _CLEAR,
}  # a call with no end report is closed after this long (a lost CallEnd)


@dataclass(frozen=True)
class RosterEntry:
    """What the comms team knows about one radio: alias, team, home talkgroup."""

    alias: str
    team: str | None = None
    talkgroup: str | None = None


class RosterError(RadioError, ValueError):
    """The roster file cannot be used."""


def load_roster(path: Path) -> dict[str, RosterEntry]:
    """Read a roster CSV with columns ``radio_id,alias,team,talkgroup`` (UTF-8, header required)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"roster {path}: cannot read ({exc})") from exc
    rows = csv.DictReader(io.StringIO(text))
    if rows.fieldnames is None or not {"radio_id", "alias"} <= set(rows.fieldnames):
        raise RosterError(f"roster {path}: the header must name at least radio_id and alias")
    roster: dict[str, RosterEntry] = {}
    for line, row in enumerate(rows, start=2):
        radio_id = (row.get("radio_id") or "").strip()
        if not radio_id.isdigit():
            raise RosterError(f"roster {path} line {line}: radio_id {radio_id!r} is not a number")
        roster[radio_id] = RosterEntry(
            alias=(row.get("alias") or "").strip() or radio_id,
            team=(row.get("team") or "").strip() or None,
            talkgroup=(row.get("talkgroup") or "").strip() or None,
        )
    return roster


@dataclass
class _Call:
    talkgroup: str
    call_type: str
    start: float


class RadioPicture:
    """Turns one radio system's events into scene changes."""

    def __init__(
        self,
        *,
        node_id: str,
        system: str = "pdt",
        roster: dict[str, RosterEntry] | None = None,
        offline_after_s: float = 600.0,
    ) -> None:
        self.node_id = node_id
        self.system = system
        self.roster = roster or {}
        self.offline_after_s = offline_after_s
        self._units: dict[str, Unit] = {}
        self._calls: dict[str, _Call] = {}
        self._alarms: dict[tuple[str, AlarmKind], str] = {}  # active alarm -> its alert id
        self.ignored_fixes = 0  # fixes without a position or unit (a bare receiver's own fix)

    def unit_id(self, radio_id: str) -> str:
        """The scene id of a radio."""
        return f"unit:{self.system}:{radio_id}"

    def talkgroup_id(self, talkgroup: str) -> str:
        """The address of a talkgroup in message ``to`` fields."""
        return f"talkgroup:{self.system}:{talkgroup}"

    def known_units(self) -> set[str]:
        """Radio ids heard so far."""
        return set(self._units)

    def alias(self, radio_id: str) -> str:
        """The roster alias of a radio, or its id."""
        entry = self.roster.get(radio_id)
        return entry.alias if entry else radio_id

    def apply(self, event: RadioEvent, now: float) -> list[Change]:
        """Scene changes for one radio event received at ``now``."""
        ts = event.ts if event.ts is not None and abs(event.ts - now) < 86400 else now
        if isinstance(event, Fix):
            return self._fix(event, ts)
        if isinstance(event, Status):
            return [self._update(event.unit, ts, battery_pct=event.battery_pct, status=event.status)]
        if isinstance(event, Presence):
            if event.online:
                return [self._update(event.unit, ts, online=True)]
            return [self._update(event.unit, ts, heard=True, online=False, **_NOT_TALKING)]
        if isinstance(event, CallStart):
            return self._call_start(event, ts)
        if isinstance(event, CallEnd):
            return self._call_end(event.caller, ts)
        if isinstance(event, Alarm):
            return self._alarm(event, ts)
        if isinstance(event, Text):
            return [self._text(event, ts)]
        return []  # Delivery is the outbound side's business

    def tick(self, now: float) -> list[Change]:
        """Presence by timeout and calls whose end was lost."""
        changes: list[Change] = []
        for caller, call in list(self._calls.items()):
            if now - call.start > MAX_CALL_S:
                changes += self._call_end(caller, now, heard=False)
        for radio_id, unit in list(self._units.items()):
            if unit.online and now - unit.ts > self.offline_after_s:
                changes.append(self._update(radio_id, now, online=False, heard=False, **_NOT_TALKING))
        return changes

    # -- one kind each --------------------------------------------------------------------------

    def _fix(self, fix: Fix, ts: float) -> list[Change]:
        if fix.unit is None or fix.lat is None or fix.lon is None or fix.mode is FixMode.NONE:
            self.ignored_fixes += 1
            return []
        pos = Position(lat=round(fix.lat, 7), lon=round(fix.lon, 7), alt_msl_m=fix.alt_msl_m)
        return [self._update(fix.unit, ts, pos=pos, heading_deg=fix.course_deg, speed_mps=fix.speed_mps)]

    def _call_start(self, event: CallStart, ts: float) -> list[Change]:
        changes: list[Change] = []
        if event.caller in self._calls:
            changes += self._call_end(event.caller, ts)
        self._calls[event.caller] = _Call(event.talkgroup, event.call_type.value, ts)
        changes.append(self._update(event.caller, ts, talking=True, talking_on=event.talkgroup, talking_since=ts))
        return changes

    def _call_end(self, caller: str, ts: float, *, heard: bool = True) -> list[Change]:
        call = self._calls.pop(caller, None)
        if call is None:
            return [self._update(caller, ts, heard=heard, **_NOT_TALKING)]
        record = Call(
            id=f"{self.system}-call-{caller}-{int(call.start * 1000)}",
            origin=self.node_id,
            ts=ts,
            caller=self.unit_id(caller),
            talkgroup=call.talkgroup,
            call_type=call.call_type,
            start_ts=call.start,
            duration_s=round(max(0.0, ts - call.start), 1),
        )
        return [self._update(caller, ts, heard=heard, **_NOT_TALKING), record]

    def _alarm(self, event: Alarm, ts: float) -> list[Change]:
        key = (event.unit, event.kind)
        if event.cleared:
            alert_id = self._alarms.pop(key, None)
            changes: list[Change] = [self._update(event.unit, ts, emergency=False)]
            if alert_id is not None:
                by = self.alias(event.unit)
                changes.append(AlertClear(id=f"{alert_id}-clear", origin=self.node_id, ts=ts, alert_id=alert_id, by=by))
            return changes
        if key in self._alarms:
            return []  # the radio repeats its alarm until cancelled: one alert
        alert_id = f"{self.system}-{event.kind.value}-{event.unit}-{int(ts)}"
        self._alarms[key] = alert_id
        unit = self._update(event.unit, ts, emergency=True)
        alias = self.alias(event.unit)
        title = {
            AlarmKind.EMERGENCY: "紧急告警 Emergency",
            AlarmKind.MAN_DOWN: "人员倒地 Man down",
            AlarmKind.LONE_WORKER: "单人作业超时 Lone worker",
        }[event.kind]
        alert = Alert(
            id=alert_id,
            origin=self.node_id,
            ts=ts,
            severity=Severity.EMERGENCY,
            title=f"{title}: {alias}",
            text=f"radio {event.unit} ({alias}) raised {event.kind.value}",
            entity_id=self.unit_id(event.unit),
            pos=unit.pos,
        )
        return [unit, alert]

    def _text(self, event: Text, ts: float) -> Message:
        ref = (
            str(event.msg_id)
            if event.msg_id is not None
            else hashlib.sha1(f"{event.dst}|{event.text}|{int(ts)}".encode(), usedforsecurity=False).hexdigest()[:12]
        )
        to = self.talkgroup_id(event.dst) if event.group else self.unit_id(event.dst)
        return Message(
            id=f"{self.system}-text-{event.src}-{ref}",
            origin=self.node_id,
            ts=ts,
            sender=self.alias(event.src),
            to=to,
            text=event.text[:2000],
            via=self.system,
        )

    def _update(self, radio_id: str, ts: float, *, heard: bool = True, **fields: object) -> Unit:
        """The unit with ``fields`` changed (None means unchanged); heard means online now."""
        held = self._units.get(radio_id)
        if held is None:
            entry = self.roster.get(radio_id)
            held = Unit(
                id=self.unit_id(radio_id),
                origin=self.node_id,
                ts=ts - _TICK,
                name=self.alias(radio_id),
                team=entry.team if entry else None,
                talkgroup=entry.talkgroup if entry else None,
            )
        changes = {k: (None if v is _CLEAR else v) for k, v in fields.items() if v is not None}
        if heard:
            changes.setdefault("online", True)
        # Strictly after the value held: last-value-wins treats an equal (ts, origin) as a duplicate.
        # Only a report from the unit moves "last heard" (ts) on; our own timeouts add the minimum.
        new_ts = max(ts, held.ts + _TICK) if heard else held.ts + _TICK
        unit = msgspec.structs.replace(held, ts=new_ts, origin=self.node_id, **changes)
        self._units[radio_id] = unit
        return unit
