"""Inputs for fuzz targets: random bytes, and structure-aware mutations of real frames.

Random bytes alone rarely get past a start marker, a length field and a checksum, so most inputs are
built from valid frames of the parser's own corpus (recorded captures, the tests' fixtures) and then
damaged the ways a radio link damages them: bit flips, dropped and inserted bytes, truncation, a
spliced-in piece of another frame, a field overwritten with an extreme value. ``stream`` strings such
pieces together between runs of garbage, as a serial line delivers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from hypothesis import strategies as st

EXTREMES = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00", b"\xff\xff", b"\x7f\xff", b"\x80\x00", b"\xff" * 4]


@st.composite
def mutated(draw: st.DrawFn, frames: Sequence[bytes]) -> bytes:
    """One frame of ``frames`` with one to four mutations."""
    data = bytearray(draw(st.sampled_from(frames)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "splice", "extreme", "repeat"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[at:]
        elif op == "splice":
            other = draw(st.sampled_from(frames))
            cut = draw(st.integers(0, len(other)))
            data[at:] = other[cut:]
        elif op == "extreme":
            value = draw(st.sampled_from(EXTREMES))
            data[at : at + len(value)] = value
        elif op == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 16))] * draw(st.integers(1, 8))
    return bytes(data)


def pieces(frames: Sequence[bytes], max_garbage: int = 64) -> st.SearchStrategy[bytes]:
    """A valid frame, a damaged one, a prefix of one, or plain garbage."""
    return st.one_of(
        st.sampled_from(frames),
        mutated(frames),
        st.sampled_from(frames).flatmap(lambda f: st.integers(0, len(f)).map(lambda n: f[:n])),
        st.binary(max_size=max_garbage),
    )


def stream(frames: Sequence[bytes], max_pieces: int = 12) -> st.SearchStrategy[bytes]:
    """Either plain random bytes or a run of ``pieces``: what a hostile or broken link delivers."""
    return st.one_of(
        st.binary(max_size=2048),
        st.lists(pieces(frames), max_size=max_pieces).map(b"".join),
    )


def chunked(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` split at ``cuts`` (positions past the end are ignored), as reads deliver it."""
    edges = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
    return [data[a:b] for a, b in pairwise(edges)]


cuts = st.lists(st.integers(0, 4096), max_size=8)
