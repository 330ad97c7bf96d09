"""``fieldkit sim --nodes N``: a command post and N-1 field kits as separate processes on loopback.

Each node is its own ``fieldkit sim`` process (its own radios, journal and API) with a ``[mesh]``
section written here. Every mesh link goes through a ``LinkProxy`` in this process, so links can
be cut on a timeline: each edge dials the hub, and each edge after the first also dials the edge
before it (edges share directly when the hub is out of reach). Gossip is off, so kits never route
around a cut proxy. Ports are fixed from ``base_port``: Zenoh listens on ``base_port + i`` (i = 0
for the hub), proxies on ``base_port + 100 + j``, APIs on ``http_port + i``.

The default timeline cuts edge1 <-> hub at 60 s for 60 s (real seconds, counted from when every
node serves), then heals: edge2 keeps seeing edge1 during the cut, and the hub catches up after.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from .linkproxy import LinkProxy
from .scenario import Scenario

log = logging.getLogger(__name__)

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
_KM_LAT = 1 / 111.2  # degrees of latitude per km


@dataclass
class SimNode:
    """One node of the simulated mesh and its process."""

    name: str
    role: str
    zenoh_port: int
    http_port: int
    scenario: Scenario
    connect: list[str] = field(default_factory=list)  # proxy endpoints it dials
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    token: str = ""
    serving: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Link:
    """A proxied link: ``dialer`` reaches ``listener`` through ``proxy``."""

    dialer: str
    listener: str
    proxy: LinkProxy


def plan(count: int, base: Scenario, base_port: int, http_port: int) -> list[SimNode]:
    """The hub and the edges, with their ports and scenarios (edges 1.2 km apart, own radio systems)."""
    nodes = [
        SimNode("hub", "command-post", base_port, http_port, _scenario(base, 0, whole=False)),
    ]
    for i in range(1, count):
        # edge1 plays the whole scenario (one SITL fleet is what two shared cores carry); the others
        # bring their radio teams only
        nodes.append(SimNode(f"edge{i}", "edge", base_port + i, http_port + i, _scenario(base, i, whole=i == 1)))
    return nodes


def _scenario(base: Scenario, i: int, *, whole: bool) -> Scenario:
    """Node ``i``'s part of ``base``: the hub has no radios; a ``whole`` edge flies drones and plays the timeline."""
    return msgspec.structs.replace(
        base,
        seed=base.seed + i,
        home_lat=base.home_lat + (i - 1) * 1.2 * _KM_LAT if i else base.home_lat,
        home_lon=base.home_lon + (1.2 * _KM_LAT if i else 0.0),
        units=base.units if i else 0,
        teams=base.teams if i else [],
        drones=base.drones if whole else False,
        feeds=base.feeds if whole else [],
        timeline=base.timeline if whole else [],
        gcs_udp_port=base.gcs_udp_port if whole else 0,
    )


def _toml(sections: dict[str, dict[str, object]]) -> str:
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        for key, value in values.items():
            lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, str):
        return msgspec.json.encode(value).decode()  # a JSON string is a valid TOML basic string
    return repr(value)


def write_files(node: SimNode, root: Path) -> tuple[Path, Path]:
    """The node's configuration and scenario files."""
    folder = root / node.name
    folder.mkdir(parents=True, exist_ok=True)
    config: dict[str, dict[str, object]] = {
        "node": {
            "id": node.name,
            "name": f"{'指挥所 Command post' if node.role == 'command-post' else '前方 Field kit'} {node.name}",
            "role": node.role,
            "lat": node.scenario.home_lat,
            "lon": node.scenario.home_lon,
            "data_dir": str(folder / "data"),
        },
        "api": {"host": "127.0.0.1", "port": node.http_port},
        "radio": {"system": f"pdt-{node.name}"},
        "mesh": {
            "listen": [f"tcp/127.0.0.1:{node.zenoh_port}"],
            "connect": node.connect,
            "gossip": False,
            "lease_s": 4.0,
        },
    }
    config_path, scenario_path = folder / "kit.toml", folder / "scenario.toml"
    config_path.write_text(_toml(config), encoding="utf-8")
    scenario = {k: v for k, v in msgspec.to_builtins(node.scenario).items() if v is not None}
    scenario_path.write_text("\n".join(f"{k} = {_value(v)}" for k, v in scenario.items()) + "\n", encoding="utf-8")
    return config_path, scenario_path


class MeshSim:
    """Runs the nodes and proxies, and the partition timeline."""

    def __init__(
        self,
        count: int,
        base: Scenario,
        *,
        base_port: int,
        http_port: int,
        speedup: float,
        log_level: str,
        root: Path,
    ) -> None:
        if count < 2:
            raise ValueError("a simulated mesh needs at least 2 nodes")
        self.nodes = plan(count, base, base_port, http_port)
        self.links: list[Link] = []
        self._base_port = base_port
        self._speedup = speedup
        self._log_level = log_level
        self._root = root
        self._wire()

    def _wire(self) -> None:
        by_name = {n.name: n for n in self.nodes}
        pairs = [(n.name, "hub") for n in self.nodes[1:]]
        pairs += [(self.nodes[i].name, self.nodes[i - 1].name) for i in range(2, len(self.nodes))]
        for j, (dialer, listener) in enumerate(pairs):
            proxy = LinkProxy(by_name[listener].zenoh_port, port=self._base_port + 100 + j)
            self.links.append(Link(dialer, listener, proxy))
            by_name[dialer].connect.append(proxy.endpoint)

    def link(self, a: str, b: str) -> Link:
        """The link between nodes ``a`` and ``b``."""
        for link in self.links:
            if {link.dialer, link.listener} == {a, b}:
                return link
        raise KeyError(f"no link between {a} and {b}")

    async def start(self) -> None:
        """Start the proxies and every node; wait until each serves."""
        for link in self.links:
            await link.proxy.start()
        for node in self.nodes:
            self._spawn(node)
        for node in self.nodes:
            await asyncio.to_thread(node.serving.wait, START_TIMEOUT_S)
            if not node.token:
                raise RuntimeError(f"{node.name} did not start within {START_TIMEOUT_S:g} s")

    def _spawn(self, node: SimNode) -> None:
        config_path, scenario_path = write_files(node, self._root)
        here = Path(__file__).resolve().parents[1]  # children run the same fieldkit as this process
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(here)}
        command = [sys.executable, "-m", "edge.cli", "--log-level", self._log_level, "sim"]
        command += ["--config", str(config_path), "--scenario", str(scenario_path), "--no-browser-hint"]
        command += ["--speedup", str(self._speedup)]
        # Our own interpreter and module, with arguments this module wrote: nothing from outside.
        node.proc = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        threading.Thread(target=self._read, args=(node,), name=f"sim-{node.name}-out", daemon=True).start()

    @staticmethod
    def _read(node: SimNode) -> None:
        assert node.proc is not None and node.proc.stdout is not None
        for line in node.proc.stdout:
            if match := re.search(r"serving (http://\S+/)", line):
                node.url = match.group(1)
            elif match := re.search(r"session token (\S+)", line):
                node.token = match.group(1)
                node.serving.set()
            else:
                sys.stdout.write(f"[{node.name}] {line}")
                sys.stdout.flush()
        node.serving.set()  # it exited: stop waiting for it

    async def partition(self, a: str, b: str, at_s: float, for_s: float) -> None:
        """Cut the link ``a`` <-> ``b`` after ``at_s`` seconds for ``for_s`` seconds, then heal it."""
        link = self.link(a, b)
        await asyncio.sleep(at_s)
        link.proxy.blackhole()
        print(f"fieldkit: t={at_s:g} s: link {a} <-> {b} cut (a dead radio) for {for_s:g} s", flush=True)
        await asyncio.sleep(for_s)
        link.proxy.heal()
        print(f"fieldkit: t={at_s + for_s:g} s: link {a} <-> {b} healed", flush=True)

    async def aclose(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL) and the proxies; safe to call twice."""
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.proc is None:
                continue
            try:
                await asyncio.to_thread(node.proc.wait, STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %g s; killing it", node.name, STOP_TIMEOUT_S)
                node.proc.kill()
                await asyncio.to_thread(node.proc.wait)
        for link in self.links:
            await link.proxy.aclose()


def scenario_cuts(base: Scenario, sim: MeshSim, speedup: float) -> list[tuple[str, str, float, float]]:
    """The scenario's ``link_cut`` entries as (node, node, at_s, for_s) in real seconds.

    The scenario's command-post kit is the hub and its other kits are edge1, edge2, ... in order; a cut
    between kits that have no node, or no link between their nodes, is left out (said once).
    """
    command_posts = [k.id for k in base.kits if k.role == "command-post"][:1]
    others = [k.id for k in base.kits if k.id not in command_posts]
    names = dict(zip(command_posts, ["hub"], strict=False)) | {
        kit: node.name for kit, node in zip(others, sim.nodes[1:], strict=False)
    }
    cuts = []
    for entry in base.timeline:
        if entry.event != "link_cut" or len(entry.kits) != 2:
            continue
        a, b = (names.get(k) for k in entry.kits)
        try:
            if a is None or b is None:
                raise KeyError(entry.kits)
            sim.link(a, b)
        except KeyError:
            print(f"fieldkit: the scenario's link cut {entry.kits[0]} <-> {entry.kits[1]} has no simulated link here",
                  flush=True)
            continue
        cuts.append((a, b, entry.at_s / speedup, (entry.duration_s or 60.0) / speedup))
    return cuts


async def run(
    count: int,
    base: Scenario,
    *,
    base_port: int = 7447,
    http_port: int = 8080,
    speedup: float = 1.0,
    partition_at_s: float = 60.0,
    partition_for_s: float = 60.0,
    duration_s: float | None = None,
    hint: bool = True,
    log_level: str = "info",
) -> int:
    """Run the simulated mesh until ``duration_s`` passes or SIGINT/SIGTERM; prints each node's URL."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    root = Path(tempfile.mkdtemp(prefix="fieldkit-mesh-sim-"))
    sim = MeshSim(
        count, base, base_port=base_port, http_port=http_port, speedup=speedup, log_level=log_level, root=root
    )
    try:
        await sim.start()
        for node in sim.nodes:
            url = f"{node.url}#token={node.token}" if hint else f"{node.url} (session token {node.token})"
            role = "command post" if node.role == "command-post" else "field kit"
            print(f"fieldkit: {node.name} ({role}) at {url}", flush=True)
        for link in sim.links:
            print(f"fieldkit: link {link.dialer} -> {link.listener} through {link.proxy.endpoint}", flush=True)
        cuts = scenario_cuts(base, sim, speedup) or [("edge1", "hub", partition_at_s, partition_for_s)]
        timeline = [loop.create_task(sim.partition(a, b, at_s, for_s)) for a, b, at_s, for_s in cuts]
        if duration_s is not None:
            loop.call_later(duration_s, stop.set)
        await stop.wait()
        for task in timeline:
            task.cancel()
        await asyncio.gather(*timeline, return_exceptions=True)
    finally:
        await sim.aclose()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print(f"fieldkit: mesh sim stopped (journals kept in {root})", flush=True)
    return 0
