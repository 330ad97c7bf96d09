"""The send time of a position, carried in the position itself.

An entity's ``ts`` cannot give wire-to-WebSocket latency: a vehicle's ``ts`` is when the drone
service published it (it publishes at ``drones.publish_rate_hz``, not per message), and a radio fix's
``ts`` is what the gateway said, in whole seconds for the PDT example framing. So the simulators write
the wall-clock time at which they put a position on the wire into the position's last three digits
at 1e-7 degree: latitude's are the milliseconds, longitude's the second modulo 1,000. Both MAVLink
(GLOBAL_POSITION_INT) and the framing (i32 x 1e-7) carry them exactly, and so does the mesh (scaled
integers at 1e-7). The position moves by at most 1e-4 degree (about 11 m): the picture stays sane.

A WebSocket client reads a position, and the latency is its receive time minus the stamp, modulo
1,000 s (so a latency is unambiguous below about 16 minutes).
"""

from __future__ import annotations

import math

PERIOD_S = 1000


def e7(deg: float) -> int:
    """Degrees to 1e-7 degree, as every carrier rounds them."""
    return round(deg * 1e7)


def stamp(lat: float, lon: float, now: float) -> tuple[int, int]:
    """``(lat_e7, lon_e7)`` near ``lat, lon`` that carry ``now`` (seconds since the epoch)."""
    ms = int(now * 1000)
    return e7(lat) // 1000 * 1000 + ms % 1000, e7(lon) // 1000 * 1000 + (ms // 1000) % PERIOD_S


def sent_at(lat: float, lon: float) -> float:
    """The stamp in a position: seconds modulo ``PERIOD_S``."""
    return e7(lon) % 1000 + (e7(lat) % 1000) / 1000


def latency_s(lat: float, lon: float, received: float) -> float:
    """Seconds from the stamp in ``lat, lon`` to ``received`` (seconds since the epoch)."""
    age = (math.fmod(received, PERIOD_S) - sent_at(lat, lon)) % PERIOD_S
    return age - PERIOD_S if age > PERIOD_S - 60 else age  # a clock a little behind shows as negative
