"""Keys and payloads for video on the mesh (pure, no I/O): snapshots, access units, and wants.

- ``fk/<node>/snap/<feed>``: the newest JPEG snapshot of one of ``node``'s feeds (``SnapW``);
- ``fk/<node>/video/<feed>``: the feed's encoded H.264 access units (``UnitW``), published only
  while some node wants them; ``<feed>.<profile>`` for a narrow-link variant (``low``: a feed name
  has no dot, so the two never clash);
- ``fk/<node>/want/<feed>``: a node asking ``node`` for that video (``WantW``), repeated while it
  watches; ``keyframe`` asks the origin to start (again) at a keyframe.

Everything here is read from untrusted bytes: the key grammar, the sizes and the JPEG/Annex-B
magic are checked before anything is kept, and each failure is a :class:`~mesh.errors.WireError`
whose text says why.
"""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

import msgspec
from msgspec import Meta, Struct

from .errors import WireError
from .keys import PREFIX

SNAP_ALL = f"{PREFIX}/*/snap/*"
MAX_SNAPSHOT_BYTES = 64 * 1024  # a hard cap whatever the origin's config: snapshots are meant to be ~20 KB
MAX_UNIT_BYTES = 512 * 1024  # an IDR of 1080p at a high bitrate fits; anything larger is garbage here
JPEG_START = b"\xff\xd8\xff"
JPEG_END = b"\xff\xd9"

_NODE = r"[A-Za-z0-9._-]{1,40}"
_FEED = r"[A-Za-z0-9_-]{1,40}"  # media/config.py's FeedName, plus "-overlay"
_STREAM = rf"{_FEED}(?:\.{_FEED})?"  # a feed, or <feed>.<profile>
_KEY = re.compile(
    rf"^{PREFIX}/(?P<node>{_NODE})/(?:(?P<snap>snap)/(?P<sfeed>{_FEED})|(?P<what>video|want)/(?P<feed>{_STREAM}))$"
)

T = TypeVar("T")
Seconds = Annotated[float, Meta(ge=0.0, le=1e10)]


class FeedKey(Struct, frozen=True):
    """A video key read back: whose feed, which feed (``<feed>.<profile>`` for a variant's video), and
    what (``snap``, ``video`` or ``want``)."""

    node: str
    what: str
    feed: str


def snap_key(node: str, feed: str) -> str:
    """Where ``node`` publishes the newest snapshot of its ``feed``."""
    return f"{PREFIX}/{node}/snap/{feed}"


def video_key(node: str, feed: str) -> str:
    """Where ``node`` publishes the access units of its ``feed`` while wanted."""
    return f"{PREFIX}/{node}/video/{feed}"


def want_key(node: str, feed: str) -> str:
    """Where a viewer's node asks ``node`` for the video of its ``feed``."""
    return f"{PREFIX}/{node}/want/{feed}"


def want_all(node: str) -> str:
    """Every want addressed to ``node``."""
    return f"{PREFIX}/{node}/want/*"


def parse_feed_key(key: str) -> FeedKey | None:
    """Read a video key; None if it is not one (or malformed)."""
    m = _KEY.match(key) if len(key) < 160 else None
    if m is None:
        return None
    return FeedKey(m["node"], "snap", m["sfeed"]) if m["snap"] else FeedKey(m["node"], m["what"], m["feed"])


def stream_name(feed: str, profile: str = "main") -> str:
    """What the video and want keys call ``feed``'s ``profile``: the feed's name for main."""
    return feed if profile == "main" else f"{feed}.{profile}"


def split_stream(stream: str) -> tuple[str, str]:
    """(feed, profile) of a stream name."""
    feed, _, profile = stream.partition(".")
    return feed, profile or "main"


class SnapW(Struct, frozen=True, array_like=True):
    """A snapshot on the wire: ``[captured, width, height, jpeg]``."""

    captured: Seconds
    width: Annotated[int, Meta(ge=1, le=8192)]
    height: Annotated[int, Meta(ge=1, le=8192)]
    jpeg: Annotated[bytes, Meta(max_length=MAX_SNAPSHOT_BYTES)]


class UnitW(Struct, frozen=True, array_like=True):
    """An access unit on the wire: ``[seq, pts_90k, keyframe, captured, annexb]``.

    ``seq`` counts the origin's units on this key, so a receiver sees a unit Zenoh dropped
    (congestion control DROP) and waits for the next keyframe instead of showing a broken picture.
    """

    seq: Annotated[int, Meta(ge=0, le=2**63 - 1)]
    pts_90k: Annotated[int, Meta(ge=-(2**62), le=2**62)]
    keyframe: bool
    captured: Seconds
    data: Annotated[bytes, Meta(max_length=MAX_UNIT_BYTES)]


class WantW(Struct, frozen=True, array_like=True):
    """A want: ``[from_node, keyframe]``."""

    node: Annotated[str, Meta(pattern=rf"^{_NODE}$")]
    keyframe: bool = False


_snap = msgspec.msgpack.Decoder(SnapW)
_unit = msgspec.msgpack.Decoder(UnitW)
_want = msgspec.msgpack.Decoder(WantW)
_encoder = msgspec.msgpack.Encoder()


def encode(value: SnapW | UnitW | WantW) -> bytes:
    """The payload of one snapshot, access unit or want."""
    return _encoder.encode(value)


def decode_snapshot(data: bytes, max_bytes: int = MAX_SNAPSHOT_BYTES) -> SnapW:
    """A snapshot read back, its JPEG at most ``max_bytes`` and shaped like a JPEG (SOI ... EOI)."""
    if len(data) > max_bytes + 64:
        raise WireError(f"a snapshot of {len(data)} bytes (the cap is {max_bytes})")
    snap = _decode(_snap, data)
    if len(snap.jpeg) > max_bytes:
        raise WireError(f"a snapshot of {len(snap.jpeg)} bytes (the cap is {max_bytes})")
    if not snap.jpeg.startswith(JPEG_START) or not snap.jpeg.rstrip(b"\x00").endswith(JPEG_END):
        raise WireError("a snapshot that is not a JPEG")
    return snap


def decode_unit(data: bytes, max_bytes: int = MAX_UNIT_BYTES) -> UnitW:
    """An access unit read back: at most ``max_bytes``, Annex-B (it starts with a start code)."""
    if len(data) > max_bytes + 64:
        raise WireError(f"an access unit of {len(data)} bytes (the cap is {max_bytes})")
    unit = _decode(_unit, data)
    if not (unit.data.startswith(b"\x00\x00\x01") or unit.data.startswith(b"\x00\x00\x00\x01")):
        raise WireError("an access unit that is not Annex-B H.264")
    return unit


def decode_want(data: bytes) -> WantW:
    """A want read back."""
    if len(data) > 128:
        raise WireError(f"a want of {len(data)} bytes")
    return _decode(_want, data)


def _decode(decoder: msgspec.msgpack.Decoder[T], data: bytes) -> T:
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise WireError(str(exc)[:200]) from exc
