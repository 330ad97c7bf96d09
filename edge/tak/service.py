"""The node's TAK links, built from ``[tak]``: the streaming port, TAK servers, multicast SA."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .client import TakClient
from .config import TakSection
from .hub import CotHub
from .multicast import TakMulticast
from .server import TakServer

if TYPE_CHECKING:
    from edge.node import EdgeNode
    from edge.supervisor import Component


@dataclass
class TakLinks:
    """Every TAK link of one node, sharing one hub."""

    hub: CotHub
    server: TakServer | None = None
    clients: list[TakClient] = field(default_factory=list)
    multicast: TakMulticast | None = None

    def components(self) -> list[Component]:
        """What the node supervises: one component per link."""
        parts: list[Component] = [*self.clients]
        if self.server is not None:
            parts.insert(0, self.server)
        if self.multicast is not None:
            parts.append(self.multicast)
        return parts


def build_tak_links(node: EdgeNode, cfg: TakSection) -> TakLinks:
    """The links ``cfg`` asks for (the node's scene must exist)."""
    hub = CotHub(node, cfg)
    hub.restore()
    return TakLinks(
        hub=hub,
        server=TakServer(node, cfg, hub) if cfg.enabled else None,
        clients=[TakClient(node, cfg, link, hub) for link in cfg.servers],
        multicast=TakMulticast(node, cfg, hub) if cfg.multicast.enabled else None,
    )
