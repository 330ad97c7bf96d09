"""A simulated LiPo flight battery: charge drawn by the motors, resting voltage curve and sag.

The pack is a 3S LiPo (12.6 V full, 9.9 V empty under ArduPilot's usual 3.3 V/cell floor) whose
resting voltage follows a typical LiPo discharge curve; under load it sags by current times the
pack's internal resistance. The draw model is a multirotor's: a hover current, more for horizontal
speed and climbing, little on the ground.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

# Resting voltage per cell against state of charge (fraction), a common LiPo discharge curve.
_CELL_CURVE = (
    (0.00, 3.30),
    (0.05, 3.50),
    (0.10, 3.60),
    (0.20, 3.70),
    (0.40, 3.78),
    (0.60, 3.87),
    (0.80, 4.00),
    (1.00, 4.20),
)


@dataclass(frozen=True, slots=True)
class PowerDraw:
    """Current model for a ~1.5 kg quadcopter (amperes)."""

    disarmed_a: float = 0.3
    ground_idle_a: float = 1.5
    hover_a: float = 14.0
    per_mps_a: float = 0.8  # extra per m/s of horizontal speed
    climb_per_mps_a: float = 3.0  # extra per m/s of climb

    def current_a(self, armed: bool, airborne: bool, speed_mps: float, climb_mps: float) -> float:
        """Current drawn in this flight state."""
        if not armed:
            return self.disarmed_a
        if not airborne:
            return self.ground_idle_a
        return self.hover_a + self.per_mps_a * speed_mps + self.climb_per_mps_a * max(0.0, climb_mps)


def cell_voltage(charge: float) -> float:
    """Resting cell voltage at a state of charge between 0 and 1."""
    charge = max(0.0, min(1.0, charge))
    for (c0, v0), (c1, v1) in itertools.pairwise(_CELL_CURVE):
        if charge <= c1:
            return v0 + (v1 - v0) * (charge - c0) / (c1 - c0)
    return _CELL_CURVE[-1][1]


def charge_for_cell_voltage(volts: float) -> float:
    """The state of charge (0 to 1) whose resting cell voltage is ``volts`` (inverse of :func:`cell_voltage`)."""
    if volts <= _CELL_CURVE[0][1]:
        return 0.0
    for (c0, v0), (c1, v1) in itertools.pairwise(_CELL_CURVE):
        if volts <= v1:
            return c0 + (c1 - c0) * (volts - v0) / (v1 - v0)
    return 1.0


class Battery:
    """Charge, voltage and consumption of one pack."""

    def __init__(self, capacity_mah: float = 3300.0, cells: int = 3, internal_ohm: float = 0.015) -> None:
        self.capacity_mah = capacity_mah
        self.cells = cells
        self.internal_ohm = internal_ohm
        self.consumed_mah = 0.0
        self.consumed_wh = 0.0
        self.current_a = 0.0

    @property
    def charge(self) -> float:
        """State of charge, 0 to 1."""
        return max(0.0, 1.0 - self.consumed_mah / self.capacity_mah)

    @property
    def remaining_pct(self) -> int:
        """Remaining capacity in whole percent (as BATTERY_STATUS.battery_remaining)."""
        return round(self.charge * 100)

    @property
    def voltage_v(self) -> float:
        """Terminal voltage under the present load."""
        return max(0.0, cell_voltage(self.charge) * self.cells - self.current_a * self.internal_ohm)

    def time_remaining_s(self) -> int:
        """Seconds left at the present draw (0 when not drawing)."""
        if self.current_a <= 0.1:
            return 0
        return int((self.capacity_mah - self.consumed_mah) / 1000.0 / self.current_a * 3600.0)

    def step(self, dt: float, current_a: float) -> None:
        """Draw ``current_a`` amperes for ``dt`` seconds (negative current charges the pack)."""
        self.current_a = current_a
        self.consumed_mah = max(0.0, min(self.capacity_mah, self.consumed_mah + current_a * dt / 3.6))
        self.consumed_wh += max(0.0, current_a) * self.voltage_v * dt / 3600.0

    def set_remaining(self, percent: float) -> None:
        """Force the remaining charge (fault injection, battery swap)."""
        percent = max(0.0, min(100.0, percent))
        self.consumed_mah = self.capacity_mah * (1.0 - percent / 100.0)
