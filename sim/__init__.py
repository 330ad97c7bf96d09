"""Simulation of every piece of hardware, for `fieldkit sim` and the tests (never imported by `fieldkit run`)."""

from .clock import SimClock
from .fleet_plan import DronePlan, plan_fleet
from .incident import Incident, build_incident
from .pdt_gateway import Noise, PdtGatewayEmulator, PollRequest, TextRequest
from .radios import RadioWorld
from .scenario import Scenario, load_scenario, parse_scenario, resolve, shipped
from .timeline import Step, Targets, TimelinePlayer, schedule

__all__ = [
    "DronePlan",
    "Incident",
    "Noise",
    "PdtGatewayEmulator",
    "PollRequest",
    "RadioWorld",
    "Scenario",
    "SimClock",
    "Step",
    "Targets",
    "TextRequest",
    "TimelinePlayer",
    "build_incident",
    "load_scenario",
    "parse_scenario",
    "plan_fleet",
    "resolve",
    "schedule",
    "shipped",
]
