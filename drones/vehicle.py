"""Vehicles as the picture shows them: decoded telemetry folded into one state per system id (pure).

A system becomes a vehicle when it sends a HEARTBEAT whose autopilot is not MAV_AUTOPILOT_INVALID
and whose type is not a ground station; that heartbeat's component is its autopilot, and only the
autopilot's telemetry moves the vehicle (a gimbal's or companion computer's ATTITUDE would not).
STATUSTEXT, WINCH_STATUS and NAMED_VALUE_FLOAT are taken from any component of the system (a winch
is often its own component).

Link quality comes from MAVLink sequence numbers, per (sysid, compid) as every sender numbers its
own frames: a jump of *n* means *n* frames lost. A jump of 128 or more is taken as a late or
duplicated frame (a redundant link) rather than 128+ losses, and is neither counted nor followed.
The loss is reported over the last :data:`LOSS_WINDOW_S` seconds.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from edge.scene import Position, Vehicle

from .modes import MAV_AUTOPILOT_INVALID, MAV_MODE_FLAG_SAFETY_ARMED, autopilot_name, mode_name, vehicle_type_name
from .tether import TetherState

LOSS_WINDOW_S = 10.0
MAV_TYPE_GCS = 6
EKF_NEEDED = 0x01 | 0x02 | 0x10  # EKF_ATTITUDE | EKF_VELOCITY_HORIZ | EKF_POS_HORIZ_ABS
EKF_UNINITIALIZED = 0x400
EKF_CONST_POS_MODE = 0x80
EKF_VARIANCE_LIMIT = 0.8  # ArduCopter's FS_EKF_THRESH default: two variances at or above it is an EKF failsafe
MAX_CHUNKED_TEXTS = 8  # long STATUSTEXTs being pieced together per vehicle; a vehicle sends one or two at once
GPS_FIX = {0: "no_gps", 1: "no_fix", 2: "2d", 3: "3d", 4: "dgps", 5: "rtk_float", 6: "rtk_fixed", 7: "static", 8: "ppp"}
UINT16_MAX = 0xFFFF


def is_vehicle_heartbeat(msg: Any) -> bool:
    """True if a HEARTBEAT comes from a vehicle's autopilot (not a GCS, gimbal or companion)."""
    return bool(msg.autopilot != MAV_AUTOPILOT_INVALID and msg.type != MAV_TYPE_GCS)


class LinkQuality:
    """Frames received and lost (sequence gaps) from one system, and the loss over a window."""

    __slots__ = ("_last_seq", "_samples", "lost", "received")

    def __init__(self) -> None:
        self._last_seq: dict[int, int] = {}  # compid -> last sequence number
        self.received = 0
        self.lost = 0
        self._samples: deque[tuple[float, int, int]] = deque()

    def note(self, compid: int, seq: int) -> None:
        """Count one frame from ``compid`` carrying sequence number ``seq``."""
        last = self._last_seq.get(compid)
        if last is not None:
            gap = (seq - last - 1) & 0xFF
            if gap >= 128:
                return  # late or duplicate (seq == last gives 255)
            self.lost += gap
        self._last_seq[compid] = seq
        self.received += 1

    def loss_pct(self, now: float) -> float | None:
        """Per cent of frames lost over the last window (None before any frame); samples at ``now``."""
        self._samples.append((now, self.received, self.lost))
        while len(self._samples) > 1 and self._samples[1][0] <= now - LOSS_WINDOW_S:
            self._samples.popleft()
        start, received0, lost0 = self._samples[0]
        if start > now - LOSS_WINDOW_S:  # heard for less than a window: count from the first frame
            received0 = lost0 = 0
        received, lost = self.received - received0, self.lost - lost0
        total = received + lost
        return round(100.0 * lost / total, 1) if total else None


def _deg(rad: float) -> float:
    return round(math.degrees(rad), 2)


@dataclass
class VehicleState:
    """Everything known of one vehicle, updated message by message."""

    sysid: int
    compid: int
    autopilot: int
    mav_type: int
    tethered: bool = False
    base_mode: int = 0
    custom_mode: int = 0
    lat: float | None = None
    lon: float | None = None
    alt_msl_m: float | None = None
    alt_rel_m: float | None = None
    heading_deg: float | None = None
    ground_speed_mps: float | None = None
    climb_mps: float | None = None
    roll_deg: float | None = None
    pitch_deg: float | None = None
    yaw_deg: float | None = None
    battery_v: float | None = None
    battery_pct: float | None = None
    battery_a: float | None = None
    gps_fix: int | None = None
    satellites: int | None = None
    had_3d_fix: bool = False
    ekf_ok: bool | None = None
    ekf_was_ok: bool = False
    home: Position | None = None
    mission_seq: int | None = None
    last_heard: float = 0.0
    link: LinkQuality = field(default_factory=LinkQuality)
    tether: TetherState = field(default_factory=TetherState)
    texts: dict[str, tuple[int, str, float]] = field(default_factory=dict)  # text -> (severity, text, last seen)
    _chunks: dict[int, list[str]] = field(default_factory=dict)
    _fused_position: bool = False  # GLOBAL_POSITION_INT seen: GPS_RAW_INT no longer moves the vehicle

    @property
    def armed(self) -> bool:
        """MAV_MODE_FLAG_SAFETY_ARMED of the last HEARTBEAT."""
        return bool(self.base_mode & MAV_MODE_FLAG_SAFETY_ARMED)

    @property
    def mode(self) -> str | None:
        """The flight mode's name."""
        return mode_name(self.autopilot, self.mav_type, self.base_mode, self.custom_mode)

    def apply(self, msg: Any, compid: int, now: float) -> None:
        """Fold one decoded message from component ``compid`` of this system into the state."""
        kind = msg.get_type()
        if kind in ("STATUSTEXT", "WINCH_STATUS", "NAMED_VALUE_FLOAT"):
            if kind == "STATUSTEXT":
                self._statustext(msg, now)
            else:
                self.tether.apply(msg)
            return
        if compid != self.compid:
            return
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, msg)

    def _heartbeat(self, msg: Any) -> None:
        self.base_mode, self.custom_mode = msg.base_mode, msg.custom_mode
        self.autopilot, self.mav_type = msg.autopilot, msg.type

    def _global_position(self, msg: Any) -> None:
        self._fused_position = True
        if msg.lat or msg.lon:  # 0, 0 before the first fix
            self.lat, self.lon = msg.lat / 1e7, msg.lon / 1e7
            self.alt_msl_m, self.alt_rel_m = msg.alt / 1000.0, msg.relative_alt / 1000.0
        if msg.hdg != UINT16_MAX:
            self.heading_deg = msg.hdg / 100.0
        self.ground_speed_mps = round(math.hypot(msg.vx, msg.vy) / 100.0, 2)
        self.climb_mps = -msg.vz / 100.0

    def _gps_raw(self, msg: Any) -> None:
        self.gps_fix = msg.fix_type
        self.satellites = msg.satellites_visible if msg.satellites_visible != 255 else None
        self.had_3d_fix = self.had_3d_fix or msg.fix_type >= 3
        if not self._fused_position and msg.fix_type >= 2 and (msg.lat or msg.lon):
            self.lat, self.lon, self.alt_msl_m = msg.lat / 1e7, msg.lon / 1e7, msg.alt / 1000.0

    def _attitude(self, msg: Any) -> None:
        self.roll_deg, self.pitch_deg = _deg(msg.roll), _deg(msg.pitch)
        self.yaw_deg = _deg(msg.yaw) % 360.0

    def _vfr_hud(self, msg: Any) -> None:
        self.ground_speed_mps = round(float(msg.groundspeed), 2)
        self.heading_deg = float(msg.heading)
        self.climb_mps = round(float(msg.climb), 2)

    def _sys_status(self, msg: Any) -> None:
        if msg.voltage_battery not in (0, UINT16_MAX):
            self.battery_v = msg.voltage_battery / 1000.0
        if msg.current_battery >= 0:
            self.battery_a = msg.current_battery / 100.0
        if msg.battery_remaining >= 0:
            self.battery_pct = float(msg.battery_remaining)

    def _battery_status(self, msg: Any) -> None:
        if msg.id != 0:
            return  # the first battery is the one SYS_STATUS describes; others are not the picture's
        cells = [v for v in (*msg.voltages, *(msg.voltages_ext or ())) if v not in (0, UINT16_MAX)]
        if cells:
            self.battery_v = round(sum(cells) / 1000.0, 3)
        if msg.current_battery >= 0:
            self.battery_a = msg.current_battery / 100.0
        if msg.battery_remaining >= 0:
            self.battery_pct = float(msg.battery_remaining)

    def _home(self, msg: Any) -> None:
        self.home = Position(lat=msg.latitude / 1e7, lon=msg.longitude / 1e7, alt_msl_m=msg.altitude / 1000.0)

    def _ekf(self, msg: Any) -> None:
        flags = msg.flags
        high = sum(
            v >= EKF_VARIANCE_LIMIT for v in (msg.velocity_variance, msg.pos_horiz_variance, msg.compass_variance)
        )
        ok = (flags & EKF_NEEDED) == EKF_NEEDED and not flags & (EKF_UNINITIALIZED | EKF_CONST_POS_MODE) and high < 2
        self.ekf_ok = ok
        self.ekf_was_ok = self.ekf_was_ok or ok

    def _mission_current(self, msg: Any) -> None:
        self.mission_seq = msg.seq

    def _statustext(self, msg: Any, now: float) -> None:
        text = msg.text if isinstance(msg.text, str) else msg.text.decode("utf-8", "replace")
        text = text.rstrip("\x00")
        chunk_id = getattr(msg, "id", 0)
        if chunk_id:  # a long text comes in 50-character chunks sharing an id; the last one is shorter
            parts = self._chunks.setdefault(chunk_id, [])
            parts.append(text)
            while len(self._chunks) > MAX_CHUNKED_TEXTS:  # ids never finished (65535 of them) must not pile up
                del self._chunks[next(iter(self._chunks))]
            if len(text) == 50 and len(parts) < 5:
                return
            text = "".join(self._chunks.pop(chunk_id))
        if text:
            self.texts[text] = (msg.severity, text, now)

    def entity(self, node_id: str, now: float, *, link_lost_after_s: float, ceiling_m: float | None) -> Vehicle:
        """The vehicle as the picture shows it at ``now``."""
        pos = None
        if self.lat is not None and self.lon is not None:
            pos = Position(lat=self.lat, lon=self.lon, alt_msl_m=self.alt_msl_m, alt_rel_m=self.alt_rel_m)
        tether = self.tether if self.tethered else TetherState()
        return Vehicle(
            id=f"vehicle:{node_id}:{self.sysid}",
            origin=node_id,
            ts=now,
            name=f"drone {self.sysid}",
            pos=pos,
            mode=self.mode,
            armed=self.armed,
            heading_deg=self.heading_deg,
            ground_speed_mps=self.ground_speed_mps,
            battery_pct=self.battery_pct,
            battery_v=self.battery_v,
            tethered=self.tethered,
            link_ok=now - self.last_heard <= link_lost_after_s,
            sysid=self.sysid,
            autopilot=autopilot_name(self.autopilot),
            vehicle_type=vehicle_type_name(self.mav_type),
            roll_deg=self.roll_deg,
            pitch_deg=self.pitch_deg,
            yaw_deg=self.yaw_deg,
            climb_mps=self.climb_mps,
            battery_a=self.battery_a,
            gps_fix=GPS_FIX.get(self.gps_fix, f"type-{self.gps_fix}") if self.gps_fix is not None else None,
            satellites=self.satellites,
            ekf_ok=self.ekf_ok,
            home=self.home,
            mission_seq=self.mission_seq,
            link_loss_pct=self.link.loss_pct(now),
            last_heard_ts=self.last_heard,
            tether_length_m=tether.length_m,
            tether_tension_n=None if tether.tension_n is None else round(tether.tension_n, 1),
            tether_power=tether.power,
            tether_v=tether.voltage_v,
            tether_ceiling_m=ceiling_m if self.tethered else None,
        )


_HANDLERS = {
    "HEARTBEAT": VehicleState._heartbeat,
    "GLOBAL_POSITION_INT": VehicleState._global_position,
    "GPS_RAW_INT": VehicleState._gps_raw,
    "ATTITUDE": VehicleState._attitude,
    "VFR_HUD": VehicleState._vfr_hud,
    "SYS_STATUS": VehicleState._sys_status,
    "BATTERY_STATUS": VehicleState._battery_status,
    "HOME_POSITION": VehicleState._home,
    "EKF_STATUS_REPORT": VehicleState._ekf,
    "MISSION_CURRENT": VehicleState._mission_current,
}
PICTURE_MESSAGES = frozenset([*_HANDLERS, "STATUSTEXT", "WINCH_STATUS", "NAMED_VALUE_FLOAT", "COMMAND_ACK"])
"""Messages the picture (and the command protocol) decodes; every other frame is only routed."""


class Fleet:
    """The vehicles heard on this node, by system id."""

    def __init__(self, *, tethered_sysids: frozenset[int] = frozenset()) -> None:
        self.vehicles: dict[int, VehicleState] = {}
        self._tethered = tethered_sysids

    def note_frame(self, sysid: int, compid: int, seq: int, now: float) -> None:
        """Any frame from a known vehicle: it was heard, and its sequence number counts for link quality."""
        state = self.vehicles.get(sysid)
        if state is not None:
            state.last_heard = now
            state.link.note(compid, seq)

    def apply(self, msg: Any, sysid: int, compid: int, now: float) -> VehicleState | None:
        """Fold a decoded message into its vehicle (made on its first vehicle HEARTBEAT); the vehicle or None."""
        state = self.vehicles.get(sysid)
        if state is None:
            if msg.get_type() != "HEARTBEAT" or not is_vehicle_heartbeat(msg):
                return None
            state = VehicleState(sysid, compid, msg.autopilot, msg.type, tethered=sysid in self._tethered)
            state.last_heard = now
            state.link.note(compid, msg.get_seq())
            self.vehicles[sysid] = state
        elif msg.get_type() == "HEARTBEAT" and compid != state.compid:
            return state  # another component's heartbeat (gimbal, companion) says nothing of the vehicle
        state.apply(msg, compid, now)
        return state
