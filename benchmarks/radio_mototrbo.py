"""MOTOTRBO LRRP/ARS/TMS decode throughput: MB/s and events/s through ``MotoTrboCodec.feed``, and
datagrams/s through ``MotoTrboLink`` on real loopback sockets.

Run ``.venv/bin/python benchmarks/radio_mototrbo.py [--seconds S] [--units N] [--chunk BYTES] [--write-doc]``.

The record stream is what a busy control station forwards: an LRRP triggered location report
(point-3d, time, speed, direction) from each of ``--units`` radios, with ARS registrations, TMS
texts in Chinese and English, and TMS acknowledgements mixed in; records are built beforehand and
fed in ``--chunk``-byte pieces (4 KB by default; the link delivers one record per read, a raw-log
replay any size) with the outbox drained after every piece, as the adapter does. A second run adds
garbage between records, partial magics among it. Every configuration runs at most ``--seconds``
(whole passes, at least one); the table shows the median pass. The loopback run sends the
reports as UDP datagrams from radios bound to their own 127.x.y.z addresses and measures until
every one has been read and decoded (or ``--seconds`` runs out). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edge.radio import mototrbo_ars as ars
from edge.radio import mototrbo_lrrp as lrrp
from edge.radio import mototrbo_tms as tms
from edge.radio.events import Fix, FixMode
from edge.radio.mototrbo import MotoTrboCodec
from edge.radio.mototrbo_link import open_mototrbo
from edge.radio.mototrbo_records import STALE_AFTER_S, Datagram, Service, address

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks.perfdoc from this checkout, however the script is started

from benchmarks.perfdoc import heading, publish  # noqa: E402

TITLE = "## Radio: MOTOTRBO LRRP/ARS/TMS"

BASE_LAT, BASE_LON = 30.2741, 120.1551
START_TS = 1_700_000_000.0
TEXTS = ("到达指定位置 In position", "需要增援 Need reinforcement", "道路受阻 Road blocked")


@dataclass(frozen=True)
class Result:
    """One configuration's passes."""

    name: str
    size: int
    events: int
    seconds: list[float]


def report(unit: int, n: int, rnd: random.Random) -> bytes:
    """One radio's LRRP triggered report."""
    fix = Fix(
        unit=str(unit),
        ts=START_TS + n // 50,
        lat=BASE_LAT + rnd.uniform(-0.05, 0.05),
        lon=BASE_LON + rnd.uniform(-0.05, 0.05),
        alt_msl_m=rnd.uniform(0, 80),
        speed_mps=rnd.uniform(0, 15),
        course_deg=rnd.uniform(0, 359),
        mode=FixMode.THREE_D,
    )
    return lrrp.report(fix, request_id=n)


def build_stream(units: int, rnd: random.Random) -> list[bytes]:
    """One reporting round as records: a position from every unit, with registrations and texts mixed in."""
    records: list[bytes] = []
    for n in range(units):
        unit = 1000 + n
        ip = address(unit, 12)
        records.append(bytes(Datagram(Service.LRRP, ip, report(unit, n, rnd))))
        if n % 20 == 0:
            records.append(bytes(Datagram(Service.TMS, ip, tms.text(TEXTS[n % 3], n % 128))))
        if n % 40 == 0:
            records.append(bytes(Datagram(Service.TMS, ip, tms.ack(n % 128))))
        if n % 100 == 0:
            records.append(bytes(Datagram(Service.ARS, ip, ars.registration(str(unit)))))
    return records


def add_noise(records: list[bytes], rnd: random.Random, every: int = 10) -> bytes:
    """The records with a burst of random bytes (partial magics among them) after every ``every``."""
    out = bytearray()
    for i, record in enumerate(records):
        out += record
        if i % every == 0:
            out += bytes(rnd.choice((0x54, 0x52, rnd.randrange(256))) for _ in range(rnd.randint(1, 24)))
            out += b"TRB"
    return bytes(out)


def one_pass(pieces: list[bytes]) -> tuple[float, int]:
    """Seconds to feed the pieces through a fresh codec, and the events it gave."""
    codec = MotoTrboCodec()
    events = 0
    now = START_TS
    began = time.perf_counter()
    for piece in pieces:
        events += len(codec.feed(piece, now))
        codec.outbox.clear()
        now += 0.001
    events += len(codec.feed(b"", now + 2 * STALE_AFTER_S))
    return time.perf_counter() - began, events


def measure(name: str, pieces: list[bytes], budget_s: float) -> Result:
    """Whole passes over ``pieces`` until ``budget_s`` is spent (at least one)."""
    seconds: list[float] = []
    events = 0
    deadline = time.perf_counter() + budget_s
    while not seconds or time.perf_counter() < deadline:
        took, events = one_pass(pieces)
        seconds.append(took)
    return Result(name, sum(len(p) for p in pieces), events, seconds)


def chunked(stream: bytes, chunk: int) -> list[bytes]:
    """``stream`` cut every ``chunk`` bytes."""
    return [stream[i : i + chunk] for i in range(0, len(stream), chunk)]


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


async def loopback(radios: int, per_radio: int, budget_s: float, window: int = 32) -> tuple[int, int, float]:
    """Reports from ``radios`` loopback addresses through the link and codec: (sent, decoded, seconds).

    At most ``window`` datagrams are in flight, so the kernel's receive buffer never overflows and
    what is measured is the read-decode path, not loss.
    """
    ports = dict(zip(Service, _free_ports(3), strict=True))
    link = await open_mototrbo("127.0.0.1", ports)
    codec = MotoTrboCodec(radio_network=127)
    rnd = random.Random(5)
    senders = []
    try:
        for n in range(radios):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((".".join(str(b) for b in address(1000 + n, 127)), 0))
            senders.append(s)
        payloads = [report(1000 + n, k, rnd) for k in range(per_radio) for n in range(radios)]
        target = ("127.0.0.1", ports[Service.LRRP])
        sent = decoded = 0
        began = time.perf_counter()
        deadline = began + budget_s
        while decoded < len(payloads) and time.perf_counter() < deadline:
            while sent - decoded < window and sent < len(payloads):
                senders[sent % radios].sendto(payloads[sent], target)
                sent += 1
            try:
                record = await asyncio.wait_for(link.read(), 0.5)
            except TimeoutError:
                break  # a datagram was lost: report what arrived
            decoded += len(codec.feed(record, time.time()))
        return sent, decoded, time.perf_counter() - began
    finally:
        for s in senders:
            s.close()
        await link.aclose()


def table(results: list[Result]) -> str:
    """The results as a Markdown table."""
    lines = [
        "`MotoTrboCodec.feed` on one core, link records (LRRP, ARS, TMS).",
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
    """Build the streams, measure, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time budget per configuration")
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--radios", type=int, default=50, help="loopback run: simulated radio addresses")
    parser.add_argument("--reports", type=int, default=100, help="loopback run: reports per radio")
    parser.add_argument("--write-doc", action="store_true", help="replace its section in docs/PERFORMANCE.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the noisy stream's drops would warn once per kind
    rnd = random.Random(4)
    records = build_stream(args.units, rnd)
    clean = b"".join(records)
    noisy = add_noise(records, rnd)
    results = [
        measure(
            f"{args.units} units: positions, texts, acks, registrations; {args.chunk}-byte chunks",
            chunked(clean, args.chunk),
            args.seconds,
        ),
        measure(
            f"the same with garbage every 10 records; {args.chunk}-byte chunks",
            chunked(noisy, args.chunk),
            args.seconds,
        ),
        measure("the same clean records, one per feed (as the link delivers them)", records, args.seconds),
    ]
    sent, decoded, took = asyncio.run(loopback(args.radios, args.reports, max(args.seconds, 5.0)))
    loop = (
        f"Loopback UDP: {args.radios} radios x {args.reports} LRRP reports; sent {sent:,}, decoded {decoded:,} "
        f"in {took:.3f} s: {decoded / took:,.0f} datagrams/s through MotoTrboLink + MotoTrboCodec."
    )
    publish([*heading(TITLE), table(results), "", loop], write=args.write_doc)


if __name__ == "__main__":
    main()
