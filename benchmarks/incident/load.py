"""The load process: radios through the simulated PDT gateway and drones over MAVLink/UDP.

``python -m benchmarks.incident.load --folder DIR --units N --drones N --drone-port P`` plugs the
gateway's pseudo-terminal, prints one JSON line (``device``, ``roster``) and runs until its stdin
closes; then it prints what it sent (``fixes``, ``datagrams``) and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path

from sim.scenario import Scenario

from .drones import fly
from .radios import gateway


async def main(args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    gw = gateway(folder, args.units)
    print(json.dumps({"device": str(gw.link_path), "roster": str(folder / "roster.csv")}), flush=True)
    counts: dict[str, int] = {}
    home = (Scenario().home_lat, Scenario().home_lon)
    tasks = [asyncio.create_task(gw.run())]
    if args.drones:
        tasks.append(asyncio.create_task(fly(args.drone_port, args.drones, home, counts, links=args.drone_links)))
    await asyncio.to_thread(sys.stdin.read)  # the harness closes our stdin to stop us
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    print(json.dumps({"fixes": gw.fixes, **counts}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True)
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--drones", type=int, default=50)
    parser.add_argument("--drone-port", type=int, required=True)
    parser.add_argument("--drone-links", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
