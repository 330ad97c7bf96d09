"""What the autopilot flies in each mode: the setpoint for the airframe, step by step.

Follows ArduCopter's behaviour with its parameters: RTL climbs to RTL_ALT (or stays higher), flies
home at RTL_SPEED (0: WPNAV_SPEED), loiters RTL_LOIT_TIME, then lands (or holds at RTL_ALT_FINAL);
LAND descends at LAND_SPEED_HIGH (0: WPNAV_SPEED_DN) down to LAND_ALT_LOW, then at LAND_SPEED; AUTO
runs the stored mission item by item (NAV_TAKEOFF, NAV_WAYPOINT with hold time, NAV_LOITER_TIME,
NAV_LOITER_UNLIM, NAV_LAND, NAV_RETURN_TO_LAUNCH, NAV_DELAY, DO_CHANGE_SPEED, DO_JUMP; other
commands are skipped). Positions are metres from the EKF origin (north, east, up).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from .mission import MissionItem
from .model import Multirotor, Setpoint
from .modes import Mode
from .params import ParamSet

Local = tuple[float, float, float]  # north, east, up (metres from the EKF origin)

_ALT_REACHED_M = 0.5
_ITEM_NAMES = {
    mavlink.MAV_CMD_NAV_WAYPOINT: "WP",
    mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT: "SplineWP",
    mavlink.MAV_CMD_NAV_TAKEOFF: "Takeoff",
    mavlink.MAV_CMD_NAV_LAND: "Land",
    mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH: "RTL",
    mavlink.MAV_CMD_NAV_LOITER_TIME: "LoitTime",
    mavlink.MAV_CMD_NAV_LOITER_UNLIM: "LoitUnlim",
    mavlink.MAV_CMD_NAV_DELAY: "Delay",
    mavlink.MAV_CMD_DO_CHANGE_SPEED: "ChangeSpeed",
    mavlink.MAV_CMD_DO_JUMP: "Jump",
}


@dataclass(frozen=True, slots=True)
class NavParams:
    """The navigation parameters in SI units."""

    speed_mps: float
    climb_mps: float
    descent_mps: float
    wp_radius_m: float
    land_speed_mps: float
    land_speed_high_mps: float
    land_alt_low_m: float
    rtl_alt_m: float
    rtl_alt_final_m: float
    rtl_climb_min_m: float
    rtl_loiter_s: float
    rtl_speed_mps: float
    guided_timeout_s: float

    @classmethod
    def from_params(cls, p: ParamSet) -> NavParams:
        """Read the parameters (cm, cm/s and ms converted)."""
        return cls(
            speed_mps=p["WPNAV_SPEED"] / 100, climb_mps=p["WPNAV_SPEED_UP"] / 100,
            descent_mps=p["WPNAV_SPEED_DN"] / 100, wp_radius_m=max(0.05, p["WPNAV_RADIUS"] / 100),
            land_speed_mps=max(0.3, p["LAND_SPEED"] / 100),
            land_speed_high_mps=(p["LAND_SPEED_HIGH"] or p["WPNAV_SPEED_DN"]) / 100,
            land_alt_low_m=p["LAND_ALT_LOW"] / 100, rtl_alt_m=p["RTL_ALT"] / 100,
            rtl_alt_final_m=p["RTL_ALT_FINAL"] / 100, rtl_climb_min_m=p["RTL_CLIMB_MIN"] / 100,
            rtl_loiter_s=p["RTL_LOIT_TIME"] / 1000, rtl_speed_mps=(p["RTL_SPEED"] or p["WPNAV_SPEED"]) / 100,
            guided_timeout_s=p["GUID_TIMEOUT"],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ItemStarted:
    """AUTO began mission item ``seq``."""

    seq: int
    name: str


@dataclass(frozen=True, slots=True)
class ItemReached:
    """AUTO completed navigation item ``seq``."""

    seq: int


@dataclass(frozen=True, slots=True)
class MissionComplete:
    """AUTO ran past the last item."""


NavEvent = ItemStarted | ItemReached | MissionComplete


class _RtlStage(enum.Enum):
    CLIMB = "climb"
    RETURN = "return"
    LOITER = "loiter"
    FINAL = "final"
    LAND = "land"


@dataclass(slots=True)
class _Rtl:
    stage: _RtlStage
    alt_m: float
    start: Local
    loiter_until: float = 0.0


@dataclass(slots=True)
class _Auto:
    seq: int = 1
    started: bool = False
    hold_until: float | None = None
    target: Local | None = None
    speed_mps: float | None = None
    jumps: dict[int, int] = field(default_factory=dict)
    rtl: _Rtl | None = None
    complete: bool = False


class Guidance:
    """Per-mode navigation state; :meth:`setpoint` is called every physics step."""

    def __init__(self, to_local: Callable[[float, float], tuple[float, float]], origin_alt_msl_m: float) -> None:
        self._to_local = to_local
        self._origin_alt_msl_m = origin_alt_msl_m
        self.hold: Local = (0.0, 0.0, 0.0)
        self.guided_target: Local | None = None
        self.guided_velocity: tuple[float, float, float, float] | None = None  # vn, ve, vu, expires at
        self.guided_speed_mps: float | None = None
        self.yaw_deg: float | None = None
        self.takeoff_alt_m: float | None = None
        self.rtl: _Rtl | None = None
        self.auto = _Auto()

    # --- entering modes and commands -------------------------------------------------------------

    def enter(self, mode: Mode, frame: Multirotor, home: Local, nav: NavParams, now: float) -> None:
        """Reset the state a mode starts from."""
        self.hold = (frame.north_m, frame.east_m, frame.alt_m)
        self.guided_target = self.guided_velocity = None
        self.takeoff_alt_m = None
        self.yaw_deg = None
        self.rtl = self._start_rtl(frame, nav) if mode.returns_home else None
        if mode is Mode.AUTO:
            self.auto.started = False
            self.auto.complete = False
            self.auto.hold_until = None
            self.auto.rtl = None

    def takeoff(self, frame: Multirotor, alt_m: float) -> None:
        """Climb straight up to ``alt_m`` above home (GUIDED/LOITER takeoff)."""
        self.hold = (frame.north_m, frame.east_m, alt_m)
        self.takeoff_alt_m = alt_m
        self.guided_target = None

    def go_to(self, target: Local) -> None:
        """GUIDED: fly to a point."""
        self.guided_target = target
        self.guided_velocity = None
        self.takeoff_alt_m = None

    def fly_velocity(self, vn: float, ve: float, vu: float, now: float, nav: NavParams) -> None:
        """GUIDED: hold a velocity until GUID_TIMEOUT passes without a new one."""
        self.guided_velocity = (vn, ve, vu, now + nav.guided_timeout_s)
        self.guided_target = None

    def set_mission_seq(self, seq: int) -> None:
        """Continue AUTO from wire seq ``seq``."""
        self.auto = _Auto(seq=max(1, seq), speed_mps=self.auto.speed_mps)

    # --- the step --------------------------------------------------------------------------------

    def setpoint(
        self, mode: Mode, frame: Multirotor, home: Local, nav: NavParams, *, items: list[MissionItem], now: float
    ) -> tuple[Setpoint, list[NavEvent]]:
        """The setpoint for this step and what happened in the mission."""
        if mode is Mode.AUTO:
            return self._auto(frame, home, nav, items, now)
        if mode.returns_home:
            return self._rtl_step(self.rtl or self._new_rtl(frame, nav), frame, home, nav, now), []
        if mode is Mode.LAND:
            return self._land(self.hold[0], self.hold[1], frame, nav), []
        if mode is Mode.GUIDED:
            return self._guided(frame, nav, now), []
        return self._hold(self.hold), []

    def _new_rtl(self, frame: Multirotor, nav: NavParams) -> _Rtl:
        self.rtl = self._start_rtl(frame, nav)
        return self.rtl

    def _hold(self, point: Local, speed: float | None = None) -> Setpoint:
        return Setpoint(north_m=point[0], east_m=point[1], alt_m=point[2], speed_mps=speed, yaw_deg=self.yaw_deg)

    def _guided(self, frame: Multirotor, nav: NavParams, now: float) -> Setpoint:
        if self.guided_velocity is not None:
            vn, ve, vu, expires = self.guided_velocity
            if now < expires:
                return Setpoint(vn_mps=vn, ve_mps=ve, climb_mps=vu, speed_mps=self.guided_speed_mps)
            self.guided_velocity = None
            self.hold = (frame.north_m, frame.east_m, frame.alt_m)
        if self.guided_target is not None and not frame.on_ground:
            return self._hold(self.guided_target, self.guided_speed_mps)
        return self._hold(self.hold)

    def _land(self, north: float, east: float, frame: Multirotor, nav: NavParams) -> Setpoint:
        rate = nav.land_speed_high_mps if frame.alt_m > nav.land_alt_low_m else nav.land_speed_mps
        return Setpoint(north_m=north, east_m=east, climb_mps=-rate, yaw_deg=self.yaw_deg)

    # --- RTL -------------------------------------------------------------------------------------

    @staticmethod
    def _start_rtl(frame: Multirotor, nav: NavParams) -> _Rtl:
        alt = max(frame.alt_m, nav.rtl_alt_m, frame.alt_m + nav.rtl_climb_min_m)
        start = (frame.north_m, frame.east_m, frame.alt_m)
        stage = _RtlStage.LAND if frame.on_ground else _RtlStage.CLIMB
        return _Rtl(stage, alt, start)

    def _rtl_step(self, rtl: _Rtl, frame: Multirotor, home: Local, nav: NavParams, now: float) -> Setpoint:
        if rtl.stage is _RtlStage.CLIMB:
            if frame.alt_m >= rtl.alt_m - _ALT_REACHED_M:
                rtl.stage = _RtlStage.RETURN
            else:
                return self._hold((rtl.start[0], rtl.start[1], rtl.alt_m))
        if rtl.stage is _RtlStage.RETURN:
            distance = math.hypot(home[0] - frame.north_m, home[1] - frame.east_m)
            if distance <= nav.wp_radius_m and frame.ground_speed_mps < 0.5:
                rtl.stage = _RtlStage.LOITER
                rtl.loiter_until = now + nav.rtl_loiter_s
            else:
                return self._hold((home[0], home[1], rtl.alt_m), nav.rtl_speed_mps)
        if rtl.stage is _RtlStage.LOITER:
            if now < rtl.loiter_until:
                return self._hold((home[0], home[1], rtl.alt_m))
            rtl.stage = _RtlStage.FINAL if nav.rtl_alt_final_m > 0 else _RtlStage.LAND
        if rtl.stage is _RtlStage.FINAL:
            return self._hold((home[0], home[1], nav.rtl_alt_final_m))
        return self._land(home[0], home[1], frame, nav)

    # --- AUTO ------------------------------------------------------------------------------------

    def _auto(
        self, frame: Multirotor, home: Local, nav: NavParams, items: list[MissionItem], now: float
    ) -> tuple[Setpoint, list[NavEvent]]:
        state = self.auto
        events: list[NavEvent] = []
        for _ in range(len(items) + 1):  # skip through DO items without stalling a step
            if state.complete or not 1 <= state.seq <= len(items):
                if not state.complete:
                    state.complete = True
                    events.append(MissionComplete())
                return self._hold(self.hold), events
            item = items[state.seq - 1]
            if not state.started:
                state.started = True
                state.hold_until = None
                state.rtl = None
                state.target = self._item_target(item, frame, home)
                events.append(ItemStarted(state.seq, _ITEM_NAMES.get(item.command, str(item.command))))
            sp, done = self._run_item(item, frame, home, nav, now)
            if not done:
                return sp, events
            if item.command not in (mavlink.MAV_CMD_DO_CHANGE_SPEED, mavlink.MAV_CMD_DO_JUMP):
                events.append(ItemReached(state.seq))
            self.hold = (frame.north_m, frame.east_m, frame.alt_m)
            self._advance(item)
        return self._hold(self.hold), events

    def _advance(self, item: MissionItem) -> None:
        state = self.auto
        state.started = False
        if item.command == mavlink.MAV_CMD_DO_JUMP:
            left = state.jumps.get(state.seq, int(item.param2))
            if left != 0:
                state.jumps[state.seq] = left - 1 if left > 0 else left
                state.seq = int(item.param1)
                return
        state.seq += 1

    def _item_target(self, item: MissionItem, frame: Multirotor, home: Local) -> Local:
        if item.x == 0.0 and item.y == 0.0:
            north, east = frame.north_m, frame.east_m
        else:
            north, east = self._to_local(item.x, item.y)
        keeps_alt = item.command in (mavlink.MAV_CMD_NAV_LAND, mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH)
        if keeps_alt or (item.z == 0.0 and item.command != mavlink.MAV_CMD_NAV_TAKEOFF):
            return north, east, frame.alt_m  # ArduCopter: altitude 0 means "stay at this altitude"
        # MAV_FRAME_GLOBAL altitudes are MSL; relative and terrain frames are above home (flat terrain)
        if item.frame == mavlink.MAV_FRAME_GLOBAL:
            return north, east, item.z - self._origin_alt_msl_m
        return north, east, item.z + home[2]

    def _run_item(
        self, item: MissionItem, frame: Multirotor, home: Local, nav: NavParams, now: float
    ) -> tuple[Setpoint, bool]:
        state = self.auto
        target = state.target or self.hold
        cmd = item.command
        if cmd == mavlink.MAV_CMD_NAV_TAKEOFF:
            alt = max(target[2], frame.alt_m)
            return self._hold((frame.north_m, frame.east_m, alt)), frame.alt_m >= alt - _ALT_REACHED_M
        if cmd in (mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_CMD_NAV_SPLINE_WAYPOINT, mavlink.MAV_CMD_NAV_LOITER_TIME):
            hold_s = item.param1
            return self._fly_and_hold(target, hold_s, frame, nav, now)
        if cmd == mavlink.MAV_CMD_NAV_LOITER_UNLIM:
            return self._fly_and_hold(target, math.inf, frame, nav, now)
        if cmd == mavlink.MAV_CMD_NAV_DELAY:
            return self._fly_and_hold(self.hold, max(0.0, item.param1), frame, nav, now)
        if cmd == mavlink.MAV_CMD_NAV_LAND:
            arrived = math.hypot(target[0] - frame.north_m, target[1] - frame.east_m) <= nav.wp_radius_m
            if not arrived and not frame.on_ground:
                return self._hold((target[0], target[1], frame.alt_m), state.speed_mps), False
            return self._land(target[0], target[1], frame, nav), frame.on_ground
        if cmd == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            if state.rtl is None:
                state.rtl = self._start_rtl(frame, nav)
            sp = self._rtl_step(state.rtl, frame, home, nav, now)
            return sp, frame.on_ground and state.rtl.stage is _RtlStage.LAND
        if cmd == mavlink.MAV_CMD_DO_CHANGE_SPEED and item.param2 > 0:
            state.speed_mps = item.param2
        return self._hold(self.hold), True

    def _fly_and_hold(
        self, target: Local, hold_s: float, frame: Multirotor, nav: NavParams, now: float
    ) -> tuple[Setpoint, bool]:
        state = self.auto
        sp = self._hold(target, state.speed_mps)
        if state.hold_until is None:
            horizontal = math.hypot(target[0] - frame.north_m, target[1] - frame.east_m)
            if horizontal > nav.wp_radius_m or abs(target[2] - frame.alt_m) > 1.0:
                return sp, False
            state.hold_until = now + max(0.0, hold_s)
        return sp, now >= state.hold_until
