"""ArduCopter's failsafes as this SITL triggers them: battery, GCS link and EKF.

- Battery: voltage below BATT_LOW_VOLT for BATT_LOW_TIMER seconds (or less than BATT_LOW_MAH
  left) trips the low failsafe and runs BATT_FS_LOW_ACT; BATT_CRT_VOLT / BATT_CRT_MAH and
  BATT_FS_CRT_ACT likewise for critical. Each latches until the battery is replaced.
- GCS: with FS_GCS_ENABLE set, once a GCS has been heard, no GCS HEARTBEAT for FS_GCS_TIMEOUT
  seconds while armed runs the FS_GCS_ENABLE action; it clears when a heartbeat arrives again.
- EKF: variance above FS_EKF_THRESH for a second, while flying in a mode that needs a position,
  runs FS_EKF_ACTION (1 or 3: LAND, 2: ALT_HOLD).

On the ground every action simply disarms, as ArduCopter does when a failsafe trips while landed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from .modes import Mode

if TYPE_CHECKING:
    from .vehicle import Vehicle

_EKF_TRIGGER_S = 1.0

# BATT_FS_*_ACT and FS_GCS_ENABLE action numbers; SmartRTL falls back to RTL (no breadcrumbs here).
_BATTERY_ACTIONS = {1: Mode.LAND, 2: Mode.RTL, 3: Mode.RTL, 4: Mode.LAND, 6: Mode.RTL, 7: Mode.LAND}
_GCS_ACTIONS = {1: Mode.RTL, 2: Mode.RTL, 3: Mode.RTL, 4: Mode.LAND, 5: Mode.LAND, 6: Mode.RTL, 7: Mode.LAND}
_TERMINATE = 5


class Failsafes:
    """Latched failsafe state for one vehicle."""

    def __init__(self) -> None:
        self.battery_low = False
        self.battery_critical = False
        self.gcs = False
        self.ekf = False
        self._low_since: float | None = None
        self._critical_since: float | None = None
        self._ekf_since: float | None = None

    def reset_battery(self) -> None:
        """A fresh battery: the battery failsafes may trip again."""
        self.battery_low = self.battery_critical = False
        self._low_since = self._critical_since = None

    def check(self, v: Vehicle, now: float) -> None:
        """Trip (or clear) failsafes for the vehicle's present state."""
        self._check_battery(v, now)
        self._check_gcs(v, now)
        self._check_ekf(v, now)

    def _check_battery(self, v: Vehicle, now: float) -> None:
        p, b = v.params, v.battery
        left_mah = b.capacity_mah - b.consumed_mah
        for level in ("critical", "low"):
            volt, mah, action = (
                ("BATT_CRT_VOLT", "BATT_CRT_MAH", "BATT_FS_CRT_ACT")
                if level == "critical"
                else ("BATT_LOW_VOLT", "BATT_LOW_MAH", "BATT_FS_LOW_ACT")
            )
            if self.battery_critical or (level == "low" and self.battery_low):
                continue
            below = p[volt] > 0 and b.voltage_v < p[volt]
            since = self._track(level, below, now)
            timed_out = since is not None and now - since >= p["BATT_LOW_TIMER"]
            if not (timed_out or (p[mah] > 0 and left_mah < p[mah])):
                continue
            self.battery_low = True
            self.battery_critical = self.battery_critical or level == "critical"
            text = f"Battery 1 is {level} {b.voltage_v:.2f}V used {b.consumed_mah:.0f} mAh"
            v.text(mavlink.MAV_SEVERITY_CRITICAL if level == "critical" else mavlink.MAV_SEVERITY_WARNING, text)
            self._act(v, int(p[action]), _BATTERY_ACTIONS, now)
            return

    def _track(self, level: str, below: bool, now: float) -> float | None:
        attr = "_critical_since" if level == "critical" else "_low_since"
        since: float | None = getattr(self, attr)
        since = (since if since is not None else now) if below else None
        setattr(self, attr, since)
        return since

    def _check_gcs(self, v: Vehicle, now: float) -> None:
        p = v.params
        enabled = int(p["FS_GCS_ENABLE"])
        silent = v.last_gcs_heartbeat is not None and now - v.last_gcs_heartbeat > p["FS_GCS_TIMEOUT"]
        if self.gcs and not silent:
            self.gcs = False
            v.text(mavlink.MAV_SEVERITY_INFO, "GCS Failsafe Cleared")
        if self.gcs or not silent or not enabled or not v.armed:
            return
        self.gcs = True
        v.text(mavlink.MAV_SEVERITY_CRITICAL, "GCS Failsafe")
        if enabled == 2 and v.mode is Mode.AUTO:
            return  # "continue mission in AUTO"
        self._act(v, enabled, _GCS_ACTIONS, now)

    def _check_ekf(self, v: Vehicle, now: float) -> None:
        p = v.params
        bad = v.ekf.variance > p["FS_EKF_THRESH"] > 0
        self._ekf_since = (self._ekf_since if self._ekf_since is not None else now) if bad else None
        if self.ekf and not bad:
            self.ekf = False
            v.text(mavlink.MAV_SEVERITY_INFO, "EKF Failsafe Cleared")
            return
        action = int(p["FS_EKF_ACTION"])
        if self.ekf or self._ekf_since is None or now - self._ekf_since < _EKF_TRIGGER_S:
            return
        if not v.armed or v.landed or not (v.mode.requires_gps or action == 3):
            return
        self.ekf = True
        v.text(mavlink.MAV_SEVERITY_CRITICAL, "EKF Failsafe")
        v.failsafe_mode(Mode.ALT_HOLD if action == 2 else Mode.LAND, now)

    @staticmethod
    def _act(v: Vehicle, action: int, table: dict[int, Mode], now: float) -> None:
        if action == _TERMINATE:
            v.disarm(now, force=True)
        elif action in table:
            v.failsafe_mode(table[action], now)
