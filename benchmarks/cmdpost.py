"""Command-post costs: geofence checks, timeline scrubs (replay from the journal) and the incident log.

Run ``.venv/bin/python benchmarks/cmdpost.py [--units N] [--minutes M] [--repeats R] [--write-doc]``.

- geofence: ``FenceBook.observe`` for ``--units`` units moving among 10 polygon zones (12 corners)
  and 5 circles, positions/s; and ``path_crosses`` for go-to paths against the same zones, checks/s;
- replay: a journal holding ``--units`` units for ``--minutes`` minutes (a replay row every 10 s, a
  track point every second, as the defaults keep them), then ``Journal.picture_at`` at random times:
  the cost of one timeline scrub or playback step (milliseconds, median and 95th percentile);
- log: 10,000 journaled events turned into log lines and CSV (``/api/log.csv``), milliseconds.

Each measurement is repeated ``--repeats`` times and shown as the median (lowest-highest). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from edge.incidentlog import entry, to_csv
from edge.journal import Journal
from edge.scene import Audit, Marker, Message, Position, Shape, TrackPoint, Unit
from edge.scene.geofence import FenceBook, path_crosses

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks.perfdoc from this checkout, however the script is started

from benchmarks.perfdoc import heading, publish  # noqa: E402

TITLE = "## Command post: geofences, timeline scrubs, incident log"

LAT, LON = 36.70, 119.16
T0 = 1_790_000_000.0


def zones(rnd: random.Random) -> list[Marker]:
    out = []
    for i in range(10):
        clat, clon = LAT + rnd.uniform(-0.02, 0.02), LON + rnd.uniform(-0.02, 0.02)
        corners = [
            (clat + 0.003 * math.sin(a), clon + 0.004 * math.cos(a)) for a in (k * math.pi / 6 for k in range(12))
        ]
        out.append(Marker(id=f"marker:b:p{i}", origin="b", ts=1, shape=Shape.POLYGON, points=corners, fence_entry=True))
    for i in range(5):
        centre = (LAT + rnd.uniform(-0.02, 0.02), LON + rnd.uniform(-0.02, 0.02))
        out.append(
            Marker(
                id=f"marker:b:c{i}",
                origin="b",
                ts=1,
                shape=Shape.CIRCLE,
                points=[centre],
                radius_m=300,
                fence_exit=True,
            )
        )
    return out


def spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def bench_fences(units: int, rnd: random.Random) -> tuple[float, float]:
    book = FenceBook()
    fences = zones(rnd)
    for fence in fences:
        book.put_fence(fence)
    moves = [
        Unit(
            id=f"unit:pdt:{i % units}",
            origin="b",
            ts=T0 + i,
            pos=Position(lat=LAT + rnd.uniform(-0.03, 0.03), lon=LON + rnd.uniform(-0.03, 0.03)),
        )
        for i in range(units * 20)
    ]
    start = time.perf_counter()
    for unit in moves:
        book.observe(unit)
    observed = len(moves) / (time.perf_counter() - start)
    paths = [
        (
            (LAT + rnd.uniform(-0.03, 0.03), LON + rnd.uniform(-0.03, 0.03)),
            (LAT + rnd.uniform(-0.03, 0.03), LON + rnd.uniform(-0.03, 0.03)),
        )
        for _ in range(2000)
    ]
    start = time.perf_counter()
    for a, b in paths:
        for fence in fences:
            path_crosses(fence, a, b)
    checks = len(paths) * len(fences) / (time.perf_counter() - start)
    return observed, checks


async def fill_journal(journal: Journal, units: int, minutes: int, rnd: random.Random) -> None:
    pos = {i: [LAT + rnd.uniform(-0.02, 0.02), LON + rnd.uniform(-0.02, 0.02)] for i in range(units)}
    for second in range(minutes * 60):
        ts = T0 + second
        tracks, states = [], []
        for i, p in pos.items():
            p[0] += rnd.uniform(-2e-5, 2e-5)
            p[1] += rnd.uniform(-2e-5, 2e-5)
            tracks.append((f"unit:pdt:{i}", TrackPoint(ts, p[0], p[1], None)))
            if second % 10 == 0:
                states.append(
                    Unit(id=f"unit:pdt:{i}", origin="b", ts=ts, name=f"U{i}", pos=Position(lat=p[0], lon=p[1]))
                )
        await journal.write_state(states, history_rows=states, tracks=tracks)


async def bench_replay(
    units: int, minutes: int, repeats: int, rnd: random.Random
) -> tuple[list[float], list[float], int]:
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "j.sqlite", node_id="b", synchronous="NORMAL")
        journal.open()
        try:
            await fill_journal(journal, units, minutes, rnd)
            size = (Path(tmp) / "j.sqlite").stat().st_size + (Path(tmp) / "j.sqlite-wal").stat().st_size
            medians, p95s = [], []
            for _ in range(repeats):
                times = []
                for _ in range(50):
                    at = T0 + rnd.uniform(0, minutes * 60)
                    start = time.perf_counter()
                    snap = await journal.picture_at(at)
                    times.append((time.perf_counter() - start) * 1000)
                    assert len(snap.entities) == units
                times.sort()
                medians.append(statistics.median(times))
                p95s.append(times[int(len(times) * 0.95) - 1])
        finally:
            journal.close()
    return medians, p95s, size


def bench_log(rnd: random.Random) -> float:
    events = [
        Message(id=f"m{i}", origin="b", ts=T0 + i, sender="unit:pdt:1", text="到达位置 in position " * 3)
        if i % 2
        else Audit(id=f"a{i}", origin="b", ts=T0 + i, actor="pilot", action="drone goto", result="accepted")
        for i in range(10_000)
    ]
    start = time.perf_counter()
    to_csv(entry(e, lambda _: None) for e in events)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-doc", action="store_true", help="replace its section in docs/PERFORMANCE.md")
    args = parser.parse_args()
    rnd = random.Random(7)
    fences = [bench_fences(args.units, rnd) for _ in range(args.repeats)]
    medians, p95s, size = asyncio.run(bench_replay(args.units, args.minutes, args.repeats, rnd))
    logs = [bench_log(rnd) for _ in range(args.repeats)]
    lines = [
        *heading(TITLE),
        f"{args.units} units, 15 zones, a {args.minutes}-minute journal with the default replay row every 10 s and "
        f"track point every second; {args.repeats} repeat(s).",
        "",
        "| measurement | median (lowest-highest) |",
        "|---|---|",
        f"| geofence: positions checked/s (15 zones) | {spread([f[0] for f in fences])} |",
        f"| geofence: go-to paths x zones checked/s | {spread([f[1] for f in fences])} |",
        f"| replay: one scrub, {args.units} units, {args.minutes} min journal ({size / 1e6:.0f} MB), median ms "
        f"| {spread(medians, '{:.1f}')} |",
        f"| replay: one scrub, 95th percentile ms | {spread(p95s, '{:.1f}')} |",
        f"| log: 10,000 events to log lines and CSV, ms | {spread(logs, '{:.0f}')} |",
        "",
        "Reading: the geofence watch costs the inverse of its rate per position, so compare it with the units'",
        "report rate (hundreds of units every second is a few hundred positions/s). A scrub (or a playback step,",
        "four per second) reads one history row and one track point per entity by index, so its cost follows",
        "the number of entities, not the incident's length.",
    ]
    publish(lines, write=args.write_doc)


if __name__ == "__main__":
    main()
