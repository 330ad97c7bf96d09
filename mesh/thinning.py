"""Which state changes only move an entity (pure): those the link budget may downsample.

A change that only moves an entity (position, attitude, speeds, battery, tether readings and its
timestamp: ``MOVEMENT``) can wait for its kind's interval (``budget.py``); only the newest held
value is then sent, so the last position always gets out. Any other change (mode, status,
emergency, a new entity, a removal) is news: it goes at its class's turn, with the newest position.
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
