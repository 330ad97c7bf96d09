"""The PDT/DMR radio-gateway adapter: transports, framers, and radio events into the scene."""

from .events import (
    Alarm,
    AlarmKind,
    CallEnd,
    CallStart,
    CallType,
    Delivery,
    Fix,
    FixMode,
    Presence,
    RadioEvent,
    Status,
    Text,
)
from .framing import Codec, DropCounter, EncodeError, RadioError

__all__ = [
    "Alarm",
    "AlarmKind",
    "CallEnd",
    "CallStart",
    "CallType",
    "Codec",
    "Delivery",
    "DropCounter",
    "EncodeError",
    "Fix",
    "FixMode",
    "Presence",
    "RadioError",
    "RadioEvent",
    "Status",
    "Text",
]
