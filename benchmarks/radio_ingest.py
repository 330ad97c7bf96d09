"""Radio ingest: gateway bytes -> codec -> radio picture -> scene, in units/s, per framing.

Run: ``.venv/bin/python benchmarks/radio_ingest.py [--units 2000] [--rounds 5] [--chunk 1024] [--write-doc]``.
The stream is what the simulated gateway sends for ``units`` radios reporting ``rounds`` times,
encoded by the same gateway sides ``fieldkit sim`` uses. Bounded: one pass per framing, a few
seconds at most. Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from edge.journal import Journal
from edge.radio.binary import EXAMPLE
from edge.radio.binary_description import load as load_framing
from edge.radio.codecs import codec_factory
from edge.radio.config import RadioSection
from edge.radio.picture import RadioPicture
from edge.scene import Scene, is_event
from sim import RadioWorld, Scenario
from sim.sides import side_for

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks.perfdoc from this checkout, however the script is started

from benchmarks.perfdoc import heading, publish  # noqa: E402

TITLE = "## Radio: gateway bytes to the scene"
LINE_BYTES_PER_S = 115_200 / 10  # a 115,200-baud serial line, 8N1

FRAMINGS = ("nmea", "hytera", "binary")
DESCRIPTION = load_framing(EXAMPLE)  # the example PDT framing for "binary"


def stream(framing: str, units: int, rounds: int) -> tuple[bytes, int]:
    """(bytes, number of fixes) for ``units`` radios reporting ``rounds`` times."""
    world = RadioWorld(Scenario(units=units, report_interval_s=1.0), start=1_800_000_000.0)
    side = side_for(framing, DESCRIPTION)
    out = bytearray()
    fixes = 0
    for r in range(rounds):
        now = 1_800_000_000.0 + r + 1
        for radio in world.radios:
            frame = side.encode(world.fix(radio, now))
            if frame is not None:
                out += frame
                fixes += 1
    return bytes(out), fixes


async def measure(framing: str, data: bytes, chunk: int) -> tuple[float, int, int]:
    """Seconds to push ``data`` through codec, picture and scene; (seconds, units applied, drops)."""
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "j.sqlite", node_id="bench", synchronous="NORMAL")
        journal.open()
        try:
            scene = Scene("bench", journal, clock=time.time)
            codec = codec_factory(RadioSection(framing=framing, binary=DESCRIPTION))()  # type: ignore[arg-type]
            picture = RadioPicture(node_id="bench")
            applied = 0
            start = time.perf_counter()
            for i in range(0, len(data), chunk):
                now = time.time()
                for event in codec.feed(data[i : i + chunk], now):
                    for change in picture.apply(event, now):
                        if not is_event(change) and scene.apply_state(change):  # type: ignore[arg-type]
                            applied += 1
                codec.outbox.clear()  # the acks the gateway adapter would write back
            seconds = time.perf_counter() - start
            drops = sum(v for k, v in codec.drops.counts.items() if not k.endswith("_bytes"))
            return seconds, applied, drops
        finally:
            journal.close()


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--write-doc", action="store_true", help="replace its section in docs/PERFORMANCE.md")
    args = parser.parse_args()
    lines = [
        *heading(TITLE),
        f"Codec → radio picture → `Scene.apply_state`, {args.units:,} units x {args.rounds} rounds as the simulated "
        f"gateway sends them, {args.chunk}-byte chunks.",
        "",
        "| framing | stream bytes | fixes | units applied | drops | MB/s | units/s into the scene |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    slowest_mb, slowest_units = float("inf"), float("inf")
    for framing in FRAMINGS:
        data, fixes = stream(framing, args.units, args.rounds)
        seconds, applied, drops = asyncio.run(measure(framing, data, args.chunk))
        slowest_mb, slowest_units = min(slowest_mb, len(data) / seconds), min(slowest_units, applied / seconds)
        lines.append(
            f"| {framing} | {len(data):,} | {fixes:,} | {applied:,} | {drops} | "
            f"{len(data) / seconds / 1e6:.2f} | {applied / seconds:,.0f} |"
        )
    offered = 2000 / 30  # 2,000 radios reporting every 30 s
    lines += [
        "",
        f"Reading: the slowest framing decodes {slowest_mb / LINE_BYTES_PER_S:,.0f} times what a 115,200-baud gateway "
        f"line carries; 2,000 radios reporting every 30 s (~{offered:.0f}/s) use {100 * offered / slowest_units:.1f} % "
        "of a core at the slowest framing's rate into the scene.",
    ]
    publish(lines, write=args.write_doc)


if __name__ == "__main__":
    main()
