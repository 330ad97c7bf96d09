"""Choices read from an input's bytes: how one byte string becomes a structured fuzz input.

A fuzz target is a function of a :class:`Draw`. Its bytes come from Hypothesis in ``make test`` (a few
hundred, the same ones every time) and from libFuzzer through atheris in ``make fuzz`` (10^6, coverage
guided): one definition of each target serves both. Every choice consumes the next bytes in order, so a
mutation of the bytes is a mutation of the choices; once the bytes run out every choice is its smallest
one (the first frame of a corpus, an empty piece), so short inputs are simple inputs.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
NASTY_FLOATS = (0.0, -0.0, 1.0, -1.0, float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324, 2.0**53)


class Draw:
    """The choices of one input, taken from its bytes front to back."""

    __slots__ = ("at", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def int(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]`` from as few bytes as the span needs."""
        span = hi - lo
        if span <= 0:
            return lo
        size = (span.bit_length() + 7) // 8
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return lo + int.from_bytes(chunk, "little") % (span + 1)

    def bool(self) -> bool:
        return self.int(0, 1) == 1

    def choice(self, options: Sequence[T]) -> T:
        return options[self.int(0, len(options) - 1)]

    def bytes(self, max_size: int, min_size: int = 0) -> bytes:
        """Up to ``max_size`` bytes taken as they are (fewer when the input runs out)."""
        size = self.int(min_size, max_size)
        out = self.data[self.at : self.at + size]
        self.at += size
        return out

    def float(self) -> float:
        """Any double: an awkward one (NaN, infinities, extremes) or eight bytes read as one."""
        if self.bool():
            return self.choice(NASTY_FLOATS)
        raw = self.data[self.at : self.at + 8].ljust(8, b"\0")
        self.at += 8
        return float(struct.unpack("<d", raw)[0])

    def fraction(self, lo: float, hi: float) -> float:
        """A finite float in ``[lo, hi]``."""
        return lo + (hi - lo) * self.int(0, 0xFFFF_FFFF) / 0xFFFF_FFFF

    def text(self, max_size: int) -> str:
        """Mostly ASCII, with any other code point (surrogates excepted) mixed in."""
        chars = []
        for _ in range(self.int(0, max_size)):
            code = self.int(0, 255)
            if code < 0xC0:
                chars.append(chr(code & 0x7F))
            else:
                code = self.int(0x80, 0x10FFFF)
                chars.append(chr(0xFFFD if 0xD800 <= code <= 0xDFFF else code))
        return "".join(chars)
