"""Fuzz CoT in: the TAK stream framer (XML and protobuf frames), the XML and protobuf event parsers,
mesh (multicast) datagrams, and what an accepted event becomes in the picture.

Only ``CotRejected`` may come out of the parsers. An accepted event must turn into scene changes
without raising (the hub would count any other error as ``rejected_invalid`` and lose the event
quietly) and those changes must encode for the page and the mesh.
"""

from __future__ import annotations

import contextlib

import msgspec
from fuzz.harness import FUZZ, check, rounds
from fuzz.mutate import chunked, cuts, mutated, stream
from hypothesis import given
from hypothesis import strategies as st
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


@st.composite
def pli(draw: st.DrawFn) -> bytes:
    """An ATAK position report with attribute values drawn from the awkward ones."""
    plain = st.text(max_size=40).filter(lambda t: not {'"', "<", "&"} & set(t))
    values = st.sampled_from(NASTY) | plain
    data = atak_pli(uid=draw(values), callsign=draw(values), lat=draw(values), lon=draw(values))
    for name in ("time", "start", "stale", "hae", "type", "battery", "course", "speed", "encoding", "version"):
        if draw(st.booleans()):
            data = data.replace(f'{name}="'.encode(), f'{name}="{draw(values)}" x{name}="'.encode(), 1)
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


@FUZZ
@given(data=st.one_of(stream(FRAMES, max_pieces=6), st.lists(pli(), max_size=3).map(b"".join)), cut_at=cuts,
       protobuf=st.booleans())
def _stream_once(data: bytes, cut_at: list[int], protobuf: bool) -> None:
    def body() -> None:
        framer = EventFramer(max_event_bytes=MAX_EVENT, protobuf=protobuf)
        inbound = Inbound("kit-a", geoid_separation_m=12.0)
        out: list[bytes] = []
        for chunk in chunked(data, cut_at):
            out += framer.feed(chunk)
            assert framer.pending <= MAX_EVENT + 64, f"{framer.pending} bytes held"
        assert all(len(e) <= MAX_EVENT for e in out)
        for raw in out:
            take(raw, inbound)
        good = atak_pli("RESYNC")
        taken = [e for _ in range(SKIP_FACTOR * MAX_EVENT // len(good) + 2) for e in framer.feed(good)]
        assert any(parse_event(e).uid == "RESYNC" for e in taken[-1:]), "no resync after the garbage"

    check("tak.stream", body)


def test_tak_stream() -> None:
    rounds("tak.stream", _stream_once)


@FUZZ
@given(data=st.one_of(st.binary(max_size=1500), mutated(PROTO).map(mesh_frame), mutated(PROTO).map(stream_frame),
                      mutated([mesh_frame(p) for p in PROTO])))
def _datagram_once(data: bytes) -> None:
    check("tak.protobuf_datagram", lambda: take(data, Inbound("kit-a")))


def test_tak_protobuf_datagram() -> None:
    rounds("tak.protobuf_datagram", _datagram_once)


@FUZZ
@given(data=st.one_of(mutated(XML), pli()))
def _xml_once(data: bytes) -> None:
    check("tak.cot_xml", lambda: take(data, Inbound("kit-a", geoid_separation_m=-3.0)))


def test_tak_cot_xml() -> None:
    rounds("tak.cot_xml", _xml_once)
