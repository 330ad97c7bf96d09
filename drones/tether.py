"""Tether state of a tethered drone, from WINCH_STATUS and NAMED_VALUE_FLOAT (pure).

MAVLink has no tether message, so two sources are accepted; either may be absent:

- ``WINCH_STATUS`` (common.xml): ``line_length`` (m) is the deployed length, ``tension`` (kg, as
  the spec gives it; converted to newtons here), ``voltage`` (V). NaN means unknown.
- ``NAMED_VALUE_FLOAT`` with these names (10 characters at most, the message's limit):

  =============  ==========================================================
  ``TETH_LEN``   deployed tether length, metres
  ``TETH_TENS``  tension at the drone, newtons
  ``TETH_PWR``   ground power present: 1 (yes) or 0 (no, the drone is on its battery)
  ``TETH_V``     tether voltage at the drone, volts
  =============  ==========================================================

Whichever arrived last wins for each value. The ceiling is the configured tether length: the
drone cannot climb higher above its home (the winch) than the tether reaches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

STANDARD_GRAVITY = 9.80665  # kg-force to newtons
NAMES = {"TETH_LEN": "length_m", "TETH_TENS": "tension_n", "TETH_PWR": "power", "TETH_V": "voltage_v"}
"""NAMED_VALUE_FLOAT names accepted, and the field of :class:`TetherState` each one sets."""


def _known(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass(slots=True)
class TetherState:
    """What is known of one vehicle's tether (None: never reported)."""

    length_m: float | None = None
    tension_n: float | None = None
    power: bool | None = None
    voltage_v: float | None = None
    power_seen: bool = False  # ground power was present at least once: losing it is news

    def apply(self, msg: Any) -> bool:
        """Take a WINCH_STATUS or NAMED_VALUE_FLOAT; True if it was about the tether."""
        kind = msg.get_type()
        if kind == "WINCH_STATUS":
            length = _known(msg.line_length)
            if length is not None:
                self.length_m = length
            tension_kg = _known(msg.tension)
            if tension_kg is not None:
                self.tension_n = tension_kg * STANDARD_GRAVITY
            voltage = _known(msg.voltage)
            if voltage is not None:
                self.voltage_v = voltage
            return True
        if kind == "NAMED_VALUE_FLOAT":
            name = msg.name if isinstance(msg.name, str) else msg.name.decode("ascii", "replace")
            field = NAMES.get(name.rstrip("\x00").strip().upper())
            value = _known(msg.value)
            if field is None or value is None:
                return False
            if field == "power":
                self.power = value >= 0.5
                self.power_seen = self.power_seen or self.power
            else:
                setattr(self, field, value)
            return True
        return False


@dataclass(frozen=True, slots=True)
class TetherLimits:
    """Where the tether alerts trip."""

    max_length_m: float
    ceiling_margin_m: float
    tension_high_n: float


def tether_conditions(state: TetherState, alt_rel_m: float | None, limits: TetherLimits) -> dict[str, tuple[bool, str]]:
    """Each tether condition: key -> (active, text)."""
    tension = state.tension_n
    near = alt_rel_m is not None and alt_rel_m >= limits.max_length_m - limits.ceiling_margin_m
    return {
        "tether-tension": (
            tension is not None and tension >= limits.tension_high_n,
            f"tether tension {tension or 0:.0f} N (limit {limits.tension_high_n:.0f} N)",
        ),
        "tether-power": (
            state.power_seen and state.power is False,
            "tether ground power lost: the drone is on its own battery",
        ),
        "tether-ceiling": (
            near,
            f"{alt_rel_m or 0:.1f} m above home, tether ceiling {limits.max_length_m:.0f} m",
        ),
    }
