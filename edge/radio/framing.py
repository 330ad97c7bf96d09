"""What every framer shares: drop counters that log once, and the frame-size and staleness rules.

A framer is sans-I/O: ``feed(data, now) -> list[...]``, no sockets, no clock of its own. It never
raises on input: what it cannot use is counted by kind (``garbage``, ``bad_checksum``,
``oversize``, ``stale``, ``unsupported``) and logged once per kind, then at debug level.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Protocol

from .events import RadioEvent


class RadioError(Exception):
    """Root of every radio error."""


class EncodeError(RadioError):
    """A message cannot be put in this framing (too long, characters the encoding lacks, ...)."""


class DropCounter:
    """Counts what a framer dropped, by kind; warns once per kind, then logs at debug."""

    def __init__(self, name: str, logger: logging.Logger) -> None:
        self.name = name
        self.counts: Counter[str] = Counter()
        self._log = logger

    def drop(self, kind: str, nbytes: int = 0, detail: str = "") -> None:
        """Record one drop of ``kind`` (``nbytes`` long)."""
        first = kind not in self.counts
        self.counts[kind] += 1
        if nbytes:
            self.counts[f"{kind}_bytes"] += nbytes
        level = logging.WARNING if first else logging.DEBUG
        self._log.log(
            level,
            "%s: dropped %s%s%s",
            self.name,
            kind,
            f" ({nbytes} bytes)" if nbytes else "",
            f": {detail}" if detail else "",
        )

    def __getitem__(self, kind: str) -> int:
        return self.counts[kind]


class Codec(Protocol):
    """One framing, both ways: bytes from the gateway to radio events, and our requests to bytes.

    ``feed`` takes whatever chunk the transport delivered (any size, split anywhere) and the time;
    it returns the events completed by it. ``encode_text`` / ``encode_poll`` return None where the
    framing cannot carry that request. ``outbox`` holds bytes the protocol itself owes the other end
    (a connect request when a session starts, acknowledgements of data frames): the adapter writes
    and clears it after opening the link and after every ``feed``.
    """

    name: str
    drops: DropCounter
    frames: int  # good frames decoded so far
    outbox: list[bytes]  # what the framing itself must send back (session set-up, acks); see below

    def feed(self, data: bytes, now: float) -> list[RadioEvent]: ...

    def encode_text(self, dst: str, text: str, *, group: bool, msg_id: int) -> bytes | None: ...

    def encode_poll(self, unit: str) -> bytes | None: ...
