"""Fuzz CoT in: the TAK stream framer (XML and protobuf frames), the XML and protobuf event parsers,
mesh (multicast) datagrams, and what an accepted event becomes in the picture.

Only ``CotRejected`` may come out of the parsers. An accepted event must turn into scene changes
without raising (the hub would count any other error as ``rejected_invalid`` and lose the event
quietly) and those changes must encode for the page and the mesh.
"""

from __future__ import annotations

import contextlib

import msgspec
from fuzz.draw import Draw
from fuzz.harness import bounded, target
from fuzz.mutate import chunked, cuts, mutated, stream
from interop.test_cot import ALERT, CIRCLE, FEED, MESSAGE, NOW, OPTS, POLYGON, STREAM, UNIT, VEHICLE, atak_pli

from edge.scene.model import Event
from edge.tak import CotRejected, EventFramer, Inbound, parse_event, to_bytes
from edge.tak.cot import alert_event, entity_event, message_event
from edge.tak.framer import SKIP_FACTOR
from edge.tak.proto import decode_frame, encode, mesh_frame, stream_frame
from mesh.errors import WireError
from mesh.wire import encode_event, encode_state

MAX_EVENT = 4096
ELEMENTS = [entity_event(e, NOW, OPTS) for e in (UNIT, VEHICLE, FEED, POLYGON, CIRCLE)] + [
    alert_event(ALERT, NOW, OPTS), message_event(MESSAGE, NOW, OPTS)]
XML = [to_bytes(e) for e in ELEMENTS if e is not None] + [atak_pli(), STREAM]
PROTO = [encode(e) for e in ELEMENTS if e is not None]
FRAMES = XML + [stream_frame(p) for p in PROTO]
NASTY = ["", "nan", "inf", "-inf", "1e309", "-0", "90.0000001", "1" * 400, "0x10", " 1", "\u0661",
         "2023-13-40T25:61:61Z", "9999-12-31T23:59:59.999999999Z",
         "0001-01-01T00:00:00Z", "&amp;", "\ud7ff", "a-f-G", "b-t-f", "b-a-o-tbl",
         "rtsp://127.0.0.1:8554/x", "-1e308",
         "utf-32", "rot13", "latin-1", "ascii"]


PLI_FIELDS = ("time", "start", "stale", "hae", "type", "battery", "course", "speed", "encoding", "version")


def _value(d: Draw) -> str:
    """An awkward attribute value, or any text that stays inside the quotes."""
    if d.bool():
        return d.choice(NASTY)
    return "".join(c for c in d.text(40) if c not in '"<&')


def pli(d: Draw) -> bytes:
    """An ATAK position report with attribute values drawn from the awkward ones."""
    data = atak_pli(uid=_value(d), callsign=_value(d), lat=_value(d), lon=_value(d))
    for name in PLI_FIELDS:
        if d.bool():
            data = data.replace(f'{name}="'.encode(), f'{name}="{_value(d)}" x{name}="'.encode(), 1)
    return data


def take(raw: bytes, inbound: Inbound) -> None:
    """What the hub does with one framed event: decode by its first byte, then put it into the picture."""
    try:
        event = decode_frame(raw) if raw[:1] == b"\xbf" else parse_event(raw)
    except CotRejected:
        return
    for change in inbound.changes(event, NOW):
        msgspec.json.encode(change)
        with contextlib.suppress(WireError):  # the mesh refuses a value it cannot carry: documented, counted
            encode_event(change) if isinstance(change, Event) else encode_state(change)  # type: ignore[arg-type]


RESYNC = atak_pli("RESYNC")
PROTO_MESH = [mesh_frame(p) for p in PROTO]


def _is_resync(raw: bytes) -> bool:
    try:
        return parse_event(raw).uid == "RESYNC"
    except CotRejected:  # what is left of the garbage, framed with the first valid bytes
        return False


@target("tak.stream", max_len=8192)
def tak_stream(d: Draw) -> None:
    """Framed XML and protobuf, damaged and chunked, into the picture; then resync on a valid event."""
    data = stream(d, FRAMES, max_pieces=6) if d.bool() else b"".join(pli(d) for _ in range(d.int(0, 3)))
    cut_at, protobuf = cuts(d), d.bool()
    framer = EventFramer(max_event_bytes=MAX_EVENT, protobuf=protobuf)
    inbound = Inbound("kit-a", geoid_separation_m=12.0)
    out: list[bytes] = []
    for chunk in chunked(data, cut_at):
        out += framer.feed(chunk)
        assert framer.pending <= MAX_EVENT + 64, f"{framer.pending} bytes held"
    assert all(len(e) <= MAX_EVENT for e in out)
    for raw in out:
        take(raw, inbound)
    for _ in range(SKIP_FACTOR * MAX_EVENT // len(RESYNC) + 2):  # past the longest skip a length may ask
        taken = framer.feed(RESYNC)
        if taken and _is_resync(taken[-1]):
            break
    else:
        raise AssertionError("no resync after the garbage")


def test_tak_stream() -> None:
    bounded(tak_stream)


@target("tak.protobuf_datagram")
def datagram(d: Draw) -> None:
    """A mesh (multicast) datagram: random, or a mutated TAK Protocol payload in a mesh or stream frame."""
    kind = d.int(0, 3)
    if kind == 0:
        data = d.bytes(1500)
    elif kind == 1:
        data = mesh_frame(mutated(d, PROTO))
    elif kind == 2:
        data = stream_frame(mutated(d, PROTO))
    else:
        data = mutated(d, PROTO_MESH)
    take(data, Inbound("kit-a"))


def test_tak_protobuf_datagram() -> None:
    bounded(datagram)


@target("tak.cot_xml")
def cot_xml(d: Draw) -> None:
    """CoT XML, damaged or with hostile attribute values, into the picture."""
    take(mutated(d, XML) if d.bool() else pli(d), Inbound("kit-a", geoid_separation_m=-3.0))


def test_tak_cot_xml() -> None:
    bounded(cot_xml)
