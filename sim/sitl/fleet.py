"""The incident's drones for ``fieldkit sim``: who flies, and what they fly without a pilot.

By default two multirotors patrol loops around the incident in AUTO (a takeoff, a ring of
waypoints, a DO_JUMP back to the ring's start, forever) and a tethered drone hovers over its
ground station as an overwatch. These helpers drive a :class:`~sim.sitl.vehicle.Vehicle`
directly (as a pilot's GCS would, but without MAVLink); any real GCS can take over at any time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from . import geo
from .mission import MissionItem
from .modes import Mode
from .tether import TetherConfig
from .vehicle import Vehicle, VehicleConfig

_SPACING_M = 15.0  # the drones' homes, side by side east of the incident point


def incident_fleet(
    *,
    home_lat_deg: float = 36.70,
    home_lon_deg: float = 119.16,
    home_alt_msl_m: float = 25.0,
    seed: int = 7,
    speedup: float = 1.0,
    first_sysid: int = 1,
) -> list[VehicleConfig]:
    """Two multirotors and one tethered drone (consecutive sysids) at the incident."""
    configs = []
    for k, tether in enumerate((None, None, TetherConfig())):
        lat, lon = geo.offset(home_lat_deg, home_lon_deg, 0.0, _SPACING_M * k)
        config = VehicleConfig(
            sysid=first_sysid + k, home_lat_deg=lat, home_lon_deg=lon, home_alt_msl_m=home_alt_msl_m,
            heading_deg=90.0 * k, seed=seed, tether=tether, speedup=speedup,
        )  # fmt: skip
        configs.append(config)
    return configs


def ring_mission(
    lat_deg: float, lon_deg: float, radius_m: float, alt_m: float, *, points: int = 8, phase_deg: float = 0.0
) -> list[MissionItem]:
    """Takeoff, ``points`` waypoints on a circle around (lat, lon), then jump back to the first waypoint forever."""
    points_deg = []
    for k in range(points):
        bearing = math.radians(phase_deg + 360.0 * k / points)
        points_deg.append(geo.offset(lat_deg, lon_deg, radius_m * math.cos(bearing), radius_m * math.sin(bearing)))
    return loop_mission(points_deg, alt_m)


def loop_mission(points: list[tuple[float, float]], alt_m: float) -> list[MissionItem]:
    """Takeoff, then the waypoints (lat, lon) at ``alt_m``, then jump back to the first waypoint forever."""
    items = [MissionItem(mavlink.MAV_CMD_NAV_TAKEOFF, z=alt_m)]
    items += [MissionItem(mavlink.MAV_CMD_NAV_WAYPOINT, x=lat, y=lon, z=alt_m) for lat, lon in points]
    # DO_JUMP to wire seq 2 (the first waypoint: seq 0 is home, 1 the takeoff), repeat -1 = forever
    items.append(MissionItem(mavlink.MAV_CMD_DO_JUMP, mavlink.MAV_FRAME_MISSION, param1=2, param2=-1))
    return items


def start_patrol(
    vehicle: Vehicle, now: float, *, radius_m: float = 250.0, alt_m: float = 40.0, phase_deg: float = 0
) -> bool:
    """Load a ring around the incident and fly it in AUTO; False until the vehicle can arm (GPS fix)."""
    lat, lon, _ = vehicle.origin
    return start_mission(vehicle, now, ring_mission(lat, lon, radius_m, alt_m, phase_deg=phase_deg))


def start_mission(vehicle: Vehicle, now: float, items: list[MissionItem]) -> bool:
    """Load ``items`` and fly them in AUTO; False until the vehicle can arm (GPS fix)."""
    if not vehicle.armable:
        return False
    vehicle.load_mission(items)
    vehicle.set_mission_current(1, now)
    return vehicle.set_mode(Mode.LOITER, now) and vehicle.arm(now) and vehicle.set_mode(Mode.AUTO, now)


def start_hover(vehicle: Vehicle, now: float, alt_m: float = 50.0) -> bool:
    """Take off in GUIDED and hover over home (a tethered drone's overwatch); False until it can arm."""
    if not vehicle.armable:
        return False
    return vehicle.set_mode(Mode.GUIDED, now) and vehicle.arm(now) and vehicle.takeoff(alt_m, now)


class FleetPilot:
    """Keeps the incident's drones flying: launches each when it can arm, swaps batteries after landing.

    Multirotors patrol rings (each a different radius and phase); tethered drones hover. A vehicle
    that has landed and disarmed (battery failsafe, a pilot's RTL) gets a fresh battery after
    ``turnaround_s`` on the ground and is launched again. Call :meth:`step` now and then (1 Hz is
    plenty) with the simulated time.
    """

    def __init__(
        self,
        vehicles: list[Vehicle],
        turnaround_s: float = 60.0,
        launch: Callable[[int, Vehicle, float], object] | None = None,
    ) -> None:
        self.vehicles = vehicles
        self.turnaround_s = turnaround_s
        self._launch_one = launch or self._launch  # a scenario's own missions (sim/fleet_plan.py)
        self._landed_at: dict[int, float] = {}

    def step(self, now: float) -> None:
        """Launch whatever is ready."""
        for k, vehicle in enumerate(self.vehicles):
            if vehicle.armed or not vehicle.landed:
                self._landed_at.pop(vehicle.sysid, None)
                continue
            if vehicle.battery.remaining_pct < 95:
                since = self._landed_at.setdefault(vehicle.sysid, now)
                if now - since < self.turnaround_s:
                    continue
                vehicle.set_battery_remaining(100.0)
            self._launch_one(k, vehicle, now)

    def _launch(self, k: int, vehicle: Vehicle, now: float) -> None:
        if vehicle.tether is not None:
            start_hover(vehicle, now, alt_m=min(50.0, vehicle.tether.max_length_m * 0.8))
        else:
            start_patrol(vehicle, now, radius_m=150.0 + 100.0 * k, alt_m=30.0 + 10.0 * k, phase_deg=90.0 * k)
