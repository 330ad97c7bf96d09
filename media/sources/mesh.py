"""A feed of another node, carried over the mesh: its encoded access units, only while watched.

On a command post, a WHEP viewer of another kit's feed is served from a local relay like any
feed; :class:`MeshSource` fills that relay from the mesh (``mesh/video.py``), which subscribes to
the feed's access units and keeps telling the origin it wants them. Nothing is decoded or encoded
here. A keyframe request (a new viewer, a browser's PLI) travels to the origin, whose own source
makes one (or replays its current group of pictures). The mesh side is reached through the small
:class:`MeshVideo` interface, so media does not depend on how the mesh carries it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from media.relay import AccessUnit, Relay

from . import SourceError, StreamInfo


class RemoteRefused(SourceError):
    """Live video of that node's feeds cannot cross the link to it (narrowband: snapshots only)."""


class RemoteUnavailable(SourceError):
    """That node cannot be reached now (not up on the mesh, or the mesh is off)."""


class MeshVideo(Protocol):
    """What the mesh offers media: watching another node's feed."""

    def check(self, node: str) -> None:
        """Raise RemoteRefused or RemoteUnavailable if ``node``'s video cannot be watched now."""

    async def watch(self, node: str, feed: str, profile: str, on_unit: Callable[[AccessUnit], None]) -> None:
        """Hand the access units of ``node``'s ``feed`` (``profile``: main or a variant) to ``on_unit`` until
        cancelled."""

    def request_keyframe(self, node: str, feed: str, profile: str) -> None:
        """Ask the origin for a keyframe of ``feed`` (``profile``)."""


class MeshSource:
    """Another node's feed over the mesh (see the module doc)."""

    kind = "mesh"
    forces_keyframes = True  # the origin makes one on request, or replays its GOP

    def __init__(self, mesh: MeshVideo, node: str, feed: str, profile: str = "main") -> None:
        self.mesh = mesh
        self.node = node
        self.feed = feed
        self.profile = profile
        self.info = StreamInfo("H264")

    def request_keyframe(self) -> None:
        self.mesh.request_keyframe(self.node, self.feed, self.profile)

    async def run(self, relay: Relay) -> None:
        await self.mesh.watch(self.node, self.feed, self.profile, relay.publish)
        raise SourceError(f"the mesh stopped carrying {self.node}'s feed {self.feed}")
