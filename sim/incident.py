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
from media.config import FeedConfig, VariantConfig

from .drones import SimDrones, free_udp_port
from .fleet_plan import plan_fleet
from .pdt_gateway import PdtGatewayEmulator
from .radios import RadioWorld
from .scenario import Scenario
from .sides import side_for
from .timeline import Targets, TimelinePlayer, schedule

MIN_STALL_S = 0.5

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
    scenario: Scenario | None = None
    speedup: float = 1.0
    player: TimelinePlayer | None = None  # set once the node exists (the player reaches its cameras)

    def components(self) -> list[Callable[[EdgeNode], Component]]:
        """Factories for the node's ``extra`` components."""
        made: list[Callable[[EdgeNode], Component]] = [lambda node: self.gateway]
        if self.drones is not None:
            drones = self.drones
            made.append(lambda node: drones)
        if self.scenario is not None and self.scenario.timeline:
            made.append(self._timeline)
        return made

    def _timeline(self, node: EdgeNode) -> TimelinePlayer:
        """The scenario's timeline, acting on this incident's hardware and the node's sim cameras."""
        assert self.scenario is not None
        units = {r.unit: r for r in self.world.radios} | {r.alias: r for r in self.world.radios}

        def camera(name: str) -> object:
            runner = node.media.feeds.get(name) if node.media is not None else None
            return None if runner is None else runner.source

        targets = Targets(
            gateway=self.gateway,
            units=units,
            vehicles=self.drones.by_name if self.drones is not None else {},
            camera=camera,
            alarm_clear_s=self.scenario.alarm_clear_s,
        )
        self.player = TimelinePlayer(schedule(self.scenario.timeline), targets, node.clock, speedup=self.speedup)
        return self.player


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
    if scenario.fleet():
        drones = SimDrones(
            home_lat=scenario.home_lat,
            home_lon=scenario.home_lon,
            seed=scenario.seed,
            speedup=speedup,
            clock=clock,
            port=free_udp_port(),
            plans=plan_fleet(scenario, speedup=speedup),
        )
        config = msgspec.structs.replace(config, drones=_drones_section(config, drones, scenario))
    feeds = _cameras(drones) + _fixed_cameras(scenario)
    if feeds:
        # Video runs on wall time; scale the stall threshold so a camera stall of N simulated seconds
        # shows as one at any --speedup (never below a few frame periods).
        stall_s = max(MIN_STALL_S, config.media.stall_s / speedup)
        media = msgspec.structs.replace(config.media, enabled=True, stall_s=stall_s)
        media = msgspec.structs.replace(media, feeds=[*config.media.feeds, *feeds])
        config = msgspec.structs.replace(config, media=media)
    return Incident(config, world, gateway, drones, scenario, speedup)


def _cameras(drones: SimDrones | None) -> list[FeedConfig]:
    """A sim camera on each drone that carries one: daylight, or thermal (with hotspot analysis)."""
    return [
        FeedConfig(
            name=plan.name,
            title=plan.spec.title or plan.name,
            source="sim",
            vehicle_sysid=plan.config.sysid,
            thermal=plan.camera == "thermal",
            fov_deg=50.0 if plan.camera == "thermal" else 70.0,
            range_m=400.0,
            analysis=["hotspot"] if plan.camera == "thermal" else [],
            variants=[VariantConfig(name="low", width=320, height=180, fps=5.0, bitrate_kbps=150)],
        )
        for plan in (drones.plans or [] if drones is not None else [])
        if plan.camera is not None
    ]


def _fixed_cameras(scenario: Scenario) -> list[FeedConfig]:
    """The scenario's fixed sim cameras (``[[feeds]]``)."""
    return [
        FeedConfig(
            name=f.name,
            title=f.title or f.name,
            source="sim",
            lat=f.lat,
            lon=f.lon,
            heading_deg=f.heading_deg,
            fov_deg=f.fov_deg,
            range_m=f.range_m,
            thermal=f.thermal,
            analysis=["hotspot"] if f.thermal else [],
        )
        for f in scenario.feeds
    ]


def _drones_section(config: Config, drones: SimDrones, scenario: Scenario) -> DronesSection:
    """The node's drone service pointed at the SITL fleet, with a port for the pilots' own GCS."""
    endpoints = [EndpointConfig(name="sitl", kind="udp-connect", host="127.0.0.1", port=drones.port)]
    if scenario.gcs_udp_port:
        endpoints.append(EndpointConfig(name="gcs", kind="udp-listen", host="127.0.0.1", port=scenario.gcs_udp_port))
    return msgspec.structs.replace(
        config.drones, enabled=True, endpoints=endpoints, tethered_sysids=drones.tethered_sysids
    )
