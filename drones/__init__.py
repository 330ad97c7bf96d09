"""Drones: MAVLink codec, links, router, vehicles, commands, tether, SITL peers (issue #3)."""

from .codec import decode, encode
from .commands import BadCommand, CommandError, CommandRequest, CommandResult
from .config import DronesSection, EndpointConfig
from .dialect import MAVLINK_MSG_ID, MESSAGES, MessageInfo
from .endpoints import LinkState
from .errors import DroneError, EncodeError, FrameError, LinkError, UnknownEndpoint
from .framer import FramerStats, MavFrame, MavFramer
from .links import memory_pair
from .ratelimit import Priority, RateLimit
from .router import Endpoint, EndpointStats, Filter, Router
from .service import CommandOutcome, DroneService, LinkReport, PeerReport, Picture, StepOutcome
from .tether import NAMES as TETHER_NAMES

__all__ = [
    "MAVLINK_MSG_ID",
    "MESSAGES",
    "TETHER_NAMES",
    "BadCommand",
    "CommandError",
    "CommandOutcome",
    "CommandRequest",
    "CommandResult",
    "DroneError",
    "DroneService",
    "DronesSection",
    "EncodeError",
    "Endpoint",
    "EndpointConfig",
    "EndpointStats",
    "Filter",
    "FrameError",
    "FramerStats",
    "LinkError",
    "LinkReport",
    "LinkState",
    "MavFrame",
    "MavFramer",
    "MessageInfo",
    "PeerReport",
    "Picture",
    "Priority",
    "RateLimit",
    "Router",
    "StepOutcome",
    "UnknownEndpoint",
    "decode",
    "encode",
    "memory_pair",
]
