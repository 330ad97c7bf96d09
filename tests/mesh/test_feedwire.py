"""Video on the mesh, the pure parts: keys, payloads from untrusted bytes, and the budget's snapshot turn."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.journal import Journal
from edge.scene import Position, Scene, Unit
from media.snapshot import encode_jpeg, shrink_jpeg
from mesh.budget import PROFILES, Budget
from mesh.config import MeshSection
from mesh.context import MeshContext
from mesh.errors import WireError
from mesh.feedwire import (
    MAX_SNAPSHOT_BYTES,
    MAX_UNIT_BYTES,
    FeedKey,
    SnapW,
    UnitW,
    WantW,
    decode_snapshot,
    decode_unit,
    decode_want,
    encode,
    parse_feed_key,
    snap_key,
    split_stream,
    stream_name,
    video_key,
    want_key,
)
from mesh.seqs import SeqBook
from mesh.session import MeshSession
from mesh.video import VideoWatch, _Rx

JPEG = b"\xff\xd8\xff\xe0" + b"JFIF" + bytes(100) + b"\xff\xd9"
IDR = b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x00\x01\x65\x88\x84"


def test_keys_round_trip_and_hostile_keys_are_refused() -> None:
    assert parse_feed_key(snap_key("edge-1", "cam1")) == FeedKey("edge-1", "snap", "cam1")
    assert parse_feed_key(video_key("e", "cam1-overlay")) == FeedKey("e", "video", "cam1-overlay")
    assert parse_feed_key(want_key("e", "c")) == FeedKey("e", "want", "c")
    assert parse_feed_key(video_key("e", stream_name("cam1", "low"))) == FeedKey("e", "video", "cam1.low")
    assert split_stream("cam1.low") == ("cam1", "low") and split_stream("cam1") == ("cam1", "main")
    assert stream_name("cam1") == "cam1"
    bad_keys = [
        "fk/e/snap/a.b",  # a variant has no snapshot of its own
        "fk/e/video/a.b.c",
        "fk/e/video/.low",
        "fk/e/snap/",
        "fk/e/snap/a/b",
        "fk//snap/a",
        "xx/e/snap/a",
        "fk/e/state/a",
        "fk/e/snap/" + "a" * 41,
        "fk/" + "e" * 200 + "/snap/a",
    ]
    for bad in bad_keys:
        assert parse_feed_key(bad) is None, bad


def test_payloads_round_trip() -> None:
    snap = SnapW(1.5, 320, 180, JPEG)
    assert decode_snapshot(encode(snap)) == snap
    unit = UnitW(7, 90_000, True, 2.25, IDR)
    assert decode_unit(encode(unit)) == unit
    assert decode_want(encode(WantW("hub", True))) == WantW("hub", True)
    assert decode_want(encode(WantW("hub"))) == WantW("hub", False)


def test_bad_payloads_say_why() -> None:
    with pytest.raises(WireError, match="not a JPEG"):
        decode_snapshot(encode(SnapW(1.0, 10, 10, b"GIF89a....")))
    with pytest.raises(WireError, match="the cap is 2000"):
        decode_snapshot(encode(SnapW(1.0, 10, 10, JPEG[:-2] + bytes(3000) + b"\xff\xd9")), max_bytes=2000)
    with pytest.raises(WireError):
        decode_snapshot(encode(SnapW(1.0, 10, 10, b"\xff\xd8\xff" + bytes(MAX_SNAPSHOT_BYTES))))
    with pytest.raises(WireError, match="not Annex-B"):
        decode_unit(encode(UnitW(1, 0, True, 1.0, b"\x65\x88")))
    with pytest.raises(WireError, match=f"length <= {MAX_UNIT_BYTES}"):
        decode_unit(encode(UnitW(1, 0, True, 1.0, b"\x00\x00\x01" + bytes(MAX_UNIT_BYTES))))
    with pytest.raises(WireError):
        decode_want(encode(WantW("no spaces allowed")))


@given(st.binary(max_size=300))
def test_garbage_never_raises_anything_but_a_wire_error(data: bytes) -> None:
    for decode in (decode_snapshot, decode_unit, decode_want):
        with contextlib.suppress(WireError):
            decode(data)


def test_a_narrowband_snapshot_is_re_encoded_to_fit() -> None:
    rng = np.random.default_rng(1)
    image = cv2.GaussianBlur(rng.integers(0, 255, (360, 640, 3), dtype=np.uint8), (5, 5), 0)
    jpeg = encode_jpeg(image, max_bytes=20_000)[0]
    assert len(jpeg) > 4000
    small = shrink_jpeg(jpeg, 4000)
    assert len(small) <= 4000 and small.startswith(b"\xff\xd8\xff")
    assert shrink_jpeg(small, 4000) is small  # what fits goes as it is


def test_a_snapshot_waits_for_alarms_and_due_positions_and_for_the_link() -> None:
    b = Budget(PROFILES["narrowband"], now=0.0)
    assert not b.waiting_above(4, 0.0) and b.affords(900, 0.0)
    b.offer_event("alert", ("fk/a/event/alert", b"x" * 40, True, None))
    assert b.waiting_above(4, 0.0)
    b.take(0.0)
    u = Unit(id="unit:pdt:1", origin="a", ts=0.0, pos=Position(lat=36.7, lon=119.1))
    b.offer_state(u, ("fk/a/state/unit/unit:pdt:1", b"x" * 20, False, None))
    assert b.waiting_above(4, 0.0)  # a due position goes first
    b.take(0.0)
    moved = Unit(id="unit:pdt:1", origin="a", ts=1.0, pos=Position(lat=36.71, lon=119.1))
    b.offer_state(moved, ("fk/a/state/unit/unit:pdt:1", b"x" * 20, False, None))
    assert not b.waiting_above(4, 1.0)  # a position held back by its interval does not block a snapshot
    b.charge(4000, 1.0)  # a 4 KB snapshot went: ~4 s of 9.6 kbit/s at 80 %
    assert not b.affords(100, 2.0) and b.affords(100, 6.0)


def _watch_context(tmp_path: Path) -> MeshContext:
    cfg = MeshSection()
    journal = Journal(tmp_path / "j.sqlite", node_id="hub")  # never opened: the watcher only counts and hands on
    ctx = MeshContext(
        me="hub",
        cfg=cfg,
        scene=Scene("hub", journal, clock=time.time),
        journal=journal,
        session=MeshSession(cfg, "command-post"),
        seqs=SeqBook(),
        clock=time.monotonic,
    )
    ctx.links.set_up("edge1", True, 0.0)
    return ctx


def test_a_watcher_starts_at_a_real_keyframe_and_waits_for_the_next_after_a_lost_unit(tmp_path: Path) -> None:
    watcher = VideoWatch(_watch_context(tmp_path))
    got: list[tuple[int, bool]] = []
    rx = _Rx()
    key = video_key("edge1", "cam1")
    delta = b"\x00\x00\x00\x01\x41\x9a"  # a non-IDR slice

    def feed(*units: UnitW) -> None:
        watcher._received(
            ("edge1", "cam1"), rx, lambda u: got.append((u.packet.pts, u.keyframe)), [(key, encode(u)) for u in units]
        )

    feed(UnitW(1, 0, False, 1.0, delta), UnitW(2, 1, True, 1.0, delta))  # a "keyframe" with no IDR inside is not one
    assert got == [] and watcher.units_skipped == 2
    feed(UnitW(3, 2, True, 1.0, IDR), UnitW(4, 3, False, 1.0, delta))
    assert got == [(2, True), (3, False)]
    feed(UnitW(6, 5, False, 1.0, delta), UnitW(7, 6, False, 1.0, delta))  # 5 was lost on the way
    assert got == [(2, True), (3, False)] and watcher._keyframe[("edge1", "cam1")]  # a keyframe asked for
    feed(UnitW(8, 7, True, 1.0, IDR))
    assert got[-1] == (7, True) and watcher.units_received == 3
    feed(UnitW(9, 8, False, 1.0, delta))
    watcher._received(
        ("edge1", "cam1"), rx, got.append, [(video_key("edge1", "other"), encode(UnitW(10, 9, False, 1.0, delta)))]
    )
    assert watcher.units_dropped_malformed == 1 and len(got) == 4  # the stray key went nowhere
