"""The telemetry messages a vehicle streams, built from its state (units as each MAVLink message wants).

GLOBAL_POSITION_INT, LOCAL_POSITION_NED, ATTITUDE and VFR_HUD report the EKF's estimate (truth
plus the filter's error); GPS_RAW_INT reports the receiver (truth plus its noise). Tethered vehicles
add WINCH_STATUS and NAMED_VALUE_FLOATs (names in :mod:`sim.sitl.vehicle`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from . import geo
from .model import GRAVITY_MPS2
from .modes import Mode

if TYPE_CHECKING:
    from .vehicle import Vehicle

Msg = Any

FIRMWARE_VERSION = (4, 5, 7)
FIRMWARE_NAME = "ArduCopter V4.5.7 (fieldkit SITL)"
_GIT_HASH = b"fk5ITL\x00\x00"  # AUTOPILOT_VERSION.flight_custom_version: 8 bytes of the build's git hash
_CAPABILITIES = (
    mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT
    | mavlink.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
    | mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_INT
    | mavlink.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
    | mavlink.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_LOCAL_NED
    | mavlink.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT
    | mavlink.MAV_PROTOCOL_CAPABILITY_MAVLINK2
    | mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
    | mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY
)
_SENSORS = (
    mavlink.MAV_SYS_STATUS_SENSOR_3D_GYRO
    | mavlink.MAV_SYS_STATUS_SENSOR_3D_ACCEL
    | mavlink.MAV_SYS_STATUS_SENSOR_3D_MAG
    | mavlink.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE
    | mavlink.MAV_SYS_STATUS_SENSOR_GPS
    | mavlink.MAV_SYS_STATUS_SENSOR_ANGULAR_RATE_CONTROL
    | mavlink.MAV_SYS_STATUS_SENSOR_ATTITUDE_STABILIZATION
    | mavlink.MAV_SYS_STATUS_SENSOR_YAW_POSITION
    | mavlink.MAV_SYS_STATUS_SENSOR_Z_ALTITUDE_CONTROL
    | mavlink.MAV_SYS_STATUS_SENSOR_XY_POSITION_CONTROL
    | mavlink.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
    | mavlink.MAV_SYS_STATUS_AHRS
    | mavlink.MAV_SYS_STATUS_SENSOR_BATTERY
    | mavlink.MAV_SYS_STATUS_PREARM_CHECK
    | mavlink.MAV_SYS_STATUS_GEOFENCE  # present and healthy (no breach); enabled with FENCE_ENABLE
)
_UINT16_MAX = 65535


def version_number() -> int:
    """AUTOPILOT_VERSION.flight_sw_version: major, minor, patch, FIRMWARE_VERSION_TYPE_OFFICIAL."""
    major, minor, patch = FIRMWARE_VERSION
    return (major << 24) | (minor << 16) | (patch << 8) | int(mavlink.FIRMWARE_VERSION_TYPE_OFFICIAL)


def heartbeat(v: Vehicle, now: float) -> list[Msg]:
    """HEARTBEAT: quadrotor, ArduPilot, custom mode = ArduCopter mode number."""
    base = (
        mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
        | mavlink.MAV_MODE_FLAG_STABILIZE_ENABLED
        | mavlink.MAV_MODE_FLAG_MANUAL_INPUT_ENABLED
    )
    if v.mode.guided_flag:
        base |= mavlink.MAV_MODE_FLAG_GUIDED_ENABLED
    if v.armed:
        base |= mavlink.MAV_MODE_FLAG_SAFETY_ARMED
    return [
        mavlink.MAVLink_heartbeat_message(
            mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, base, int(v.mode), v.system_status, 3
        )
    ]


def sys_status(v: Vehicle, now: float) -> list[Msg]:
    """SYS_STATUS: sensor health bits and the battery."""
    health = _SENSORS
    if not v.gps.has_fix:
        health &= ~mavlink.MAV_SYS_STATUS_SENSOR_GPS
    if not v.ekf.position_ok:
        health &= ~mavlink.MAV_SYS_STATUS_AHRS
    if not v.armable:
        health &= ~mavlink.MAV_SYS_STATUS_PREARM_CHECK
    if v.failsafe.battery_low:
        health &= ~mavlink.MAV_SYS_STATUS_SENSOR_BATTERY
    enabled = _SENSORS if v.params["FENCE_ENABLE"] else _SENSORS & ~mavlink.MAV_SYS_STATUS_GEOFENCE
    b = v.battery
    return [
        mavlink.MAVLink_sys_status_message(
            _SENSORS, enabled, health, 200, round(b.voltage_v * 1000), round(b.current_a * 100),
            b.remaining_pct, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        )
    ]  # fmt: skip


def gps_raw_int(v: Vehicle, now: float) -> list[Msg]:
    """GPS_RAW_INT: the receiver's fix, with its noise."""
    g, f = v.gps, v.frame
    if g.has_fix:
        lat, lon = v.to_global(f.north_m + g.error_n, f.east_m + g.error_e)
        alt_mm = round((v.alt_msl_m + g.error_u) * 1000)
        vel, cog = round(f.ground_speed_mps * 100), round(f.course_deg * 100) % 36000
    else:
        lat = lon = 0.0
        alt_mm = vel = cog = 0
    eph = round(g.hdop * 100) if g.has_fix else _UINT16_MAX
    sats = g.satellites if g.has_fix else 0
    return [
        mavlink.MAVLink_gps_raw_int_message(
            round(now * 1e6), g.fix_type, round(lat * 1e7), round(lon * 1e7), alt_mm, eph,
            round(eph * 1.5) if g.has_fix else _UINT16_MAX, vel, cog, sats, alt_mm, 600 if g.has_fix else 0,
            900 if g.has_fix else 0, 150 if g.has_fix else 0, 0, 0,
        )
    ]  # fmt: skip


def global_position_int(v: Vehicle, now: float) -> list[Msg]:
    """GLOBAL_POSITION_INT: the EKF's position and velocity (NED, cm/s)."""
    f = v.frame
    lat, lon = v.estimated_position()
    return [
        mavlink.MAVLink_global_position_int_message(
            v.time_boot_ms(now), round(lat * 1e7), round(lon * 1e7), round(v.alt_msl_m * 1000),
            round(v.alt_rel_m * 1000), round(f.vn_mps * 100), round(f.ve_mps * 100), round(-f.vu_mps * 100),
            round(f.yaw_deg * 100) % 36000,
        )
    ]  # fmt: skip


def local_position_ned(v: Vehicle, now: float) -> list[Msg]:
    """LOCAL_POSITION_NED: metres from the EKF origin."""
    f = v.frame
    return [
        mavlink.MAVLink_local_position_ned_message(
            v.time_boot_ms(now), f.north_m + v.ekf.error_n, f.east_m + v.ekf.error_e, -f.alt_m,
            f.vn_mps, f.ve_mps, -f.vu_mps,
        )
    ]  # fmt: skip


def attitude(v: Vehicle, now: float) -> list[Msg]:
    """ATTITUDE in radians."""
    f = v.frame
    yaw = math.radians(geo.wrap_180(f.yaw_deg))
    return [
        mavlink.MAVLink_attitude_message(
            v.time_boot_ms(now), math.radians(f.roll_deg), math.radians(f.pitch_deg), yaw, 0.0, 0.0,
            math.radians(f.yaw_rate_dps),
        )
    ]  # fmt: skip


def vfr_hud(v: Vehicle, now: float) -> list[Msg]:
    """VFR_HUD: speeds, heading, throttle, altitude (MSL) and climb."""
    f = v.frame
    speed = f.ground_speed_mps
    return [
        mavlink.MAVLink_vfr_hud_message(speed, speed, round(f.yaw_deg) % 360, v.throttle_pct, v.alt_msl_m, f.vu_mps)
    ]


def home_position(v: Vehicle, now: float) -> list[Msg]:
    """HOME_POSITION (nothing until home is set)."""
    if v.home is None:
        return []
    lat, lon, alt = v.home
    n, e, u = v.home_local
    return [
        mavlink.MAVLink_home_position_message(
            round(lat * 1e7), round(lon * 1e7), round(alt * 1000), n, e, -u, [1.0, 0.0, 0.0, 0.0],
            0.0, 0.0, 0.0, round(now * 1e6),
        )
    ]  # fmt: skip


def ekf_status_report(v: Vehicle, now: float) -> list[Msg]:
    """EKF_STATUS_REPORT: flags and normalised variances."""
    var = v.ekf.variance
    return [mavlink.MAVLink_ekf_status_report_message(v.ekf.flags, var, var, 0.05, 0.03, 0.0, 0.0)]


def battery_status(v: Vehicle, now: float) -> list[Msg]:
    """BATTERY_STATUS for the flight (or tethered drone's backup) battery."""
    b = v.battery
    cells = [round(b.voltage_v * 1000)] + [_UINT16_MAX] * 9
    if v.failsafe.battery_critical:
        state = mavlink.MAV_BATTERY_CHARGE_STATE_CRITICAL
    elif v.failsafe.battery_low:
        state = mavlink.MAV_BATTERY_CHARGE_STATE_LOW
    elif b.current_a < 0:
        state = mavlink.MAV_BATTERY_CHARGE_STATE_CHARGING
    else:
        state = mavlink.MAV_BATTERY_CHARGE_STATE_OK
    return [
        mavlink.MAVLink_battery_status_message(
            0, mavlink.MAV_BATTERY_FUNCTION_ALL, mavlink.MAV_BATTERY_TYPE_LIPO, 32767, cells,
            round(b.current_a * 100), round(b.consumed_mah), round(b.consumed_wh * 36), b.remaining_pct,
            b.time_remaining_s(), state, [0, 0, 0, 0], 0, 0,
        )
    ]  # fmt: skip


def mission_current(v: Vehicle, now: float) -> list[Msg]:
    """MISSION_CURRENT with the mission's state."""
    total = len(v.mission_items)
    if total == 0:
        state = mavlink.MISSION_STATE_NO_MISSION
    elif v.guidance.auto.complete:
        state = mavlink.MISSION_STATE_COMPLETE
    elif v.mode is Mode.AUTO:
        state = mavlink.MISSION_STATE_ACTIVE
    else:
        state = mavlink.MISSION_STATE_NOT_STARTED
    in_auto = 1 if v.mode is Mode.AUTO else 0
    return [mavlink.MAVLink_mission_current_message(v.guidance.auto.seq, total, state, in_auto)]


def nav_controller_output(v: Vehicle, now: float) -> list[Msg]:
    """NAV_CONTROLLER_OUTPUT: bearing and distance to the current target."""
    f, sp = v.frame, v.last_setpoint
    if sp.north_m is not None and sp.east_m is not None:
        dn, de = sp.north_m - f.north_m, sp.east_m - f.east_m
        bearing, distance = round(math.degrees(math.atan2(de, dn))) % 360, round(math.hypot(dn, de))
    else:
        bearing, distance = round(f.yaw_deg) % 360, 0
    alt_error = (sp.alt_m - f.alt_m) if sp.alt_m is not None else 0.0
    return [
        mavlink.MAVLink_nav_controller_output_message(
            f.roll_deg, f.pitch_deg, bearing, bearing, min(distance, 65535), alt_error, 0.0, 0.0
        )
    ]


def system_time(v: Vehicle, now: float) -> list[Msg]:
    """SYSTEM_TIME: the (simulated) UTC time."""
    return [mavlink.MAVLink_system_time_message(round(now * 1e6), v.time_boot_ms(now))]


def autopilot_version(v: Vehicle, now: float) -> list[Msg]:
    """AUTOPILOT_VERSION with the capabilities ground software checks."""
    uid = (0xF1E1D0000 << 8) | v.sysid
    return [
        mavlink.MAVLink_autopilot_version_message(
            _CAPABILITIES, version_number(), 0, 0, 0, list(_GIT_HASH), [0] * 8, [0] * 8, 0, 0, uid, [0] * 18
        )
    ]


def winch_status(v: Vehicle, now: float) -> list[Msg]:
    """WINCH_STATUS for a tethered vehicle's ground winch."""
    t = v.tether
    if t is None:
        return []
    current = v.battery.current_a if t.ground_power else 0.0
    return [
        mavlink.MAVLink_winch_status_message(
            round(now * 1e6), t.deployed_m, t.speed_mps, t.tension_kg, t.voltage_v, current, 25, t.status
        )
    ]


def named_value_float(v: Vehicle, now: float) -> list[Msg]:
    """The tether's NAMED_VALUE_FLOATs."""
    t = v.tether
    if t is None:
        return []
    boot = v.time_boot_ms(now)
    values = (
        (b"TETH_LEN", t.deployed_m),
        (b"TETH_TENS", t.tension_kg * GRAVITY_MPS2),  # newtons here; WINCH_STATUS.tension is in kg
        (b"TETH_PWR", 1.0 if t.ground_power else 0.0),
        (b"TETH_V", t.voltage_v),
        (b"TETH_MAX", t.max_length_m),
    )
    return [mavlink.MAVLink_named_value_float_message(boot, name, value) for name, value in values]


BUILDERS: dict[str, Callable[[Vehicle, float], list[Msg]]] = {
    "HEARTBEAT": heartbeat,
    "SYS_STATUS": sys_status,
    "GPS_RAW_INT": gps_raw_int,
    "GLOBAL_POSITION_INT": global_position_int,
    "LOCAL_POSITION_NED": local_position_ned,
    "ATTITUDE": attitude,
    "VFR_HUD": vfr_hud,
    "HOME_POSITION": home_position,
    "EKF_STATUS_REPORT": ekf_status_report,
    "BATTERY_STATUS": battery_status,
    "MISSION_CURRENT": mission_current,
    "NAV_CONTROLLER_OUTPUT": nav_controller_output,
    "SYSTEM_TIME": system_time,
    "AUTOPILOT_VERSION": autopilot_version,
    "WINCH_STATUS": winch_status,
    "NAMED_VALUE_FLOAT": named_value_float,
}
"""Message name to builder; MAV_CMD_REQUEST_MESSAGE can ask for any of these."""

MESSAGE_IDS: dict[int, str] = {
    cls.id: name for name in BUILDERS for cls in [getattr(mavlink, f"MAVLink_{name.lower()}_message")]
}
"""Message id to name, for the builders above."""


def build(v: Vehicle, name: str, now: float) -> list[Msg]:
    """The messages for one stream name (empty when there is nothing to report)."""
    return BUILDERS[name](v, now)
