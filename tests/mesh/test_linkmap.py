"""The command post's link map and node health: three nodes in this process, the hub's HTTP API."""

from __future__ import annotations

import httpx
from meshkit import MeshNet, endpoint, eventually, free_port, mesh_config

from edge.auth import Role
from edge.scene import Node


def _links(node: Node | None) -> dict[str, dict[str, object]]:
    return {} if node is None else {link.peer: {"up": link.up, "rtt_ms": link.rtt_ms} for link in node.links}


async def test_the_hub_api_shows_each_link_with_rtt_loss_and_rate_and_each_kit_s_health(net: MeshNet) -> None:
    port = free_port()
    fast = {"audit_interval_s": 0.5, "node_heartbeat_s": 0.5}
    hub = await net.start("hub", mesh_config(listen=[endpoint(port)], **fast), role="command-post")
    for name in ("edge1", "edge2"):
        await net.start(name, mesh_config(connect=[endpoint(port)], **fast))

    def measured(holder: str, owner: str, peer: str) -> bool:
        entity = net.nodes[holder].scene.get(f"node:{owner}")
        link = _links(entity if isinstance(entity, Node) else None).get(peer)
        return link is not None and link["up"] is True and link["rtt_ms"] is not None

    def cpu_known(holder: str, owner: str) -> bool:
        entity = net.nodes[holder].scene.get(f"node:{owner}")
        return isinstance(entity, Node) and entity.health is not None and entity.health.cpu_pct is not None

    # The hub holds every kit's node entity, each with its measured link to the hub.
    for edge in ("edge1", "edge2"):
        await eventually(lambda e=edge: measured("hub", e, "hub"), 20, f"{edge}'s link to the hub, on the hub")  # type: ignore[misc]
        await eventually(lambda e=edge: measured("hub", "hub", e), 20, f"the hub's link to {edge}")  # type: ignore[misc]
        # A kit's CPU share needs two reads of /proc/stat a clock tick apart: its first report may lack it.
        await eventually(lambda e=edge: cpu_known("hub", e), 20, f"{edge}'s CPU share, on the hub")  # type: ignore[misc]

    token = hub.node.tokens.create(Role.VIEWER, "test")
    assert hub.node.api_url is not None
    async with httpx.AsyncClient(base_url=hub.node.api_url, headers={"Authorization": f"Bearer {token}"}) as client:
        r = await client.get("/api/entities", params={"kind": "node"})
        r.raise_for_status()
        nodes = {e["id"]: e for e in r.json()}
    assert set(nodes) == {"node:hub", "node:edge1", "node:edge2"}
    hub_links = {link["peer"]: link for link in nodes["node:hub"]["links"]}
    assert set(hub_links) == {"edge1", "edge2"}
    for edge in ("edge1", "edge2"):
        link = hub_links[edge]
        assert link["up"] is True
        assert 0 < link["rtt_ms"] < 10_000
        assert link["loss_pct"] == 0.0  # every query on loopback was answered
        assert link["rx_bps"] is not None and link["rx_bps"] >= 0
        remote = {x["peer"]: x for x in nodes[f"node:{edge}"]["links"]}
        assert remote["hub"]["up"] is True and remote["hub"]["rtt_ms"] > 0
        health = nodes[f"node:{edge}"]["health"]  # read on the kit, carried over the mesh
        assert 0 < health["mem_pct"] <= 100 and health["mem_total_mb"] > 0
        assert health["cpu_pct"] is not None and 0 <= health["cpu_pct"] <= 100

    # A kit that goes away shows as a link down on the hub's own entity.
    await net.stop("edge2")
    await eventually(
        lambda: not _links(hub.scene.get("node:hub")).get("edge2", {"up": True})["up"],  # type: ignore[arg-type]
        20,
        "the hub's link to edge2 down",
    )
