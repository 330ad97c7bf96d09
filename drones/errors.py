"""The one error root of ``drones`` and its named subclasses."""

from __future__ import annotations


class DroneError(Exception):
    """Root of every error the drones package raises."""


class FrameError(DroneError):
    """Bytes that were expected to be one MAVLink frame are not."""


class EncodeError(DroneError):
    """A message cannot be packed (a field out of range for its type, a wrong type)."""


class UnknownEndpoint(DroneError):
    """The router was given an endpoint name it does not have."""


class LinkError(DroneError):
    """A link failed or closed; its endpoint runner reopens it after a backoff."""
