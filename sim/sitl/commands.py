"""COMMAND_LONG / COMMAND_INT handling, each answered with a COMMAND_ACK.

Results follow ArduCopter (GCS_Common.cpp, GCS_Mavlink.cpp):

- MAV_RESULT_ACCEPTED: done or started.
- MAV_RESULT_FAILED: valid but not possible now: arming refused by a pre-arm check (with a
  "PreArm: ..." STATUSTEXT), takeoff when not armed or already flying, a mode the vehicle cannot
  enter now (no position estimate, no mission), disarming in flight without the force value.
- MAV_RESULT_DENIED: invalid parameters: an unknown mode number, DO_SET_MODE without the custom
  mode flag, DO_REPOSITION outside GUIDED without MAV_DO_REPOSITION_FLAGS_CHANGE_MODE or with no
  position, a request for a message this vehicle does not produce.
- MAV_RESULT_UNSUPPORTED: any command not listed in :data:`HANDLERS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from . import telemetry
from .modes import Mode

if TYPE_CHECKING:
    from .vehicle import Vehicle

Msg = Any

# MAV_RESULT values, typed (the generated dialect carries no types)
ACCEPTED: int = mavlink.MAV_RESULT_ACCEPTED
FAILED: int = mavlink.MAV_RESULT_FAILED
DENIED: int = mavlink.MAV_RESULT_DENIED
UNSUPPORTED: int = mavlink.MAV_RESULT_UNSUPPORTED

FORCE_ARM = 2989.0  # param2 magic value that skips pre-arm checks (ArduPilot)
FORCE_DISARM = 21196.0  # param2 magic value that disarms even in flight

_GLOBAL_FRAMES = {
    mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_INT, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
    mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT,
    mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT,
}  # fmt: skip
_MSL_FRAMES = {mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_INT}


@dataclass(frozen=True, slots=True)
class Command:
    """A COMMAND_LONG or COMMAND_INT, normalised (x/y in degrees for global COMMAND_INT frames)."""

    command: int
    params: tuple[float, float, float, float, float, float, float]
    frame: int | None
    source: tuple[int, int]

    @classmethod
    def from_message(cls, msg: Msg) -> Command:
        """From COMMAND_LONG (no frame) or COMMAND_INT."""
        source = (msg.get_srcSystem(), msg.get_srcComponent())
        if msg.get_type() == "COMMAND_INT":
            scale = 1e7 if msg.frame in _GLOBAL_FRAMES else 1.0
            params = (msg.param1, msg.param2, msg.param3, msg.param4, msg.x / scale, msg.y / scale, msg.z)
            return cls(int(msg.command), tuple(float(p) for p in params), int(msg.frame), source)  # type: ignore[arg-type]
        params = (msg.param1, msg.param2, msg.param3, msg.param4, msg.param5, msg.param6, msg.param7)
        return cls(int(msg.command), tuple(float(p) for p in params), None, source)  # type: ignore[arg-type]

    def p(self, n: int) -> float:
        """Parameter ``n`` (1-7)."""
        return self.params[n - 1]


def handle(v: Vehicle, msg: Msg, now: float) -> list[Msg]:
    """Run a command; returns its COMMAND_ACK (followed by anything the command produces)."""
    cmd = Command.from_message(msg)
    handler = HANDLERS.get(cmd.command)
    extra: list[Msg] = []
    result = UNSUPPORTED if handler is None else handler(v, cmd, now, extra)
    ack = mavlink.MAVLink_command_ack_message(cmd.command, result, 0, 0, *cmd.source)
    return [ack, *extra]


def set_mode_result(v: Vehicle, base_mode: float, custom_mode: float, now: float) -> int:
    """The MAV_RESULT of a DO_SET_MODE or SET_MODE request."""
    if not int(base_mode) & mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
        return DENIED
    try:
        mode = Mode(int(custom_mode))
    except ValueError:
        return DENIED
    return ACCEPTED if v.set_mode(mode, now) else FAILED


def _arm_disarm(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    if c.p(1) == 1.0:
        ok = v.arm(now, force=c.p(2) == FORCE_ARM)
    elif c.p(1) == 0.0:
        ok = v.disarm(now, force=c.p(2) == FORCE_DISARM)
    else:
        return DENIED
    return ACCEPTED if ok else FAILED


def _takeoff(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    alt = c.p(7)
    if not math.isfinite(alt) or alt <= 0:
        return DENIED
    return ACCEPTED if v.takeoff(alt, now) else FAILED


def _mode_command(mode: Mode) -> Callable[[Vehicle, Command, float, list[Msg]], int]:
    def run(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
        return ACCEPTED if v.set_mode(mode, now) else FAILED

    return run


def _do_set_mode(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    return set_mode_result(v, c.p(1), c.p(2), now)


def _position(v: Vehicle, c: Command) -> tuple[float, float, float | None] | None:
    """Target (lat, lon, altitude above home or None) from params 5-7, None if there is no position."""
    lat, lon, alt = c.p(5), c.p(6), c.p(7)
    if not (math.isfinite(lat) and math.isfinite(lon)) or (lat == 0 and lon == 0):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if not math.isfinite(alt):
        return lat, lon, None
    return lat, lon, alt - v.home_alt_msl_m if c.frame in _MSL_FRAMES else alt


def _reposition(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    target = _position(v, c)
    if target is None:
        return DENIED
    if v.mode is not Mode.GUIDED:
        if not int(c.p(2)) & mavlink.MAV_DO_REPOSITION_FLAGS_CHANGE_MODE:
            return DENIED
        if not v.set_mode(Mode.GUIDED, now):
            return FAILED
    if c.p(1) > 0:
        v.guidance.guided_speed_mps = c.p(1)
    if math.isfinite(c.p(4)):
        v.guidance.yaw_deg = c.p(4) % 360
    lat, lon, alt = target
    return ACCEPTED if v.guided_go_to(lat, lon, alt) else FAILED


def _change_speed(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    speed = c.p(2)
    if speed <= 0:
        return DENIED
    v.guidance.guided_speed_mps = speed
    v.guidance.auto.speed_mps = speed
    return ACCEPTED


def _condition_yaw(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    heading = c.p(1)
    if c.p(4) != 0:  # relative to the current heading, p3 = direction (-1 ccw, 1 cw)
        heading = v.frame.yaw_deg + heading * (-1 if c.p(3) < 0 else 1)
    v.guidance.yaw_deg = heading % 360
    return ACCEPTED


def _set_home(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    if c.p(1) == 1:
        ok = v.set_home_here(now)
    else:
        lat, lon, alt = c.p(5), c.p(6), c.p(7)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
            return DENIED
        ok = v.set_home(lat, lon, alt, now)
    return ACCEPTED if ok else FAILED


def _mission_current(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    return ACCEPTED if v.set_mission_current(int(c.p(1)), now) else DENIED


def _mission_start(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    if c.p(1) >= 1:
        v.set_mission_current(int(c.p(1)), now)
    return ACCEPTED if v.set_mode(Mode.AUTO, now) else FAILED


def _message_name(msg_id: float) -> str | None:
    return telemetry.MESSAGE_IDS.get(int(msg_id))


def _set_message_interval(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    name = _message_name(c.p(1))
    if name is None:
        return DENIED
    interval_us = c.p(2)
    if interval_us == 0:
        v.streams.reset_interval(name, now)
    else:
        v.streams.set_interval(name, None if interval_us < 0 else interval_us / 1e6, now)
    return ACCEPTED


def _get_message_interval(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    name = _message_name(c.p(1))
    if name is None:
        return DENIED
    interval = v.streams.interval(name)
    out.append(mavlink.MAVLink_message_interval_message(int(c.p(1)), -1 if interval is None else round(interval * 1e6)))
    return ACCEPTED


def _request_message(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    name = _message_name(c.p(1))
    if name is None:
        return DENIED
    messages = telemetry.build(v, name, now)
    if not messages:
        return FAILED  # e.g. HOME_POSITION before home is set
    out.extend(messages)
    return ACCEPTED


def _request_named(name: str) -> Callable[[Vehicle, Command, float, list[Msg]], int]:
    def run(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
        messages = telemetry.build(v, name, now)
        out.extend(messages)
        return ACCEPTED if messages else FAILED

    return run


def _send_banner(v: Vehicle, c: Command, now: float, out: list[Msg]) -> int:
    v.banner()
    return ACCEPTED


HANDLERS: dict[int, Callable[[Vehicle, Command, float, list[Msg]], int]] = {
    mavlink.MAV_CMD_COMPONENT_ARM_DISARM: _arm_disarm,
    mavlink.MAV_CMD_NAV_TAKEOFF: _takeoff,
    mavlink.MAV_CMD_NAV_LAND: _mode_command(Mode.LAND),
    mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH: _mode_command(Mode.RTL),
    mavlink.MAV_CMD_NAV_LOITER_UNLIM: _mode_command(Mode.LOITER),
    mavlink.MAV_CMD_DO_SET_MODE: _do_set_mode,
    mavlink.MAV_CMD_DO_REPOSITION: _reposition,
    mavlink.MAV_CMD_DO_CHANGE_SPEED: _change_speed,
    mavlink.MAV_CMD_CONDITION_YAW: _condition_yaw,
    mavlink.MAV_CMD_DO_SET_HOME: _set_home,
    mavlink.MAV_CMD_DO_SET_MISSION_CURRENT: _mission_current,
    mavlink.MAV_CMD_MISSION_START: _mission_start,
    mavlink.MAV_CMD_SET_MESSAGE_INTERVAL: _set_message_interval,
    mavlink.MAV_CMD_GET_MESSAGE_INTERVAL: _get_message_interval,
    mavlink.MAV_CMD_REQUEST_MESSAGE: _request_message,
    mavlink.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES: _request_named("AUTOPILOT_VERSION"),
    mavlink.MAV_CMD_GET_HOME_POSITION: _request_named("HOME_POSITION"),
    mavlink.MAV_CMD_DO_SEND_BANNER: _send_banner,
}
"""Supported commands."""
