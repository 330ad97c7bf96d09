"""Simulated radios for the load process: ``sim``'s radio world and PDT gateway, with stamped fixes.

The world (``sim.radios.RadioWorld``: ``units`` radios walking and driving around the incident,
each reporting every ``report_interval_s``, plus the scenario's calls, texts and alarms) speaks
through ``sim.pdt_gateway.PdtGatewayEmulator`` on a pseudo-terminal in the example PDT binary
framing, exactly as ``fieldkit sim`` does. The only change: each fix's position carries the moment
it was put on the wire (``stamp.py``).
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec

from edge.radio import Fix, RadioEvent
from edge.radio.binary import EXAMPLE
from edge.radio.binary_description import load as load_framing
from sim.pdt_gateway import PdtGatewayEmulator
from sim.radios import RadioWorld
from sim.scenario import Scenario
from sim.sides import side_for

from .stamp import stamp


class StampedGateway(PdtGatewayEmulator):
    """The emulator, writing the send time into every fix as it goes on the wire."""

    fixes = 0

    def emit(self, event: RadioEvent) -> None:
        if isinstance(event, Fix) and event.lat is not None and event.lon is not None:
            lat_e7, lon_e7 = stamp(event.lat, event.lon, time.time())
            event = msgspec.structs.replace(event, lat=lat_e7 / 1e7, lon=lon_e7 / 1e7)
            self.fixes += 1
        super().emit(event)


def gateway(folder: Path, units: int, report_interval_s: float = 30.0) -> StampedGateway:
    """A plugged gateway for ``units`` radios in ``folder`` (its pty link and roster.csv are there)."""
    scenario = Scenario(units=units, framing="binary", report_interval_s=report_interval_s, drones=False)
    world = RadioWorld(scenario, start=time.time())
    (folder / "roster.csv").write_text(world.roster_csv(), encoding="utf-8")
    gw = StampedGateway(world, side_for("binary", load_framing(EXAMPLE)), folder / "ttyPDT0", clock=time.time)
    gw.plug()
    return gw
