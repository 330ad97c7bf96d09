"""CoT out: events/s for a 2,000-unit picture, and bytes per position in CoT XML, TAK protobuf and mesh.

Run ``.venv/bin/python benchmarks/cot.py [--repeats N] [--write-doc]``. Three measures:

1. encode only (pure): 2,000 radio units as CoT XML, as TAK Protocol v1 stream frames;
2. the streaming port end to end: a node with 2,000 units in its picture, a raw TCP client on
   loopback connects and reads until every unit's event has arrived (connect to last byte), XML
   and, over a TAK-server link, protobuf;
3. bytes for one radio unit's position in each encoding, for a bare unit and a fully described one.

Loopback only; every loop bounded; every node and temporary folder cleaned up; nothing asserted.
Reported as median (lowest-highest) of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks.perfdoc from this checkout, however the script is started

from benchmarks.perfdoc import heading, publish  # noqa: E402
from edge.config import Config  # noqa: E402
from edge.node import EdgeNode  # noqa: E402
from edge.scene import Position, Unit  # noqa: E402
from edge.tak import negotiation  # noqa: E402
from edge.tak.cot import CotOptions, entity_event, to_bytes  # noqa: E402
from edge.tak.hub import encode  # noqa: E402
from mesh.wire import encode_state  # noqa: E402

SECTION = "## Interop: CoT out"
UNITS = 2000
HOME = (36.70, 119.16)


def units(n: int = UNITS, now: float | None = None) -> list[Unit]:
    """``n`` radio units around Weifang, fully described (name, team, talkgroup, battery, track)."""
    now = now or time.time()
    return [
        Unit(
            id=f"unit:pdt:{1000 + i}",
            origin="kit-bench",
            ts=now,
            name=f"Rescue {1000 + i}",
            pos=Position(lat=HOME[0] + (i % 50) * 1e-3, lon=HOME[1] + (i // 50) * 1e-3, alt_msl_m=42.5),
            team="Team 3",
            talkgroup="9001",
            battery_pct=80.0,
            heading_deg=135.0,
            speed_mps=1.4,
        )
        for i in range(n)
    ]


def spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    """Median (lowest-highest)."""
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


# -- 1. encode only -----------------------------------------------------------------------------


def encode_rate(framing: str, picture: list[Unit]) -> float:
    """Events/s: entity -> CoT element -> bytes, for the whole picture."""
    opts = CotOptions(node_id="kit-bench")
    start = time.perf_counter()
    total = 0
    for unit in picture:
        event = entity_event(unit, start, opts)
        assert event is not None
        total += len(encode(event, framing))  # type: ignore[arg-type]
    return len(picture) / (time.perf_counter() - start)


# -- 2. the streaming port end to end -----------------------------------------------------------


def _config(root: Path, **tak: object) -> Config:
    return msgspec.convert(
        {
            "node": {"id": "kit-bench", "data_dir": str(root)},
            "api": {"host": "127.0.0.1", "port": 0},
            "journal": {"synchronous": "NORMAL"},
            "tak": {"port": 0, "resend_s": 3600.0, "stale_s": 7200.0, **tak},
        },
        type=Config,
    )


async def _started(config: Config, picture: list[Unit]) -> tuple[EdgeNode, asyncio.Task[None]]:
    node = EdgeNode(config)
    task = asyncio.create_task(node.run())
    await asyncio.wait_for(node.ready.wait(), 30)
    assert node.scene is not None
    for unit in picture:
        node.scene.apply_state(unit)
    return node, task


async def _stop(node: EdgeNode, task: asyncio.Task[None]) -> None:
    node.stop()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 10)


async def _read_all(reader: asyncio.StreamReader, marker: bytes, want: int, deadline_s: float = 60.0) -> int:
    """Read until ``want`` occurrences of ``marker`` arrived; returns bytes read."""
    seen = 0
    got = 0
    tail = b""
    deadline = time.monotonic() + deadline_s
    while seen < want and time.monotonic() < deadline:
        data = await asyncio.wait_for(reader.read(1 << 16), deadline_s)
        if not data:
            break
        got += len(data)
        chunk = tail + data
        seen += chunk.count(marker) - tail.count(marker)
        tail = chunk[-32:]
    return got


async def streaming_port_xml(picture: list[Unit]) -> tuple[float, float]:
    """(events/s, bytes/event): a TCP client connects to the streaming port and reads the picture."""
    with tempfile.TemporaryDirectory() as root:
        node, task = await _started(_config(Path(root), enabled=True), picture)
        try:
            assert node.tak is not None
            await asyncio.wait_for(node.tak.listening.wait(), 10)
            start = time.perf_counter()
            reader, writer = await asyncio.open_connection("127.0.0.1", node.tak.port)
            got = await _read_all(reader, b'uid="unit:pdt:', len(picture))
            elapsed = time.perf_counter() - start
            writer.close()
            return len(picture) / elapsed, got / len(picture)
        finally:
            await _stop(node, task)


async def server_link(picture: list[Unit], protocol: str) -> tuple[float, float]:
    """(events/s, bytes/event): the picture arrives as changes; our TAK-server link pushes each to a socket.

    The listener plays TAK Server: for protobuf it offers TAK Protocol and accepts the request, so the
    link has switched before the first unit changes; the clock runs from the first change to the last
    unit read.
    """
    accepted: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if protocol == "protobuf":
            writer.write(encode(negotiation.offer("bench-offer", time.time()), "xml"))
            seen = b""
            while b"t-x-takp-q" not in seen or not seen.rstrip().endswith(b"</event>"):
                seen = (seen + await asyncio.wait_for(reader.read(1 << 16), 30))[-4096:]
            writer.write(encode(negotiation.response("bench-offer", True, time.time()), "xml"))
        await accepted.put(reader)

    listener = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    marker = b"unit:pdt:"  # present in both encodings (the uid is a string field in protobuf)
    with tempfile.TemporaryDirectory() as root:
        server = {"host": "127.0.0.1", "port": port, "protocol": protocol}
        node, task = await _started(_config(Path(root), servers=[server]), [])
        try:
            reader = await asyncio.wait_for(accepted.get(), 30)
            (client,) = node.tak_links.clients if node.tak_links else []
            await asyncio.sleep(0.2)  # the response is read and acted on
            assert client.framing == ("stream" if protocol == "protobuf" else "xml")
            start = time.perf_counter()
            assert node.scene is not None
            for unit in picture:
                node.scene.apply_state(unit)
            got = await _read_all(reader, marker, len(picture))
            elapsed = time.perf_counter() - start
            return len(picture) / elapsed, got / len(picture)
        finally:
            await _stop(node, task)
            listener.close()


# -- 3. bytes per position ----------------------------------------------------------------------


def sizes() -> list[tuple[str, int, int]]:
    """(encoding, bytes for a bare unit, bytes for a fully described unit)."""
    now = time.time()
    bare = Unit(id="unit:pdt:1001", origin="kit-bench", ts=now, pos=Position(lat=36.7012345, lon=119.1612345))
    full = units(1, now)[0]
    opts = CotOptions(node_id="kit-bench")
    rows: list[tuple[str, Callable[[Unit], bytes]]] = [
        ("CoT XML, the event alone", lambda u: to_bytes(entity_event(u, now, opts))),  # type: ignore[arg-type]
        ("CoT XML as sent (with its `<?xml ...?>` header)", lambda u: encode(entity_event(u, now, opts), "xml")),  # type: ignore[arg-type]
        ("TAK protobuf, stream frame (TCP/TLS)", lambda u: encode(entity_event(u, now, opts), "stream")),  # type: ignore[arg-type]
        ("TAK protobuf, mesh datagram (with TakControl)", lambda u: encode(entity_event(u, now, opts), "mesh")),  # type: ignore[arg-type]
        ("fieldkit mesh (msgpack payload, before Zenoh)", encode_state),
    ]
    return [(name, len(fn(bare)), len(fn(full))) for name, fn in rows]


# -- report -------------------------------------------------------------------------------------


async def main(repeats: int) -> list[str]:
    """Measure every path ``repeats`` times, interleaved; the section's lines."""
    picture = units()
    enc_xml, enc_pb, port, link_xml, link_pb = [], [], [], [], []
    for _ in range(repeats):  # interleaved, so that slow moments of the shared machine hit every path
        enc_xml.append(encode_rate("xml", picture))
        enc_pb.append(encode_rate("stream", picture))
        port.append(await streaming_port_xml(picture))
        link_xml.append(await server_link(picture, "xml"))
        link_pb.append(await server_link(picture, "protobuf"))
    size = {name: (bare, full) for name, bare, full in sizes()}
    xml, pb = size["CoT XML as sent (with its `<?xml ...?>` header)"], size["TAK protobuf, stream frame (TCP/TLS)"]
    mesh = size["fieldkit mesh (msgpack payload, before Zenoh)"]
    ratio = [p / m for p, m in zip(pb, mesh, strict=True)]
    lines = [
        *heading(SECTION),
        f"Median (lowest-highest) of {repeats} repeat(s), the paths interleaved in every repeat.",
        "",
        f"### Events/s out for a {UNITS:,}-unit picture",
        "",
        "| path | events/s | bytes/event |",
        "| --- | --- | --- |",
        f"| encode only: unit -> CoT XML bytes | {spread(enc_xml)} | |",
        f"| encode only: unit -> TAK protobuf stream frame | {spread(enc_pb)} | |",
        "| streaming port, XML: TCP connect to last unit read (a new ATAK client's first picture) | "
        f"{spread([r for r, _ in port])} | {statistics.median(b for _, b in port):.0f} |",
        "| TAK server link, XML: 2,000 unit changes to the last one read by the server | "
        f"{spread([r for r, _ in link_xml])} | {statistics.median(b for _, b in link_xml):.0f} |",
        "| TAK server link, TAK Protocol (negotiated): the same | "
        f"{spread([r for r, _ in link_pb])} | {statistics.median(b for _, b in link_pb):.0f} |",
        "",
        "### Bytes per radio-unit position, side by side",
        "",
        "| encoding | bare unit (id, time, lat/lon) | described (name, team, talkgroup, battery, track, altitude) |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {bare} B | {full} B |" for name, (bare, full) in size.items()]
    lines += [
        "",
        "Reading: a CoT event carries its type, how, three timestamps, ce/le and the details some servers",
        "insist on (contact, __group, takv) whatever changed, and on a stream each XML event is preceded",
        "by its `<?xml ...?>` header (ATAK-CIV's takproto README asks for it); TAK protobuf types the",
        "common details and times but keeps everything else as XML text (remarks here), about "
        f"{xml[1] / pb[1]:.1f}x smaller;",
        "our mesh payload leaves out the id and origin (its Zenoh key carries them) and every default field, "
        f"{min(ratio):.0f}-{max(ratio):.0f}x",
        "smaller than TAK protobuf. Compare the events/s of each path with encoding alone: when they are of",
        "the same order, encoding is the limit, not the sockets (the spread between repeats is the machine's load).",
    ]
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-doc", action="store_true", help="replace its section in docs/PERFORMANCE.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    publish(asyncio.run(main(max(1, min(args.repeats, 20)))), write=args.write_doc)
