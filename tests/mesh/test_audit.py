"""The audit: settled digests agree on an idle mesh, so nothing is fetched again (real Zenoh, in process)."""

from __future__ import annotations

import asyncio

from meshkit import MeshNet, endpoint, eventually, free_port, mesh_config

from edge.scene import Node, Position, Unit
from mesh.catchup import SETTLE_S


async def test_a_quiet_kit_is_not_refetched_although_its_node_entity_moves_on(net: MeshNet) -> None:
    # A kit re-reads its own health every 5 s (a new ts on its node entity) but sends that entity only
    # at the heartbeat. The post's copy settles, the kit's own never does: the digests once differed
    # at every audit and the post fetched the kit's whole state each minute (the incident benchmark's
    # ~2,000 "stale" states a minute).
    port = free_port()
    fast = {"audit_interval_s": 0.5, "node_heartbeat_s": 3600.0, "links_in_node": False}
    post = await net.start("post", mesh_config(listen=[endpoint(port)], **fast), role="command-post")
    kit = await net.start("kit", mesh_config(connect=[endpoint(port)], **fast))
    unit = Unit(id="unit:pdt:1001", origin="kit", ts=kit.node.clock(), pos=Position(lat=36.7, lon=119.1))
    kit.scene.apply_state(unit)
    await eventually(lambda: post.scene.get(unit.id) is not None, 10, "the kit's unit on the post")
    await eventually(lambda: isinstance(post.scene.get("node:kit"), Node), 10, "the kit's node on the post")
    held = post.scene.get("node:kit")  # sent when it changes, else hourly here
    assert post.mesh.ctx is not None
    rounds = post.mesh.ctx.counters.catchup_rounds

    await asyncio.sleep(SETTLE_S + 6.0)  # both copies of the unit settle; the kit's node entity moves on

    assert post.scene.counters.states_stale == 0, "no audit fetched the kit's state again"
    assert post.mesh.ctx.counters.catchup_rounds > rounds + 5, "the post audited the kit"
    kit_node, post_copy = kit.scene.get("node:kit"), post.scene.get("node:kit")
    assert kit_node is not None and post_copy is not None and held is not None
    assert kit_node.ts > post_copy.ts, "the kit's node entity moved on since it was last sent"
