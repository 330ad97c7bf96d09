"""Fuzz what other nodes send over the mesh: every payload decoder, and the receive path behind the keys.

The decoders may only raise ``WireError`` (``decode_deltas``: ``msgspec.DecodeError``, which the
receiver turns into one). The receiver gets (key, payload) samples as Zenoh delivers them, keys valid
or not, payloads random, damaged, or well-formed msgpack with hostile values in every field of a body
(``hostile_body``); it must never raise, and what it applied must still encode for the page and the
journal must take the events it queued. One real scene and journal serve one round of inputs, so
state carries over between samples as it does on a live node.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

import msgspec
from fuzz.harness import FUZZ, check, corpus_module, rounds
from fuzz.mutate import mutated
from hypothesis import given
from hypothesis import strategies as st

from edge.journal import Journal
from edge.scene import Scene, Vehicle
from mesh.config import MeshSection
from mesh.context import MeshContext
from mesh.errors import WireError
from mesh.keys import batch_key, event_key, pos_key, state_key
from mesh.posdelta import PosDelta, base_name, decode_deltas, encode_deltas
from mesh.receive import Receiver
from mesh.seqs import SeqBook
from mesh.session import MeshSession
from mesh.wire import (
    decode_event,
    decode_event_page,
    decode_state,
    decode_state_batch_gens,
    decode_state_page,
    decode_summary,
    encode_event,
    encode_state,
    encode_state_batch,
    kind_of,
)

_WIRE_TESTS = corpus_module("mesh/test_wire.py")
STATES = list(_WIRE_TESTS.STATES)
EVENTS = list(_WIRE_TESTS.EVENTS)
PEER = "kit-b"
ME = "kit-a"
STATE_BYTES = [encode_state(s) for s in STATES]
EVENT_BYTES = [encode_event(e) for e in EVENTS]
VEHICLE = next(s for s in STATES if isinstance(s, Vehicle))
BATCH = encode_state_batch([(s.id, encode_state(s, base_name(3, 1) if s is VEHICLE else None)) for s in STATES])
DELTAS = encode_deltas(3, [(VEHICLE.id, PosDelta(gen=1, dt_ulps=1000, dlat_e7=5, dlon_e7=-5, dalt_msl_cm=3))])
PAYLOADS = [*STATE_BYTES, *EVENT_BYTES, BATCH, DELTAS]

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(), st.text(max_size=30),
    st.binary(max_size=30), st.sampled_from([0, 1, 2, 16, 22, -1, 2**31, 1e308, float("nan"), "", "x" * 300]),
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=8)


@st.composite
def hostile_body(draw: st.DrawFn) -> bytes:
    """A well-formed msgpack array shaped like a body or event (tag first), with any values after it."""
    template = msgspec.msgpack.decode(draw(st.sampled_from(STATE_BYTES + EVENT_BYTES)))
    body = list(template)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(body)))
        if at < len(body) and draw(st.booleans()):
            body[at] = draw(_values)
        elif draw(st.booleans()):
            body = body[:at]
        else:
            body.append(draw(_values))
    return msgspec.msgpack.encode(body)


@st.composite
def hostile_deltas(draw: st.DrawFn) -> bytes:
    """A ``pos`` payload for the held vehicle's base (epoch 3, gen 1) with any numbers in the delta."""
    ints = st.integers(-(2**63), 2**64 - 1) | st.integers(-70_000, 70_000) | st.none()
    delta = [1, draw(ints), draw(ints), draw(ints), *draw(st.lists(ints, max_size=5))]
    return msgspec.msgpack.encode((draw(st.sampled_from([3, 3, 0, 2**40])), [(VEHICLE.id, delta)]))


hostile_batch = st.lists(st.tuples(st.sampled_from([s.id for s in STATES]) | st.text(max_size=20), hostile_body()),
                         max_size=4).map(encode_state_batch)
payloads = st.one_of(hostile_deltas(), st.binary(max_size=400), mutated(PAYLOADS), hostile_body(),
                     st.sampled_from(PAYLOADS), hostile_batch)

@st.composite
def samples(draw: st.DrawFn) -> tuple[str, bytes]:
    """A key (mostly a valid one of a peer, with a kind that may not match the payload) and a payload."""
    data = draw(payloads)
    node = draw(st.sampled_from([PEER, PEER, ME, "", "a/b", "kit-c"]) | st.text(max_size=12))
    kind = draw(st.sampled_from(["unit", "vehicle", "feed", "node", "marker", "removed", "alert", "message", "audit"]))
    key = draw(st.sampled_from([
        state_key(node, kind, draw(st.sampled_from([s.id for s in STATES]) | st.text(max_size=20))),
        batch_key(node), pos_key(node), event_key(node, kind), "fk/x", "", "fk/" + "/" * 9,
    ]) | st.text(max_size=60))
    return key, data


# -- the decoders ---------------------------------------------------------------------------------------


def _decoders(data: bytes) -> None:
    for decode in (lambda d: decode_state(d, "unit:1", PEER), decode_event, lambda d: decode_state_batch_gens(d, PEER),
                   decode_summary, decode_event_page, decode_state_page):
        try:
            value = decode(data)
        except WireError:
            continue
        msgspec.json.encode(value)
    with contextlib.suppress(msgspec.DecodeError):
        decode_deltas(data)


@FUZZ
@given(data=payloads)
def _decoders_once(data: bytes) -> None:
    check("mesh.wire_decoders", lambda: _decoders(data))


def test_mesh_wire_decoders() -> None:
    rounds("mesh.wire_decoders", _decoders_once)


# -- the receive path ------------------------------------------------------------------------------------


class _Round:
    """One node's scene, journal and receiver for a round of inputs."""

    def __init__(self, folder: Path) -> None:
        self.now = 1_790_000_100.0
        self.journal = Journal(folder / "j.sqlite", node_id=ME, synchronous="OFF")
        restored = self.journal.open()
        self.scene = Scene(ME, self.journal, clock=lambda: self.now)
        self.scene.restore(restored)
        cfg = MeshSection(enabled=True)
        self.ctx = MeshContext(me=ME, cfg=cfg, scene=self.scene, journal=self.journal,
                               session=MeshSession(cfg, "kit"), seqs=SeqBook(), clock=lambda: self.now)
        self.gaps: list[str] = []
        self.receiver = Receiver(self.ctx, self.gaps.append, self.gaps.append)
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        self.loop.close()
        self.journal.close()


ROUND: list[_Round] = []


@FUZZ
@given(batch=st.lists(samples(), min_size=1, max_size=8), step=st.floats(0, 60))
def _receive_once(batch: list[tuple[str, bytes]], step: float) -> None:
    r = ROUND[0]

    def body() -> None:
        r.now += step
        r.receiver.handle(batch)
        queued = list(r.receiver._events)
        r.receiver._events.clear()
        if queued:
            r.loop.run_until_complete(r.receiver.store(queued))
        for entity in r.scene.entities():
            msgspec.json.encode(entity)
            assert (kind_of(entity) and entity.origin != ME) or entity.id.startswith("node:")
        msgspec.json.encode(r.scene.alerts())
        assert len(r.receiver._events) == 0

    check("mesh.receive", body)


def test_mesh_receive() -> None:
    def one_round() -> None:
        with tempfile.TemporaryDirectory() as folder:
            ROUND.append(_Round(Path(folder)))
            try:
                _receive_once()
            finally:
                ROUND.pop().close()

    rounds("mesh.receive", one_round)
