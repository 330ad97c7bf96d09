"""The `narrow` bandwidth profile: thin movement-only updates per entity (pure, clock passed in).

A change that only moves an entity (position, attitude, speeds, battery, tether readings and its
timestamp: ``MOVEMENT``) is held
back until ``interval_s`` has passed since that entity's last send; only the newest held value is
then sent (trailing edge), so the last position always gets out. Any other change (mode, status,
emergency, a new entity, a removal) goes at once and carries the newest position with it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from edge.scene.model import Removed, StateChange

# Fields that change continuously as a unit or drone moves; a change in any other field is news.
MOVEMENT = (
    "ts",
    "pos",
    "heading_deg",
    "speed_mps",
    "ground_speed_mps",
    "battery_pct",
    "battery_v",
    "battery_a",
    "roll_deg",
    "pitch_deg",
    "yaw_deg",
    "climb_mps",
    "satellites",
    "link_loss_pct",
    "last_heard_ts",
    "tether_length_m",
    "tether_tension_n",
    "tether_v",
)


def movement_only(before: StateChange, after: StateChange) -> bool:
    """True if ``after`` differs from ``before`` only in movement fields."""
    if type(before) is not type(after) or isinstance(after, Removed):
        return False
    fields = after.__struct_fields__
    same: dict[str, Any] = {f: getattr(before, f) for f in MOVEMENT if f in fields}
    return bool(msgspec.structs.replace(after, **same) == before)


class Thinner:
    """Decides which state changes to send now and which to hold back."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._sent: dict[str, tuple[float, StateChange]] = {}  # id -> (when, value) last sent
        self._held: dict[str, StateChange] = {}
        self.thinned = 0  # values superseded while held back: never sent

    def offer(self, change: StateChange, now: float) -> StateChange | None:
        """The change to send now, or None if it is held back."""
        last = self._sent.get(change.id)
        if last is not None and now - last[0] < self.interval_s and movement_only(last[1], change):
            if change.id in self._held:
                self.thinned += 1
            self._held[change.id] = change
            return None
        self._held.pop(change.id, None)
        self._mark(change, now)
        return change

    def due(self, now: float) -> list[StateChange]:
        """Held values whose interval has passed: send them now."""
        ready = [c for i, c in self._held.items() if now - self._sent[i][0] >= self.interval_s]
        for change in ready:
            del self._held[change.id]
            self._mark(change, now)
        return ready

    def next_due(self) -> float | None:
        """When the earliest held value becomes due, or None if nothing is held."""
        if not self._held:
            return None
        return min(self._sent[i][0] for i in self._held) + self.interval_s

    def _mark(self, change: StateChange, now: float) -> None:
        if isinstance(change, Removed):
            self._sent.pop(change.id, None)
        else:
            self._sent[change.id] = (now, change)
