"""Configurable binary framer throughput: the example PDT framing, location reports for 2,000 units.

Run ``.venv/bin/python benchmarks/radio_binary.py [--seconds S] [--repeats N] [--chunk BYTES] [--write-doc]``.
A stream of location frames (one per unit, round robin, each with its own position) is fed to a
fresh ``BinaryCodec`` in fixed-size chunks, as a serial port or socket would deliver it, for about
``--seconds`` per repeat; the report shows the median and, in brackets, the lowest and highest
repeat. Rows: a clean line; the same frames with line noise between them (random bytes, start
bytes, truncated and corrupted frames, about 10% of the bytes); and encoding (what the simulated
gateway does). Everything runs in this process on one core; nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.perfdoc import heading, publish  # noqa: E402
from edge.radio.binary import EXAMPLE, BinaryCodec, load  # noqa: E402 - after the path is set
from edge.radio.events import Fix, FixMode  # noqa: E402

TITLE = "## Radio: configurable binary framer (example PDT framing)"
UNITS = 2000
FRAMES = 20_000  # ten reports per unit in one pass over the stream
LINE_BYTES_PER_S = 115_200 / 10  # a 115,200-baud serial line, 8N1


@dataclass(frozen=True)
class Run:
    """One timed repeat of one row."""

    nbytes: int
    events: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        """Megabytes (10^6) per second."""
        return self.nbytes / 1e6 / self.seconds

    @property
    def events_per_s(self) -> float:
        """Events per second."""
        return self.events / self.seconds


def fixes(count: int, seed: int = 1) -> list[Fix]:
    """Location reports around an incident, for UNITS radios in turn."""
    rng = random.Random(seed)
    return [
        Fix(
            unit=str(100_000 + i % UNITS),
            lat=round(31.2304 + rng.uniform(-0.05, 0.05), 7),
            lon=round(121.4737 + rng.uniform(-0.05, 0.05), 7),
            alt_msl_m=float(rng.randint(0, 80)),
            speed_mps=round(rng.uniform(0, 20), 2),
            course_deg=round(rng.uniform(0, 359.9), 1),
            satellites=rng.randint(4, 14),
            mode=FixMode.THREE_D,
            ts=1_767_225_600.0 + i // UNITS,
        )
        for i in range(count)
    ]


def noisy(frames: Sequence[bytes], seed: int = 2) -> bytes:
    """The frames with line noise between some of them (about 10% of the bytes)."""
    rng = random.Random(seed)
    out = bytearray()
    for frame in frames:
        if rng.random() < 0.2:
            kind = rng.randrange(4)
            if kind == 0:
                out += rng.randbytes(rng.randint(1, 24))
            elif kind == 1:
                out += b"\xaa\x55" + rng.randbytes(2)
            elif kind == 2:
                out += frame[: rng.randint(1, len(frame) - 1)]
            else:
                i = rng.randrange(len(frame))
                out += frame[:i] + bytes([frame[i] ^ 0x5A]) + frame[i + 1 :]
        out += frame
    return bytes(out)


def chunked(stream: bytes, size: int) -> list[bytes]:
    """The stream as the transport delivers it."""
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def time_decode(chunks: list[bytes], seconds: float) -> Run:
    """Feed the chunks to fresh codecs, pass after pass, for about ``seconds``."""
    framing = load(EXAMPLE)
    nbytes = events = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        codec = BinaryCodec(framing)
        now = 0.0
        for chunk in chunks:
            events += len(codec.feed(chunk, now))
            nbytes += len(chunk)
            now += 0.001
        elapsed = time.perf_counter() - start
    return Run(nbytes, events, elapsed)


def time_encode(events: list[Fix], seconds: float) -> Run:
    """Encode the events, pass after pass, for about ``seconds``."""
    codec = BinaryCodec(load(EXAMPLE))
    nbytes = count = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        for event in events:
            nbytes += len(codec.encode(event))
        count += len(events)
        elapsed = time.perf_counter() - start
    return Run(nbytes, count, elapsed)


def spread(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    """Median of the repeats, with the lowest and highest in brackets when they differ."""
    clean = [v for v in values if not math.isnan(v)]
    text = fmt.format(statistics.median(clean))
    low, high = fmt.format(min(clean)), fmt.format(max(clean))
    return text if low == high else f"{text} ({low}-{high})"


def report(rows: list[tuple[str, list[Run]]], args: argparse.Namespace, drops: dict[str, int]) -> list[str]:
    """The Markdown report."""
    lines = [
        *heading(TITLE),
        f"{FRAMES:,} location frames (31 bytes each) for {UNITS:,} units, fed in {args.chunk}-byte chunks; "
        f"about {args.seconds:g} s per row and repeat, {args.repeats} repeats: median (lowest-highest). "
        f"*x line* is the throughput over a 115,200-baud serial line ({LINE_BYTES_PER_S / 1e3:.2f} kB/s).",
        "",
        "| row | MB/s | events/s | µs/event | x line |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, runs in rows:
        lines.append(
            f"| {name} | {spread([r.mb_per_s for r in runs], '{:.2f}')} | "
            f"{spread([r.events_per_s for r in runs])} | "
            f"{spread([1e6 / r.events_per_s for r in runs], '{:.1f}')} | "
            f"{spread([r.mb_per_s * 1e6 / LINE_BYTES_PER_S for r in runs])} |"
        )
    shown = ", ".join(f"{k} {v:,}" for k, v in sorted(drops.items()) if not k.endswith("_bytes"))
    lines += [
        "",
        f"Drops in one pass over the noisy stream: {shown}.",
        "",
        "Reading: the per-event cost is the framer's table-driven field decoding, described by the framing's",
        "TOML rather than written per protocol.",
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    """Run the rows and print the report."""
    assert __doc__
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per row and repeat (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per row (default 3)")
    parser.add_argument("--chunk", type=int, default=1024, help="bytes per feed (default 1024)")
    parser.add_argument("--write-doc", action="store_true", help="replace its section in docs/PERFORMANCE.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the noisy row's drop warnings are counted in the report instead

    codec = BinaryCodec(load(EXAMPLE))
    events = fixes(FRAMES)
    frames = [codec.encode(e) for e in events]
    clean, dirty = b"".join(frames), noisy(frames)
    expected = BinaryCodec(load(EXAMPLE)).feed(clean, 0.0)
    check = BinaryCodec(load(EXAMPLE))
    decoded = [e for chunk in chunked(dirty, args.chunk) for e in check.feed(chunk, 0.0)]
    if len(expected) != FRAMES or decoded != expected:  # the benchmark measures a framer that works
        raise SystemExit(f"noisy stream decoded {len(decoded)} events, the clean one {len(expected)} of {FRAMES}")

    rows: list[tuple[str, Callable[[], Run]]] = [
        ("decode, clean line", lambda: time_decode(chunked(clean, args.chunk), args.seconds)),
        (
            f"decode, line noise ({len(dirty) - len(clean):,} of {len(dirty):,} bytes)",
            lambda: time_decode(chunked(dirty, args.chunk), args.seconds),
        ),
        ("encode (simulated gateway)", lambda: time_encode(events, args.seconds)),
    ]
    results: dict[str, list[Run]] = {name: [] for name, _ in rows}
    for _ in range(args.repeats):  # interleave rows so that noise from other work spreads over all of them
        for name, run in rows:
            results[name].append(run())
    publish(report(list(results.items()), args, dict(check.drops.counts)), write=args.write_doc)


if __name__ == "__main__":
    main()
