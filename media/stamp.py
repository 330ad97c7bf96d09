"""A capture timestamp burned into the picture as a strip of cells, readable after compression.

The sim camera writes, across the top of every frame, 64 black-or-white cells: the capture time in
milliseconds (low 40 bits), the frame counter (16 bits) and an 8-bit checksum. A viewer that reads
the strip back (an aiortc client in a test, the benchmark, or a browser through a canvas) knows how
old the picture is — glass-to-glass latency measured at the glass, with no clock but the host's.
Each cell is 1/64 of the width and 12 px high; from 320 px wide (5 px cells) up, it survives H.264
at the sim's bitrates (a smaller narrow-link variant is too small to carry it).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

CELLS = 64
BAND_H = 12
_TS_BITS = 40
_COUNT_BITS = 16

Image = npt.NDArray[np.uint8]


class Stamp(NamedTuple):
    """What a strip says: capture time (ms, modulo 2**40) and frame counter (modulo 2**16)."""

    ms: int
    frame: int

    def age_ms(self, now_ms: int) -> int:
        """Milliseconds from capture to ``now_ms`` (both wall clock), across the 40-bit wrap."""
        return (now_ms - self.ms) % (1 << _TS_BITS)


def _checksum(value: int) -> int:
    return sum(value.to_bytes(7, "big")) & 0xFF


def _bits(ms: int, frame: int) -> list[int]:
    value = ((ms % (1 << _TS_BITS)) << _COUNT_BITS) | (frame % (1 << _COUNT_BITS))
    word = (value << 8) | _checksum(value)
    return [(word >> (CELLS - 1 - i)) & 1 for i in range(CELLS)]


def burn(image: Image, ms: int, frame: int) -> None:
    """Write the strip into the top ``BAND_H`` rows of a BGR or grey ``image`` in place."""
    width = image.shape[1]
    cell = width // CELLS
    image[:BAND_H, : cell * CELLS] = 0
    for i, bit in enumerate(_bits(ms, frame)):
        if bit:
            image[:BAND_H, i * cell : (i + 1) * cell] = 255


def read(image: Image) -> Stamp | None:
    """Read the strip from a BGR or grey picture; None when it is absent or damaged."""
    if image.ndim == 3:
        image = image.mean(axis=2).astype(np.uint8)
    height, width = image.shape[:2]
    cell = width // CELLS
    if height < BAND_H or cell < 2:
        return None
    centres = image[BAND_H // 2, cell // 2 : cell * CELLS : cell][:CELLS]
    word = 0
    for level in centres:
        word = (word << 1) | int(level >= 128)
    value, check = word >> 8, word & 0xFF
    if _checksum(value) != check or value == 0:
        return None
    return Stamp(value >> _COUNT_BITS, value & ((1 << _COUNT_BITS) - 1))
