"""Drones: MAVLink codec, links, router, vehicles, commands, tether, SITL peers (issue #3)."""

from .codec import decode, encode
from .dialect import MAVLINK_MSG_ID, MESSAGES, MessageInfo
from .errors import DroneError, EncodeError, FrameError, UnknownEndpoint
from .framer import FramerStats, MavFrame, MavFramer
from .ratelimit import Priority, RateLimit
from .router import Endpoint, EndpointStats, Filter, Router

__all__ = [
    "MAVLINK_MSG_ID",
    "MESSAGES",
    "DroneError",
    "EncodeError",
    "Endpoint",
    "EndpointStats",
    "Filter",
    "FrameError",
    "FramerStats",
    "MavFrame",
    "MavFramer",
    "MessageInfo",
    "Priority",
    "RateLimit",
    "Router",
    "UnknownEndpoint",
    "decode",
    "encode",
]
