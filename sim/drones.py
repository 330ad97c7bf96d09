"""The incident's drones for ``fieldkit sim``: the SITL fleet as a node component.

Two multirotors patrol and a tethered drone hovers (``sim/sitl/fleet.py``); their MAVLink goes out
on a UDP port of the SITL's own, and the node's drone service reaches it through an ordinary
``udp-connect`` endpoint, exactly as it would a telemetry radio's UDP bridge.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from .sitl import SitlEndpoint, Vehicle
from .sitl.fleet import FleetPilot, incident_fleet

if TYPE_CHECKING:
    from .fleet_plan import DronePlan

PILOT_INTERVAL_S = 1.0


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port free right now on ``host`` (the SITL binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class SimDrones:
    """Component: the fleet's vehicles, their MAVLink endpoint and the pilot that keeps them flying."""

    name = "sim-drones"

    def __init__(
        self,
        *,
        home_lat: float,
        home_lon: float,
        seed: int,
        speedup: float,
        clock: Callable[[], float],
        port: int,
        plans: list[DronePlan] | None = None,  # a scenario's [[drones]] (default: the incident fleet)
    ) -> None:
        if plans is None:
            configs = incident_fleet(home_lat_deg=home_lat, home_lon_deg=home_lon, seed=seed, speedup=speedup)
        else:
            configs = [p.config for p in plans]
        self.configs = configs
        self.plans = plans
        self.vehicles = [Vehicle(c, clock()) for c in configs]
        self.by_name = {p.name: v for p, v in zip(plans or [], self.vehicles, strict=False)}
        self.port = port
        self.tethered_sysids = [c.sysid for c in configs if c.tether is not None]
        self._clock = clock
        launch = None if plans is None else (lambda k, vehicle, now: plans[k].launch(vehicle, now))
        self._pilot = FleetPilot(self.vehicles, launch=launch)
        self._speedup = speedup

    async def run(self) -> None:
        """Serve the vehicles' MAVLink and fly them until cancelled."""
        async with SitlEndpoint(self.vehicles, self._clock) as endpoint:
            await endpoint.start(udp_port=self.port)
            while True:
                self._pilot.step(self._clock())
                await asyncio.sleep(PILOT_INTERVAL_S / self._speedup)
