"""Telemetry stream scheduling: ArduPilot's SRn_* stream groups plus per-message intervals.

REQUEST_DATA_STREAM sets a group's rate (the groups and their members as ArduPilot's
``GCS_MAVLink`` ``STREAM_*_msgs`` tables, trimmed to what this SITL simulates);
MAV_CMD_SET_MESSAGE_INTERVAL overrides one message (interval -1: off, 0: back to its default).
Intervals are simulated seconds, so a sped-up vehicle streams proportionally faster.
"""

from __future__ import annotations

import math

from pymavlink.dialects.v20 import ardupilotmega as mavlink

GROUPS: dict[int, tuple[str, ...]] = {
    mavlink.MAV_DATA_STREAM_RAW_SENSORS: (),
    mavlink.MAV_DATA_STREAM_EXTENDED_STATUS: ("SYS_STATUS", "GPS_RAW_INT", "MISSION_CURRENT", "NAV_CONTROLLER_OUTPUT"),
    mavlink.MAV_DATA_STREAM_RC_CHANNELS: (),
    mavlink.MAV_DATA_STREAM_RAW_CONTROLLER: (),
    mavlink.MAV_DATA_STREAM_POSITION: ("GLOBAL_POSITION_INT", "LOCAL_POSITION_NED"),
    mavlink.MAV_DATA_STREAM_EXTRA1: ("ATTITUDE",),
    mavlink.MAV_DATA_STREAM_EXTRA2: ("VFR_HUD",),
    mavlink.MAV_DATA_STREAM_EXTRA3: (
        "SYSTEM_TIME", "BATTERY_STATUS", "EKF_STATUS_REPORT", "WINCH_STATUS", "NAMED_VALUE_FLOAT",
    ),
}  # fmt: skip
"""Members of each MAV_DATA_STREAM group."""

GROUP_PARAMS: dict[int, str] = {
    mavlink.MAV_DATA_STREAM_RAW_SENSORS: "RAW_SENS",
    mavlink.MAV_DATA_STREAM_EXTENDED_STATUS: "EXT_STAT",
    mavlink.MAV_DATA_STREAM_RC_CHANNELS: "RC_CHAN",
    mavlink.MAV_DATA_STREAM_RAW_CONTROLLER: "RAW_CTRL",
    mavlink.MAV_DATA_STREAM_POSITION: "POSITION",
    mavlink.MAV_DATA_STREAM_EXTRA1: "EXTRA1",
    mavlink.MAV_DATA_STREAM_EXTRA2: "EXTRA2",
    mavlink.MAV_DATA_STREAM_EXTRA3: "EXTRA3",
}
"""The SR0_* parameter that stores each group's rate."""

FIXED: dict[str, float] = {"HEARTBEAT": 1.0, "HOME_POSITION": 10.0}
"""Messages outside the groups, with their default interval in seconds."""


class Streams:
    """Which messages are due when."""

    def __init__(self, group_rates_hz: dict[int, float], now: float) -> None:
        self._defaults: dict[str, float | None] = dict(FIXED)
        for group in GROUPS:
            self._set_group_default(group, group_rates_hz.get(group, 0.0))
        self._interval: dict[str, float | None] = dict(self._defaults)
        self._next: dict[str, float] = dict.fromkeys(self._interval, now)

    def set_group(self, group: int, rate_hz: float, now: float) -> list[int]:
        """REQUEST_DATA_STREAM: rate for one group, or all for MAV_DATA_STREAM_ALL; returns groups changed."""
        groups = list(GROUPS) if group == mavlink.MAV_DATA_STREAM_ALL else [group] if group in GROUPS else []
        for g in groups:
            self._set_group_default(g, rate_hz)
            for name in GROUPS[g]:
                self._set(name, self._defaults[name], now)
        return groups

    def set_interval(self, name: str, interval_s: float | None, now: float) -> None:
        """Override one message's interval (None: stop it)."""
        self._set(name, interval_s, now)

    def reset_interval(self, name: str, now: float) -> None:
        """Back to the message's default interval."""
        self._set(name, self._defaults.get(name), now)

    def interval(self, name: str) -> float | None:
        """Current interval in seconds, None when not streamed."""
        return self._interval.get(name)

    def due(self, now: float) -> list[str]:
        """Names due at ``now``; each is rescheduled one interval on (no catch-up bursts)."""
        names = []
        for name, interval in self._interval.items():
            if interval is None or now < self._next[name]:
                continue
            names.append(name)
            nxt = self._next[name] + interval
            self._next[name] = nxt if nxt > now else now + interval
        return names

    def _set_group_default(self, group: int, rate_hz: float) -> None:
        for name in GROUPS[group]:
            self._defaults[name] = 1.0 / rate_hz if rate_hz > 0 and math.isfinite(rate_hz) else None

    def _set(self, name: str, interval_s: float | None, now: float) -> None:
        self._interval[name] = interval_s if interval_s is None or interval_s > 0 else None
        self._next[name] = now
