"""Foundation benchmarks: scene + journal + one live WebSocket subscriber, and event commits.

Run ``.venv/bin/python benchmarks/scene_journal.py [--quick] [--repeats N] [--write-doc]``. Every
configuration runs ``--repeats`` times on a fresh node in a fresh temporary folder; the report shows
the median and, in brackets, the lowest and highest run, so noise from other work on the machine is
visible. Everything is loopback; every loop is bounded in count and in time; nothing is asserted.

The WebSocket client runs in a separate process (this file with ``--reader``) so that decoding on
the client side does not share the node's event loop or core. See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata
import json
import logging
import math
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import connect

from edge.auth import Role, TokenStore
from edge.config import Config
from edge.journal import Journal
from edge.node import EdgeNode
from edge.scene import Message, Position, Scene, Subscription, Unit, Vehicle

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks.perfdoc from this checkout, however the script is started

from benchmarks.perfdoc import heading, publish  # noqa: E402

SECTION = "## Foundation: scene, journal, live WebSocket"
STOP_ID = "unit:bench:stop"  # the last change of a phase; the reader ends when it sees it
UNITS = 2000
DRONES = 50
YIELD_EVERY = 100  # changes applied between two yields to the loop
MODES = ("FULL", "NORMAL")
CONCURRENCY = (1, 8, 64)
PERCENTILES = ("50", "95", "99", "100")
JOURNAL_CONCURRENCY = (1, 64)

log = logging.getLogger("benchmarks.scene_journal")


@dataclass(frozen=True)
class Plan:
    """How much each phase does; every phase is bounded in count and in seconds."""

    repeats: int
    feed_changes: int
    feed_seconds: float
    rate_per_s: float
    rate_seconds: float
    flush_samples: int
    events: int
    events_seconds: float


FULL_PLAN = Plan(
    repeats=3,
    feed_changes=400_000,
    feed_seconds=8.0,
    rate_per_s=500.0,
    rate_seconds=10.0,
    flush_samples=5,
    events=3000,
    events_seconds=2.0,
)
QUICK_PLAN = Plan(
    repeats=1,
    feed_changes=100_000,
    feed_seconds=3.0,
    rate_per_s=500.0,
    rate_seconds=5.0,
    flush_samples=3,
    events=500,
    events_seconds=0.7,
)


# -- the WebSocket reader (runs in its own process) ----------------------------------------------


async def _read_live(url: str, token: str, timeout_s: float) -> dict[str, Any]:
    """Connect, print ``ready`` after the snapshot, then count deltas until the stop entity."""
    result: dict[str, Any] = {
        "messages": 0,
        "deltas": 0,
        "bench": 0,
        "lat_ms": [],
        "stopped": False,
        "last": None,
        "resyncs": 0,
    }
    deadline = time.monotonic() + timeout_s
    async with connect(url, max_size=None, open_timeout=10, close_timeout=2) as ws:
        await ws.send(json.dumps({"token": token}))
        first = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 10))
        if first.get("type") != "snapshot":
            raise RuntimeError(f"expected a snapshot, got {first.get('type')}")
        print("ready", flush=True)  # the parent waits for this line
        while not result["stopped"] and (left := deadline - time.monotonic()) > 0:
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            _count(result, time.time(), msgspec.json.decode(raw))
    return result


def _count(result: dict[str, Any], now: float, message: dict[str, Any]) -> None:
    """Add one server message to the reader's counts and latencies."""
    result["messages"] += 1
    if message["type"] == "snapshot":
        result["resyncs"] += 1
        return
    for delta in message["data"]:
        result["deltas"] += 1
        value = delta.get("value") or {}
        entity_id = value.get("id", "")
        if entity_id == STOP_ID:
            result["stopped"] = True
            result["last"] = now
        elif entity_id.startswith(("unit:pdt:", "vehicle:")):
            result["bench"] += 1
            result["lat_ms"].append((now - value["ts"]) * 1000.0)


def reader_main(url: str, timeout_s: float) -> None:
    """Entry point of the reader process: the token comes on stdin, the result goes to stdout."""
    token = sys.stdin.readline().strip()
    result = asyncio.run(_read_live(url, token, timeout_s))
    lat = result.pop("lat_ms")
    result["lat_ms"] = {q: pct(lat, float(q)) for q in PERCENTILES}
    print(json.dumps(result), flush=True)  # the parent reads this line


class Reader:
    """The reader subprocess, seen from the benchmark."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, url: str, token: str, timeout_s: float) -> Reader:
        """Start a reader and wait until it holds its snapshot."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--reader",
            url,
            "--reader-timeout",
            str(timeout_s),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        reader = cls(proc)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(token.encode() + b"\n")
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), 20)
            if line.strip() != b"ready":
                raise RuntimeError(f"reader did not start: {line!r}")
        except BaseException:
            await reader.kill()
            raise
        return reader

    async def result(self, timeout_s: float) -> dict[str, Any]:
        """Wait for the reader's counts (it stops on the stop entity or its own deadline)."""
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
            await asyncio.wait_for(self.proc.wait(), 5)
        finally:
            await self.kill()
        return dict(json.loads(line))

    async def kill(self) -> None:
        """End the process if it still runs (safe to call twice)."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


# -- the node under test ------------------------------------------------------------------------


@dataclass
class Running:
    """A node started in this loop, with its live URL and a viewer token."""

    node: EdgeNode
    live_url: str
    token: str

    @property
    def scene(self) -> Scene:
        """The node's scene (started)."""
        assert self.node.scene is not None
        return self.node.scene


@contextlib.asynccontextmanager
async def running_node(tmp: Path, synchronous: str, *, gc_freeze: bool = False) -> AsyncIterator[Running]:
    """Start a node on 127.0.0.1:0 as tests/kit.py's ``start_local`` does; stop it afterwards.

    With ``gc_freeze`` every object alive once the node serves is moved out of the collector's reach
    (``gc.freeze()``), so a full collection scans only what was allocated since.
    """
    config = msgspec.convert(
        {
            "node": {"id": "bench", "data_dir": str(tmp / "data"), "lat": 36.70, "lon": 119.16},
            "api": {"host": "127.0.0.1", "port": 0},
            "journal": {"synchronous": synchronous},  # flush_interval_s stays at its default
        },
        type=Config,
    )
    node = EdgeNode(config, tokens=TokenStore(config.tokens_path))
    task = asyncio.create_task(node.run())
    ready = asyncio.create_task(node.ready.wait())
    try:
        done, _ = await asyncio.wait([task, ready], timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        if ready not in done or node.api_url is None:
            raise RuntimeError("node did not become ready")
        url = node.api_url.replace("http://", "ws://") + "api/live"
        if gc_freeze:
            gc.freeze()
        yield Running(node, url, node.tokens.create(Role.VIEWER, "bench"))
    finally:
        gc.unfreeze()
        ready.cancel()
        node.stop()
        await asyncio.wait_for(task, 10)


class Fleet:
    """Radio units and drones moving around Weifang: the changes fed to the scene."""

    def __init__(self) -> None:
        self._size = UNITS + DRONES

    def change(self, i: int, ts: float) -> Unit | Vehicle:
        """The ``i``-th change: entity ``i % size`` moved a little, stamped ``ts``."""
        k = i % self._size
        step = i // self._size
        pos = Position(lat=36.70 + k * 1e-4 + step * 1e-6, lon=119.16 + step * 1e-6, alt_msl_m=40.0 + k % 7)
        if k < UNITS:
            return Unit(
                id=f"unit:pdt:{10_000 + k}",
                origin="bench",
                ts=ts,
                pos=pos,
                talkgroup="TG-1",
                status="on-scene",
                heading_deg=float(step % 360),
                speed_mps=1.2,
                battery_pct=80.0,
            )
        return Vehicle(
            id=f"vehicle:bench:{k - UNITS + 1}",
            origin="bench",
            ts=ts,
            pos=pos,
            mode="GUIDED",
            armed=True,
            heading_deg=float(step % 360),
            ground_speed_mps=5.0,
            battery_pct=70.0,
            battery_v=22.4,
        )

    def stop(self) -> Unit:
        """The entity that tells the reader a phase is over."""
        return Unit(id=STOP_ID, origin="bench", ts=time.time())


# -- measurements -------------------------------------------------------------------------------


def rss_mib() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MiB."""
    values: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", math.nan), values.get("VmHWM", math.nan)


def pct(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def the_subscription(scene: Scene) -> Subscription | None:
    """The one live subscriber: the scene exposes only a count, so read its private set."""
    subs = list(scene._subscribers)
    return subs[0] if len(subs) == 1 else None


async def wait_unsubscribed(scene: Scene, timeout_s: float = 5.0) -> None:
    """Wait (bounded) until the server has dropped the previous reader's subscription."""
    deadline = time.monotonic() + timeout_s
    while scene.subscribers and time.monotonic() < deadline:  # noqa: ASYNC110 - the scene has no such event
        await asyncio.sleep(0.01)


async def feed_max(scene: Scene, fleet: Fleet, count: int, seconds: float) -> tuple[int, float]:
    """Apply changes as fast as possible, yielding every YIELD_EVERY; returns (applied, seconds)."""
    start = time.perf_counter()
    deadline = start + seconds
    applied = 0
    for i in range(count):
        applied += scene.apply_state(fleet.change(i, time.time()))
        if i % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)
            if time.perf_counter() > deadline:
                break
    return applied, time.perf_counter() - start


async def feed_rate(scene: Scene, fleet: Fleet, rate: float, seconds: float) -> tuple[int, float]:
    """Apply changes at a fixed rate for ``seconds``, each stamped when applied; (applied, seconds)."""
    start = time.perf_counter()
    total = int(rate * seconds)
    applied = 0
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif i % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        applied += scene.apply_state(fleet.change(i, time.time()))
    return applied, time.perf_counter() - start


@dataclass
class Phase:
    """What one feeding phase measured, at the node and at the reader."""

    applied: int = 0
    feed_s: float = 0.0
    delivered: int = 0
    deliver_s: float = 0.0
    messages: int = 0
    coalesced: float = math.nan  # NaN when the subscription could not be found
    resyncs: int = 0
    commits: int = 0
    commit_s: float = 0.0
    lat_ms: dict[str, float] = field(default_factory=dict)  # percentile ("50", "95", "99", "100") -> ms


async def run_phase(
    run: Running, fleet: Fleet, feed: Callable[[], Awaitable[tuple[int, float]]], timeout_s: float
) -> Phase:
    """Start a reader, run ``feed``, end with the stop entity and collect both sides' counts."""
    scene, journal = run.scene, run.node.journal
    await wait_unsubscribed(scene)
    reader = await Reader.start(run.live_url, run.token, timeout_s)
    try:
        sub = the_subscription(scene)
        commits, commit_s = journal.commits, journal.commit_seconds
        wall0 = time.time()
        applied, feed_s = await feed()
        scene.apply_state(fleet.stop())
        seen = await reader.result(timeout_s + 10)
    finally:
        await reader.kill()
    if not seen["stopped"]:
        log.warning("the reader timed out before the end of the phase: its counts are partial")
    return Phase(
        applied=applied,
        feed_s=feed_s,
        delivered=seen["bench"],
        deliver_s=(seen["last"] or time.time()) - wall0,
        messages=seen["messages"],
        coalesced=sub.coalesced if sub is not None else math.nan,
        resyncs=(sub.resyncs if sub is not None else 0) + seen["resyncs"],
        commits=journal.commits - commits,
        commit_s=journal.commit_seconds - commit_s,
        lat_ms=seen["lat_ms"],
    )


async def measure_flush(scene: Scene, fleet: Fleet, samples: int) -> list[float]:
    """Seconds for one full flush (every entity dirty, history on): encode, queue and COMMIT."""
    times: list[float] = []
    for s in range(samples):
        for i in range(UNITS + DRONES):  # dirty every entity, without yielding
            scene.apply_state(fleet.change(10_000_000 + s * (UNITS + DRONES) + i, time.time()))
        start = time.perf_counter()
        written = await scene.flush(history=True)
        times.append(time.perf_counter() - start)
        if written < UNITS + DRONES:
            times.pop()  # the node's own flush task took part of it: not a full flush
    return times


@dataclass
class Appended:
    """Events committed by concurrent appenders."""

    events: int
    seconds: float
    lat_ms: list[float]
    commits: int


async def append_events(
    append: Callable[[Message], Awaitable[object]],
    commits: Callable[[], int],
    concurrency: int,
    plan: Plan,
    tag: str,
) -> Appended:
    """``concurrency`` tasks each awaiting ``append(message)`` until the count or time bound."""
    latencies: list[float] = []
    budget = [plan.events]
    start = time.perf_counter()
    deadline = start + plan.events_seconds
    before = commits()

    async def appender(worker: int) -> None:
        n = 0
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            n += 1
            msg = Message(
                id=f"bench-{tag}-{concurrency}-{worker}-{n}",
                origin="bench",
                ts=time.time(),
                sender="bench",
                to="all",
                text="status report: all teams on scene, no casualties",
            )
            t0 = time.perf_counter()
            await asyncio.wait_for(append(msg), 30)
            latencies.append((time.perf_counter() - t0) * 1000.0)

    async with asyncio.TaskGroup() as group:
        for worker in range(concurrency):
            group.create_task(appender(worker))
    return Appended(len(latencies), time.perf_counter() - start, latencies, commits() - before)


async def journal_alone(tmp: Path, synchronous: str, concurrency: int, plan: Plan) -> Appended:
    """The same appends straight to a Journal (no scene, no node, no API)."""
    path = tmp / f"alone-{synchronous}-{concurrency}.sqlite"
    journal = Journal(path, node_id="bench", synchronous=synchronous)
    await asyncio.to_thread(journal.open)
    try:
        return await append_events(lambda m: journal.append([m]), lambda: journal.commits, concurrency, plan, "j")
    finally:
        await asyncio.to_thread(journal.close)


JOURNAL_TABLES = ("state", "history", "tracks", "events")


@dataclass(frozen=True)
class OnDisk:
    """Size of a closed journal, and rows and bytes (pages of the table and its indexes) per table."""

    mib: float
    rows: dict[str, int]
    bytes: dict[str, int]

    def per_row(self, table: str) -> float:
        """Bytes on disk per row of ``table``, indexes included."""
        return self.bytes[table] / self.rows[table] if self.rows[table] else math.nan


def on_disk(path: Path) -> OnDisk:
    """Read a closed journal's size, row counts and page usage (read-only; SQLite's dbstat)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in JOURNAL_TABLES}
        used = dict.fromkeys(JOURNAL_TABLES, 0)
        for table, size in conn.execute(
            "SELECT m.tbl_name, sum(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name"
        ):
            if table in used:
                used[table] = size
    finally:
        conn.close()
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return OnDisk(size / 2**20, rows, used)


# -- one repeat ---------------------------------------------------------------------------------


@dataclass
class Repeat:
    """Everything one repeat of one synchronous mode measured."""

    mode: str
    feed: Phase
    rate: Phase
    flush_s: list[float]
    events: dict[int, Appended]
    alone: dict[int, Appended]
    rss_mib: float
    disk: OnDisk


async def run_repeat(mode: str, plan: Plan, gc_freeze: bool) -> Repeat:
    """A fresh node: saturation feed, fixed-rate feed, flush, event commits; then the journal alone."""
    with tempfile.TemporaryDirectory(prefix="fk-bench-") as tmp:
        fleet = Fleet()
        async with running_node(Path(tmp), mode, gc_freeze=gc_freeze) as run:
            scene = run.scene
            feed = await run_phase(
                run, fleet, lambda: feed_max(scene, fleet, plan.feed_changes, plan.feed_seconds), plan.feed_seconds + 30
            )
            rate = await run_phase(
                run, fleet, lambda: feed_rate(scene, fleet, plan.rate_per_s, plan.rate_seconds), plan.rate_seconds + 30
            )
            await wait_unsubscribed(scene)
            flush_s = await measure_flush(scene, fleet, plan.flush_samples)
            events = {
                c: await append_events(scene.append, lambda: run.node.journal.commits, c, plan, mode)
                for c in CONCURRENCY
            }
            rss = rss_mib()[0]
            path = run.node.journal.path
        disk = on_disk(path)
        alone = {c: await journal_alone(Path(tmp), mode, c, plan) for c in JOURNAL_CONCURRENCY}
    return Repeat(mode, feed, rate, flush_s, events, alone, rss, disk)


# -- report -------------------------------------------------------------------------------------


def spread(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    """Median of the repeats, with the lowest and highest in brackets when they differ."""
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return "n/a"
    text = fmt.format(statistics.median(clean))
    low, high = fmt.format(min(clean)), fmt.format(max(clean))
    return text if low == high else f"{text} ({low}-{high})"


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _by_mode(runs: list[Repeat]) -> list[tuple[str, list[Repeat]]]:
    return [(m, rs) for m in MODES if (rs := [r for r in runs if r.mode == m])]


def feed_table(runs: list[Repeat]) -> list[str]:
    """Changes applied and delivered at saturation, coalescing, and the journal's flush commits."""
    lines = [
        _row(
            [
                "journal.synchronous",
                "applied changes/s",
                "delivered deltas/s",
                "coalesced",
                "WS messages",
                "resyncs",
                "flush commits",
                "commit ms (mean)",
                "full flush ms",
            ]
        ),
        _row(["---"] * 9),
    ]
    for mode, rs in _by_mode(runs):
        p = [r.feed for r in rs]
        lines.append(
            _row(
                [
                    mode,
                    spread([_ratio(x.applied, x.feed_s) for x in p]),
                    spread([_ratio(x.delivered, x.deliver_s) for x in p]),
                    spread([_ratio(100.0 * x.coalesced, x.applied) for x in p], "{:.1f} %"),
                    spread([float(x.messages) for x in p]),
                    spread([float(x.resyncs) for x in p]),
                    spread([float(x.commits) for x in p]),
                    spread([_ratio(1000 * x.commit_s, x.commits) for x in p], "{:.1f}"),
                    spread([statistics.median(r.flush_s) * 1000 if r.flush_s else math.nan for r in rs], "{:.1f}"),
                ]
            )
        )
    return lines


def latency_table(runs: list[Repeat], plan: Plan) -> list[str]:
    """apply_state -> delta decoded at the reader, at a fixed rate (and at saturation, for contrast)."""
    lines = [
        _row(["journal.synchronous", "load", "delivered", "p50 ms", "p95 ms", "p99 ms", "max ms"]),
        _row(["---"] * 7),
    ]
    fixed = f"{plan.rate_per_s:.0f}/s for {plan.rate_seconds:.0f} s"
    for mode, rs in _by_mode(runs):
        for label, phases in ((fixed, [r.rate for r in rs]), ("saturation", [r.feed for r in rs])):
            lines.append(
                _row(
                    [
                        mode,
                        label,
                        spread([_ratio(100.0 * x.delivered, x.applied) for x in phases], "{:.1f} %"),
                        *(spread([x.lat_ms.get(q, math.nan) for x in phases], "{:.1f}") for q in PERCENTILES),
                    ]
                )
            )
    return lines


def events_table(runs: list[Repeat]) -> list[str]:
    """Event commits through the scene (and straight into the journal) by concurrency."""
    lines = [
        _row(["path", "journal.synchronous", "appenders", "events/s", "events per commit", "p50 ms", "p99 ms"]),
        _row(["---"] * 7),
    ]
    paths: tuple[tuple[str, Callable[[Repeat], dict[int, Appended]], tuple[int, ...]], ...] = (
        ("scene.append", lambda r: r.events, CONCURRENCY),
        ("Journal.append", lambda r: r.alone, JOURNAL_CONCURRENCY),
    )
    for path, pick, levels in paths:
        for mode, rs in _by_mode(runs):
            for c in levels:
                xs = [pick(r)[c] for r in rs]
                lines.append(
                    _row(
                        [
                            path,
                            mode,
                            str(c),
                            spread([_ratio(x.events, x.seconds) for x in xs]),
                            spread([_ratio(x.events, x.commits) for x in xs], "{:.1f}"),
                            spread([pct(x.lat_ms, 50) for x in xs], "{:.2f}"),
                            spread([pct(x.lat_ms, 99) for x in xs], "{:.2f}"),
                        ]
                    )
                )
    return lines


def disk_table(runs: list[Repeat]) -> list[str]:
    """The journal file after one repeat: size, and rows and bytes per row of each table (medians)."""
    lines = [
        _row(["journal.synchronous", "file MiB", *(f"{t}: rows, B/row" for t in JOURNAL_TABLES)]),
        _row(["---"] * (2 + len(JOURNAL_TABLES))),
    ]
    for mode, rs in _by_mode(runs):
        lines.append(
            _row(
                [
                    mode,
                    f"{statistics.median(r.disk.mib for r in rs):.1f}",
                    *(
                        f"{statistics.median(r.disk.rows[t] for r in rs):,.0f}, "
                        f"{statistics.median(r.disk.per_row(t) for r in rs):.0f}"
                        for t in JOURNAL_TABLES
                    ),
                ]
            )
        )
    return lines


def growth(runs: list[Repeat]) -> str:
    """Projected journal growth per day if every entity moves all the time, from measured bytes per row."""
    track_b = statistics.median(r.disk.per_row("tracks") for r in runs)
    hist_b = statistics.median(r.disk.per_row("history") for r in runs)
    day = 86_400 * (UNITS + DRONES)
    tracks_gib = track_b * day / 1.0 / 2**30  # one point per entity per track_interval_s (1 s default)
    hist_gib = hist_b * day / 10.0 / 2**30  # one row per changed entity per history_interval_s (10 s)
    return (
        f"At the measured bytes per row, {UNITS + DRONES:,} entities that all move all the time would "
        f"grow the journal by about {tracks_gib:.1f} GiB/day of tracks (one point per entity per second, "
        f"the default `track_interval_s`) and {hist_gib:.1f} GiB/day of history (one row per changed "
        "entity every 10 s, the default `history_interval_s`); `journal.retain_days` (default 7) bounds both "
        "by pruning hourly."
    )


def versions() -> tuple[str, str]:
    """The versions beside the machine's that these numbers depend on."""
    return f"SQLite {sqlite3.sqlite_version}", f"websockets {importlib.metadata.version('websockets')}"


def report(runs: list[Repeat], plan: Plan, memory: tuple[float, float, float]) -> list[str]:
    """The Markdown section: setup, the tables and memory."""
    before, after, peak = memory
    holding = max(r.rss_mib for r in runs)
    return [
        *heading(SECTION, *versions()),
        f"Each configuration ran {plan.repeats} time(s), each on a fresh node in a fresh temporary folder "
        "(interleaving FULL and NORMAL); cells show the median and (lowest-highest) of the runs.",
        "",
        f"### Changes through scene, journal and one WebSocket subscriber ({UNITS:,} units, {DRONES} drones)",
        "",
        f"Up to {plan.feed_changes:,} changes (at most {plan.feed_seconds:g} s) applied with "
        f"`scene.apply_state` as fast as the loop allows, yielding every {YIELD_EVERY}; the rate includes "
        "building each change. "
        "The WebSocket reader is a separate process (the server side, JSON encoding and permessage-deflate "
        "run on the node's loop). *delivered* counts deltas decoded by the reader until the last one "
        "arrived; *coalesced* is the share of applied values replaced before delivery "
        "(`Subscription.coalesced`). *flush commits* are the node's own `journal-flush` (every 2 s, the "
        "default) during this phase, timed BEGIN to COMMIT on the writer thread (`Journal.commit_seconds`); "
        f"*full flush* is one `scene.flush(history=True)` with all {UNITS + DRONES:,} entities dirty, timed "
        "on the loop (encode, queue, commit, wake-up; median of "
        f"{plan.flush_samples}).",
        "",
        *feed_table(runs),
        "",
        "### Latency: `apply_state` to the delta decoded by the WebSocket client",
        "",
        "Each change carries its wall-clock `ts`; the reader subtracts it on arrival (one machine, one "
        "clock). The saturation rows are the phase above, where deltas queue behind each other.",
        "",
        *latency_table(runs, plan),
        "",
        "### Event commits",
        "",
        "Each `await` resolves after COMMIT; the journal's writer thread merges whatever is waiting into one "
        f"transaction (group commit). At most {plan.events:,} events or {plan.events_seconds:g} s per row; "
        "no WebSocket subscriber attached. `Journal.append` is the journal alone (no node, no scene).",
        "",
        *events_table(runs),
        "",
        "### Journal on disk after one run (all phases above)",
        "",
        *disk_table(runs),
        "",
        growth(runs),
        "",
        f"Memory (VmRSS of the benchmark process, which hosts the node): {before:.0f} MiB before the first "
        f"node, {holding:.0f} MiB at most while a node held the {UNITS + DRONES:,} entities, {after:.0f} MiB "
        f"after the last node stopped; peak (VmHWM) {peak:.0f} MiB.",
    ]


# -- main ---------------------------------------------------------------------------------------


async def run_all(plan: Plan, modes: Sequence[str], gc_freeze: bool) -> tuple[list[Repeat], tuple[float, float, float]]:
    """Every repeat of every mode, interleaved so that slow moments of the machine hit both."""
    before = rss_mib()[0]
    runs: list[Repeat] = []
    for _ in range(plan.repeats):
        for mode in modes:
            runs.append(await run_repeat(mode, plan, gc_freeze))
    after, peak = rss_mib()
    return runs, (before, after, peak)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run the benchmark (or the reader), print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller, single-repeat run (~30 s)")
    parser.add_argument("--repeats", type=int, help="override the number of repeats")
    parser.add_argument("--write-doc", action="store_true", help="replace the section in docs/PERFORMANCE.md")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="call gc.freeze() once each node serves (to compare collector pauses)"
    )
    parser.add_argument("--reader", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--reader-timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reader:
        reader_main(args.reader, args.reader_timeout)
        return
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    if args.repeats:
        plan = Plan(**{**plan.__dict__, "repeats": max(1, args.repeats)})
    runs, memory = asyncio.run(run_all(plan, MODES, args.gc_freeze))
    publish(report(runs, plan, memory), write=args.write_doc)  # the report is this script's output


if __name__ == "__main__":
    main()
