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
from fuzz.draw import Draw
from fuzz.harness import bounded, target
from fuzz.mutate import mutated

from edge.api.pmtiles import MAX_TILE_BYTES, PMTiles, PMTilesError

HERE = (36.07, 120.38)


def _archive() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "base.pmtiles"
        write_pmtiles(path, *HERE, range(8, 13), radius=6)
        return path.read_bytes()


ARCHIVE = _archive()


def damaged(d: Draw) -> bytes:
    """The archive with its header or one region of its directories overwritten, cut or grown."""
    data = bytearray(ARCHIVE)
    for _ in range(d.int(1, 3)):
        at = d.int(0, min(len(data), 4096) - 1)  # header and root directory: where parsing happens
        piece = d.bytes(8, min_size=1) if d.bool() else d.choice([b"\xff" * 8, b"\x00" * 8, b"\x7f" * 4])
        data[at : at + len(piece)] = piece
    if d.bool():
        del data[d.int(0, len(data)) :]
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


NEAR = [(10, 855, 403), (12, 3420, 1614), (8, 213, 100), (11, 1710, 807)]
ARCHIVE_HEAD = [ARCHIVE[:2048]]


def _tile(d: Draw) -> tuple[int, int, int]:
    if d.bool():
        return d.choice(NEAR)
    z = d.int(0, 14)
    return z, d.int(0, (1 << z) - 1), d.int(0, (1 << z) - 1)


@target("tiles.pmtiles")
def pmtiles(d: Draw) -> None:
    """A damaged archive opened, then asked for tiles near its area or anywhere."""
    kind = d.int(0, 2)
    data = damaged(d) if kind == 0 else mutated(d, ARCHIVE_HEAD) if kind == 1 else d.bytes(200)
    _open_and_read(data, [_tile(d) for _ in range(d.int(1, 6))])


def test_pmtiles_reader() -> None:
    bounded(pmtiles)
