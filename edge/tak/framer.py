"""A sans-I/O framer for a TAK XML stream: ``<event>…</event>`` back to back, in any chunking.

A TAK streaming connection carries whole CoT events one after another, sometimes each with its own
``<?xml …?>`` declaration, with no length prefix. ``feed`` returns the bytes of each complete event.
Whitespace and declarations between events are ignored; anything else there is garbage (counted, and
skipped up to the next ``<event``). An event longer than ``max_event_bytes`` is dropped whole
without being buffered: the framer discards input until its ``</event>`` and resyncs there.

With ``protobuf=True`` the same stream may also carry TAK Protocol v1 stream frames (``0xbf``, a
varint length, a ``TakMessage``), as TAK Server sends once a connection speaks protobuf; a frame is
returned whole, header included, so the caller tells the two apart by the first byte. An oversized
frame is skipped by its length, up to ``SKIP_FACTOR`` times ``max_event_bytes``: a longer length is
no frame a TAK peer sends but a stray 0xbf in garbage (fuzzing found one claiming 4 GB, which left the
link deaf for good), so only that byte is dropped and framing resumes right after it. XML-only links
leave protobuf off: a stray 0xbf in garbage would otherwise cost up to ``max_event_bytes`` of the stream.
"""

from __future__ import annotations

import re
from collections import Counter

from .cotin import CotRejected
from .proto import read_varint

_START = b"<event"
_END = b"</event>"
_DECL = re.compile(rb"\s*<\?xml[^>]{0,200}\?>")
_MAGIC = 0xBF  # TAK Protocol v1 stream frame header
SKIP_FACTOR = 16  # an oversized frame up to 16 x max_event_bytes is skipped by its length; longer is garbage


class EventFramer:
    """Split a TAK XML byte stream into event documents; counts what it drops in ``drops``."""

    def __init__(self, max_event_bytes: int = 64 * 1024, *, protobuf: bool = False) -> None:
        self.max_event_bytes = max_event_bytes
        self.protobuf = protobuf
        self._skip_bytes = 0  # left of an oversized protobuf frame
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
            if self._skip_bytes:
                cut = min(self._skip_bytes, len(self._buf))
                del self._buf[:cut]
                self._skip_bytes -= cut
                if self._skip_bytes:
                    return out
            if self._skipping:
                if not self._skip_oversized():
                    return out
                continue
            start = self._find_start()
            if start < 0:
                return out
            if self._buf[start] == _MAGIC:
                frame = self._proto_frame(start)
                if frame is None:
                    return out
                if frame:
                    out.append(frame)
                    self.events += 1
                continue
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
        if self.protobuf:
            magic = self._buf.find(_MAGIC, at, start if start >= 0 else len(self._buf))
            start = magic if magic >= 0 else start
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

    def _proto_frame(self, start: int) -> bytes | None:
        """The stream frame at ``start``; None to wait for more bytes, b"" when one was dropped."""
        self._count_garbage(self._buf[:start])
        del self._buf[:start]
        try:
            got = read_varint(self._buf, 1)
        except CotRejected:
            got = (0, 11)  # a length longer than 64 bits: garbage
        if got is None:
            return None
        length, body = got
        if length == 0:
            self.drops["garbage_bytes"] += body
            del self._buf[:body]
            return b""
        if length > self.max_event_bytes * SKIP_FACTOR:
            self.drops["garbage_bytes"] += 1
            del self._buf[:1]
            return b""
        if length > self.max_event_bytes:
            self.drops["oversize"] += 1
            del self._buf[:body]
            self._skip_bytes = length
            return b""
        if len(self._buf) < body + length:
            return None
        frame = bytes(self._buf[: body + length])
        del self._buf[: body + length]
        return frame

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
