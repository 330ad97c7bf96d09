"""Inputs for fuzz targets: random bytes, and structure-aware mutations of real frames, drawn from a :class:`Draw`.

Random bytes alone rarely get past a start marker, a length field and a checksum, so most inputs are
built from valid frames of the parser's own corpus (recorded captures, the tests' fixtures) and then
damaged the ways a radio link damages them: bit flips, dropped and inserted bytes, truncation, a
spliced-in piece of another frame, a field overwritten with an extreme value. ``stream`` strings such
pieces together between runs of garbage, as a serial line delivers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from fuzz.draw import Draw

EXTREMES = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00", b"\xff\xff", b"\x7f\xff", b"\x80\x00", b"\xff" * 4]
OPS = ("flip", "set", "insert", "delete", "truncate", "splice", "extreme", "repeat")


def mutated(d: Draw, frames: Sequence[bytes]) -> bytes:
    """One frame of ``frames`` with one to four mutations."""
    data = bytearray(d.choice(frames))
    for _ in range(d.int(1, 4)):
        op = d.choice(OPS)
        at = d.int(0, max(0, len(data) - 1))
        if op == "flip" and data:
            data[at] ^= 1 << d.int(0, 7)
        elif op == "set" and data:
            data[at] = d.int(0, 255)
        elif op == "insert":
            data[at:at] = d.bytes(8, min_size=1)
        elif op == "delete" and data:
            del data[at : at + d.int(1, 8)]
        elif op == "truncate":
            del data[at:]
        elif op == "splice":
            other = d.choice(frames)
            data[at:] = other[d.int(0, len(other)) :]
        elif op == "extreme":
            value = d.choice(EXTREMES)
            data[at : at + len(value)] = value
        elif op == "repeat":
            data[at:at] = data[at : at + d.int(1, 16)] * d.int(1, 8)
    return bytes(data)


def piece(d: Draw, frames: Sequence[bytes], max_garbage: int = 64) -> bytes:
    """A valid frame, a damaged one, a prefix of one, or plain garbage."""
    kind = d.int(0, 3)
    if kind == 0:
        return d.choice(frames)
    if kind == 1:
        return mutated(d, frames)
    if kind == 2:
        frame = d.choice(frames)
        return frame[: d.int(0, len(frame))]
    return d.bytes(max_garbage)


def stream(d: Draw, frames: Sequence[bytes], max_pieces: int = 12) -> bytes:
    """Either plain random bytes or a run of ``piece``: what a hostile or broken link delivers."""
    if d.bool():
        return d.bytes(2048)
    return b"".join(piece(d, frames) for _ in range(d.int(0, max_pieces)))


def cuts(d: Draw) -> list[int]:
    """Where reads split a stream: up to 8 positions."""
    return [d.int(0, 4096) for _ in range(d.int(0, 8))]


def chunked(data: bytes, cut_at: Sequence[int]) -> list[bytes]:
    """``data`` split at ``cut_at`` (positions past the end are ignored), as reads deliver it."""
    edges = [0, *sorted({c for c in cut_at if 0 < c < len(data)}), len(data)]
    return [data[a:b] for a, b in pairwise(edges)]
