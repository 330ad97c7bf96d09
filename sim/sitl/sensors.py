"""GPS receiver and EKF health as ground software sees them: fix, noise, variances, flags.

GPS noise is a first-order Gauss-Markov process per axis (slowly wandering metre-level error, as a
real receiver's), drawn from the vehicle's seeded random generator so runs are reproducible. While
the GPS is lost the EKF dead-reckons: its position error random-walks and its variances (the values
EKF_STATUS_REPORT carries, normalised so 1.0 is the innovation gate) grow past ArduCopter's
FS_EKF_THRESH within a few seconds, which is what trips the EKF failsafe.
"""

from __future__ import annotations

import math
import random

from pymavlink.dialects.v20 import ardupilotmega as mavlink

_GOOD_FLAGS = (
    mavlink.EKF_ATTITUDE
    | mavlink.EKF_VELOCITY_HORIZ
    | mavlink.EKF_VELOCITY_VERT
    | mavlink.EKF_POS_HORIZ_REL
    | mavlink.EKF_POS_HORIZ_ABS
    | mavlink.EKF_POS_VERT_ABS
    | mavlink.EKF_PRED_POS_HORIZ_REL
    | mavlink.EKF_PRED_POS_HORIZ_ABS
)
_NO_GPS_FLAGS = mavlink.EKF_ATTITUDE | mavlink.EKF_VELOCITY_VERT | mavlink.EKF_POS_VERT_ABS
_NOISE_TAU_S = 30.0
_VARIANCE_GROWTH_PER_S = 0.35  # without GPS: past FS_EKF_THRESH (0.8) in a little over 2 s
_DRIFT_MPS = 0.5


class Gps:
    """A GPS receiver: fix type, satellites and a wandering position error."""

    def __init__(self, rng: random.Random, noise_m: float = 0.6, lock_after_s: float = 0.0) -> None:
        self._rng = rng
        self.noise_m = noise_m
        self.enabled = True  # False: the receiver has lost its fix (fault injection)
        self._lock_in_s = lock_after_s
        self.error_n = self.error_e = self.error_u = 0.0
        self.satellites = 10 + rng.randrange(5)

    @property
    def has_fix(self) -> bool:
        """A 3D fix is available."""
        return self.enabled and self._lock_in_s <= 0.0

    @property
    def fix_type(self) -> int:
        """GPS_FIX_TYPE as GPS_RAW_INT reports it (0 when lost, as a receiver that has gone quiet)."""
        if not self.enabled:
            return int(mavlink.GPS_FIX_TYPE_NO_GPS)
        return int(mavlink.GPS_FIX_TYPE_3D_FIX if self.has_fix else mavlink.GPS_FIX_TYPE_NO_FIX)

    @property
    def hdop(self) -> float:
        """Horizontal dilution of precision for the satellites in view."""
        return 0.6 + 4.0 / max(self.satellites, 4) if self.has_fix else 99.99

    def step(self, dt: float) -> None:
        """Advance the error processes and the time to first fix."""
        self._lock_in_s = max(0.0, self._lock_in_s - dt)
        decay = math.exp(-dt / _NOISE_TAU_S)
        spread = self.noise_m * math.sqrt(1.0 - decay * decay)
        self.error_n = self.error_n * decay + self._rng.gauss(0.0, spread)
        self.error_e = self.error_e * decay + self._rng.gauss(0.0, spread)
        self.error_u = self.error_u * decay + self._rng.gauss(0.0, spread * 1.5)
        if self._rng.random() < dt / 60.0:  # a satellite rises or sets about once a minute
            self.satellites = max(6, min(16, self.satellites + self._rng.choice((-1, 1))))


class Ekf:
    """The navigation filter's health and its position error relative to the truth."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.variance = 0.02
        self.error_n = self.error_e = 0.0
        self.using_gps = False

    @property
    def position_ok(self) -> bool:
        """The horizontal position estimate is usable (ArduCopter's position_ok())."""
        return self.using_gps and self.variance < 0.5

    @property
    def flags(self) -> int:
        """EKF_STATUS_REPORT flags."""
        return int(_GOOD_FLAGS if self.position_ok else _NO_GPS_FLAGS)

    def step(self, dt: float, gps: Gps) -> bool:
        """Fuse (or miss) GPS for ``dt`` seconds; True when the filter has just started using GPS."""
        started = False
        if gps.has_fix:
            started = not self.using_gps
            self.using_gps = True
            self.variance = max(0.02, self.variance - dt * 0.5)
            decay = math.exp(-dt / 2.0)
            self.error_n = self.error_n * decay + gps.error_n * 0.2 * (1 - decay)
            self.error_e = self.error_e * decay + gps.error_e * 0.2 * (1 - decay)
        else:
            self.using_gps = self.using_gps and self.variance < 1.0
            self.variance = min(1.5, self.variance + dt * _VARIANCE_GROWTH_PER_S)
            self.error_n += self._rng.gauss(0.0, _DRIFT_MPS * math.sqrt(dt))
            self.error_e += self._rng.gauss(0.0, _DRIFT_MPS * math.sqrt(dt))
        return started
