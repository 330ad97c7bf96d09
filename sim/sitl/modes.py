"""ArduCopter flight modes: numbers (HEARTBEAT.custom_mode), and what each needs and allows.

Numbers and rules follow ArduCopter's ``mode.h``: which modes need a position estimate (GPS),
which allow arming, and which set MAV_MODE_FLAG_GUIDED_ENABLED in the HEARTBEAT's base_mode.
With no RC transmitter in the simulation, the pilot-flown modes hold: STABILIZE/ACRO/ALT_HOLD keep
altitude with the sticks centred; LOITER/POSHOLD/BRAKE/CIRCLE keep position.
"""

from __future__ import annotations

import enum


class Mode(enum.IntEnum):
    """ArduCopter mode numbers."""

    STABILIZE = 0
    ACRO = 1
    ALT_HOLD = 2
    AUTO = 3
    GUIDED = 4
    LOITER = 5
    RTL = 6
    CIRCLE = 7
    LAND = 9
    DRIFT = 11
    SPORT = 13
    FLIP = 14
    AUTOTUNE = 15
    POSHOLD = 16
    BRAKE = 17
    THROW = 18
    AVOID_ADSB = 19
    GUIDED_NOGPS = 20
    SMART_RTL = 21
    FLOWHOLD = 22
    FOLLOW = 23
    ZIGZAG = 24
    SYSTEMID = 25
    AUTOROTATE = 26
    AUTO_RTL = 27
    TURTLE = 28

    @property
    def requires_gps(self) -> bool:
        """Entering this mode needs a good position estimate."""
        return self in _GPS_MODES

    @property
    def allows_arming(self) -> bool:
        """The vehicle may be armed in this mode (from a GCS)."""
        return self in _ARMABLE_MODES

    @property
    def guided_flag(self) -> bool:
        """HEARTBEAT base_mode carries MAV_MODE_FLAG_GUIDED_ENABLED in this mode."""
        return self in _GUIDED_FLAG_MODES

    @property
    def has_user_takeoff(self) -> bool:
        """MAV_CMD_NAV_TAKEOFF is accepted in this mode."""
        return self in (Mode.GUIDED, Mode.LOITER, Mode.POSHOLD)

    @property
    def returns_home(self) -> bool:
        """The mode flies the RTL sequence."""
        return self in (Mode.RTL, Mode.SMART_RTL, Mode.AUTO_RTL)


SIMULATED = frozenset(
    {
        Mode.STABILIZE, Mode.ACRO, Mode.ALT_HOLD, Mode.AUTO, Mode.GUIDED, Mode.LOITER, Mode.RTL, Mode.CIRCLE,
        Mode.LAND, Mode.POSHOLD, Mode.BRAKE, Mode.SMART_RTL, Mode.AUTO_RTL,
    }
)  # fmt: skip
"""Modes this SITL flies; asking for another is refused as the real vehicle refuses a mode it lacks."""

_GPS_MODES = frozenset(
    {Mode.AUTO, Mode.GUIDED, Mode.LOITER, Mode.RTL, Mode.CIRCLE, Mode.POSHOLD, Mode.BRAKE, Mode.SMART_RTL,
     Mode.AUTO_RTL, Mode.DRIFT, Mode.FOLLOW, Mode.ZIGZAG, Mode.AVOID_ADSB, Mode.THROW}
)  # fmt: skip
_ARMABLE_MODES = frozenset(
    {Mode.STABILIZE, Mode.ACRO, Mode.ALT_HOLD, Mode.GUIDED, Mode.LOITER, Mode.POSHOLD, Mode.SPORT, Mode.DRIFT,
     Mode.FLOWHOLD, Mode.GUIDED_NOGPS, Mode.ZIGZAG, Mode.THROW}
)  # fmt: skip
_GUIDED_FLAG_MODES = frozenset(
    {Mode.AUTO, Mode.AUTO_RTL, Mode.RTL, Mode.LOITER, Mode.AVOID_ADSB, Mode.FOLLOW, Mode.GUIDED, Mode.CIRCLE,
     Mode.POSHOLD, Mode.BRAKE, Mode.SMART_RTL}
)  # fmt: skip
