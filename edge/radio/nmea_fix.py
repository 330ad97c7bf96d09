"""GNSS sentences (GGA, RMC, GLL, VTG, GSA, GSV, ZDA, GNS) merged into one ``Fix`` per reporting cycle.

A receiver reports each epoch as a burst of sentences that share one UTC time of day; gpsd merges
such a burst into one TPV report and so do we (``FixMerger``). A cycle ends when a sentence with a
new time of day arrives, or at once on its last sentence once that is known: like gpsd's
end-of-cycle detector (driver_nmea0183.c), the sentence type that came last before the time
advanced is taken as the cycle ender, provided it occurs once per cycle (for GSV, its last part).

What goes into the fix:

- position from GGA, else GNS, RMC, GLL (the fix-data sentence first: it carries the most digits
  and the altitude that belongs to its position); altitude above mean sea level from GGA/GNS;
- speed and course from RMC or VTG; satellites in use and HDOP from GGA/GNS, else from GSA;
- the date from an RMC whose status is valid, or from ZDA, carried to later cycles and moved on at
  midnight. gpsd ignores the time and date of an RMC flagged invalid: "The MTK3301, Royaltek
  RGM-3800, and possibly other devices deliver bogus time values when the navigation warning bit is
  set" (processRMC); so do we.
- mode: no fix when any sentence of the cycle says so (GGA quality 0, RMC/GLL status V, GNS mode
  N, VTG/RMC mode N) or there is no position; else the receiver's own GSA mode; else (no GSA) 3D if
  GGA/GNS gave an altitude from at least four satellites, 2D otherwise. A receiver's GSA is taken at
  its word: gpsd promotes an RMC fix to 3D once it has seen an altitude ("this handles old GPS that
  do not report 3D"), even when the receiver's GSA says 2D from three satellites; we do not.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from .events import Fix, FixMode
from .framing import EncodeError
from .nmea_fields import (
    DAY_MS,
    DAY_S,
    KMH_TO_MPS,
    KNOTS_TO_MPS,
    day_number,
    ddmmyy,
    format_angle,
    format_ddmmyy,
    format_number,
    format_tod,
    integer,
    lat_lon,
    number,
    sentence,
    split_ts,
    time_of_day,
    unroll_weeks,
)

log = logging.getLogger(__name__)

TALKERS = frozenset({"GP", "GN", "GL", "GA", "BD", "GB", "GQ", "GI"})
IDLE_FLUSH_S = 1.5  # a cycle with no sentence for this long is complete even without its ender
_HALF_DAY_MS = DAY_MS // 2
_RANK_GGA, _RANK_GNS, _RANK_RMC, _RANK_GLL = 3, 2, 1, 0
_MODES = {"1": FixMode.NONE, "2": FixMode.TWO_D, "3": FixMode.THREE_D}


@dataclass(slots=True)
class Report:
    """What one sentence says, before it is merged into its cycle."""

    tod_ms: int | None = None
    day: int | None = None
    position: tuple[float, float] | None = None
    rank: int = -1
    alt: float | None = None
    speed: float | None = None
    course: float | None = None
    sats: int | None = None
    gsa_sats: int = 0
    hdop: float | None = None
    gsa_mode: FixMode | None = None
    invalid: bool = False
    positioned: bool = False  # a position sentence: its cycle yields a fix, valid or not
    last_part: bool = True  # GSV: only the last sentence of a group can end a cycle


def _pad(fields: list[str], count: int) -> list[str]:
    # gpsd reads fields a sentence lacks as empty; so do we.
    return fields if len(fields) >= count else fields + [""] * (count - len(fields))


def _hdop(field: str) -> float | None:
    value = number(field)
    return value if value is not None and value < 99.0 else None  # 99.99: "no DOP" (gpsd, BT-451)


def parse_gga(f: list[str], now: float) -> Report:
    """GGA: time, position, quality, satellites in use, HDOP, altitude MSL."""
    f = _pad(f, 12)
    quality = integer(f[6])
    return Report(
        tod_ms=time_of_day(f[1]),
        position=lat_lon(f, 2),
        rank=_RANK_GGA,
        invalid=not quality,  # 0 = invalid; empty = no data (gpsd: assume no fix)
        sats=integer(f[7]),
        hdop=_hdop(f[8]),
        alt=number(f[9]),
        positioned=True,
    )


def parse_gns(f: list[str], now: float) -> Report:
    """GNS: like GGA, with one mode letter per constellation (all N: no fix)."""
    f = _pad(f, 14)
    modes = f[6]
    return Report(
        tod_ms=time_of_day(f[1]),
        position=lat_lon(f, 2),
        rank=_RANK_GNS,
        invalid=not modes.strip("N") or f[13] in ("U", "V"),
        sats=integer(f[7]),
        hdop=_hdop(f[8]),
        alt=number(f[9]),
        positioned=True,
    )


def parse_rmc(f: list[str], now: float) -> Report:
    """RMC: time, status, position, speed, course, date (trusted only when the status is valid)."""
    f = _pad(f, 13)
    valid = f[2] in ("A", "D") and f[12] != "N"
    return Report(
        tod_ms=time_of_day(f[1]),
        day=_unrolled(ddmmyy(f[9]), now) if valid else None,
        position=lat_lon(f, 3),
        rank=_RANK_RMC,
        invalid=not valid,
        speed=_knots(number(f[7])),
        course=number(f[8]),
        positioned=True,
    )


def parse_gll(f: list[str], now: float) -> Report:
    """GLL: position, time, status (missing on a Garmin 65: then no fix, as in gpsd)."""
    f = _pad(f, 8)
    return Report(
        tod_ms=time_of_day(f[5]),
        position=lat_lon(f, 1),
        rank=_RANK_GLL,
        invalid=f[6] != "A" or f[7] == "N",
        positioned=True,
    )


def parse_vtg(f: list[str], now: float) -> Report:
    """VTG: course over ground and speed (knots, else km/h); mode N: nothing usable."""
    f = _pad(f, 10)
    if f[2] not in ("T", ""):
        # before NMEA 2.0: course, magnetic course, knots, km/h, without the unit letters
        return Report(course=number(f[1]), speed=_knots(number(f[3])))
    if f[9] == "N":
        return Report()
    speed = _knots(number(f[5]))
    if speed is None and (kmh := number(f[7])) is not None:
        speed = kmh * KMH_TO_MPS
    return Report(course=number(f[1]), speed=speed)


def parse_gsa(f: list[str], now: float) -> Report:
    """GSA: the receiver's fix mode (1 none, 2 2D, 3 3D), satellites used, HDOP."""
    f = _pad(f, 18)
    mode = _MODES.get(f[2])  # "E" (Antaris dead reckoning) and garbage: no mode, as gpsd
    used = sum(1 for prn in f[3:15] if prn)
    hdop = _hdop(f[16]) if len(f) <= 19 else None  # the Navior-24 sends 24 PRN fields
    return Report(gsa_mode=mode, gsa_sats=used, hdop=hdop)


def parse_gsv(f: list[str], now: float) -> Report:
    """GSV: satellites in view; only its place in its group matters here."""
    f = _pad(f, 3)
    total, part = integer(f[1]), integer(f[2])
    return _GSV_LAST if total is None or part is None or part >= total else _GSV_MORE


def parse_zda(f: list[str], now: float) -> Report:
    """ZDA: time and the full date."""
    f = _pad(f, 5)
    day = None
    if f[2] and f[3] and f[4]:
        day = _unrolled(day_number(_int(f[4]), _int(f[3]), _int(f[2])), now)
    return Report(tod_ms=time_of_day(f[1]), day=day)


_GSV_LAST, _GSV_MORE = Report(), Report(last_part=False)  # never changed once made: shared

PARSERS = {
    "GGA": parse_gga,
    "GNS": parse_gns,
    "RMC": parse_rmc,
    "GLL": parse_gll,
    "VTG": parse_vtg,
    "GSA": parse_gsa,
    "GSV": parse_gsv,
    "ZDA": parse_zda,
}


def _int(text: str) -> int:
    value = integer(text)
    if value is None:
        raise ValueError("empty")
    return value


def _knots(value: float | None) -> float | None:
    return None if value is None else value * KNOTS_TO_MPS


def _unrolled(day: int | None, now: float) -> int | None:
    return None if day is None else unroll_weeks(day, now)


@dataclass(slots=True)
class _Cycle:
    """The sentences of one reporting cycle, merged so far."""

    tod_ms: int | None = None
    day: int | None = None
    position: tuple[float, float] | None = None
    rank: int = -1
    alt: float | None = None
    speed: float | None = None
    course: float | None = None
    sats: int | None = None
    gsa_sats: int = 0
    hdop: float | None = None
    gsa_hdop: float | None = None
    gsa_mode: FixMode | None = None
    invalid: bool = False
    positioned: bool = False
    last_tag: str | None = None
    tags: set[str] = field(default_factory=set)
    repeated: set[str] = field(default_factory=set)
    heard: float = 0.0

    def add(self, tag: str, r: Report) -> None:
        if r.position is not None and r.rank > self.rank:
            self.position, self.rank = r.position, r.rank
            if r.rank >= _RANK_GNS:
                self.alt = r.alt
        if r.rank >= _RANK_GNS:
            self.sats = r.sats if r.sats is not None else self.sats
            self.hdop = r.hdop if r.hdop is not None else self.hdop
        elif r.hdop is not None:
            self.gsa_hdop = r.hdop
        if r.gsa_mode is not None:
            self.gsa_mode = r.gsa_mode if self.gsa_mode is None else max(self.gsa_mode, r.gsa_mode)
        self.gsa_sats += r.gsa_sats
        self.speed = r.speed if r.speed is not None else self.speed
        self.course = r.course if r.course is not None else self.course
        self.invalid |= r.invalid
        self.positioned |= r.positioned
        if r.last_part:
            if tag in self.tags:
                self.repeated.add(tag)
            self.tags.add(tag)
            self.last_tag = tag

    def fix(self) -> Fix:
        ts = None if self.day is None or self.tod_ms is None else self.day * DAY_S + self.tod_ms / 1000
        sats = self.sats if self.sats is not None else (self.gsa_sats or None)
        hdop = self.hdop if self.hdop is not None else self.gsa_hdop
        if self.invalid or self.position is None or self.gsa_mode is FixMode.NONE:
            return Fix(ts=ts, mode=FixMode.NONE, satellites=sats, hdop=hdop)
        if self.gsa_mode is not None:
            mode = self.gsa_mode
        elif self.alt is not None and (self.sats is None or self.sats >= 4):
            mode = FixMode.THREE_D
        else:
            mode = FixMode.TWO_D
        lat, lon = self.position
        return Fix(
            ts=ts,
            lat=lat,
            lon=lon,
            alt_msl_m=self.alt,
            speed_mps=self.speed,
            course_deg=self.course,
            mode=mode,
            satellites=sats,
            hdop=hdop,
        )


class FixMerger:
    """One receiver's GNSS sentences in, one ``Fix`` per reporting cycle out."""

    def __init__(self) -> None:
        self._cycle = _Cycle()
        self.ender: str | None = None  # the sentence type that closes a cycle, once learned
        self.day: int | None = None  # the current UTC date (days since 1970-01-01), once known
        self._last_tod: int | None = None
        self._closed_tod: int | None = None

    def add(self, tag: str, report: Report, now: float) -> list[Fix]:
        """Merge one sentence (``tag`` is its talker and type, e.g. ``GPRMC``); the fixes it completes."""
        out: list[Fix] = []
        cycle = self._cycle
        if report.tod_ms is not None:
            if cycle.tod_ms is not None and cycle.tod_ms != report.tod_ms:
                out += self._close(learn=True)
                cycle = self._cycle
            if cycle.tod_ms is None:
                self._open(cycle, report.tod_ms)
        if report.day is not None:
            self.day = cycle.day = report.day
        cycle.add(tag, report)
        cycle.heard = now
        if tag == self.ender and report.last_part and cycle.tod_ms is not None:
            out += self._close(learn=False)
        return out

    def idle(self, now: float) -> list[Fix]:
        """The pending cycle, if nothing was added to it for ``IDLE_FLUSH_S``."""
        if self._cycle.positioned and now - self._cycle.heard > IDLE_FLUSH_S:
            return self._close(learn=False)
        return []

    def flush(self) -> list[Fix]:
        """The pending cycle, whatever its state (end of input)."""
        return self._close(learn=False)

    def _open(self, cycle: _Cycle, tod_ms: int) -> None:
        cycle.tod_ms = tod_ms
        if self._last_tod is not None and tod_ms < self._last_tod - _HALF_DAY_MS and self.day is not None:
            self.day += 1  # past midnight (gpsd's merge_hhmmss: the hour went down)
        self._last_tod = tod_ms
        cycle.day = self.day
        if tod_ms == self._closed_tod and self.ender is not None:
            # The learned ender came before the end of this receiver's cycle: unlearn it.
            log.debug("nmea: %s does not end the cycle; back to waiting for the time to advance", self.ender)
            self.ender = None

    def _close(self, *, learn: bool) -> list[Fix]:
        cycle, self._cycle = self._cycle, _Cycle()
        if learn and cycle.last_tag is not None:
            self.ender = cycle.last_tag if cycle.last_tag not in cycle.repeated else None
        if not cycle.positioned:
            return []
        self._closed_tod = cycle.tod_ms
        return [cycle.fix()]


# -- encoding -----------------------------------------------------------------------------------


def encode_gnss_fix(fix: Fix, talker: str = "GP") -> bytes:
    """GGA, GSA, RMC (and ZDA when the fix has a time) for a receiver's fix.

    GSA carries the mode; ZDA the date, which RMC only carries for a valid fix.
    """
    tod = date = zda = ""
    try:
        if fix.ts is not None:
            day, ms = split_ts(fix.ts)
            tod, date = format_tod(ms), format_ddmmyy(day)
            civil = dt.date(1970, 1, 1) + dt.timedelta(days=day)
            zda = f"{civil.day:02d},{civil.month:02d},{civil.year:04d},00,00"
    except (ValueError, OverflowError) as exc:
        raise EncodeError(f"cannot date {fix.ts!r}: {exc}") from exc
    lat = lon = ("", "")
    speed = course = alt = ""
    valid = fix.mode is not FixMode.NONE and fix.lat is not None and fix.lon is not None
    if valid and fix.lat is not None and fix.lon is not None:
        lat, lon = format_angle(fix.lat, 2, "NS"), format_angle(fix.lon, 3, "EW")
        alt = format_number(fix.alt_msl_m, 2)
        speed = format_number(None if fix.speed_mps is None else fix.speed_mps / KNOTS_TO_MPS, 3)
        course = format_number(fix.course_deg, 2)
    sats = "" if fix.satellites is None else f"{fix.satellites:02d}"
    hdop = format_number(fix.hdop, 2)
    quality, mode, status = ("1", str(int(fix.mode)), "A") if valid else ("0", "1", "V")
    out = [
        sentence([f"{talker}GGA", tod, *lat, *lon, quality, sats, hdop, alt, "M" if alt else "", "", "", "", ""]),
        sentence([f"{talker}GSA", "A", mode, *[""] * 12, "", hdop, ""]),
        sentence([f"{talker}RMC", tod, status, *lat, *lon, speed, course, date, "", "", "A" if valid else "N"]),
    ]
    if zda:
        out.append(sentence([f"{talker}ZDA", tod, zda]))
    return b"".join(out)
