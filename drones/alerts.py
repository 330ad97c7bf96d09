"""Drone alerts: conditions of each vehicle turned into alert episodes (pure: ``now`` passed in).

Every tick the service lists each vehicle's conditions (:func:`conditions`); an :class:`Episodes`
book raises an :class:`~edge.scene.Alert` when a condition becomes active and clears it
(:class:`~edge.scene.AlertClear` by the vehicle's id) when it ends or is no longer listed (a
geofence marker erased, a STATUSTEXT not repeated). One alert per episode, with a stable id
``drone:<node>:<sysid>:<condition>:<start ms>``, so a re-sent alert is the same event; after a
restart, :meth:`Episodes.adopt` takes back the episodes still open in the picture.

Conditions: battery low / critical (cleared 2 % above the threshold, as voltage sags under load),
link lost (cleared when heard again: the link is regained), GPS lost (below a 3D fix after having
one), EKF bad (after it was good, or while armed), geofence breach (inside a ``geofence`` marker: a
polygon or a circle), a STATUSTEXT at severity WARNING or worse, and the tether's conditions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from edge.scene import Alert, AlertClear, AlertRecord, AlertStatus, Marker, Position, Severity
from edge.scene.geofence import contains

from .tether import TetherLimits, tether_conditions
from .vehicle import VehicleState

BATTERY_HYSTERESIS_PCT = 2.0
MAV_SEVERITY_WARNING = 4
MAV_SEVERITY_CRITICAL = 2
MAX_TEXTS = 32  # distinct recent STATUSTEXTs kept per vehicle


@dataclass(frozen=True, slots=True)
class Condition:
    """One thing that can be wrong with a vehicle, and whether it is now."""

    key: str  # stable per vehicle: "battery-low", "geofence-<hash>", ...
    active: bool
    severity: Severity
    title: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where alerts trip (from the `[drones]` section)."""

    battery_low_pct: float
    battery_critical_pct: float
    link_lost_after_s: float
    statustext_clear_s: float
    tether: TetherLimits


def _short(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:10]


def conditions(
    state: VehicleState, limits: Thresholds, geofences: Iterable[Marker], now: float, *, open_keys: set[str]
) -> list[Condition]:
    """Every condition of ``state`` at ``now`` (``open_keys``: its conditions with an open alert)."""
    name = f"drone {state.sysid}"
    urgent = Severity.EMERGENCY if state.armed else Severity.WARNING
    out = [*_battery(state, limits, name, open_keys)]
    lost = now - state.last_heard > limits.link_lost_after_s
    out.append(Condition("link", lost, urgent, f"{name}: link lost", f"not heard for {now - state.last_heard:.0f} s"))
    gps_lost = state.had_3d_fix and (state.gps_fix or 0) < 3
    out.append(Condition("gps", gps_lost, urgent, f"{name}: GPS lost", f"fix type {state.gps_fix}"))
    ekf_bad = state.ekf_ok is False and (state.ekf_was_ok or state.armed)
    out.append(Condition("ekf", ekf_bad, urgent, f"{name}: EKF bad", "position estimate unhealthy"))
    if state.lat is not None and state.lon is not None:
        for fence in geofences:
            inside = contains(fence, (state.lat, state.lon))
            if inside is not None:
                title = f"{name}: inside geofence {fence.name or fence.id}"
                out.append(Condition(f"geofence-{_short(fence.id)}", inside, Severity.EMERGENCY, title))
    out += _texts(state, limits, name, now)
    if state.tethered:
        for key, (active, text) in tether_conditions(state.tether, state.alt_rel_m, limits.tether).items():
            severity = Severity.EMERGENCY if key == "tether-power" else Severity.WARNING
            out.append(Condition(key, active, severity, f"{name}: {key.replace('-', ' ')}", text))
    return out


def _battery(state: VehicleState, limits: Thresholds, name: str, open_keys: set[str]) -> list[Condition]:
    pct = state.battery_pct
    out = []
    for key, threshold, severity in (
        ("battery-low", limits.battery_low_pct, Severity.WARNING),
        ("battery-critical", limits.battery_critical_pct, Severity.EMERGENCY),
    ):
        limit = threshold + BATTERY_HYSTERESIS_PCT if key in open_keys else threshold
        active = pct is not None and pct <= limit
        out.append(Condition(key, active, severity, f"{name}: {key.replace('-', ' ')}", f"{pct or 0:.0f} % left"))
    return out


def _texts(state: VehicleState, limits: Thresholds, name: str, now: float) -> list[Condition]:
    # Texts not repeated within the clear time are forgotten here (their alerts clear as no longer listed).
    recent = sorted(state.texts.values(), key=lambda t: t[2])[-MAX_TEXTS:]
    state.texts = {entry[1]: entry for entry in recent if now - entry[2] < limits.statustext_clear_s}
    out = []
    for severity, text, _ in state.texts.values():
        if severity <= MAV_SEVERITY_WARNING:
            level = Severity.EMERGENCY if severity <= MAV_SEVERITY_CRITICAL else Severity.WARNING
            out.append(Condition(f"text-{_short(text)}", True, level, f"{name}: {text}"[:200], text))
    return out


class Episodes:
    """Open alert episodes of this node's vehicles: raises once per episode, clears when it ends."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self._open: dict[tuple[int, str], str] = {}  # (sysid, condition key) -> alert id

    def open_keys(self, sysid: int) -> set[str]:
        """Condition keys of ``sysid`` with an open alert."""
        return {key for (s, key) in self._open if s == sysid}

    def adopt(self, records: Iterable[AlertRecord]) -> int:
        """Take back this node's drone alerts still open in the picture (after a restart); how many."""
        prefix = f"drone:{self.node_id}:"
        count = 0
        for record in records:
            alert_id = record.alert.id
            if record.status is AlertStatus.CLEARED or not alert_id.startswith(prefix):
                continue
            parts = alert_id.split(":")
            if len(parts) == 5 and parts[2].isdigit():
                self._open[(int(parts[2]), parts[3])] = alert_id
                count += 1
        return count

    def update(
        self, sysid: int, entity_id: str, found: Iterable[Condition], now: float, pos: Position | None
    ) -> list[Alert | AlertClear]:
        """Alerts raised and cleared for one vehicle, given all its conditions now."""
        changes: list[Alert | AlertClear] = []
        listed = set()
        for cond in found:
            listed.add(cond.key)
            key = (sysid, cond.key)
            if cond.active and key not in self._open:
                alert_id = f"drone:{self.node_id}:{sysid}:{cond.key}:{int(now * 1000)}"
                self._open[key] = alert_id
                changes.append(
                    Alert(
                        id=alert_id,
                        origin=self.node_id,
                        ts=now,
                        severity=cond.severity,
                        title=cond.title[:200],
                        text=cond.text[:2000],
                        entity_id=entity_id,
                        pos=pos,
                    )
                )
            elif not cond.active and key in self._open:
                changes.append(self._clear(key, entity_id, now))
        for key in [k for k in self._open if k[0] == sysid and k[1] not in listed]:
            changes.append(self._clear(key, entity_id, now))
        return changes

    def revert(self, changes: Iterable[Alert | AlertClear]) -> None:
        """Undo :meth:`update` for changes that were not stored (the journal refused them): they come again."""
        for change in changes:
            if isinstance(change, Alert):
                self._open = {k: v for k, v in self._open.items() if v != change.id}
            else:
                parts = change.alert_id.split(":")
                self._open[(int(parts[2]), parts[3])] = change.alert_id

    def _clear(self, key: tuple[int, str], entity_id: str, now: float) -> AlertClear:
        alert_id = self._open.pop(key)
        return AlertClear(id=f"{alert_id}:clear", origin=self.node_id, ts=now, alert_id=alert_id, by=entity_id)
