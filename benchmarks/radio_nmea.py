"""NMEA 0183 decode throughput: MB/s, sentences/s and fixes/s through ``NmeaCodec.feed``.

Run ``.venv/bin/python benchmarks/radio_nmea.py [--seconds S] [--units N] [--chunk BYTES] [--write-doc]``.

Streams, fed in ``--chunk``-byte pieces (1 KB by default) as a serial adapter delivers them:

- gpsd's five regression captures (``../shared/corpora/gpsd``, metadata lines and delay cookies
  removed), repeated to about 1 MB: real receivers' GGA/GSA/GSV/RMC/GNS bursts, one fix per cycle;
- ``--units`` radios (half FleetSync ``$PKLDS``, half NXDN ``$PKNDS``) reporting position and status,
  five rounds, as a Kenwood gateway relays them;
- the same with a burst of random bytes (``$`` and ``*`` among them) after every tenth sentence.

Every configuration runs whole passes for at most ``--seconds`` seconds (at least one); the table
shows the median pass. Target from the radio issue: 1 MB/s on one core. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edge.radio.events import Fix, FixMode
from edge.radio.nmea import NmeaCodec, encode_unit_fix

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks.perfdoc from this checkout, however the script is started

from benchmarks.perfdoc import heading, publish  # noqa: E402

TITLE = "## Radio: NMEA 0183"
TARGET_MB_S = 1.0  # the issue's: NMEA on one core
LINE_BYTES_PER_S = 115_200 / 10  # a 115,200-baud serial line, 8N1

CORPUS = Path(os.environ.get("FIELDKIT_GPSD_CORPUS", Path(__file__).resolve().parents[2] / "shared/corpora/gpsd"))
BASE_LAT, BASE_LON = 30.2741, 120.1551
START_TS = 1_700_000_000.0


@dataclass(frozen=True)
class Result:
    """One configuration's passes."""

    name: str
    size: int
    sentences: int
    fixes: int
    seconds: list[float]


def gpsd_stream(target: int) -> bytes:
    """gpsd's captures, receiver output only, repeated to about ``target`` bytes."""
    body = b""
    for path in sorted(CORPUS.glob("*.log")):
        lines = path.read_bytes().splitlines(keepends=True)
        body += b"".join(raw for raw in lines if not raw.startswith(b"#")).replace(b"|", b"")
    return body * max(1, target // max(1, len(body)))


def units_stream(units: int, rounds: int, rnd: random.Random) -> bytes:
    """``rounds`` reporting rounds of ``units`` radios, FleetSync and NXDN alternating."""
    out: list[bytes] = []
    for r in range(rounds):
        for n in range(units):
            unit = f"{100 + n % 250}-{1000 + n}" if n % 2 else str(1 + n)
            fix = Fix(
                unit=unit,
                ts=START_TS + r * 30 + n * 0.01,
                lat=BASE_LAT + rnd.uniform(-0.05, 0.05),
                lon=BASE_LON + rnd.uniform(-0.05, 0.05),
                speed_mps=rnd.uniform(0, 15),
                course_deg=rnd.uniform(0, 359),
                mode=FixMode.TWO_D,
            )
            out.append(encode_unit_fix(fix, status=str(rnd.randint(10, 79))))
    return b"".join(out)


def add_noise(stream: bytes, rnd: random.Random, every: int = 10) -> bytes:
    """``stream`` with a burst of random bytes (``$`` and ``*`` among them) after every ``every`` sentences."""
    out = bytearray()
    for i, sentence in enumerate(stream.split(b"\r\n")[:-1]):
        out += sentence + b"\r\n"
        if i % every == 0:
            out += bytes(rnd.choice((0x24, 0x2A, rnd.randrange(256))) for _ in range(rnd.randint(1, 24)))
    return bytes(out)


def one_pass(stream: bytes, chunk: int) -> tuple[float, int, int]:
    """Seconds to feed the stream through a fresh codec, its good sentences and its fixes."""
    codec = NmeaCodec()
    fixes = 0
    now = START_TS
    began = time.perf_counter()
    for i in range(0, len(stream), chunk):
        fixes += sum(1 for event in codec.feed(stream[i : i + chunk], now) if isinstance(event, Fix))
        now += 0.001
    fixes += len(codec.flush())
    return time.perf_counter() - began, codec.frames, fixes


def measure(name: str, stream: bytes, chunk: int, budget_s: float) -> Result:
    """Whole passes over ``stream`` until ``budget_s`` is spent (at least one)."""
    seconds: list[float] = []
    sentences = fixes = 0
    deadline = time.perf_counter() + budget_s
    while not seconds or time.perf_counter() < deadline:
        took, sentences, fixes = one_pass(stream, chunk)
        seconds.append(took)
    return Result(name, len(stream), sentences, fixes, seconds)


def table(results: list[Result], chunk: int) -> str:
    """The results as a Markdown table."""
    lines = [
        f"`NmeaCodec.feed` on one core, {chunk}-byte chunks as a serial adapter delivers them.",
        "",
        "| stream | bytes | sentences | fixes | passes | median s | MB/s | sentences/s | fixes/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        median = statistics.median(r.seconds)
        lines.append(
            f"| {r.name} | {r.size:,} | {r.sentences:,} | {r.fixes:,} | {len(r.seconds)} | {median:.3f} | "
            f"{r.size / median / 1e6:.2f} | {r.sentences / median:,.0f} | {r.fixes / median:,.0f} |"
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
    units = units_stream(args.units, 5, rnd)
    results, missing = [], []
    if CORPUS.is_dir():
        results.append(measure("gpsd captures, repeated", gpsd_stream(1_000_000), args.chunk, args.seconds))
    else:
        missing = [f"(No gpsd corpus at `{CORPUS}`: that stream is left out.)", ""]
    results += [
        measure(f"{args.units} units x 5 rounds, PKLDS/PKNDS", units, args.chunk, args.seconds),
        measure("the same with line noise every 10 sentences", add_noise(units, rnd), args.chunk, args.seconds),
    ]
    slowest = min(r.size / statistics.median(r.seconds) / 1e6 for r in results)
    publish(
        [
            *heading(TITLE),
            *missing,
            table(results, args.chunk),
            "",
            f"Target (the issue's): at least {TARGET_MB_S:g} MB/s on one core, about 90 times a 115,200-baud line. "
            f"Slowest stream: {slowest:.2f} MB/s, {slowest * 1e6 / LINE_BYTES_PER_S:,.0f} times the line: "
            f"**{'met' if slowest >= TARGET_MB_S else 'not met'}**.",
        ],
        write=args.write_doc,
    )


if __name__ == "__main__":
    main()
