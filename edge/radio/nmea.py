"""The ``nmea`` framing: NMEA 0183 sentences from a radio gateway's serial port, as radio events.

Sans-I/O: ``NmeaCodec.feed(data, now)`` takes any chunk and returns the events it completes. A
sentence is ``$`` (or ``!``), an address field and comma-separated fields, ``*HH`` and CR LF (NMEA
0183 §5.3). We also take a bare LF, and a line without ``*HH`` if it is otherwise well formed (as
gpsd does; counted as ``no_checksum``); a checksummed sentence cut short of its line end by the next
``$`` still counts. The standard caps a sentence at 82 characters; real receivers exceed that, so the
cap here is ``max_sentence`` (160).

What cannot be used is counted in ``drops`` by kind, with its bytes under ``<kind>_bytes``:
``garbage`` (bytes outside any sentence; one count per run, however it is chunked), ``bad_checksum``,
``oversize`` (a line over the cap; the codec skips to the next ``$`` or line end), ``stale`` (a
partial sentence older than ``stale_after_s`` when more bytes come), ``malformed`` (a sentence
whose fields do not parse), and ``unsupported`` (a good sentence of a type we do not decode, counted
quietly). Every byte fed ends up in exactly one of ``frame_bytes``, a ``*_bytes`` count, or
``pending`` (a partial sentence held for the next chunk).

GNSS sentences (``nmea_fix``) become one ``Fix`` per reporting cycle, the gateway's own position
(``unit`` None); Kenwood's unit sentences (``nmea_kenwood``) become a ``Fix`` for that unit at once,
with its ``Status``. NMEA has no sentence for a text message or a position request, and Kenwood
documents none in its NMEA output (texts and polls go over FleetSync's own serial commands), so
``encode_text`` and ``encode_poll`` return None.
"""

from __future__ import annotations

import logging
import re

from .events import RadioEvent
from .framing import DropCounter
from .nmea_fields import checksum
from .nmea_fix import PARSERS, TALKERS, FixMerger, encode_gnss_fix
from .nmea_kenwood import UNIT_SENTENCES, decode_unit, encode_unit_fix

__all__ = ["MAX_SENTENCE", "STALE_AFTER_S", "NmeaCodec", "encode_gnss_fix", "encode_unit_fix"]

log = logging.getLogger(__name__)

MAX_SENTENCE = 160  # characters from `$` to the checksum; NMEA 0183 says 82, receivers send more
STALE_AFTER_S = 3.0  # an 82-character sentence takes 0.17 s at 4800 baud
_START = re.compile(rb"[$!]")
_END = re.compile(rb"[$!\n]")
_UNCHECKED = re.compile(rb"[$!][A-Z][A-Z0-9]{3,9}(?:,[\x20-\x29\x2b-\x7e]*)?")  # well formed, no `*`
_HEX = frozenset(b"0123456789ABCDEFabcdef")


class NmeaCodec:
    """The ``nmea`` framing: GNSS fixes of the gateway itself and Kenwood unit-id position reports."""

    name = "nmea"

    def __init__(self, *, max_sentence: int = MAX_SENTENCE, stale_after_s: float = STALE_AFTER_S) -> None:
        self.drops = DropCounter(self.name, log)
        self.frames = 0
        self.outbox: list[bytes] = []  # NMEA is one-way: nothing is ever owed back
        self.frame_bytes = 0
        self.max_sentence = max_sentence
        self.stale_after_s = stale_after_s
        self._partial = b""
        self._partial_since = 0.0
        self._skipping: str | None = None  # "garbage" or "oversize": a run of dropped bytes goes on
        self._gnss = FixMerger()

    @property
    def pending(self) -> int:
        """Bytes held for the next chunk: the start of a sentence."""
        return len(self._partial)

    def feed(self, data: bytes, now: float) -> list[RadioEvent]:
        """The events completed by ``data``, received at ``now``; never raises on any input."""
        events: list[RadioEvent] = list(self._gnss.idle(now))
        if self._partial and now - self._partial_since > self.stale_after_s:
            self.drops.drop("stale", len(self._partial), "partial sentence timed out")
            self._partial = b""
        if not data:
            return events
        if self._partial:
            buf, since = self._partial + data, self._partial_since
        else:
            buf, since = bytes(data), now
        self._partial = b""
        self._scan(buf, now, since, events)
        return events

    def flush(self) -> list[RadioEvent]:
        """The fix of the cycle under way, without waiting for its end (the input is over)."""
        return list(self._gnss.flush())

    def encode_text(self, dst: str, text: str, *, group: bool, msg_id: int) -> bytes | None:
        """None: NMEA 0183 has no text sentence, and Kenwood documents none in its NMEA output."""
        return None

    def encode_poll(self, unit: str) -> bytes | None:
        """None: there is no NMEA sentence asking a radio for its position."""
        return None

    # -- framing ---------------------------------------------------------------------------------

    def _scan(self, buf: bytes, now: float, since: float, events: list[RadioEvent]) -> None:
        pos, n, limit = 0, len(buf), self.max_sentence + 1  # + 1: room for the CR
        if self._skipping == "oversize":
            stop = _END.search(buf)
            end = n if stop is None else stop.end() if buf[stop.start()] == 0x0A else stop.start()
            self.drops.counts["oversize_bytes"] += end
            if stop is None:
                return
            self._skipping, pos = None, end
        while pos < n:
            start = _START.search(buf, pos)
            if start is None:
                self._garbage(n - pos)
                return
            s = start.start()
            if s > pos:
                self._garbage(s - pos)
            self._skipping = None
            stop = _END.search(buf, s + 1)
            if stop is None:  # the sentence goes on in the next chunk
                if n - s > limit:
                    self.drops.drop("oversize", n - s, f"over {self.max_sentence} characters")
                    self._skipping = "oversize"
                else:
                    self._partial, self._partial_since = buf[s:], since if s == 0 else now
                return
            e = stop.start()
            if buf[e] == 0x0A:
                self._line(_chomp(buf[s:e]), e + 1 - s, now, events)
                pos = e + 1
            else:
                self._cut(buf[s:e], now, events)
                pos = e

    def _garbage(self, nbytes: int) -> None:
        if self._skipping == "garbage":
            self.drops.counts["garbage_bytes"] += nbytes
        else:
            self.drops.drop("garbage", nbytes)
            self._skipping = "garbage"

    def _cut(self, raw: bytes, now: float, events: list[RadioEvent]) -> None:
        """A sentence ended by the next start character instead of a line end."""
        line = _chomp(raw)
        star = line.rfind(b"*")
        if len(raw) > self.max_sentence + 1:
            self.drops.drop("oversize", len(raw), f"over {self.max_sentence} characters")
        elif star < 0 or star != len(line) - 3:
            self.drops.drop("garbage", len(raw), "sentence cut short")
            self._skipping = "garbage"
        else:
            self._line(line, len(raw), now, events)

    def _line(self, line: bytes, nbytes: int, now: float, events: list[RadioEvent]) -> None:
        """One complete line from its start character, without CR LF."""
        if len(line) > self.max_sentence:
            self.drops.drop("oversize", nbytes, f"over {self.max_sentence} characters")
            return
        star = line.rfind(b"*")
        if star < 0:
            if _UNCHECKED.fullmatch(line) is None:
                self.drops.drop("malformed", nbytes, "not a sentence")
                return
            self._quiet("no_checksum", 0)
            body = line[1:]
        else:
            body, given = line[1:star], line[star + 1 :]
            if len(given) != 2 or given[0] not in _HEX or given[1] not in _HEX:
                self.drops.drop("malformed", nbytes, f"checksum field {given!r}")
                return
            if checksum(body) != int(given, 16):
                self.drops.drop("bad_checksum", nbytes)
                return
        self._decode(body, nbytes, now, events)

    # -- sentences -------------------------------------------------------------------------------

    def _decode(self, body: bytes, nbytes: int, now: float, events: list[RadioEvent]) -> None:
        try:
            fields = body.decode("ascii").split(",")
        except UnicodeDecodeError:
            self.drops.drop("malformed", nbytes, "not ASCII")
            return
        tag = fields[0]
        parse = PARSERS.get(tag[2:]) if len(tag) == 5 and tag[:2] in TALKERS else None
        try:
            if parse is not None:
                events += self._gnss.add(tag, parse(fields, now), now)
            elif tag in UNIT_SENTENCES:
                events += decode_unit(tag, fields, self._gnss.day, now)
            else:
                self._quiet("unsupported", nbytes)
                return
        except ValueError as exc:
            self.drops.drop("malformed", nbytes, f"{tag}: {exc}")
            return
        self.frames += 1
        self.frame_bytes += nbytes

    def _quiet(self, kind: str, nbytes: int) -> None:
        """Counted without a warning: expected on any real line (other talkers, vendor sentences)."""
        self.drops.counts[kind] += 1
        if nbytes:
            self.drops.counts[f"{kind}_bytes"] += nbytes
        log.debug("%s: %s sentence (%d bytes)", self.name, kind, nbytes)


def _chomp(raw: bytes) -> bytes:
    """Without the CR of its CR LF (one: a second CR makes the line malformed, whatever the chunking)."""
    return raw[:-1] if raw.endswith(b"\r") else raw
