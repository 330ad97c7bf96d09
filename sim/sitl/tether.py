"""A tethered drone's ground station: winch, line, tension and ground power.

The ground station sits at home. Its winch pays line out and in to follow the drone with a little
slack, never beyond ``max_length_m``: the drone is held inside a sphere of that radius around the
station, so straight above the station its ceiling is the line length (lower further out). Tension
is the weight of the line the drone carries plus a steep rise over the last tenth of the line, as
the winch's brake takes up the load. Ground power feeds the drone through the line; when it is lost
the drone fails over to its backup battery.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pymavlink.dialects.v20 import ardupilotmega as mavlink

_TAUT_FRACTION = 0.9  # tension rises steeply once the drone is this far out along the line
_TAUT_EXTRA_KG = 8.0  # extra tension at the full length
_WINCH_IDLE_KG = 0.3  # the winch always keeps the line slightly tight


@dataclass(frozen=True, slots=True)
class TetherConfig:
    """Ground station and line properties."""

    max_length_m: float = 100.0
    slack_m: float = 2.0
    winch_speed_mps: float = 3.0
    line_kg_per_m: float = 0.02
    supply_voltage_v: float = 48.0
    backup_capacity_mah: float = 1500.0


class Tether:
    """Line state for one tethered vehicle."""

    def __init__(self, config: TetherConfig | None = None) -> None:
        self.config = config or TetherConfig()
        self.max_length_m = self.config.max_length_m
        self.deployed_m = 0.0
        self.speed_mps = 0.0
        self.tension_kg = _WINCH_IDLE_KG
        self.ground_power = True
        self.distance_m = 0.0

    @property
    def voltage_v(self) -> float:
        """Voltage the ground station puts on the line (0 without ground power)."""
        return self.config.supply_voltage_v if self.ground_power else 0.0

    @property
    def status(self) -> int:
        """MAV_WINCH_STATUS_FLAG bits for WINCH_STATUS."""
        flags = mavlink.MAV_WINCH_STATUS_HEALTHY | mavlink.MAV_WINCH_STATUS_CLUTCH_ENGAGED
        if abs(self.speed_mps) > 0.05:
            flags |= mavlink.MAV_WINCH_STATUS_MOVING
        if self.deployed_m < 0.1:
            flags |= mavlink.MAV_WINCH_STATUS_FULLY_RETRACTED
        return int(flags)

    def ceiling_m(self, north_m: float, east_m: float) -> float:
        """Highest altitude above home reachable at this horizontal offset."""
        horizontal = math.hypot(north_m, east_m)
        return math.sqrt(max(0.0, self.max_length_m**2 - horizontal**2))

    def constrain(self, north_m: float, east_m: float, alt_m: float) -> tuple[float, float, float] | None:
        """The nearest allowed position if (north, east, alt) is beyond the line, else None."""
        distance = math.sqrt(north_m**2 + east_m**2 + alt_m**2)
        if distance <= self.max_length_m:
            return None
        scale = self.max_length_m / distance
        return north_m * scale, east_m * scale, alt_m * scale

    def step(self, dt: float, north_m: float, east_m: float, alt_m: float) -> None:
        """Follow the drone with the winch and update the tension."""
        self.distance_m = math.sqrt(north_m**2 + east_m**2 + max(0.0, alt_m) ** 2)
        wanted = 0.0 if alt_m <= 0.0 else min(self.max_length_m, self.distance_m + self.config.slack_m)
        step = max(-self.config.winch_speed_mps * dt, min(self.config.winch_speed_mps * dt, wanted - self.deployed_m))
        self.deployed_m += step
        self.speed_mps = step / dt if dt > 0 else 0.0
        taut = max(0.0, self.distance_m / self.max_length_m - _TAUT_FRACTION) / (1.0 - _TAUT_FRACTION)
        self.tension_kg = _WINCH_IDLE_KG + self.deployed_m * self.config.line_kg_per_m + _TAUT_EXTRA_KG * taut**2
