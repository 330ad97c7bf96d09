"""Kenwood's unit-id sentences: a radio's position as relayed by a FleetSync or NXDN/DMR gateway radio.

Field layouts (Kenwood publishes no spec; these agree across go-nmea's pklds.go, pknds.go, pklsh.go
and pknsh.go, pynmea2's test_proprietary.py, which was checked against captures from Kenwood radios,
and the Kenwood TK-880 service manual, "MAP HEADER KW1 ($PKLDS)", a Kenwood original sentence
adding Fleet + ID + Status to a GPS sentence):

- ``$PKLDS`` (FleetSync): ``hhmmss,A,ddmm.mm,N,dddmm.mm,W,knots,course,ddmmyy,magvar,<E|W>vv,fleet,
  id,status,ext`` -- RMC's fields, then the magnetic variation's direction run together with the
  sentence version (00-15), fleet (100-349), unit id (1000-4999), the unit's status (10-99), and
  two digits reserved. Example (pynmea2): ``$PKLDS,122434,A,4954.1474,N,11923.6044,W,001.1,194.9,
  130223,19.20,W00,100,1001,80,00,*60``.
- ``$PKNDS`` (NXDN / DMR, "NEXEDGE"): the same up to the version, then the unit id ``U00001``-
  ``U65519`` (NXDN) or ``U00000001``-``U16776415`` (DMR), status (001-255) and two reserved digits.
  Some radios drop the ``U`` (``004332199``) and leave date and version empty.
- ``$PKLSH`` / ``$PKNSH``, the short forms: GLL's fields (``ddmm.mm,N,dddmm.mm,W,hhmmss,A``) then
  fleet and id (PKLSH) or the ``U`` unit id (PKNSH).

Unit ids: FleetSync identifies a radio by fleet and id together, written ``100-1001``; NXDN and DMR
ids are numbers, written without the ``U`` and leading zeros (``U00002`` is ``2``), as HDAP's are.

A status goes out as a ``Status``; FleetSync reserves 99 for an emergency and 98 for man-down
(Kenwood TK-2170 function reference, table 20-8, "Reserved Status List"), so those also raise an
``Alarm`` on every report that carries them (the radio picture keeps one alert per unit and kind).
NXDN statuses have no documented reserved values.
"""

from __future__ import annotations

from .events import Alarm, AlarmKind, Fix, FixMode, RadioEvent, Status
from .framing import EncodeError
from .nmea_fields import (
    DAY_S,
    KNOTS_TO_MPS,
    ddmmyy,
    format_angle,
    format_ddmmyy,
    format_number,
    format_tod,
    lat_lon,
    number,
    sentence,
    split_ts,
    time_of_day,
    unroll_weeks,
)

UNIT_SENTENCES = frozenset({"PKLDS", "PKNDS", "PKLSH", "PKNSH"})
FLEETSYNC_ALARMS = {"99": AlarmKind.EMERGENCY, "98": AlarmKind.MAN_DOWN}
MAX_NXDN_ID = 65519
MAX_DMR_ID = 16776415


def decode_unit(tag: str, fields: list[str], day: int | None, now: float) -> list[RadioEvent]:
    """The events in one unit sentence; ``day`` is the gateway's own date, for sentences without one."""
    if tag in ("PKLDS", "PKNDS"):
        f = fields + [""] * (16 - len(fields)) if len(fields) < 16 else fields
        tod, valid, position, sent_day = time_of_day(f[1]), f[2] == "A", lat_lon(f, 3), ddmmyy(f[9])
        speed, course = number(f[7]), number(f[8])
        if tag == "PKLDS":
            unit, status = _fleetsync_unit(f[12], f[13]), f[14]
        else:
            unit, status = _digital_unit(f[12]), f[13]
    else:
        f = fields + [""] * (9 - len(fields)) if len(fields) < 9 else fields
        position, tod, valid, sent_day, speed, course = lat_lon(f, 1), time_of_day(f[5]), f[6] == "A", None, None, None
        unit, status = (_fleetsync_unit(f[7], f[8]), "") if tag == "PKLSH" else (_digital_unit(f[7]), "")
    if sent_day is not None:
        day = unroll_weeks(sent_day, now)
    ts = None if tod is None or day is None else day * DAY_S + tod / 1000
    events: list[RadioEvent] = [_fix(unit, ts, position if valid else None, speed, course)]
    if status:
        code = str(int(status)) if status.isascii() and status.isdigit() else status
        events.append(Status(unit=unit, status=code, ts=ts))
        if tag == "PKLDS" and code in FLEETSYNC_ALARMS:
            events.append(Alarm(unit=unit, kind=FLEETSYNC_ALARMS[code], ts=ts))
    return events


def _fix(
    unit: str, ts: float | None, position: tuple[float, float] | None, speed: float | None, course: float | None
) -> Fix:
    if position is None:
        return Fix(unit=unit, ts=ts, mode=FixMode.NONE)
    lat, lon = position
    mps = None if speed is None else speed * KNOTS_TO_MPS
    return Fix(unit=unit, ts=ts, lat=lat, lon=lon, speed_mps=mps, course_deg=course, mode=FixMode.TWO_D)


def _fleetsync_unit(fleet: str, ident: str) -> str:
    if not ident.isascii() or not ident.isdigit() or (fleet and not (fleet.isascii() and fleet.isdigit())):
        raise ValueError(f"not a FleetSync unit: {fleet!r},{ident!r}")
    return f"{fleet}-{ident}" if fleet else ident


def _digital_unit(field: str) -> str:
    digits = field[1:] if field[:1] == "U" else field
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"not an NXDN/DMR unit: {field!r}")
    return str(int(digits))


def encode_unit_fix(fix: Fix, *, status: str | None = None) -> bytes:
    """``$PKLDS`` for a FleetSync unit (``fleet-id``), ``$PKNDS`` for an NXDN/DMR one (a number)."""
    if fix.unit is None:
        raise EncodeError("a unit sentence needs the fix's unit")
    tod = date = ""
    if fix.ts is not None:
        try:
            day, ms = split_ts(fix.ts)
            tod, date = format_tod(ms), format_ddmmyy(day)
        except ValueError as exc:
            raise EncodeError(str(exc)) from exc
    lat = lon = ("", "")
    valid = fix.mode is not FixMode.NONE and fix.lat is not None and fix.lon is not None
    if valid and fix.lat is not None and fix.lon is not None:
        lat, lon = format_angle(fix.lat, 2, "NS"), format_angle(fix.lon, 3, "EW")
    knots = None if fix.speed_mps is None or not valid else fix.speed_mps / KNOTS_TO_MPS
    course = fix.course_deg if valid else None
    head = [tod, "A" if valid else "V", *lat, *lon, format_number(knots, 3), format_number(course, 2), date, "", "00"]
    fleet, dash, ident = fix.unit.partition("-")
    if dash:
        if not (fleet.isascii() and fleet.isdigit() and ident.isascii() and ident.isdigit()):
            raise EncodeError(f"not a FleetSync unit (fleet-id): {fix.unit!r}")
        return sentence(["PKLDS", *head, fleet, ident, status or "", "00", ""])
    if not fix.unit.isascii() or not fix.unit.isdigit() or not 0 < int(fix.unit) <= MAX_DMR_ID:
        raise EncodeError(f"not an NXDN/DMR unit id: {fix.unit!r}")
    number_ = int(fix.unit)
    unit = f"U{number_:05d}" if number_ <= MAX_NXDN_ID else f"U{number_:08d}"
    return sentence(["PKNDS", *head, unit, status or "", "00", ""])
