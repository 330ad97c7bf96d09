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

from drones.config import DronesSection, EndpointConfig
from edge.config import Config
from edge.radio.binary import EXAMPLE
from edge.radio.binary_description import load as load_framing
from media.config import FeedConfig, MediaSection, VariantConfig

from .drones import SimDrones, free_udp_port
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
    drones: SimDrones | None

    def components(self) -> list[Callable[[EdgeNode], Component]]:
        """Factories for the node's ``extra`` components."""
        made: list[Callable[[EdgeNode], Component]] = [lambda node: self.gateway]
        if self.drones is not None:
            drones = self.drones
            made.append(lambda node: drones)
        return made


def build_incident(config: Config, scenario: Scenario, clock: Callable[[], float], speedup: float = 1.0) -> Incident:
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
    node = msgspec.structs.replace(config.node, simulated=True)  # CoT marks our radios and drones how="m-s"
    config = msgspec.structs.replace(config, radio=radio, node=node)
    drones = None
    if scenario.drones:
        drones = SimDrones(
            home_lat=scenario.home_lat,
            home_lon=scenario.home_lon,
            seed=scenario.seed,
            speedup=speedup,
            clock=clock,
            port=free_udp_port(),
        )
        config = msgspec.structs.replace(config, drones=_drones_section(config, drones, scenario))
        if scenario.cameras:
            config = msgspec.structs.replace(config, media=_cameras(config, drones))
    return Incident(config, world, gateway, drones)


def _cameras(config: Config, drones: SimDrones) -> MediaSection:
    """A sim camera on each drone: daylight on the patrols, thermal on the tethered overwatch."""
    feeds = [
        FeedConfig(
            name=f"uav{v.sysid}",
            title=f"UAV {v.sysid} {'thermal' if v.sysid in drones.tethered_sysids else 'camera'}",
            source="sim",
            vehicle_sysid=v.sysid,
            thermal=v.sysid in drones.tethered_sysids,
            fov_deg=50.0 if v.sysid in drones.tethered_sysids else 70.0,
            range_m=400.0,
            analysis=["hotspot"] if v.sysid in drones.tethered_sysids else [],
            variants=[VariantConfig(name="low", width=320, height=180, fps=5.0, bitrate_kbps=150)],
        )
        for v in drones.configs
    ]
    return msgspec.structs.replace(config.media, enabled=True, feeds=[*config.media.feeds, *feeds])


def _drones_section(config: Config, drones: SimDrones, scenario: Scenario) -> DronesSection:
    """The node's drone service pointed at the SITL fleet, with a port for the pilots' own GCS."""
    endpoints = [EndpointConfig(name="sitl", kind="udp-connect", host="127.0.0.1", port=drones.port)]
    if scenario.gcs_udp_port:
        endpoints.append(EndpointConfig(name="gcs", kind="udp-listen", host="127.0.0.1", port=scenario.gcs_udp_port))
    return msgspec.structs.replace(
        config.drones, enabled=True, endpoints=endpoints, tethered_sysids=drones.tethered_sysids
    )
