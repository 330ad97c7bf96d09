"""Telemetry logs (.tlog) per vehicle and session, in the format every MAVLink tool reads.

A .tlog is a plain sequence of records: an 8-byte big-endian timestamp in microseconds since the
Unix epoch, then one raw MAVLink frame as it was on the wire (MAVProxy, Mission Planner and
``pymavlink.mavutil.mavlink_connection(path)`` read it). A vehicle's log holds the frames it sent
(any of its components) and the frames addressed to it, including fieldkit's own commands.

Writes go to a buffered file and reach the disk when :meth:`TlogBook.flush` runs (the service does
at each publish tick); a log that cannot be opened or written is reported once and then skipped, so
a full disk never stops routing.
"""

from __future__ import annotations

import logging
import struct
import time
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

_STAMP = struct.Struct(">Q")


def record(unix_s: float, raw: bytes) -> bytes:
    """One .tlog record: the timestamp in microseconds, big-endian, then the frame."""
    return _STAMP.pack(int(unix_s * 1_000_000)) + raw


class TlogBook:
    """One .tlog per vehicle for this session, opened on the vehicle's first frame."""

    def __init__(self, folder: Path, node_id: str, session_start: float) -> None:
        self.folder = folder
        self.node_id = node_id
        self.session = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(session_start))
        self._files: dict[int, BinaryIO] = {}
        self._failed: set[int] = set()

    def path_for(self, sysid: int) -> Path:
        """Where vehicle ``sysid``'s log of this session is written."""
        return self.folder / f"{self.node_id}-{self.session}-sys{sysid}.tlog"

    def write(self, sysid: int, unix_s: float, raw: bytes) -> None:
        """Append one frame to vehicle ``sysid``'s log."""
        if sysid in self._failed:
            return
        f = self._files.get(sysid)
        try:
            if f is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                f = self._files[sysid] = self.path_for(sysid).open("ab")
                log.info("recording vehicle %d to %s", sysid, self.path_for(sysid))
            f.write(record(unix_s, raw))
        except OSError as exc:
            self._failed.add(sysid)
            log.warning("tlog for vehicle %d stopped: %s", sysid, exc)

    def flush(self) -> None:
        """Push buffered records to the files."""
        for sysid, f in list(self._files.items()):
            try:
                f.flush()
            except OSError as exc:
                self._failed.add(sysid)
                self._files.pop(sysid).close()
                log.warning("tlog for vehicle %d stopped: %s", sysid, exc)

    def close(self) -> None:
        """Flush and close every log (safe to call twice)."""
        self.flush()
        for f in self._files.values():
            f.close()
        self._files.clear()
