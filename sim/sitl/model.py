"""Multirotor kinematics: a point mass that flies towards a setpoint within ArduCopter-like limits.

Positions are metres from home (north, east, up: the EKF origin is home, terrain is flat). Speeds and
accelerations follow ArduCopter's waypoint controller defaults (WPNAV_SPEED, WPNAV_SPEED_UP,
WPNAV_SPEED_DN, WPNAV_ACCEL, WPNAV_ACCEL_Z); the approach to a target uses the square-root braking
curve of AC_PosControl (``sqrt_controller``), so the vehicle slows smoothly instead of overshooting.
Attitude is derived from the commanded acceleration plus the tilt needed to hold speed against drag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .geo import wrap_180

GRAVITY_MPS2 = 9.80665
_DRAG_PER_S = 0.3  # tilt needed to hold speed against drag, as an equivalent acceleration per m/s
_ATTITUDE_TAU_S = 0.2
_POS_P = 1.0  # PSC_POSXY_P / PSC_POSZ_P defaults


@dataclass(frozen=True, slots=True)
class Limits:
    """Speed, acceleration and attitude limits (ArduCopter defaults, converted to SI)."""

    speed_mps: float = 5.0
    climb_mps: float = 2.5
    descent_mps: float = 1.5
    accel_mps2: float = 2.5
    accel_z_mps2: float = 1.0
    yaw_rate_dps: float = 90.0
    max_tilt_deg: float = 30.0


@dataclass(frozen=True, slots=True)
class Setpoint:
    """What the autopilot asks of the airframe for one step (local frame, metres from home).

    A horizontal position (north/east) wins over a horizontal velocity; an explicit ``climb_mps``
    (positive up) wins over a target altitude. ``idle`` means motors off or at ground idle.
    """

    north_m: float | None = None
    east_m: float | None = None
    alt_m: float | None = None
    vn_mps: float = 0.0
    ve_mps: float = 0.0
    climb_mps: float | None = None
    speed_mps: float | None = None
    yaw_deg: float | None = None
    idle: bool = False


_BRAKE_MARGIN = 0.8  # plan braking below the acceleration limit, so discrete steps never overshoot


def _sqrt_speed(error: float, accel: float) -> float:
    """Speed towards a target ``error`` metres away that can still stop in time (AC_PosControl)."""
    distance = abs(error)
    return min(math.sqrt(2.0 * accel * _BRAKE_MARGIN * distance), _POS_P * distance)


class Multirotor:
    """The airframe's true state, advanced by :meth:`step`."""

    def __init__(self, limits: Limits | None = None, yaw_deg: float = 0.0) -> None:
        self.limits = limits or Limits()
        self.north_m = 0.0
        self.east_m = 0.0
        self.alt_m = 0.0
        self.vn_mps = 0.0
        self.ve_mps = 0.0
        self.vu_mps = 0.0
        self.yaw_deg = yaw_deg % 360.0
        self.roll_deg = 0.0
        self.pitch_deg = 0.0
        self.yaw_rate_dps = 0.0

    @property
    def on_ground(self) -> bool:
        """Resting on the ground (altitude zero, not climbing)."""
        return self.alt_m <= 0.0 and self.vu_mps <= 0.0

    @property
    def ground_speed_mps(self) -> float:
        """Horizontal speed."""
        return math.hypot(self.vn_mps, self.ve_mps)

    @property
    def course_deg(self) -> float:
        """Direction of horizontal motion, degrees from north."""
        return math.degrees(math.atan2(self.ve_mps, self.vn_mps)) % 360.0

    def step(self, dt: float, sp: Setpoint) -> None:
        """Advance ``dt`` seconds towards the setpoint."""
        if dt <= 0:
            return
        if sp.idle and self.alt_m <= 0.0:
            self._rest()
            return
        vn_old, ve_old, vu_old = self.vn_mps, self.ve_mps, self.vu_mps
        self._step_vertical(dt, sp)
        self._step_horizontal(dt, sp)
        self.north_m += (vn_old + self.vn_mps) * 0.5 * dt
        self.east_m += (ve_old + self.ve_mps) * 0.5 * dt
        self.alt_m += (vu_old + self.vu_mps) * 0.5 * dt
        if self.alt_m <= 0.0 and self.vu_mps <= 0.0:
            self._rest()
            return
        self._step_yaw(dt, sp)
        self._step_attitude(dt, (self.vn_mps - vn_old) / dt, (self.ve_mps - ve_old) / dt)

    def stop_outward(self, north_m: float, east_m: float, alt_m: float) -> None:
        """Move to the given point (a constraint such as a tether) and cancel velocity pointing away."""
        dn, de, du = north_m - self.north_m, east_m - self.east_m, alt_m - self.alt_m
        norm = math.sqrt(dn * dn + de * de + du * du)
        self.north_m, self.east_m, self.alt_m = north_m, east_m, alt_m
        if norm < 1e-9:
            return
        # the constraint pushed us back along (dn, de, du): remove the velocity component against it
        ux, uy, uz = dn / norm, de / norm, du / norm
        against = self.vn_mps * ux + self.ve_mps * uy + self.vu_mps * uz
        if against < 0:
            self.vn_mps -= against * ux
            self.ve_mps -= against * uy
            self.vu_mps -= against * uz

    def _rest(self) -> None:
        self.alt_m = 0.0
        self.vn_mps = self.ve_mps = self.vu_mps = 0.0
        self.roll_deg = self.pitch_deg = self.yaw_rate_dps = 0.0

    def _step_vertical(self, dt: float, sp: Setpoint) -> None:
        lim = self.limits
        if sp.climb_mps is not None:
            desired = sp.climb_mps
        elif sp.alt_m is not None:
            error = sp.alt_m - self.alt_m
            cap = lim.climb_mps if error > 0 else lim.descent_mps
            desired = math.copysign(min(cap, _sqrt_speed(error, lim.accel_z_mps2)), error)
        else:
            desired = 0.0
        change = max(-lim.accel_z_mps2 * dt, min(lim.accel_z_mps2 * dt, desired - self.vu_mps))
        self.vu_mps += change

    def _step_horizontal(self, dt: float, sp: Setpoint) -> None:
        lim = self.limits
        cap = lim.speed_mps if sp.speed_mps is None or sp.speed_mps <= 0 else sp.speed_mps
        if sp.north_m is not None and sp.east_m is not None:
            dn, de = sp.north_m - self.north_m, sp.east_m - self.east_m
            distance = math.hypot(dn, de)
            speed = min(cap, _sqrt_speed(distance, lim.accel_mps2))
            want_n, want_e = (dn / distance * speed, de / distance * speed) if distance > 1e-6 else (0.0, 0.0)
        else:
            want_n, want_e = sp.vn_mps, sp.ve_mps
            speed = math.hypot(want_n, want_e)
            if speed > cap:
                want_n, want_e = want_n * cap / speed, want_e * cap / speed
        dvn, dve = want_n - self.vn_mps, want_e - self.ve_mps
        dv = math.hypot(dvn, dve)
        max_dv = lim.accel_mps2 * dt
        if dv > max_dv:
            dvn, dve = dvn * max_dv / dv, dve * max_dv / dv
        self.vn_mps += dvn
        self.ve_mps += dve

    def _step_yaw(self, dt: float, sp: Setpoint) -> None:
        target = sp.yaw_deg
        if target is None and self.ground_speed_mps > 1.0:
            target = self.course_deg
        if target is None:
            self.yaw_rate_dps = 0.0
            return
        error = wrap_180(target - self.yaw_deg)
        max_turn = self.limits.yaw_rate_dps * dt
        turn = max(-max_turn, min(max_turn, error))
        self.yaw_deg = (self.yaw_deg + turn) % 360.0
        self.yaw_rate_dps = turn / dt

    def _step_attitude(self, dt: float, an: float, ae: float) -> None:
        an += _DRAG_PER_S * self.vn_mps
        ae += _DRAG_PER_S * self.ve_mps
        yaw = math.radians(self.yaw_deg)
        forward = an * math.cos(yaw) + ae * math.sin(yaw)
        right = -an * math.sin(yaw) + ae * math.cos(yaw)
        limit = self.limits.max_tilt_deg
        pitch = max(-limit, min(limit, -math.degrees(math.atan2(forward, GRAVITY_MPS2))))
        roll = max(-limit, min(limit, math.degrees(math.atan2(right, GRAVITY_MPS2))))
        k = min(1.0, dt / _ATTITUDE_TAU_S)
        self.pitch_deg += (pitch - self.pitch_deg) * k
        self.roll_deg += (roll - self.roll_deg) * k
