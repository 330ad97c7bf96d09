"""Mesh: zeroconf discovery and Zenoh scene sync between nodes (issue #6).

``MeshSync(node, cfg)`` is the component a node runs; ``MeshSection`` is its `[mesh]` config.
"""

from .config import MeshSection
from .discovery import Announcement, Discovery
from .errors import MeshError, SessionError, SessionLost, WireError
from .links import LinkMonitor, LinkState
from .session import MeshSession, zenoh_config
from .sync import MeshSync

__all__ = [
    "Announcement",
    "Discovery",
    "LinkMonitor",
    "LinkState",
    "MeshError",
    "MeshSection",
    "MeshSession",
    "MeshSync",
    "SessionError",
    "SessionLost",
    "WireError",
    "zenoh_config",
]
