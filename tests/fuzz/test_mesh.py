"""Fuzz what other nodes send over the mesh: every payload decoder, and the receive path behind the keys.

The decoders may only raise ``WireError`` (``decode_deltas``: ``msgspec.DecodeError``, which the
receiver turns into one). The receiver gets (key, payload) samples as Zenoh delivers them, keys valid
or not, payloads random, damaged, or well-formed msgpack with hostile values in every field of a body
(``hostile_body``); it must never raise, and what it applied must still encode for the page and the
journal must take the events it queued. One real scene and journal serve ``NODE_INPUTS`` inputs in a
row, so state carries over between samples as it does on a live node; then a fresh node takes over, so
the picture (which every input re-encodes whole) stays the size of a busy incident's.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import msgspec
from fuzz.draw import Draw
from fuzz.harness import bounded, corpus_module, target
from fuzz.mutate import mutated

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

SCALARS = [0, 1, 2, 16, 22, -1, 2**31, 1e308, float("nan"), "", "x" * 300]
STATE_IDS = [s.id for s in STATES]
KINDS = ["unit", "vehicle", "feed", "node", "marker", "removed", "alert", "message", "audit"]
NODES = [PEER, PEER, ME, "", "a/b", "kit-c"]


def _value(d: Draw, depth: int = 0) -> object:
    """Any msgpack value: a scalar of any type and range, or (twice nested at most) a short list."""
    kind = d.int(0, 8)
    if kind == 0:
        return None
    if kind == 1:
        return d.bool()
    if kind == 2:
        return d.int(-(2**63), 2**64 - 1)
    if kind == 3:
        return d.float()
    if kind == 4:
        return d.text(30)
    if kind == 5:
        return d.bytes(30)
    if kind == 6 and depth < 2:
        return [_value(d, depth + 1) for _ in range(d.int(0, 4))]
    return d.choice(SCALARS)


def hostile_body(d: Draw) -> bytes:
    """A well-formed msgpack array shaped like a body or event (tag first), with any values after it."""
    body = list(msgspec.msgpack.decode(d.choice(BODY_BYTES)))
    for _ in range(d.int(1, 4)):
        at = d.int(0, len(body))
        if at < len(body) and d.bool():
            body[at] = _value(d)
        elif d.bool():
            body = body[:at]
        else:
            body.append(_value(d))
    return msgspec.msgpack.encode(body)


def _delta_int(d: Draw) -> int | None:
    kind = d.int(0, 2)
    return d.int(-(2**63), 2**64 - 1) if kind == 0 else d.int(-70_000, 70_000) if kind == 1 else None


def hostile_deltas(d: Draw) -> bytes:
    """A ``pos`` payload for the held vehicle's base (epoch 3, gen 1) with any numbers in the delta."""
    delta = [1, _delta_int(d), _delta_int(d), _delta_int(d), *[_delta_int(d) for _ in range(d.int(0, 5))]]
    return msgspec.msgpack.encode((d.choice((3, 3, 0, 2**40)), [(VEHICLE.id, delta)]))


def hostile_batch(d: Draw) -> bytes:
    pairs = [(d.choice(STATE_IDS) if d.bool() else d.text(20), hostile_body(d)) for _ in range(d.int(0, 4))]
    return encode_state_batch(pairs)


BODY_BYTES = STATE_BYTES + EVENT_BYTES


def payload(d: Draw) -> bytes:
    """What a peer (or anyone on the mesh) might publish."""
    kind = d.int(0, 5)
    if kind == 0:
        return hostile_deltas(d)
    if kind == 1:
        return d.bytes(400)
    if kind == 2:
        return mutated(d, PAYLOADS)
    if kind == 3:
        return hostile_body(d)
    if kind == 4:
        return d.choice(PAYLOADS)
    return hostile_batch(d)


def sample(d: Draw) -> tuple[str, bytes]:
    """A key (mostly a valid one of a peer, with a kind that may not match the payload) and a payload."""
    data = payload(d)
    node = d.choice(NODES) if d.bool() else d.text(12)
    kind = d.choice(KINDS)
    which = d.int(0, 7)
    if which == 0:
        key = state_key(node, kind, d.choice(STATE_IDS) if d.bool() else d.text(20))
    elif which == 1:
        key = batch_key(node)
    elif which == 2:
        key = pos_key(node)
    elif which == 3:
        key = event_key(node, kind)
    elif which == 4:
        key = d.choice(("fk/x", "", "fk/" + "/" * 9))
    else:
        key = d.text(60)
    return key, data


# -- the decoders ---------------------------------------------------------------------------------------


@target("mesh.wire_decoders")
def decoders(d: Draw) -> None:
    """One payload into every decoder: only their documented errors, and what they return encodes."""
    data = payload(d)
    for decode in (lambda d: decode_state(d, "unit:1", PEER), decode_event, lambda d: decode_state_batch_gens(d, PEER),
                   decode_summary, decode_event_page, decode_state_page):
        try:
            value = decode(data)
        except WireError:
            continue
        msgspec.json.encode(value)
    with contextlib.suppress(msgspec.DecodeError):
        decode_deltas(data)


def test_mesh_wire_decoders() -> None:
    bounded(decoders)


# -- the receive path ------------------------------------------------------------------------------------

NODE_INPUTS = 1000


class _Node:
    """One node's scene, journal and receiver, taking ``NODE_INPUTS`` inputs before the next takes over."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.inputs = 0
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
        shutil.rmtree(self.folder, ignore_errors=True)


NODE: list[_Node] = []


def _node() -> _Node:
    """The node inputs go to: the current one, or a fresh one once it has taken ``NODE_INPUTS``."""
    if NODE and NODE[0].inputs >= NODE_INPUTS:
        NODE.pop().close()
    if not NODE:
        # FUZZ_SCRATCH: the libFuzzer driver's folder, removed after the run (libFuzzer's exit skips atexit).
        NODE.append(_Node(Path(tempfile.mkdtemp(prefix="fuzz-mesh-", dir=os.environ.get("FUZZ_SCRATCH")))))
    NODE[0].inputs += 1
    return NODE[0]


@atexit.register
def _close_node() -> None:
    while NODE:
        NODE.pop().close()


@target("mesh.receive", max_len=8192)
def receive(d: Draw) -> None:
    """Up to 8 (key, payload) samples as Zenoh hands them over, into a real scene and journal."""
    r = _node()
    batch = [sample(d) for _ in range(d.int(1, 8))]
    r.now += d.fraction(0, 60)
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


def test_mesh_receive() -> None:
    try:
        bounded(receive)
    finally:
        _close_node()
