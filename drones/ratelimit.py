"""Per-endpoint rate limits for narrow links: token buckets with message priorities.

Policy (the router applies one :class:`RateLimiter` per endpoint that has a :class:`RateLimit`):

- Each limit is a token bucket, in bytes/s (the whole frame as sent) and/or messages/s. A bucket holds
  at most ``rate * burst_s`` tokens and starts full. A frame passes only if every configured bucket
  lets it through; it then costs its size in the bytes bucket and 1 in the messages bucket.
- ``CRITICAL`` messages (HEARTBEAT, COMMAND_LONG, COMMAND_INT, COMMAND_ACK, STATUSTEXT,
  SET_MODE) are never dropped by the limiter: link liveness, commands and their answers, and the
  vehicle's own warnings must get through a congested link. They still spend tokens, and may drive a
  bucket into debt down to minus its capacity, so other traffic pays for them afterwards.
- ``NORMAL`` messages (everything not listed) pass while the bucket holds their cost.
- ``BULK`` messages, high-rate telemetry that the next sample replaces (ATTITUDE, IMU, RC and servo
  channels, ...), pass only while the bucket holds their cost *plus* a reserve, ``bulk_reserve`` of
  its capacity: as the link fills up they are thinned first, and the reserve is left for NORMAL
  traffic such as positions, mission and parameter transfers.
- Nothing is queued: a frame is forwarded now or dropped (and counted), because a late telemetry
  sample is worth less than the next one and queues on a narrow link only add latency.

Priorities can be overridden per message id in :class:`RateLimit`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from .dialect import MAVLINK_MSG_ID


class Priority(enum.IntEnum):
    """How the rate limiter treats a message id; higher survives congestion longer."""

    BULK = 0
    NORMAL = 1
    CRITICAL = 2


_CRITICAL = ("HEARTBEAT", "COMMAND_LONG", "COMMAND_INT", "COMMAND_ACK", "STATUSTEXT", "SET_MODE")
_BULK = (
    "ATTITUDE",
    "ATTITUDE_QUATERNION",
    "AHRS",
    "AHRS2",
    "AHRS3",
    "RAW_IMU",
    "SCALED_IMU",
    "SCALED_IMU2",
    "SCALED_IMU3",
    "HIGHRES_IMU",
    "SCALED_PRESSURE",
    "SCALED_PRESSURE2",
    "SCALED_PRESSURE3",
    "SERVO_OUTPUT_RAW",
    "RC_CHANNELS",
    "RC_CHANNELS_RAW",
    "RC_CHANNELS_SCALED",
    "VIBRATION",
    "LOCAL_POSITION_NED",
    "NAV_CONTROLLER_OUTPUT",
    "PID_TUNING",
    "SIMSTATE",
    "SYSTEM_TIME",
    "TIMESYNC",
    "MEMINFO",
    "ESC_TELEMETRY_1_TO_4",
    "ESC_TELEMETRY_5_TO_8",
    "DISTANCE_SENSOR",
    "RANGEFINDER",
    "OPTICAL_FLOW",
    "WIND",
)
DEFAULT_PRIORITIES: Mapping[int, Priority] = {
    **{MAVLINK_MSG_ID[name]: Priority.BULK for name in _BULK if name in MAVLINK_MSG_ID},
    **{MAVLINK_MSG_ID[name]: Priority.CRITICAL for name in _CRITICAL},
}
"""Message id to priority; ids not listed are NORMAL."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A rate limit for one endpoint: bytes/s and/or messages/s (None: no limit of that kind)."""

    bytes_per_s: float | None = None
    msgs_per_s: float | None = None
    burst_s: float = 1.0  # bucket capacity, in seconds of the rate
    bulk_reserve: float = 0.5  # share of the capacity that BULK messages may not use
    priorities: Mapping[int, Priority] = field(default_factory=dict)  # overrides DEFAULT_PRIORITIES

    def __post_init__(self) -> None:
        for rate in (self.bytes_per_s, self.msgs_per_s):
            if rate is not None and rate <= 0:
                raise ValueError(f"a rate limit must be positive, not {rate}")
        if self.burst_s <= 0 or not 0 <= self.bulk_reserve < 1:
            raise ValueError(f"burst_s must be > 0 and bulk_reserve in [0, 1): {self.burst_s}, {self.bulk_reserve}")


class _Bucket:
    """One token bucket; starts full."""

    __slots__ = ("capacity", "counts_bytes", "last", "rate", "reserve", "tokens")

    def __init__(self, rate: float, burst_s: float, bulk_reserve: float, *, counts_bytes: bool) -> None:
        self.rate = rate
        self.capacity = rate * burst_s
        self.reserve = self.capacity * bulk_reserve
        self.tokens = self.capacity
        self.last = -math.inf
        self.counts_bytes = counts_bytes


_BULK_INT = int(Priority.BULK)
_NORMAL_INT = int(Priority.NORMAL)
_CRITICAL_INT = int(Priority.CRITICAL)


class RateLimiter:
    """Admits or drops frames for one endpoint by the policy in this module's docstring."""

    __slots__ = ("_buckets", "_priorities")

    def __init__(self, limit: RateLimit) -> None:
        # Plain ints: comparing IntEnum members costs an attribute lookup on the class per frame.
        self._priorities = {msgid: int(p) for msgid, p in {**DEFAULT_PRIORITIES, **limit.priorities}.items()}
        self._buckets: list[_Bucket] = []
        if limit.bytes_per_s is not None:
            self._buckets.append(_Bucket(limit.bytes_per_s, limit.burst_s, limit.bulk_reserve, counts_bytes=True))
        if limit.msgs_per_s is not None:
            self._buckets.append(_Bucket(limit.msgs_per_s, limit.burst_s, limit.bulk_reserve, counts_bytes=False))

    def priority(self, msgid: int) -> Priority:
        """The priority this limiter gives ``msgid``."""
        return Priority(self._priorities.get(msgid, _NORMAL_INT))

    def admit(self, msgid: int, nbytes: int, now: float) -> bool:
        """True if a frame of ``nbytes`` bytes with ``msgid`` may go out at ``now``; spends its tokens."""
        priority = self._priorities.get(msgid, _NORMAL_INT)
        buckets = self._buckets
        for bucket in buckets:
            if now > bucket.last:  # a clock that steps back refills nothing
                bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.last) * bucket.rate)
                bucket.last = now
            if priority != _CRITICAL_INT:
                need: float = nbytes if bucket.counts_bytes else 1
                if priority == _BULK_INT:
                    need += bucket.reserve
                if bucket.tokens < need:
                    return False
        for bucket in buckets:
            bucket.tokens = max(bucket.tokens - (nbytes if bucket.counts_bytes else 1), -bucket.capacity)
        return True
