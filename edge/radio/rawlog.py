"""Raw gateway traffic on disk, for replay: each record is the time it arrived and the bytes.

Record layout (big-endian): ``u64`` microseconds since the epoch, ``u32`` length, then the bytes —
the same idea as a MAVLink .tlog, so a capture from the field can be fed back through any framer.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_HEADER = struct.Struct(">QI")
MAX_RECORD = 1 << 20


class RawLog:
    """Appends received chunks to a file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = path.open("ab")
        self.path = path

    def write(self, now: float, data: bytes) -> None:
        """Record one chunk received at ``now``."""
        self._file.write(_HEADER.pack(int(now * 1_000_000), len(data)) + data)
        self._file.flush()

    def close(self) -> None:
        """Close the file; safe to call twice."""
        self._file.close()


def replay(path: Path) -> Iterator[tuple[float, bytes]]:
    """Each recorded (time, chunk) in order; stops at a truncated last record (a crash mid-write)."""
    with path.open("rb") as f:
        while True:
            header = f.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            micros, length = _HEADER.unpack(header)
            if length > MAX_RECORD:
                raise ValueError(f"{path}: record of {length} bytes is not a raw gateway log")
            data = f.read(length)
            if len(data) < length:
                return
            yield micros / 1_000_000, data
