"""TAK interop: CoT out and in, the sans-I/O event framer, the streaming TCP port."""

from .config import TakSection
from .cot import CotOptions, alert_event, cot_time, entity_event, message_event, removed_event, to_bytes
from .cotin import CotEvent, CotRejected, Inbound, is_ours, parse_event
from .framer import EventFramer

__all__ = [
    "CotEvent",
    "CotOptions",
    "CotRejected",
    "EventFramer",
    "Inbound",
    "TakSection",
    "alert_event",
    "cot_time",
    "entity_event",
    "is_ours",
    "message_event",
    "parse_event",
    "removed_event",
    "to_bytes",
]
