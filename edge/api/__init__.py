"""HTTP API, live WebSocket and the command-post page of a node."""

from .app import ApiServer, create_app

__all__ = ["ApiServer", "create_app"]
