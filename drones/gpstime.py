"""GPS time from a MAVLink stream: SYSTEM_TIME's ``time_unix_usec``, for ``fieldkit doctor``'s clock check.

A kit at a scene often boots with no network time; its drones' autopilots know GPS time. Listening
briefly to a configured MAVLink endpoint (before the node holds it) tells how far the kit's clock is
from it. Autopilots send SYSTEM_TIME with ``time_unix_usec = 0`` until GPS has the time (MAVLink
common.xml), so those are skipped.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

from .codec import decode
from .config import EndpointConfig
from .framer import MavFramer

SYSTEM_TIME = 2  # MAVLink common message id
MAX_READ = 65536


def gps_time_in(frames_of: Callable[[], bytes | None], *, clock: Callable[[], float] = time.time) -> float | None:
    """Offset (GPS time minus ``clock()``, seconds) from the first SYSTEM_TIME with GPS time; None if none came.

    ``frames_of`` returns the next chunk of bytes, or None when the wait is over or the stream ended.
    """
    framer = MavFramer(name="doctor")
    while (chunk := frames_of()) is not None:
        received = clock()
        for frame in framer.feed(chunk):
            if frame.msgid != SYSTEM_TIME:
                continue
            msg = decode(frame)
            usec = getattr(msg, "time_unix_usec", 0) if msg is not None else 0
            if usec:
                return float(usec) / 1e6 - received
    return None


def listen_offset(endpoint: EndpointConfig, wait_s: float) -> float | None:
    """GPS-time offset heard on a ``udp-listen``, ``tcp-client`` or ``serial`` endpoint within ``wait_s``.

    Raises OSError when the endpoint cannot be opened (the doctor's port and serial checks say why).
    """
    deadline = time.monotonic() + wait_s
    with _reader(endpoint) as read:

        def chunks() -> bytes | None:
            while (left := deadline - time.monotonic()) > 0:
                data = read(left)
                if data is None or data:
                    return data  # the stream ended, or bytes came
            return None

        return gps_time_in(chunks)


@contextlib.contextmanager
def _reader(endpoint: EndpointConfig) -> Iterator[Callable[[float], bytes | None]]:
    """A function reading what came within ``left`` seconds: b"" if nothing, None once the stream ended."""
    if endpoint.kind == "serial":
        import serial  # noqa: PLC0415 - pyserial only for a serial endpoint

        with serial.Serial(endpoint.device, endpoint.baud, timeout=0.2) as port:
            yield lambda left: bytes(port.read(MAX_READ if port.in_waiting else 1))
        return
    family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
    if endpoint.kind == "udp-listen":
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((endpoint.host, endpoint.port))
    elif endpoint.kind == "tcp-client":
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=2.0)
    else:
        raise OSError(f"cannot listen on a {endpoint.kind} endpoint")
    with sock:

        def read(left: float) -> bytes | None:
            sock.settimeout(min(left, 0.5))
            try:
                data = sock.recv(MAX_READ)
            except TimeoutError:
                return b""
            return data if data or endpoint.kind == "udp-listen" else None  # TCP: b"" is the end

        yield read
