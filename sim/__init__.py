"""Simulation of every piece of hardware, for `fieldkit sim` and the tests (never imported by `fieldkit run`)."""

from .clock import SimClock
from .incident import Incident, build_incident
from .pdt_gateway import Noise, PdtGatewayEmulator, PollRequest, TextRequest
from .radios import RadioWorld
from .scenario import Scenario, load_scenario

__all__ = [
    "Incident",
    "Noise",
    "PdtGatewayEmulator",
    "PollRequest",
    "RadioWorld",
    "Scenario",
    "SimClock",
    "TextRequest",
    "build_incident",
    "load_scenario",
]
