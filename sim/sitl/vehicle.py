"""The simulated ArduCopter: autopilot state, MAVLink message handling and the physics loop.

Pure: nothing here reads a clock or touches a socket. The owner calls :meth:`Vehicle.step` with
the (simulated) time and feeds received messages to :meth:`Vehicle.handle`; both return the
pymavlink messages to send (the endpoint packs them with this vehicle's sysid/compid).

Tethered vehicles report the tether in WINCH_STATUS (line_length m, speed m/s, tension kg, voltage
V of the line, current A drawn through it, status flags) and in NAMED_VALUE_FLOAT, streamed with
the EXTRA3 group:

- ``TETH_LEN``: deployed line, m
- ``TETH_TENS``: line tension, N (WINCH_STATUS carries the same in kg, as its spec says)
- ``TETH_PWR``: 1.0 while ground power is present, 0.0 when lost (flying on the backup battery)
- ``TETH_V``: line voltage, V (0 without ground power)
- ``TETH_MAX``: maximum line length, m (the ceiling straight above the ground station)

These are the names ``drones/tether.py`` accepts (it ignores ``TETH_MAX``).

Faults are injected with methods (:meth:`Vehicle.lose_gps`, :meth:`Vehicle.fail_battery`,
:meth:`Vehicle.cut_link`, :meth:`Vehicle.lose_ground_power`, ...) or at runtime by setting
simulator parameters over MAVLink (``param set SIM_GPS_DISABLE 1`` in MAVProxy):

- ``SIM_GPS_DISABLE`` 1: GPS lost (fix 0, EKF variance grows, EKF failsafe); 0: restored
- ``SIM_BATT_PCT``: set the remaining charge in percent (a higher value is a fresh battery)
- ``SIM_LINK_CUT``: cut the GCS link both ways for that many seconds (0: restore now)
- ``SIM_TETH_PWR`` (tethered): 0 ground power lost, 1 restored
- ``SIM_TETH_LEN`` (tethered): maximum line length in metres
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from . import geo, messages, telemetry
from .battery import Battery, PowerDraw, charge_for_cell_voltage
from .failsafe import Failsafes
from .guidance import Guidance, ItemReached, ItemStarted, Local, MissionComplete, NavEvent, NavParams
from .mission import MissionItem, MissionProtocol, MissionStore
from .model import Limits, Multirotor, Setpoint
from .modes import SIMULATED, Mode
from .param_defaults import copter_defaults
from .params import ParamProtocol, ParamSet
from .sensors import Ekf, Gps
from .streams import GROUP_PARAMS, Streams
from .tether import Tether, TetherConfig

log = logging.getLogger(__name__)

Msg = Any

_PHYSICS_DT_S = 0.05
_MAX_CATCH_UP_S = 60.0
_LAND_DISARM_S = 1.5  # land detector (1 s) plus motor spool-down, as ArduCopter after a landing
_TETHER_CLEAR_FRACTION = 0.95


@dataclass(frozen=True)
class VehicleConfig:
    """What differs between simulated vehicles."""

    sysid: int = 1
    compid: int = mavlink.MAV_COMP_ID_AUTOPILOT1
    home_lat_deg: float = 36.70
    home_lon_deg: float = 119.16
    home_alt_msl_m: float = 25.0
    heading_deg: float = 0.0
    seed: int = 7
    tether: TetherConfig | None = None
    gps_lock_s: float = 2.0  # time to first fix after boot
    gps_noise_m: float = 0.6
    speedup: float = 1.0  # reported as SIM_SPEEDUP; the clock itself belongs to the owner
    mavlink1: bool = False
    params: Mapping[str, float] = field(default_factory=dict)  # parameter overrides


class Vehicle:
    """One simulated ArduCopter."""

    def __init__(self, config: VehicleConfig | None = None, now: float = 0.0) -> None:
        self.config = config = config or VehicleConfig()
        self.sysid = config.sysid
        self.compid = config.compid
        rng = random.Random(config.seed * 1000 + config.sysid)
        overrides = {"SYSID_THISMAV": config.sysid, "SIM_SPEEDUP": config.speedup, **config.params}
        self.params = ParamSet(copter_defaults(tethered=config.tether is not None), overrides)
        self.param_protocol = ParamProtocol(self.params)
        self.origin = (config.home_lat_deg, config.home_lon_deg, config.home_alt_msl_m)
        self.home: tuple[float, float, float] | None = None
        self.home_local: Local = (0.0, 0.0, 0.0)
        self.frame = Multirotor(self._limits(), yaw_deg=config.heading_deg)
        self.gps = Gps(rng, config.gps_noise_m, config.gps_lock_s)
        self.ekf = Ekf(rng)
        self.tether = Tether(config.tether) if config.tether is not None else None
        if self.tether is not None:
            self.params.set("SIM_TETH_LEN", self.tether.max_length_m)
        capacity = self.tether.config.backup_capacity_mah if self.tether else self.params["BATT_CAPACITY"]
        self.battery = Battery(capacity)
        self.power = PowerDraw()
        self.motor_current_a = 0.0
        self.failsafe = Failsafes()
        self.mode = Mode.STABILIZE
        self.armed = False
        self.landed = True
        self.guidance = Guidance(self.to_local, self.origin[2])
        self.store = MissionStore(self._home_item)
        self.missions = MissionProtocol(self.store, self._mission_stored)
        self.streams = Streams(self._group_rates(), now)
        self.last_setpoint = Setpoint()
        self.last_gcs_heartbeat: float | None = None
        self.received: Counter[str] = Counter()
        self.history: deque[str] = deque(maxlen=2000)
        self.boot_time = now
        self._now = now
        self._last_step = now
        self._ground_since: float | None = now
        self._link_cut_until: float | None = None
        self._at_tether_limit = False
        self._outbox: list[Msg] = []
        self.params.on_set = self._param_set
        self.banner()

    # --- the two entry points --------------------------------------------------------------------

    def handle(self, msg: Msg, now: float) -> list[Msg]:
        """Act on one received message; returns the replies (and any STATUSTEXT it caused)."""
        self._now = now
        if self.link_cut or not self._addressed_to_me(msg):
            return []
        kind = msg.get_type()
        self.received[kind] += 1
        self.history.append(kind)
        return self._flush(messages.dispatch(self, msg, now))

    def step(self, now: float) -> list[Msg]:
        """Advance the simulation to ``now``; returns the telemetry and events to send."""
        self._now = now
        self._simulate(now)
        if self._link_cut_until is not None and now >= self._link_cut_until:
            self._link_cut_until = None
            log.info("sysid %d: link restored", self.sysid)
        out: list[Msg] = []
        for name in self.streams.due(now):
            out.extend(telemetry.build(self, name, now))
        out.extend(self.param_protocol.drain())
        out.extend(self.missions.step(now))
        out = self._flush(out)
        return [] if self.link_cut else out

    # --- state as ground software sees it --------------------------------------------------------

    @property
    def link_cut(self) -> bool:
        """The GCS link is cut (nothing in, nothing out)."""
        return self._link_cut_until is not None

    @property
    def alt_msl_m(self) -> float:
        """Altitude above mean sea level."""
        return self.origin[2] + self.frame.alt_m

    @property
    def home_alt_msl_m(self) -> float:
        """Home altitude (the origin's until home is set)."""
        return (self.home or self.origin)[2]

    @property
    def alt_rel_m(self) -> float:
        """Altitude above home."""
        return self.alt_msl_m - self.home_alt_msl_m

    @property
    def mission_items(self) -> list[MissionItem]:
        """The stored mission (without home)."""
        return self.store.items()

    @property
    def armable(self) -> bool:
        """Pre-arm checks pass for a mode that needs a position."""
        return self.gps.has_fix and self.ekf.position_ok and self.home is not None and not self.failsafe.battery_low

    @property
    def system_status(self) -> int:
        """MAV_STATE for the HEARTBEAT."""
        if self.armed and (self.failsafe.battery_critical or self.failsafe.gcs or self.failsafe.ekf):
            return int(mavlink.MAV_STATE_CRITICAL)
        return int(mavlink.MAV_STATE_ACTIVE if self.armed else mavlink.MAV_STATE_STANDBY)

    @property
    def throttle_pct(self) -> int:
        """Throttle output for VFR_HUD."""
        if not self.armed or self.frame.on_ground:
            return 0
        f = self.frame
        return max(10, min(100, round(35 + 8 * f.vu_mps + 1.5 * f.ground_speed_mps)))

    def time_boot_ms(self, now: float) -> int:
        """Milliseconds since boot (uint32)."""
        return max(0, round((now - self.boot_time) * 1000)) & 0xFFFFFFFF

    def to_local(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        """Metres north/east of the EKF origin."""
        return geo.north_east(self.origin[0], self.origin[1], lat_deg, lon_deg)

    def to_global(self, north_m: float, east_m: float) -> tuple[float, float]:
        """Latitude/longitude of a point north/east of the EKF origin."""
        return geo.offset(self.origin[0], self.origin[1], north_m, east_m)

    def position(self) -> tuple[float, float]:
        """True latitude/longitude."""
        return self.to_global(self.frame.north_m, self.frame.east_m)

    def estimated_position(self) -> tuple[float, float]:
        """The EKF's latitude/longitude (truth plus the filter's error)."""
        return self.to_global(self.frame.north_m + self.ekf.error_n, self.frame.east_m + self.ekf.error_e)

    # --- commands (used by the MAVLink handlers and by scenario code) ----------------------------

    def set_mode(self, mode: Mode, now: float) -> bool:
        """Change flight mode if ArduCopter would allow it now."""
        failure = self._mode_failure(mode)
        if failure is not None:
            self.text(mavlink.MAV_SEVERITY_WARNING, f"Mode change to {mode.name} failed: {failure}")
            return False
        if mode is not self.mode:
            self._enter(mode, now)
        return True

    def arm(self, now: float, force: bool = False) -> bool:
        """Arm the motors if the pre-arm checks pass (``force`` skips them, as param2=2989)."""
        if self.armed:
            return True
        if not self.mode.allows_arming:
            self.text(mavlink.MAV_SEVERITY_CRITICAL, "Arm: Mode not armable")
            return False
        failure = None if force or self.params["ARMING_CHECK"] == 0 else self._prearm_failure()
        if failure is not None:
            self.text(mavlink.MAV_SEVERITY_CRITICAL, f"PreArm: {failure}")
            return False
        self.armed = True
        self._ground_since = now
        self.text(mavlink.MAV_SEVERITY_INFO, "Arming motors")
        if self.gps.has_fix:
            self.set_home_here(now)  # ArduCopter moves home to where it arms
        self._outbox.extend(telemetry.heartbeat(self, now))
        return True

    def disarm(self, now: float, force: bool = False) -> bool:
        """Disarm; refused in flight unless ``force`` (as param2=21196)."""
        if not self.armed:
            return True
        if not self.landed and not force:
            self.text(mavlink.MAV_SEVERITY_CRITICAL, "Disarm: not landed")
            return False
        self.armed = False
        self.guidance.takeoff_alt_m = None
        self._ground_since = now
        self.text(mavlink.MAV_SEVERITY_INFO, "Disarming motors")
        self._outbox.extend(telemetry.heartbeat(self, now))
        return True

    def takeoff(self, alt_rel_m: float, now: float) -> bool:
        """MAV_CMD_NAV_TAKEOFF: climb to ``alt_rel_m`` above home (armed, landed, GUIDED/LOITER/POSHOLD)."""
        if not (self.armed and self.landed and self.mode.has_user_takeoff):
            return False
        self.guidance.takeoff(self.frame, self._local_alt(alt_rel_m))
        return True

    def guided_go_to(self, lat_deg: float, lon_deg: float, alt_rel_m: float | None) -> bool:
        """Fly to a point in GUIDED (altitude above home; None keeps the current altitude)."""
        if self.mode is not Mode.GUIDED:
            return False
        north, east = self.to_local(lat_deg, lon_deg)
        alt = self.frame.alt_m if alt_rel_m is None else self._local_alt(alt_rel_m)
        self.guidance.go_to((north, east, alt))
        return True

    def set_home_here(self, now: float) -> bool:
        """Home to the current position (needs a GPS fix)."""
        if not self.gps.has_fix:
            return False
        lat, lon = self.estimated_position()
        return self.set_home(lat, lon, self.alt_msl_m, now)

    def set_home(self, lat_deg: float, lon_deg: float, alt_msl_m: float, now: float) -> bool:
        """Move home; sends HOME_POSITION."""
        self.home = (lat_deg, lon_deg, alt_msl_m)
        north, east = self.to_local(lat_deg, lon_deg)
        self.home_local = (north, east, alt_msl_m - self.origin[2])
        self._outbox.extend(telemetry.home_position(self, now))
        return True

    def load_mission(self, items: list[MissionItem]) -> None:
        """Store a mission without the MAVLink protocol (scenario code); ``items`` exclude home."""
        self.store.replace(mavlink.MAV_MISSION_TYPE_MISSION, [self._home_item(), *items])
        self._mission_stored(mavlink.MAV_MISSION_TYPE_MISSION)

    def set_mission_current(self, seq: int, now: float) -> bool:
        """Continue the mission from wire seq ``seq`` (0 means the first item)."""
        count = len(self.mission_items)
        seq = max(1, seq)
        if seq > count:
            return False
        self.guidance.set_mission_seq(seq)
        self._outbox.extend(telemetry.mission_current(self, now))
        return True

    def failsafe_mode(self, mode: Mode, now: float) -> None:
        """A failsafe's action: the mode (LAND if that is refused), or disarm when on the ground."""
        if not self.armed or self.landed:
            self.disarm(now, force=True)
            return
        if not self.set_mode(mode, now) and self.mode is not Mode.LAND:
            self._enter(Mode.LAND, now)

    def text(self, severity: int, text: str) -> None:
        """Queue a STATUSTEXT (ArduPilot's own wording where it has one)."""
        log.info("sysid %d: %s", self.sysid, text)
        self._outbox.append(mavlink.MAVLink_statustext_message(severity, text.encode()[:50], 0, 0))

    def banner(self) -> None:
        """The firmware banner ArduPilot sends at boot and on MAV_CMD_DO_SEND_BANNER."""
        self.text(mavlink.MAV_SEVERITY_INFO, telemetry.FIRMWARE_NAME)
        self.text(mavlink.MAV_SEVERITY_INFO, "Frame: QUAD/X" + (" tethered" if self.tether else ""))

    # --- faults ----------------------------------------------------------------------------------

    def lose_gps(self) -> None:
        """The GPS loses its fix (SIM_GPS_DISABLE=1)."""
        self.params.set("SIM_GPS_DISABLE", 1)

    def restore_gps(self) -> None:
        """The GPS fix comes back."""
        self.params.set("SIM_GPS_DISABLE", 0)

    def set_battery_remaining(self, percent: float) -> None:
        """Force the remaining charge (SIM_BATT_PCT); more than before counts as a fresh battery."""
        self.params.set("SIM_BATT_PCT", percent)

    def fail_battery(self, critical: bool = False) -> None:
        """Drain the battery to just below BATT_LOW_VOLT (or BATT_CRT_VOLT) at rest.

        The failsafe follows after BATT_LOW_TIMER seconds below the threshold.
        """
        threshold = self.params["BATT_CRT_VOLT" if critical else "BATT_LOW_VOLT"]
        if threshold <= 0:
            threshold = 3.4 * self.battery.cells  # thresholds disabled: drain to a nearly empty pack
        charge = charge_for_cell_voltage((threshold - 0.05) / self.battery.cells)
        self.set_battery_remaining(charge * 100)

    def cut_link(self, seconds: float | None = None) -> None:
        """Cut the GCS link both ways, for ``seconds`` or until :meth:`restore_link`."""
        self.params.set("SIM_LINK_CUT", 1e9 if seconds is None else seconds)

    def restore_link(self) -> None:
        """Restore a cut link."""
        self.params.set("SIM_LINK_CUT", 0)

    def lose_ground_power(self) -> None:
        """A tethered vehicle's ground power fails; it flies on its backup battery."""
        self.params.set("SIM_TETH_PWR", 0)

    def restore_ground_power(self) -> None:
        """Ground power returns."""
        self.params.set("SIM_TETH_PWR", 1)

    # --- physics ---------------------------------------------------------------------------------

    def _simulate(self, now: float) -> None:
        elapsed = min(now - self._last_step, _MAX_CATCH_UP_S)
        self._last_step = now
        if elapsed <= 0:
            return
        steps = max(1, math.ceil(elapsed / _PHYSICS_DT_S))
        dt = elapsed / steps
        nav = NavParams.from_params(self.params)
        for k in range(steps):
            self._physics_step(dt, now - elapsed + (k + 1) * dt, nav)
        self._update_landed(now)
        self.failsafe.check(self, now)

    def _physics_step(self, dt: float, t: float, nav: NavParams) -> None:
        events: list[NavEvent] = []
        if self.armed:
            sp, events = self.guidance.setpoint(
                self.mode, self.frame, self.home_local, nav, items=self.mission_items, now=t
            )
        else:
            sp = Setpoint(idle=True)
        self.last_setpoint = sp
        self.frame.step(dt, sp)
        self._step_tether(dt)
        f = self.frame
        self.motor_current_a = self.power.current_a(self.armed, not f.on_ground, f.ground_speed_mps, f.vu_mps)
        if self.tether is not None and self.tether.ground_power:
            self.battery.step(dt, -1.0 if self.battery.charge < 1.0 else 0.0)  # trickle charge from the line
        else:
            self.battery.step(dt, self.motor_current_a)
        self.gps.step(dt)
        if self.ekf.step(dt, self.gps):
            self.text(mavlink.MAV_SEVERITY_INFO, "EKF3 IMU0 is using GPS")
            if self.home is None:
                self.set_home_here(t)
        for event in events:
            self._nav_event(event, t)

    def _step_tether(self, dt: float) -> None:
        t, f = self.tether, self.frame
        if t is None:
            return
        limit = t.constrain(f.north_m, f.east_m, f.alt_m)
        if limit is not None:
            f.stop_outward(*limit)
            if not self._at_tether_limit:
                self._at_tether_limit = True
                self.text(mavlink.MAV_SEVERITY_WARNING, f"Tether: at full length {t.max_length_m:.0f} m")
        elif self._at_tether_limit and t.distance_m < t.max_length_m * _TETHER_CLEAR_FRACTION:
            self._at_tether_limit = False
        t.step(dt, f.north_m, f.east_m, f.alt_m)

    def _update_landed(self, now: float) -> None:
        if not self.frame.on_ground:
            self.landed = False
            self._ground_since = None
            return
        self.landed = True
        if self._ground_since is None:
            self._ground_since = now
        if not self.armed:
            return
        landing = self.mode in (Mode.LAND, Mode.AUTO) or self.mode.returns_home
        delay = _LAND_DISARM_S if landing else self.params["DISARM_DELAY"]
        if delay > 0 and now - self._ground_since >= delay:
            self.disarm(now)

    def _nav_event(self, event: NavEvent, now: float) -> None:
        if isinstance(event, ItemStarted):
            self.text(mavlink.MAV_SEVERITY_INFO, f"Mission: {event.seq} {event.name}")
            self._outbox.extend(telemetry.mission_current(self, now))
        elif isinstance(event, ItemReached):
            self.text(mavlink.MAV_SEVERITY_INFO, f"Reached command #{event.seq}")
            self._outbox.append(mavlink.MAVLink_mission_item_reached_message(event.seq))
        elif isinstance(event, MissionComplete):
            self.text(mavlink.MAV_SEVERITY_INFO, "Mission complete")
            self._outbox.extend(telemetry.mission_current(self, now))

    # --- helpers ---------------------------------------------------------------------------------

    def _flush(self, replies: list[Msg]) -> list[Msg]:
        out, self._outbox = [*self._outbox, *replies], []
        return out

    def _addressed_to_me(self, msg: Msg) -> bool:
        system = getattr(msg, "target_system", 0)
        component = getattr(msg, "target_component", 0)
        return system in (0, self.sysid) and component in (0, self.compid)

    def _local_alt(self, alt_rel_m: float) -> float:
        return alt_rel_m + self.home_local[2]

    def _limits(self) -> Limits:
        p = self.params
        return Limits(
            speed_mps=p["WPNAV_SPEED"] / 100, climb_mps=p["WPNAV_SPEED_UP"] / 100,
            descent_mps=p["WPNAV_SPEED_DN"] / 100, accel_mps2=p["WPNAV_ACCEL"] / 100,
            accel_z_mps2=p["WPNAV_ACCEL_Z"] / 100, max_tilt_deg=p["ANGLE_MAX"] / 100,
        )  # fmt: skip

    def _group_rates(self) -> dict[int, float]:
        return {group: self.params[f"SR0_{suffix}"] for group, suffix in GROUP_PARAMS.items()}

    def _home_item(self) -> MissionItem:
        lat, lon, alt = self.home or (0.0, 0.0, 0.0)
        return MissionItem(mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_FRAME_GLOBAL, x=lat, y=lon, z=alt)

    def _mode_failure(self, mode: Mode) -> str | None:
        if mode not in SIMULATED:
            return "not available"
        if mode is self.mode:
            return None
        if mode.requires_gps and not (self.ekf.position_ok and self.home is not None):
            return "requires position"
        if mode is Mode.AUTO:
            items = self.mission_items
            if not items:
                return "no mission"
            auto = self.guidance.auto
            if auto.complete or auto.seq > len(items):
                self.guidance.set_mission_seq(1)
            first = items[self.guidance.auto.seq - 1]
            if self.armed and self.landed and first.command != mavlink.MAV_CMD_NAV_TAKEOFF:
                return "Missing Takeoff Cmd"
        return None

    def _prearm_failure(self) -> str | None:
        if self.mode.requires_gps:
            if not self.gps.has_fix:
                return "Need 3D Fix"
            if not self.ekf.position_ok or self.home is None:
                return "Need Position Estimate"
        if self.failsafe.battery_low:
            return "Battery 1 low"
        if self.params["BATT_ARM_VOLT"] > 0 and self.battery.voltage_v < self.params["BATT_ARM_VOLT"]:
            return "Battery 1 below minimum arming Voltage"
        return None

    def _enter(self, mode: Mode, now: float) -> None:
        log.info("sysid %d: mode %s -> %s", self.sysid, self.mode.name, mode.name)
        self.mode = mode
        nav = NavParams.from_params(self.params)
        self.guidance.enter(mode, self.frame, self.home_local, nav, now)
        self._outbox.extend(telemetry.heartbeat(self, now))

    def _mission_stored(self, mission_type: int) -> list[Msg]:
        count = len(self.store.items(mission_type))
        total = {mavlink.MAV_MISSION_TYPE_MISSION: "MIS_TOTAL", mavlink.MAV_MISSION_TYPE_FENCE: "FENCE_TOTAL"}
        name = total.get(mission_type, "RALLY_TOTAL")
        self.params.set(name, count)
        if mission_type == mavlink.MAV_MISSION_TYPE_MISSION:
            if self.guidance.auto.seq > count:
                self.guidance.set_mission_seq(1)
            if count:
                self.text(mavlink.MAV_SEVERITY_INFO, "Flight plan received")
        return []

    # --- parameters with side effects ------------------------------------------------------------

    def _param_set(self, name: str, value: float) -> None:
        now = self._now
        if name == "SIM_GPS_DISABLE":
            self._set_gps(value == 0)
        elif name == "SIM_BATT_PCT":
            if value > self.battery.remaining_pct:
                self.failsafe.reset_battery()
            self.battery.set_remaining(value)
        elif name == "SIM_LINK_CUT":
            self._link_cut_until = now + value if value > 0 else None
            log.info("sysid %d: link %s", self.sysid, "cut" if value > 0 else "restored")
        elif name == "SIM_TETH_PWR" and self.tether is not None:
            self._set_ground_power(value != 0)
        elif name == "SIM_TETH_LEN" and self.tether is not None:
            self.tether.max_length_m = max(1.0, value)
        elif name.startswith(("WPNAV_", "ANGLE_MAX")):
            self.frame.limits = self._limits()
        elif name.startswith("SR0_"):
            groups = {suffix: group for group, suffix in GROUP_PARAMS.items()}
            group = groups.get(name.removeprefix("SR0_"))
            if group is not None:
                self.streams.set_group(group, value, now)
        elif name == "BATT_CAPACITY" and self.tether is None and value > 0:
            self.battery.capacity_mah = value

    def _set_gps(self, enabled: bool) -> None:
        if enabled == self.gps.enabled:
            return
        self.gps.enabled = enabled
        if enabled:
            self.text(mavlink.MAV_SEVERITY_INFO, "GPS 1: fix restored")
        else:
            self.text(mavlink.MAV_SEVERITY_WARNING, "GPS 1: lost fix")

    def _set_ground_power(self, present: bool) -> None:
        assert self.tether is not None
        if present == self.tether.ground_power:
            return
        self.tether.ground_power = present
        if present:
            self.text(mavlink.MAV_SEVERITY_INFO, "Tether: ground power restored")
        else:
            self.text(mavlink.MAV_SEVERITY_CRITICAL, "Tether: ground power lost, on battery")
