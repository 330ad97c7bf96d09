"""A scenario's ``[[drones]]`` as SITL vehicles and what the fleet pilot launches them into.

A multirotor flies its mission's waypoints (or a ring round its patrol area) in AUTO, looping; a
tethered drone takes off in GUIDED and hovers over its ground station at ``alt_m``, capped at 80 %
of its line as ArduCopter's tether ceiling would force. Both are what ``sim/sitl`` already flies.
"""

from __future__ import annotations

from dataclasses import dataclass

from .scenario import Scenario
from .scenario_items import DroneSpec
from .sitl import geo
from .sitl.fleet import loop_mission, ring_mission, start_hover, start_mission
from .sitl.tether import TetherConfig
from .sitl.vehicle import Vehicle, VehicleConfig

HOME_SPACING_M = 15.0  # drones without a home take off side by side, east of the incident point
TETHER_CEILING = 0.8


@dataclass(frozen=True)
class DronePlan:
    """One drone of the scenario: its SITL configuration and what it flies."""

    spec: DroneSpec
    config: VehicleConfig
    camera: str | None  # "daylight", "thermal" or None
    phase_deg: float  # where on its patrol ring it starts, so patrols do not fly in step

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def tethered(self) -> bool:
        return self.spec.kind == "tethered"

    def launch(self, vehicle: Vehicle, now: float) -> bool:
        """Take off into the plan; False until the vehicle can arm."""
        spec = self.spec
        if spec.kind == "tethered":
            return start_hover(vehicle, now, alt_m=min(spec.alt_m, spec.tether_length_m * TETHER_CEILING))
        if spec.mission:
            return start_mission(vehicle, now, loop_mission([(lat, lon) for lat, lon in spec.mission], spec.alt_m))
        lat, lon, _ = vehicle.origin
        radius = 150.0
        if spec.patrol is not None:
            lat, lon, radius = spec.patrol.lat, spec.patrol.lon, spec.patrol.radius_m
        return start_mission(vehicle, now, ring_mission(lat, lon, radius, spec.alt_m, phase_deg=self.phase_deg))


def plan_fleet(scenario: Scenario, *, speedup: float = 1.0, home_alt_msl_m: float = 25.0) -> list[DronePlan]:
    """The scenario's drones, with system ids given out in order (explicit ones kept)."""
    fleet = scenario.fleet()
    taken = {d.sysid for d in fleet if d.sysid is not None}
    free = (n for n in range(1, 251) if n not in taken)
    plans = []
    for k, spec in enumerate(fleet):
        sysid = spec.sysid if spec.sysid is not None else next(free)
        if spec.home is not None:
            lat, lon = spec.home
        else:
            lat, lon = geo.offset(scenario.home_lat, scenario.home_lon, 0.0, HOME_SPACING_M * k)
        tether = TetherConfig(max_length_m=spec.tether_length_m) if spec.kind == "tethered" else None
        config = VehicleConfig(
            sysid=sysid, home_lat_deg=lat, home_lon_deg=lon, home_alt_msl_m=home_alt_msl_m,
            heading_deg=90.0 * k, seed=scenario.seed, tether=tether, speedup=speedup,
        )  # fmt: skip
        plans.append(DronePlan(spec, config, scenario.camera(spec), phase_deg=90.0 * k))
    return plans
