"""Fuzz the PMTiles reader: an operator's basemap file is bytes from outside like any other.

Corpus: an archive written by the reference ``pmtiles`` writer (gzip-compressed directories, leaf
directories at this size). Damaged copies are opened and asked for tiles; only ``PMTilesError`` may
come out, and a tile is never longer than the reader's bound.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from browser.tiles import write_pmtiles
from fuzz.harness import FUZZ, check, rounds
from fuzz.mutate import mutated
from hypothesis import given
from hypothesis import strategies as st

from edge.api.pmtiles import MAX_TILE_BYTES, PMTiles, PMTilesError

HERE = (36.07, 120.38)


def _archive() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "base.pmtiles"
        write_pmtiles(path, *HERE, range(8, 13), radius=6)
        return path.read_bytes()


ARCHIVE = _archive()


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """The archive with its header or one region of its directories overwritten, cut or grown."""
    data = bytearray(ARCHIVE)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, min(len(data), 4096) - 1))  # header and root directory: where parsing happens
        piece = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b"\xff" * 8, b"\x00" * 8, b"\x7f" * 4]))
        data[at : at + len(piece)] = piece
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))):]
    return bytes(data)


def _open_and_read(data: bytes, tiles: list[tuple[int, int, int]]) -> None:
    fd, name = tempfile.mkstemp(suffix=".pmtiles")
    try:
        os.write(fd, data)
        os.close(fd)
        try:
            archive = PMTiles(name)
        except PMTilesError:
            return
        try:
            for z, x, y in tiles:
                try:
                    tile = archive.tile(z, x, y)
                except PMTilesError:
                    continue
                assert tile is None or len(tile) <= MAX_TILE_BYTES
        finally:
            archive.close()
    finally:
        os.unlink(name)


zxy = st.integers(0, 14).flatmap(
    lambda z: st.tuples(st.just(z), st.integers(0, (1 << z) - 1), st.integers(0, (1 << z) - 1))
)
near = st.sampled_from([(10, 855, 403), (12, 3420, 1614), (8, 213, 100), (11, 1710, 807)])


@FUZZ
@given(data=st.one_of(damaged(), mutated([ARCHIVE[:2048]]), st.binary(max_size=200)),
       tiles=st.lists(near | zxy, min_size=1, max_size=6))
def _pmtiles_once(data: bytes, tiles: list[tuple[int, int, int]]) -> None:
    check("tiles.pmtiles", lambda: _open_and_read(data, tiles))


def test_pmtiles_reader() -> None:
    rounds("tiles.pmtiles", _pmtiles_once)
