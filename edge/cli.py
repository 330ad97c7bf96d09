"""The `fieldkit` command: run a node, run a simulated incident, manage tokens, check configuration."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from edge import __version__
from edge.auth import Role, TokenStore, parse_duration
from edge.config import Config, ConfigError, load, markdown
from edge.deploy import commands as deploy_commands
from edge.deploy.journal_log import JournalFormatter
from edge.journal import JournalError
from edge.node import EdgeNode
from edge.radio import RadioError
from edge.radio.codecs import codec_factory
from edge.radio.rawlog import replay
from edge.supervisor import Component

if TYPE_CHECKING:
    from sim import Scenario

log = logging.getLogger("fieldkit")

SWITCH_INTERVAL_S = 0.0005  # the GIL switch interval of a running node (see _run_node)


def _add_sim_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`fieldkit sim` and `fieldkit scenario`."""
    sim = sub.add_parser("sim", help="run a simulated incident on a local node and print its URL")
    sim.add_argument("--scenario", help="a shipped scenario's name or a scenario TOML (default: city-highrise-fire)")
    sim.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    sim.add_argument("--no-browser-hint", action="store_true", help="do not print the page URL hint")
    sim.add_argument("--config", type=Path, help="node configuration (default: a fresh data folder)")
    sim.add_argument("--port", type=int, help="HTTP port (overrides the configuration)")
    sim.add_argument("--speedup", type=float, default=1.0, help="simulated seconds per real second")
    sim.add_argument("--nodes", type=int, default=1, help="a command post and NODES-1 kits as processes on a mesh")
    sim.add_argument("--base-port", type=int, default=7447, help="--nodes: first Zenoh port (proxies at +100)")
    sim.add_argument(
        "--partition-at",
        type=float,
        default=60.0,
        help="--nodes: cut edge1 <-> hub after this (s), unless the scenario has link cuts",
    )
    sim.add_argument("--partition-for", type=float, default=60.0, help="--nodes: heal the cut after this long (s)")

    scen = sub.add_parser("scenario", help="check a scenario file, or list the shipped scenarios")
    ssub = scen.add_subparsers(dest="scenario_command", required=True)
    schk = ssub.add_parser("check", help="report every problem in a scenario (a file or a shipped name)")
    schk.add_argument("file")
    ssub.add_parser("list", help="list the shipped scenarios")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fieldkit", description="Emergency comms and drone operations at the edge.")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run this kit's edge node")
    run.add_argument("--config", type=Path, help="TOML configuration (defaults for everything not given)")

    _add_sim_commands(sub)

    token = sub.add_parser("token", help="create, list or revoke API tokens")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="create a token (printed once)")
    create.add_argument("--role", required=True, choices=[r.name.lower() for r in Role])
    create.add_argument("--label", default="", help="who holds it (shown in acks and the audit log)")
    create.add_argument("--expires", help="lifetime, e.g. 90m, 8h, 7d (default: until revoked)")
    create.add_argument("--config", type=Path)
    lst = tsub.add_parser("list", help="list tokens (ids, roles, labels; never secrets)")
    lst.add_argument("--config", type=Path)
    revoke = tsub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    revoke.add_argument("--config", type=Path)

    cfg = sub.add_parser("config", help="check a configuration, or print the reference")
    csub = cfg.add_subparsers(dest="config_command", required=True)
    chk = csub.add_parser("check", help="report every problem in a configuration file")
    chk.add_argument("file", type=Path)
    csub.add_parser("doc", help="print the configuration reference (Markdown)")

    radio = sub.add_parser("radio", help="radio gateway tools")
    rsub = radio.add_subparsers(dest="radio_command", required=True)
    rep = rsub.add_parser("replay", help="decode a raw gateway log (radio.raw_log) and print its events as JSON lines")
    rep.add_argument("file", type=Path)
    rep.add_argument("--framing", choices=["nmea", "hytera", "binary", "mototrbo"], help="default: the configuration's")
    rep.add_argument("--config", type=Path, help="configuration whose [radio] section describes the framing")

    exp = sub.add_parser("export", help="write the picture (and tracks) from the journal as GeoJSON or KML")
    exp.add_argument("--format", choices=["geojson", "kml"], default="geojson")
    exp.add_argument("--at", type=float, help="the picture at this time (seconds since the epoch; default: now)")
    exp.add_argument("--tracks-since", type=float, help="include tracks from this time")
    exp.add_argument("--tracks-until", type=float, help="include tracks up to this time (default: --at)")
    exp.add_argument("--config", type=Path, help="the node's configuration (where its journal is)")
    exp.add_argument("-o", "--output", type=Path, help="output file (default: standard output)")

    deploy_commands.add_commands(sub)  # certs, doctor, service
    sub.add_parser("version", help="print the version")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fieldkit` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if os.environ.get("FIELDKIT_LOG_FORMAT") == "journal":  # set by the systemd unit (edge/deploy/service.py)
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JournalFormatter())
    try:
        if args.command == "version":
            print(f"fieldkit {__version__}")
            return 0
        if args.command == "config":
            return _config(args)
        if args.command == "token":
            return _token(args)
        if args.command == "radio":
            return _radio_replay(args)
        if args.command == "export":
            return _export(args)
        if args.command == "run":
            return _run_node(load(args.config))
        if args.command == "sim":
            return _sim(args)
        if args.command == "scenario":
            return _scenario(args)
        if args.command in deploy_commands.COMMANDS:
            return deploy_commands.run(args)
    except ConfigError as exc:
        print(f"fieldkit: configuration {exc.source} has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except JournalError as exc:
        print(f"fieldkit: {exc}", file=sys.stderr)
        return 3
    except RadioError as exc:  # e.g. an unreadable roster: a configuration problem found at startup
        print(f"fieldkit: {exc}", file=sys.stderr)
        return 2
    return 2


def _config(args: argparse.Namespace) -> int:
    if args.config_command == "doc":
        sys.stdout.write(markdown())
        return 0
    config = load(args.file)
    print(f"{args.file}: OK (node {config.node.id}, serving {config.api.host}:{config.api.port})")
    return 0


def _token(args: argparse.Namespace) -> int:
    store = TokenStore(load(args.config).tokens_path)
    if args.token_command == "create":
        role = Role.parse(args.role)
        try:
            ttl_s = parse_duration(args.expires) if args.expires else None
        except ValueError as exc:
            print(f"fieldkit: --expires: {exc}", file=sys.stderr)
            return 2
        token = store.create(role, args.label or f"{role.name.lower()}-token", ttl_s=ttl_s)
        print(token)
        until = f", valid until {_when(time.time() + ttl_s)}" if ttl_s else ""
        print(f"(a {role.name.lower()} token{until}, stored hashed in {store.path}; it is shown only now)",
              file=sys.stderr)
    elif args.token_command == "list":
        now = time.time()
        for t in store.list():
            expiry = "never expires" if t.expires is None else (
                f"expired {_when(t.expires)}" if t.expires <= now else f"expires {_when(t.expires)}")
            print(f"{t.id}  {t.role:<6}  {expiry:<32}  {t.label}")
    elif not store.revoke(args.token_id):
        print(f"fieldkit: no token {args.token_id}", file=sys.stderr)
        return 1
    return 0


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(ts))


def _export(args: argparse.Namespace) -> int:
    from edge.export import geojson, kml, read_journal  # noqa: PLC0415 - only this command needs it

    config = load(args.config)
    at = args.at if args.at is not None else time.time()
    if not config.journal_path.is_file():
        print(f"fieldkit: no journal at {config.journal_path}", file=sys.stderr)
        return 1
    try:
        snapshot, tracks = read_journal(config.journal_path, at, args.tracks_since, args.tracks_until)
    except (ValueError, OSError, sqlite3.Error) as exc:
        print(f"fieldkit: {exc}", file=sys.stderr)
        return 1
    if args.format == "kml":
        body = kml(snapshot, tracks, name=config.node.name or config.node.id)
    else:
        body = msgspec.json.encode(geojson(snapshot, tracks))
    if args.output is None:
        sys.stdout.buffer.write(body)
    else:
        args.output.write_bytes(body)
        print(f"fieldkit: {len(snapshot.entities)} entities, {len(tracks)} tracks -> {args.output}", file=sys.stderr)
    return 0


def _radio_replay(args: argparse.Namespace) -> int:
    radio = load(args.config).radio
    if args.framing:
        radio = msgspec.structs.replace(radio, framing=args.framing)
    codec = codec_factory(radio)()
    encode = msgspec.json.Encoder().encode
    try:
        for ts, chunk in replay(args.file):
            for event in codec.feed(chunk, ts):
                sys.stdout.write(f'{{"at": {ts:.6f}, "type": "{type(event).__name__}", "event": ')
                sys.stdout.write(encode(event).decode() + "}\n")
    except (OSError, ValueError) as exc:
        print(f"fieldkit: {exc}", file=sys.stderr)
        return 1
    drops = {k: v for k, v in codec.drops.counts.items() if v}
    print(f"fieldkit: {codec.frames} frames decoded; dropped: {drops or 'nothing'}", file=sys.stderr)
    return 0


def _scenario(args: argparse.Namespace) -> int:
    from sim.scenario import load_scenario, resolve, shipped  # noqa: PLC0415 - only these commands import sim

    if args.scenario_command == "list":
        for name, path in sorted(shipped().items()):
            print(f"{name:<22} {load_scenario(path).name}")
        return 0
    try:
        path = resolve(args.file)
        s = load_scenario(path)
    except ConfigError as exc:
        print(f"fieldkit: scenario {exc.source} has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    drones = s.fleet()
    print(
        f"{path}: OK ({s.name}: {len(s.teams)} teams, {len(drones)} drones, {len(s.kits)} kits, "
        f"{len(s.timeline)} timeline events)"
    )
    return 0


def _sim(args: argparse.Namespace) -> int:
    from sim import SimClock, build_incident, load_scenario  # noqa: PLC0415 - only `fieldkit sim` may import sim
    from sim.scenario import resolve  # noqa: PLC0415

    scenario = load_scenario(resolve(args.scenario))
    if args.nodes > 1:
        return _mesh_sim(args, scenario)
    if args.log_level == "info":
        # The simulated autopilots narrate every waypoint; keep the command-post URL readable.
        logging.getLogger("sim.sitl").setLevel(logging.WARNING)
    config = load(args.config) if args.config else Config()
    if args.config is None:  # a fresh incident each run, unless told where to keep it
        node = msgspec.structs.replace(
            config.node,
            id="sim-kit",
            name="模拟指挥车 Sim kit",
            lat=scenario.home_lat,
            lon=scenario.home_lon,
            data_dir=tempfile.mkdtemp(prefix="fieldkit-sim-"),
        )
        config = msgspec.structs.replace(config, node=node)
    if args.port is not None:
        config = msgspec.structs.replace(config, api=msgspec.structs.replace(config.api, port=args.port))
    clock = SimClock(args.speedup)
    incident = build_incident(config, scenario, clock, speedup=args.speedup)
    return _run_node(
        incident.config,
        extra=incident.components(),
        clock=clock,
        duration=args.duration,
        hint=not args.no_browser_hint,
        sim=True,
    )


def _mesh_sim(args: argparse.Namespace, scenario: Scenario) -> int:
    from sim import meshsim  # noqa: PLC0415 - only `fieldkit sim` may import sim

    if args.config is not None:
        print("fieldkit: --nodes writes each node's configuration itself; drop --config", file=sys.stderr)
        return 2
    run = meshsim.run(
        args.nodes,
        scenario,
        base_port=args.base_port,
        http_port=args.port if args.port is not None else 8080,
        speedup=args.speedup,
        partition_at_s=args.partition_at,
        partition_for_s=args.partition_for,
        duration_s=args.duration,
        hint=not args.no_browser_hint,
        log_level=args.log_level,
    )
    return asyncio.run(run)


def _run_node(
    config: Config,
    *,
    extra: Sequence[Callable[[EdgeNode], Component]] = (),
    clock: Callable[[], float] = time.time,
    duration: float | None = None,
    hint: bool = True,
    sim: bool = False,
) -> int:
    tokens = TokenStore(config.tokens_path)
    node = EdgeNode(config, tokens=tokens, extra=extra, clock=clock)
    # The node's loop shares the GIL with the WebRTC loop and the media threads. Each time the loop
    # lets go of it for a syscall, another thread may keep it for up to the switch interval; at
    # CPython's 5 ms, ten WebSocket sends could wait 50 ms. 0.5 ms bounds that wait (README).
    sys.setswitchinterval(SWITCH_INTERVAL_S)

    async def main() -> None:
        runner = asyncio.create_task(node.run(handle_signals=True))
        ready = asyncio.create_task(node.ready.wait())
        await asyncio.wait([runner, ready], return_when=asyncio.FIRST_COMPLETED)
        if node.ready.is_set():
            _announce(node, tokens, sim=sim, hint=hint)
            if duration is not None:
                asyncio.get_running_loop().call_later(duration, node.stop)
        ready.cancel()
        await runner

    asyncio.run(main())
    return 0


def _announce(node: EdgeNode, tokens: TokenStore, *, sim: bool, hint: bool) -> None:
    print(f"fieldkit: node {node.node_id} serving {node.api_url}", flush=True)
    if sim:
        # A session token held in memory only: the URL fragment never reaches the server or its logs.
        token = tokens.create(Role.PILOT, "sim operator", persist=False)
        if hint:
            print(f"fieldkit: open the command post at {node.api_url}#token={token}", flush=True)
        else:
            print(f"fieldkit: session token {token}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
