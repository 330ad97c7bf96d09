"""Hytera HRNP + HDAP decode throughput: MB/s and events/s through ``HyteraCodec.feed``.

Run ``.venv/bin/python benchmarks/radio_hytera.py [--seconds S] [--units N] [--chunk BYTES] [--write-doc]``.

The stream is what a busy repeater sends: a periodic position report (LP C003) from each of
``--units`` radios, with texts, delivery reports, registrations and talkgroup calls mixed in, built
beforehand by the simulated gateway end and fed in ``--chunk``-byte pieces (1 KB by default) with the
codec's outbox drained after every piece, as the adapter does. A second run adds line noise: random
bytes, with 0x7E and 0x03 among them, between frames. Every configuration runs at most ``--seconds``
seconds (whole passes over the stream, at least one); the table shows the median of its passes.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edge.radio.events import CallType, Fix, FixMode
from edge.radio.hytera import STALE_AFTER_S
from edge.radio.hytera_codec import HyteraCodec
from edge.radio.hytera_gateway import HyteraGateway

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks.perfdoc from this checkout, however the script is started

from benchmarks.perfdoc import heading, publish  # noqa: E402

TITLE = "## Radio: Hytera HRNP/HDAP"

BASE_LAT, BASE_LON = 30.2741, 120.1551
START_TS = 1_700_000_000.0


@dataclass(frozen=True)
class Result:
    """One configuration's passes."""

    name: str
    size: int
    events: int
    seconds: list[float]


def build_stream(units: int, rnd: random.Random) -> bytes:
    """One reporting round: a position from every unit, with texts, calls and registrations mixed in."""
    gateway = HyteraGateway(dispatcher_id=1)
    frames: list[bytes] = []
    for n in range(units):
        unit = 1000 + n
        fix = Fix(
            unit=str(unit),
            ts=START_TS + n // 50,
            lat=BASE_LAT + rnd.uniform(-0.05, 0.05),
            lon=BASE_LON + rnd.uniform(-0.05, 0.05),
            speed_mps=rnd.uniform(0, 15),
            course_deg=rnd.uniform(0, 359),
            mode=FixMode.TWO_D,
        )
        frames.append(gateway.triggered_location(unit, fix))
        if n % 20 == 0:
            frames.append(gateway.text(unit, 1, f"Unit {unit} at sector {n % 7}, all fine", msg_id=n))
        if n % 25 == 0:
            frames.append(gateway.call_start(unit, 9 + n % 4, CallType.GROUP))
            frames.append(gateway.call_end(unit, 9 + n % 4))
        if n % 40 == 0:
            frames.append(gateway.delivery(n, unit, ok=n % 80 == 0))
        if n % 100 == 0:
            frames.append(gateway.registration(unit))
    return b"".join(frames)


def add_noise(stream: bytes, rnd: random.Random, every: int = 10) -> bytes:
    """``stream`` with a burst of random bytes (0x7E and 0x03 among them) after every ``every`` frames."""
    gateway_frames = stream.split(b"\x7e\x04\x00\x00\x10\x20")
    out = bytearray()
    for i, tail in enumerate(gateway_frames[1:]):
        out += b"\x7e\x04\x00\x00\x10\x20" + tail
        if i % every == 0:
            out += bytes(rnd.choice((0x7E, 0x03, rnd.randrange(256))) for _ in range(rnd.randint(1, 24)))
    return bytes(out)


def one_pass(stream: bytes, chunk: int) -> tuple[float, int]:
    """Seconds to feed the stream through a fresh codec, and the events it gave."""
    codec = HyteraCodec(local_id=1)
    events = 0
    now = START_TS
    began = time.perf_counter()
    for i in range(0, len(stream), chunk):
        events += len(codec.feed(stream[i : i + chunk], now))
        codec.outbox.clear()
        now += 0.001
    # Noise that looks like the start of a long frame holds back what follows until it goes stale.
    events += len(codec.feed(b"", now + 2 * STALE_AFTER_S))
    return time.perf_counter() - began, events


def measure(name: str, stream: bytes, chunk: int, budget_s: float) -> Result:
    """Whole passes over ``stream`` until ``budget_s`` is spent (at least one)."""
    seconds: list[float] = []
    events = 0
    deadline = time.perf_counter() + budget_s
    while not seconds or time.perf_counter() < deadline:
        took, events = one_pass(stream, chunk)
        seconds.append(took)
    return Result(name, len(stream), events, seconds)


def table(results: list[Result], chunk: int) -> str:
    """The results as a Markdown table."""
    lines = [
        f"`HyteraCodec.feed` (HRNP + HDAP) on one core, {chunk}-byte chunks.",
        "",
        "| stream | bytes | events | passes | median s | MB/s | events/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        median = statistics.median(r.seconds)
        lines.append(
            f"| {r.name} | {r.size:,} | {r.events:,} | {len(r.seconds)} | {median:.3f} | "
            f"{r.size / median / 1e6:.2f} | {r.events / median:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Build the streams, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time budget per configuration")
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--write-doc", action="store_true", help="replace its section in docs/PERFORMANCE.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the noisy stream's drops would warn once per kind
    rnd = random.Random(4)
    clean = build_stream(args.units, rnd)
    noisy = add_noise(clean, rnd)
    results = [
        measure(f"{args.units} units: positions, texts, calls", clean, args.chunk, args.seconds),
        measure("the same with line noise every 10 frames", noisy, args.chunk, args.seconds),
    ]
    reading = (
        "Reading: Hytera costs more per byte than NMEA because every HRNP data frame is acknowledged and parsed "
        "in two layers (HRNP, then HDAP)."
    )
    publish([*heading(TITLE), table(results, args.chunk), "", reading], write=args.write_doc)


if __name__ == "__main__":
    main()
