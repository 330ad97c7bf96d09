"""MPEG-TS datagrams read by us, not by FFmpeg, so bad input is counted and cancelling is prompt.

FFmpeg's ``udp://`` protocol would silently skip garbage and block until its own timeout. Owning the
socket lets the ingest check every datagram at the boundary: it must be whole 188-byte TS packets
(each starting with the 0x47 sync byte), optionally behind a 12-byte RTP header (RFC 2250, what some
drone downlinks send); anything else is dropped and counted. :class:`DatagramReader` is the
file-like object PyAV's demuxer reads from: ``read()`` waits in short slices and asks ``give_up()``
between them, so a stop request or a stall (decided by the ingest, which knows when video last came)
ends it within one slice: it returns ``b""``, which the demuxer takes as the end of the stream.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

TS_PACKET = 188
TS_SYNC = 0x47
RTP_HEADER = 12
MAX_DATAGRAM = 65536
SLICE_S = 0.2


def ts_payload(datagram: bytes) -> bytes | None:
    """The TS packets of one datagram (RTP header removed), or None when it is not MPEG-TS."""
    for offset in (0, RTP_HEADER):
        body = datagram[offset:]
        framed = bool(body) and len(body) % TS_PACKET == 0 and all(b == TS_SYNC for b in body[::TS_PACKET])
        if framed and (offset == 0 or datagram[0] >> 6 == 2):  # behind an RTP version 2 header
            return body
    return None


def udp_address(url: str) -> tuple[str, int]:
    """(host, port) of a ``udp://HOST:PORT`` URL; the host is where the kit listens."""
    parts = urlsplit(url)
    if parts.scheme != "udp" or parts.port is None:
        raise ValueError(f"not a udp://HOST:PORT address: {url!r}")
    return parts.hostname or "127.0.0.1", parts.port


class DatagramReader:
    """A file-like view of a UDP socket carrying MPEG-TS; see the module doc."""

    def __init__(self, host: str, port: int, give_up: Callable[[], bool], on_garbage: Callable[[], None]) -> None:
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._sock.bind((host, port))
        self._sock.settimeout(SLICE_S)
        self._give_up = give_up
        self._on_garbage = on_garbage
        self._pending = b""
        self.datagrams = 0
        self.garbage = 0

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of TS; ``b""`` once stopped or stalled."""
        while not self._pending:
            if self._give_up():
                return b""
            try:
                datagram = self._sock.recv(MAX_DATAGRAM)
            except TimeoutError:
                continue
            self._accept(datagram)
        if size < 0:
            size = len(self._pending)
        out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def _accept(self, datagram: bytes) -> None:
        self.datagrams += 1
        payload = ts_payload(datagram)
        if payload is None:
            if not self.garbage:
                log.warning("dropping UDP datagrams that are not MPEG-TS (first one: %d bytes)", len(datagram))
            self.garbage += 1
            self._on_garbage()
            return
        self._pending = payload

    def close(self) -> None:
        self._sock.close()
