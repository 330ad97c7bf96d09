"""Command line: serve simulated ArduCopters until interrupted.

    python -m sim.sitl --port 14550 --sysid 1 --speedup 1 [--tethered]
    python -m sim.sitl --out 127.0.0.1:14550          # send to a mavutil udp: listener (MAVProxy, dronekit)
    python -m sim.sitl --tcp 5760 --vehicles 3         # sysids 1, 2, 3 on one TCP port
    python -m sim.sitl --tcp 5760 --vehicles 3 --own-ports   # sysid 1 on 5760, 2 on 5761, 3 on 5762
    python -m sim.sitl --fleet --tcp 5760              # the incident fleet, flying by itself

Prints one line ``SITL ready udp=HOST:PORT[,HOST:PORT...] tcp=...`` (``-`` for none) once the
sockets are bound, one address per endpoint; port 0 picks a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from sim.clock import SimClock

from . import geo
from .endpoint import Address, SitlEndpoint
from .fleet import FleetPilot, incident_fleet
from .tether import TetherConfig
from .vehicle import Vehicle, VehicleConfig


def _address(text: str) -> Address:
    host, _, port = text.rpartition(":")
    return (host.removeprefix("udp:") or "127.0.0.1", int(port))


def _param(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    return name.strip().upper(), float(value)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sim.sitl", description="Simulated ArduCopter over MAVLink.")
    p.add_argument("--port", type=int, help="UDP port to serve (answers whoever sends)")
    p.add_argument("--tcp", type=int, help="TCP port to serve")
    p.add_argument("--out", type=_address, action="append", default=[], help="UDP peer to send to, HOST:PORT")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    p.add_argument("--sysid", type=int, default=1, help="first vehicle's MAVLink system id")
    p.add_argument("--vehicles", type=int, default=1, help="vehicles to simulate (consecutive sysids)")
    p.add_argument("--own-ports", action="store_true", help="each vehicle on its own ports (base port + k)")
    p.add_argument(
        "--fleet", action="store_true", help="the incident fleet (2 multirotors, 1 tethered) flying by itself"
    )
    p.add_argument("--speedup", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument("--tethered", action="store_true", help="tethered drones (ground station at home)")
    p.add_argument("--tether-length", type=float, default=100.0, help="tether length in metres")
    p.add_argument("--home", default="36.70,119.16,25", help="LAT,LON,ALT_MSL of home (the incident)")
    p.add_argument("--seed", type=int, default=7, help="random seed (GPS noise)")
    p.add_argument("--gps-lock", type=float, default=2.0, help="seconds to first GPS fix")
    p.add_argument("--param", type=_param, action="append", default=[], help="parameter override NAME=VALUE")
    p.add_argument("--mavlink1", action="store_true", help="send MAVLink 1 instead of 2")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _vehicles(args: argparse.Namespace, now: float) -> list[Vehicle]:
    lat, lon, alt = (float(x) for x in args.home.split(","))
    if args.fleet:
        configs = incident_fleet(
            home_lat_deg=lat, home_lon_deg=lon, home_alt_msl_m=alt, seed=args.seed, speedup=args.speedup,
            first_sysid=args.sysid,
        )  # fmt: skip
        return [Vehicle(c, now) for c in configs]
    tether = TetherConfig(max_length_m=args.tether_length) if args.tethered else None
    vehicles = []
    for k in range(args.vehicles):
        v_lat, v_lon = geo.offset(lat, lon, 0.0, 15.0 * k)  # side by side, 15 m apart
        config = VehicleConfig(
            sysid=args.sysid + k, home_lat_deg=v_lat, home_lon_deg=v_lon, home_alt_msl_m=alt, seed=args.seed,
            tether=tether, gps_lock_s=args.gps_lock, speedup=args.speedup, mavlink1=args.mavlink1,
            params=dict(args.param),
        )  # fmt: skip
        vehicles.append(Vehicle(config, now))
    return vehicles


def _plus(port: int | None, k: int) -> int | None:
    return port + k if port else port  # None stays closed, 0 stays "any free port"


async def _start(args: argparse.Namespace, vehicles: list[Vehicle], clock: SimClock) -> list[SitlEndpoint]:
    udp_port = args.port if args.port is not None else (0 if args.out else None)
    if udp_port is None and args.tcp is None:
        udp_port = 14550
    groups = [[v] for v in vehicles] if args.own_ports else [vehicles]
    endpoints = []
    for k, group in enumerate(groups):
        endpoint = SitlEndpoint(group, clock)
        endpoints.append(endpoint)
        outs = [(host, port + k) for host, port in args.out]
        await endpoint.start(udp_port=_plus(udp_port, k), tcp_port=_plus(args.tcp, k), udp_out=outs, host=args.host)
    return endpoints


def _show(addresses: list[Address | None]) -> str:
    return ",".join(f"{a[0]}:{a[1]}" for a in addresses if a) or "-"


async def _serve(args: argparse.Namespace) -> None:
    clock = SimClock(args.speedup)
    vehicles = _vehicles(args, clock())
    endpoints = await _start(args, vehicles, clock)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pilot = FleetPilot(vehicles) if args.fleet else None
    timer: asyncio.TimerHandle | None = None

    def fly() -> None:
        nonlocal timer
        assert pilot is not None
        pilot.step(clock())
        timer = loop.call_later(1.0, fly)

    if pilot is not None:
        timer = loop.call_later(1.0, fly)
    udp = _show([e.udp_address for e in endpoints])
    tcp = _show([e.tcp_address for e in endpoints])
    print(f"SITL ready udp={udp} tcp={tcp}", flush=True)
    try:
        await stop.wait()
    finally:
        if timer is not None:
            timer.cancel()
        for endpoint in endpoints:
            await endpoint.aclose()


def main(argv: list[str] | None = None) -> int:
    """Run the SITL until SIGINT/SIGTERM."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
