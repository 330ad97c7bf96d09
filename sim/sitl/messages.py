"""Received MAVLink messages, dispatched to the vehicle's protocols, commands and guided control.

Guided control follows ArduCopter: MISSION_ITEM(_INT) with current=2 is a go-to (dronekit's
``simple_goto``) and current=3 an altitude change, both answered with MISSION_ACK;
SET_POSITION_TARGET_GLOBAL_INT and SET_POSITION_TARGET_LOCAL_NED (position or velocity, per
type_mask) act only in GUIDED and are not acknowledged. SET_MODE is acknowledged with a
COMMAND_ACK whose ``command`` is the SET_MODE message id (11), as ArduPilot does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from . import commands, mavftp
from .guidance import NavParams
from .mission import MissionItem
from .modes import Mode
from .streams import GROUP_PARAMS

if TYPE_CHECKING:
    from .vehicle import Vehicle

Msg = Any

_MISSION_MESSAGES = frozenset(
    {"MISSION_REQUEST_LIST", "MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_COUNT", "MISSION_ITEM",
     "MISSION_ITEM_INT", "MISSION_CLEAR_ALL", "MISSION_ACK"}
)  # fmt: skip
_POSITION_IGNORE = 0b111  # POSITION_TARGET_TYPEMASK X/Y/Z_IGNORE
_VELOCITY_IGNORE = 0b111000
_YAW_IGNORE = 0x400
_SET_MODE_MSG_ID = 11


def dispatch(v: Vehicle, msg: Msg, now: float) -> list[Msg]:
    """The vehicle's replies to one message addressed to it."""
    kind = msg.get_type()
    if kind.startswith("PARAM_"):
        return v.param_protocol.handle(msg)
    if kind in ("MISSION_ITEM", "MISSION_ITEM_INT") and msg.current in (2, 3):
        return _guided_item(v, msg)
    if kind in _MISSION_MESSAGES:
        return v.missions.handle(msg, now)
    handler = _HANDLERS.get(kind)
    return handler(v, msg, now) if handler is not None else []


def _source(msg: Msg) -> tuple[int, int]:
    return msg.get_srcSystem(), msg.get_srcComponent()


def _heartbeat(v: Vehicle, msg: Msg, now: float) -> list[Msg]:
    if msg.type == mavlink.MAV_TYPE_GCS:
        v.last_gcs_heartbeat = now
    return []


def _mission_set_current(v: Vehicle, msg: Msg, now: float) -> list[Msg]:
    if v.set_mission_current(int(msg.seq), now):
        return []
    return [mavlink.MAVLink_mission_ack_message(*_source(msg), mavlink.MAV_MISSION_INVALID_SEQUENCE, 0)]


def _set_mode(v: Vehicle, msg: Msg, now: float) -> list[Msg]:
    result = commands.set_mode_result(v, msg.base_mode, msg.custom_mode, now)
    return [mavlink.MAVLink_command_ack_message(_SET_MODE_MSG_ID, result, 0, 0, *_source(msg))]


def _guided_item(v: Vehicle, msg: Msg) -> list[Msg]:
    item = MissionItem.from_message(msg)
    alt = item.z - v.home_alt_msl_m if item.frame == mavlink.MAV_FRAME_GLOBAL else item.z
    if msg.current == 3:  # altitude only: keep the horizontal target
        target = v.guidance.guided_target or (v.frame.north_m, v.frame.east_m, 0.0)
        lat, lon = v.to_global(target[0], target[1])
    else:
        lat, lon = item.x, item.y
    ok = v.guided_go_to(lat, lon, alt)
    result = mavlink.MAV_MISSION_ACCEPTED if ok else mavlink.MAV_MISSION_ERROR
    return [mavlink.MAVLink_mission_ack_message(*_source(msg), result, mavlink.MAV_MISSION_TYPE_MISSION)]


def _position_target_global(v: Vehicle, msg: Msg, now: float) -> list[Msg]:
    if v.mode is not Mode.GUIDED:
        return []
    _target_yaw(v, msg)
    if not msg.type_mask & _POSITION_IGNORE:
        msl = msg.coordinate_frame == mavlink.MAV_FRAME_GLOBAL_INT
        alt = msg.alt - v.home_alt_msl_m if msl else msg.alt
        v.guided_go_to(msg.lat_int / 1e7, msg.lon_int / 1e7, alt)
    elif not msg.type_mask & _VELOCITY_IGNORE:
        v.guidance.fly_velocity(msg.vx, msg.vy, -msg.vz, now, NavParams.from_params(v.params))
    return []


def _position_target_local(v: Vehicle, msg: Msg, now: float) -> list[Msg]:
    if v.mode is not Mode.GUIDED:
        return []
    _target_yaw(v, msg)
    f = v.frame
    body = msg.coordinate_frame in (mavlink.MAV_FRAME_BODY_NED, mavlink.MAV_FRAME_BODY_OFFSET_NED)
    yaw = math.radians(f.yaw_deg) if body else 0.0

    def rotate(x: float, y: float) -> tuple[float, float]:
        return x * math.cos(yaw) - y * math.sin(yaw), x * math.sin(yaw) + y * math.cos(yaw)

    if not msg.type_mask & _POSITION_IGNORE:
        north, east = rotate(msg.x, msg.y)
        up = -msg.z
        if msg.coordinate_frame != mavlink.MAV_FRAME_LOCAL_NED:  # offsets from where the vehicle is
            north, east, up = north + f.north_m, east + f.east_m, up + f.alt_m
        v.guidance.go_to((north, east, up))
    elif not msg.type_mask & _VELOCITY_IGNORE:
        vn, ve = rotate(msg.vx, msg.vy)
        v.guidance.fly_velocity(vn, ve, -msg.vz, now, NavParams.from_params(v.params))
    return []


def _target_yaw(v: Vehicle, msg: Msg) -> None:
    if not msg.type_mask & _YAW_IGNORE and math.isfinite(msg.yaw):
        v.guidance.yaw_deg = math.degrees(msg.yaw) % 360


def _request_data_stream(v: Vehicle, msg: Msg, now: float) -> list[Msg]:
    rate = float(msg.req_message_rate) if msg.start_stop else 0.0
    for group in v.streams.set_group(int(msg.req_stream_id), rate, now):
        v.params.set(f"SR0_{GROUP_PARAMS[group]}", rate)  # ArduPilot stores requested rates in SRn_*
    return []


def _timesync(v: Vehicle, msg: Msg, now: float) -> list[Msg]:
    if msg.tc1 != 0:
        return []  # a reply to someone else's request
    return [mavlink.MAVLink_timesync_message(round(now * 1e9), msg.ts1)]


_HANDLERS: dict[str, Callable[[Vehicle, Msg, float], list[Msg]]] = {
    "HEARTBEAT": _heartbeat,
    "MISSION_SET_CURRENT": _mission_set_current,
    "COMMAND_LONG": commands.handle,
    "COMMAND_INT": commands.handle,
    "SET_MODE": _set_mode,
    "SET_POSITION_TARGET_GLOBAL_INT": _position_target_global,
    "SET_POSITION_TARGET_LOCAL_NED": _position_target_local,
    "REQUEST_DATA_STREAM": _request_data_stream,
    "FILE_TRANSFER_PROTOCOL": lambda v, msg, now: mavftp.refuse(msg),
    "TIMESYNC": _timesync,
}
