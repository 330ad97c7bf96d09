"""Simulation of every piece of hardware, for `fieldkit sim` and the tests (never imported by `fieldkit run`)."""

from .clock import SimClock
from .incident import IncidentModel, IncidentSim
from .scenario import Scenario, load_scenario

__all__ = ["IncidentModel", "IncidentSim", "Scenario", "SimClock", "load_scenario"]
