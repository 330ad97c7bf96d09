"""Errors of the mesh: one root, a few named cases."""


class MeshError(Exception):
    """Root of every mesh error."""


class WireError(MeshError):
    """A mesh payload or key could not be read (wrong schema, too large, hostile)."""


class SessionError(MeshError):
    """The Zenoh session could not be opened or used."""


class SessionLost(MeshError):
    """The Zenoh session closed without this node closing it: the mesh component must start again."""
