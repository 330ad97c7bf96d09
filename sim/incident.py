"""A whole simulated incident: the radio world, its gateway on a pseudo-terminal, and the node's config.

``fieldkit sim`` calls ``build_incident``: the node it then runs is configured exactly as a kit in
the field would be (radio gateway on a serial device, a roster file), except that the device is the
emulator's pseudo-terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from edge.config import Config
from edge.radio.binary import EXAMPLE
from edge.radio.binary_description import load as load_framing

from .pdt_gateway import PdtGatewayEmulator
from .radios import RadioWorld
from .scenario import Scenario
from .sides import side_for

if TYPE_CHECKING:
    from edge.node import EdgeNode
    from edge.supervisor import Component


@dataclass
class Incident:
    """What ``fieldkit sim`` runs: the node's configuration and the simulated hardware."""

    config: Config
    world: RadioWorld
    gateway: PdtGatewayEmulator

    def components(self) -> list[Callable[[EdgeNode], Component]]:
        """Factories for the node's ``extra`` components."""
        return [lambda node: self.gateway]


def build_incident(config: Config, scenario: Scenario, clock: Callable[[], float]) -> Incident:
    """Create the world and plug its gateway; point the node's radio section at it."""
    data_dir = Path(config.node.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    world = RadioWorld(scenario, start=clock())
    roster = data_dir / "roster.csv"
    roster.write_text(world.roster_csv(), encoding="utf-8")
    binary = load_framing(EXAMPLE) if scenario.framing == "binary" else None
    gateway = PdtGatewayEmulator(
        world,
        side_for(scenario.framing, binary),
        data_dir / "ttyPDT0",
        clock=clock,
        ack_delay_s=scenario.text_ack_delay_s,
        noise_interval_s=scenario.noise_interval_s,
        seed=scenario.seed,
    )
    device = gateway.plug()
    radio = msgspec.structs.replace(
        config.radio,
        enabled=True,
        transport="serial",
        device=str(device),
        framing=scenario.framing,
        baudrate=115200,
        roster=str(roster),
        binary=binary,
    )
    return Incident(msgspec.structs.replace(config, radio=radio), world, gateway)
