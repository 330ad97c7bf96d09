"""What a radio gateway tells us, whatever its framing: typed, protocol-neutral radio events.

Every framer's decoder turns frames into these; the adapter turns these into scene changes. Unit
and talkgroup ids are the radio system's own numbers as text (a PDT/DMR id, e.g. ``"1001"``).
Times are seconds since the epoch (UTC) when the frame carried one, else None (the adapter stamps
the time of arrival).
"""

from __future__ import annotations

import enum

from msgspec import Struct


class FixMode(enum.IntEnum):
    """Quality of a position fix, as gpsd's TPV ``mode``."""

    NONE = 1
    TWO_D = 2
    THREE_D = 3


class Fix(Struct, frozen=True, kw_only=True):
    """A position report; ``unit`` is None for a bare GNSS receiver (the gateway's own position)."""

    unit: str | None = None
    ts: float | None = None
    lat: float | None = None
    lon: float | None = None
    alt_msl_m: float | None = None
    speed_mps: float | None = None
    course_deg: float | None = None
    mode: FixMode = FixMode.NONE
    satellites: int | None = None
    hdop: float | None = None


class Text(Struct, frozen=True, kw_only=True):
    """A short text message from ``src`` to a unit or (``group``) a talkgroup ``dst``."""

    src: str
    dst: str
    text: str
    group: bool = False
    msg_id: int | None = None  # the gateway's reference, for delivery reports
    ts: float | None = None


class Delivery(Struct, frozen=True, kw_only=True):
    """The gateway's report on a text we sent: delivered to ``unit`` or not."""

    msg_id: int
    unit: str
    ok: bool
    ts: float | None = None


class Presence(Struct, frozen=True, kw_only=True):
    """A unit registered on (or left) the system."""

    unit: str
    online: bool
    ts: float | None = None


class CallType(enum.Enum):
    """Kind of voice call."""

    GROUP = "group"
    PRIVATE = "private"
    EMERGENCY = "emergency"
    ALL = "all"


class CallStart(Struct, frozen=True, kw_only=True):
    """A voice call began: ``caller`` keyed up on ``talkgroup`` (or to a unit, if private)."""

    caller: str
    talkgroup: str
    call_type: CallType = CallType.GROUP
    ts: float | None = None


class CallEnd(Struct, frozen=True, kw_only=True):
    """A voice call ended."""

    caller: str
    talkgroup: str
    ts: float | None = None


class AlarmKind(enum.Enum):
    """What kind of alarm a radio raised."""

    EMERGENCY = "emergency"
    MAN_DOWN = "man-down"
    LONE_WORKER = "lone-worker"


class Alarm(Struct, frozen=True, kw_only=True):
    """A unit raised (or, with ``cleared``, cancelled) an alarm."""

    unit: str
    kind: AlarmKind = AlarmKind.EMERGENCY
    cleared: bool = False
    ts: float | None = None


class Status(Struct, frozen=True, kw_only=True):
    """A unit's status report: battery, a status code or text."""

    unit: str
    battery_pct: float | None = None
    status: str | None = None
    ts: float | None = None


RadioEvent = Fix | Text | Delivery | Presence | CallStart | CallEnd | Alarm | Status
