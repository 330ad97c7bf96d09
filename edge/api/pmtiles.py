"""A reader for PMTiles v3 archives (raster basemaps on the node), written to the spec.

Spec: https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md. The file is untrusted: every
offset is checked against the file size, directories are bounded before and after decompression,
and a malformed archive raises ``PMTilesError`` instead of reading past its end. ``os.pread`` keeps
reads thread-safe (Litestar serves tiles from a thread pool) without a lock around a shared seek.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from bisect import bisect_right
from functools import lru_cache
from typing import NamedTuple

HEADER_BYTES = 127
MAX_DIRECTORY_BYTES = 16 * 1024 * 1024  # compressed or not; the spec keeps a root under 16 KiB
MAX_TILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 4  # root + leaves; the spec's writers use at most one level of leaves
COMPRESSION = {1: "none", 2: "gzip", 3: "brotli", 4: "zstd"}
TILE_MEDIA = {2: "image/png", 3: "image/jpeg", 4: "image/webp", 5: "image/avif"}


class PMTilesError(Exception):
    """The file is not a PMTiles v3 archive this node can serve."""


class Header(NamedTuple):
    """The fixed 127-byte header (spec section 3)."""

    root_offset: int
    root_length: int
    leaf_offset: int
    leaf_length: int
    data_offset: int
    data_length: int
    internal_compression: int
    tile_compression: int
    tile_type: int
    min_zoom: int
    max_zoom: int


def parse_header(data: bytes) -> Header:
    """The header of an archive from its first 127 bytes."""
    if len(data) < HEADER_BYTES or data[:7] != b"PMTiles":
        raise PMTilesError("not a PMTiles archive (no PMTiles magic)")
    if data[7] != 3:
        raise PMTilesError(f"PMTiles version {data[7]} is not supported (only v3)")
    offsets = struct.unpack_from("<8Q", data, 8)  # root, metadata, leaves, data: (offset, length) each
    internal, tile_comp, tile_type, min_zoom, max_zoom = struct.unpack_from("<5B", data, 97)
    return Header(offsets[0], offsets[1], offsets[4], offsets[5], offsets[6], offsets[7],
                  internal, tile_comp, tile_type, min_zoom, max_zoom)


def zxy_to_tileid(z: int, x: int, y: int) -> int:
    """The Hilbert tile id of a tile (spec section 2): tiles of lower zooms come first."""
    if z > 31 or x >= 1 << z or y >= 1 << z:
        raise ValueError(f"no tile {z}/{x}/{y}")
    tile_id = ((1 << (2 * z)) - 1) // 3
    for a in range(z - 1, -1, -1):
        s = 1 << a
        rx, ry = int(x & s > 0), int(y & s > 0)
        tile_id += ((3 * rx) ^ ry) << (2 * a)
        if ry == 0:
            if rx == 1:
                x, y = s - 1 - (x & (s - 1)), s - 1 - (y & (s - 1))
            x, y = y, x
    return tile_id


class Entry(NamedTuple):
    """One directory entry: a run of tiles, or (run_length 0) a leaf directory."""

    tile_id: int
    offset: int
    length: int
    run_length: int


def _varints(data: bytes) -> list[int]:
    values, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if shift > 63:
            raise PMTilesError("varint longer than 64 bits")
        if byte < 0x80:
            values.append(value)
            value, shift = 0, 0
    if shift:
        raise PMTilesError("directory ends inside a varint")
    return values


def parse_directory(data: bytes) -> list[Entry]:
    """A decompressed directory (spec section 4): ids delta-coded, then run lengths, lengths, offsets."""
    values = _varints(data)
    if not values:
        raise PMTilesError("empty directory")
    n = values[0]
    if len(values) != 1 + 4 * n:
        raise PMTilesError(f"directory of {n} entries holds {len(values) - 1} numbers")
    ids, runs, lengths, raw_offsets = (values[1 + i * n: 1 + (i + 1) * n] for i in range(4))
    entries: list[Entry] = []
    tile_id = 0
    for i in range(n):
        tile_id += ids[i]
        offset = entries[-1].offset + entries[-1].length if raw_offsets[i] == 0 and i > 0 else raw_offsets[i] - 1
        if offset < 0:
            raise PMTilesError("first directory entry has no offset")
        entries.append(Entry(tile_id, offset, lengths[i], runs[i]))
    return entries


def _decompress(data: bytes, compression: int) -> bytes:
    if compression == 1:
        return data
    if compression != 2:
        raise PMTilesError(f"{COMPRESSION.get(compression, 'unknown')} internal compression is not supported")
    try:
        out = zlib.decompressobj(wbits=31).decompress(data, MAX_DIRECTORY_BYTES + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise PMTilesError(f"bad gzip directory: {exc}") from exc
    if len(out) > MAX_DIRECTORY_BYTES:
        raise PMTilesError("directory larger than 16 MiB when decompressed")
    return out


class PMTiles:
    """An open archive: ``tile(z, x, y)`` gives the stored bytes or None."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        try:
            self._size = os.fstat(self._fd).st_size
            self.header = parse_header(os.pread(self._fd, HEADER_BYTES, 0))
            if self.header.tile_type not in TILE_MEDIA:
                raise PMTilesError("only raster tiles (png, jpeg, webp, avif) are served; this archive holds "
                                   + ("vector tiles" if self.header.tile_type == 1 else "an unknown tile type"))
            self._root = self._directory(self.header.root_offset, self.header.root_length)
        except BaseException:
            os.close(self._fd)
            raise
        self._leaf = lru_cache(maxsize=64)(self._leaf_directory)

    @property
    def media_type(self) -> str:
        """The tiles' MIME type."""
        return TILE_MEDIA[self.header.tile_type]

    @property
    def content_encoding(self) -> str | None:
        """How each tile's bytes are compressed (sent as Content-Encoding), or None."""
        return {2: "gzip", 3: "br", 4: "zstd"}.get(self.header.tile_compression)

    def close(self) -> None:
        """Release the file."""
        os.close(self._fd)

    def _read(self, offset: int, length: int, limit: int) -> bytes:
        if length > limit or offset < 0 or offset + length > self._size:
            raise PMTilesError(f"range {offset}+{length} lies outside the file or is too large")
        data = os.pread(self._fd, length, offset)
        if len(data) != length:
            raise PMTilesError("file shorter than its directory says")
        return data

    def _directory(self, offset: int, length: int) -> list[Entry]:
        raw = self._read(offset, length, MAX_DIRECTORY_BYTES)
        return parse_directory(_decompress(raw, self.header.internal_compression))

    def _leaf_directory(self, offset: int, length: int) -> list[Entry]:
        if offset + length > self.header.leaf_length:
            raise PMTilesError("leaf directory outside the leaf section")
        return self._directory(self.header.leaf_offset + offset, length)

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of tile z/x/y, or None when the archive has none there."""
        if not self.header.min_zoom <= z <= self.header.max_zoom or x >= 1 << z or y >= 1 << z:
            return None
        tile_id = zxy_to_tileid(z, x, y)
        entries = self._root
        for _ in range(MAX_DEPTH):
            i = bisect_right(entries, tile_id, key=lambda e: e.tile_id) - 1
            if i < 0:
                return None
            entry = entries[i]
            if entry.run_length == 0:
                entries = self._leaf(entry.offset, entry.length)
                continue
            if tile_id >= entry.tile_id + entry.run_length:
                return None
            if entry.offset + entry.length > self.header.data_length:
                raise PMTilesError("tile outside the tile data section")
            return self._read(self.header.data_offset + entry.offset, entry.length, MAX_TILE_BYTES)
        raise PMTilesError(f"leaf directories nested deeper than {MAX_DEPTH}")
