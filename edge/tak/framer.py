"""A sans-I/O framer for a TAK XML stream: ``<event>…</event>`` back to back, in any chunking.

A TAK streaming connection carries whole CoT events one after another, sometimes each with its own
``<?xml …?>`` declaration, with no length prefix. ``feed`` returns the bytes of each complete event.
Whitespace and declarations between events are ignored; anything else there is garbage (counted, and
skipped up to the next ``<event``). An event longer than ``max_event_bytes`` is dropped whole
without being buffered: the framer discards input until its ``</event>`` and resyncs there.
"""

from __future__ import annotations

import re
from collections import Counter

_START = b"<event"
_END = b"</event>"
_DECL = re.compile(rb"\s*<\?xml[^>]{0,200}\?>")


class EventFramer:
    """Split a TAK XML byte stream into event documents; counts what it drops in ``drops``."""

    def __init__(self, max_event_bytes: int = 64 * 1024) -> None:
        self.max_event_bytes = max_event_bytes
        self.drops: Counter[str] = Counter()
        self.events = 0
        self._buf = bytearray()
        self._skipping = False  # inside an oversized event: discard until its end tag

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of an event."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every event completed by them."""
        self._buf += data
        out: list[bytes] = []
        while True:
            if self._skipping:
                if not self._skip_oversized():
                    return out
                continue
            start = self._find_start()
            if start < 0:
                return out
            end = self._buf.find(_END, start)
            if end < 0:
                if len(self._buf) - start > self.max_event_bytes:
                    self._drop_oversized(start)
                    continue
                if start:
                    del self._buf[:start]
                return out
            stop = end + len(_END)
            if stop - start > self.max_event_bytes:
                self.drops["oversize"] += 1
            else:
                out.append(bytes(self._buf[start:stop]))
                self.events += 1
            del self._buf[:stop]

    def _find_start(self) -> int:
        """Index of the next ``<event`` start tag; garbage before it is counted and dropped."""
        at = 0
        while True:
            decl = _DECL.match(self._buf, at)
            if decl is None:
                break
            at = decl.end()
        start = self._buf.find(_START, at)
        while start >= 0 and not self._is_start_tag(start):
            start = self._buf.find(_START, start + 1)  # "<eventual>" is not an event
        if start < 0:
            rest = self._buf[at:].lstrip()
            if rest.startswith(b"<?") and len(rest) < 256:
                return -1  # a declaration split across reads
            cut = max(at, len(self._buf) - (len(_START) - 1))  # a start tag may be split across reads
            self._count_garbage(self._buf[at:cut])
            del self._buf[:cut]
            return -1
        self._count_garbage(self._buf[at:start])
        return start

    def _is_start_tag(self, at: int) -> bool:
        after = at + len(_START)
        return after >= len(self._buf) or self._buf[after] in b" \t\r\n>/"

    def _count_garbage(self, junk: bytes | bytearray) -> None:
        if junk.strip():
            self.drops["garbage_bytes"] += len(junk)

    def _drop_oversized(self, start: int) -> None:
        self.drops["oversize"] += 1
        del self._buf[: start + 1]
        self._skipping = True

    def _skip_oversized(self) -> bool:
        """Discard input up to the oversized event's end; True when found (framing resumes)."""
        end = self._buf.find(_END)
        if end < 0:
            del self._buf[: max(0, len(self._buf) - (len(_END) - 1))]
            return False
        del self._buf[: end + len(_END)]
        self._skipping = False
        return True
