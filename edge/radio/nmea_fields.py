"""NMEA 0183 field syntax, both ways: checksum, UTC time of day, dates, latitude/longitude, numbers.

Shared by the GNSS sentences (``nmea_fix``) and Kenwood's unit sentences (``nmea_kenwood``). An
empty field reads as absent (None); a field that is present but does not parse raises ValueError,
which the codec counts as a ``malformed`` sentence.

Dates go through ``unroll_weeks``: a receiver whose GPS week-number base is stale reports dates a
whole number of 1024-week epochs in the past (the week counter is 10 bits). gpsd corrects those in
``gpsd_utc_resolve`` (timebase.c: "WKRO bug", fast forward 1024 weeks); we do the same when the
date lies more than a year before the wall clock passed in as ``now``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
from collections.abc import Sequence

KNOTS_TO_MPS = 0.514444  # NMEA 0183 speeds are in knots: 1852 m / 3600 s
KMH_TO_MPS = 1 / 3.6
DAY_S = 86400
DAY_MS = DAY_S * 1000
GPS_EPOCH_S = 315964800  # 1980-01-06T00:00:00Z; a smaller `now` is not a wall clock
WKRO_DAYS = 1024 * 7  # one GPS week-number epoch
WKRO_GRACE_DAYS = 365  # a date this far behind the wall clock cannot come from a live receiver
MAX_WKRO_EPOCHS = 3
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def checksum(body: bytes) -> int:
    """The NMEA checksum: XOR of every byte between the start character and ``*``."""
    return functools.reduce(operator.xor, body, 0)


def sentence(fields: Sequence[str], start: str = "$") -> bytes:
    """One sentence with its checksum and CR LF (NMEA 0183 §5.3)."""
    body = ",".join(fields).encode("ascii")
    return b"%s%s*%02X\r\n" % (start.encode("ascii"), body, checksum(body))


# -- decoding -----------------------------------------------------------------------------------


def number(field: str) -> float | None:
    """A decimal field; None when empty."""
    if not field:
        return None
    value = float(field)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {field!r}")
    return value


def integer(field: str) -> int | None:
    """A whole-number field; None when empty."""
    if not field:
        return None
    if not field.isascii() or not field.isdigit():
        raise ValueError(f"not a whole number: {field!r}")
    return int(field)


def time_of_day(field: str) -> int | None:
    """``hhmmss[.sss]`` as milliseconds since UTC midnight; None when empty."""
    if not field:
        return None
    head = field[:6]
    if len(head) < 6 or not head.isascii() or not head.isdigit():
        raise ValueError(f"not a time of day: {field!r}")
    hours, minutes = int(head[:2]), int(head[2:4])
    seconds = float(field[4:])
    if hours > 23 or minutes > 59 or not 0 <= seconds < 61:  # 60: a leap second
        raise ValueError(f"not a time of day: {field!r}")
    return hours * 3_600_000 + minutes * 60_000 + round(seconds * 1000)


def day_number(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a calendar date (ValueError if there is no such date)."""
    try:
        return dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except OverflowError as exc:  # a number past C's long (fuzz: a ZDA year of 20 digits) is no date either
        raise ValueError(f"no such date: {year}-{month}-{day}") from exc


def ddmmyy(field: str) -> int | None:
    """An RMC-style ``ddmmyy`` date as days since 1970-01-01; None when empty.

    Two-digit years are 1980-2079: the GPS epoch is 1980, as gpsd's merge_ddmmyy assumes.
    """
    if not field:
        return None
    if len(field) != 6 or not field.isascii() or not field.isdigit():
        raise ValueError(f"not a ddmmyy date: {field!r}")
    yy = int(field[4:])
    return day_number(2000 + yy if yy < 80 else 1900 + yy, int(field[2:4]), int(field[:2]))


def angle(value: str, hemisphere: str, hemispheres: str, limit: float) -> float | None:
    """``(d)ddmm.mmmm`` and its hemisphere letter (``hemispheres`` is "NS" or "EW") as signed degrees.

    None when either field is empty.
    """
    if not value or not hemisphere:
        return None
    if hemisphere not in (hemispheres[0], hemispheres[1]) or value[0] in "+-":
        raise ValueError(f"not a position: {value!r},{hemisphere!r}")
    raw = float(value)
    degrees = int(raw // 100)
    minutes = raw - degrees * 100
    result = degrees + minutes / 60
    if not minutes < 60 or not result <= limit:
        raise ValueError(f"not a position: {value!r},{hemisphere!r}")
    return -result if hemisphere == hemispheres[1] else result


def lat_lon(fields: Sequence[str], at: int) -> tuple[float, float] | None:
    """Latitude and longitude from the four fields starting at ``at``; None unless both are there."""
    lat = angle(fields[at], fields[at + 1], "NS", 90.0)
    lon = angle(fields[at + 2], fields[at + 3], "EW", 180.0)
    if lat is None or lon is None:
        return None
    return lat, lon


def unroll_weeks(day: int, now: float) -> int:
    """``day`` moved on by whole 1024-week epochs if it lies more than a year before the clock ``now``.

    A ``now`` before the GPS epoch is no wall clock (a monotonic clock, an unset RTC): then there is
    nothing to compare with, as in gpsd when its start time is unset.
    """
    if now < GPS_EPOCH_S:
        return day
    floor = int(now // DAY_S) - WKRO_GRACE_DAYS
    if day >= floor:
        return day
    epochs = -(-(floor - day) // WKRO_DAYS)
    return day + epochs * WKRO_DAYS if epochs <= MAX_WKRO_EPOCHS else day


# -- encoding -----------------------------------------------------------------------------------


def split_ts(ts: float) -> tuple[int, int]:
    """A UTC timestamp as (days since 1970-01-01, milliseconds of the day), rounded to the millisecond."""
    total_ms = round(ts * 1000)
    return total_ms // DAY_MS, total_ms % DAY_MS


def format_tod(ms: int) -> str:
    """Milliseconds of the day as ``hhmmss.sss``."""
    seconds, millis = divmod(ms, 1000)
    return f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}.{millis:03d}"


def format_ddmmyy(day: int) -> str:
    """Days since 1970-01-01 as ``ddmmyy`` (years 1980-2079)."""
    date = dt.date.fromordinal(day + _EPOCH_ORDINAL)
    if not 1980 <= date.year <= 2079:
        raise ValueError(f"a two-digit year cannot carry {date.year}")
    return f"{date.day:02d}{date.month:02d}{date.year % 100:02d}"


def format_angle(degrees: float, width: int, hemispheres: str) -> tuple[str, str]:
    """Signed degrees as ``(d)ddmm.mmmmmm`` and a hemisphere letter; exact to a micro-minute."""
    micro_minutes = round(abs(degrees) * 60_000_000)
    whole, rest = divmod(micro_minutes, 60_000_000)
    value = f"{whole:0{width}d}{rest // 1_000_000:02d}.{rest % 1_000_000:06d}"
    return value, hemispheres[1] if degrees < 0 else hemispheres[0]


def format_number(value: float | None, decimals: int) -> str:
    """A decimal field, empty for None."""
    return "" if value is None else f"{value:.{decimals}f}"
