"""Link classes per peer: one node, a LAN peer and a narrowband peer, each paced to its own link at once."""

from __future__ import annotations

import asyncio
import time

from meshkit import MeshNet, MeshNode, endpoint, eventually, free_port, mesh_config

from edge.scene import Alert, Message, Position, Vehicle
from sim.linkproxy import Shaping

VEHICLES = 20
HZ = 10
SECONDS = 6


class Counter:
    """Updates of the hub's vehicles a node's scene applied (from a scene subscription)."""

    def __init__(self, n: MeshNode) -> None:
        self.sub = n.scene.subscribe("tiers-test")
        self.updates = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        await self.sub.get()  # the snapshot
        while True:
            batch = await self.sub.get()
            for delta in batch:  # type: ignore[union-attr]
                self.updates += (
                    delta.op == "state" and delta.value is not None and delta.value.id.startswith("vehicle:hub:")
                )

    def close(self) -> None:
        self.task.cancel()
        self.sub.close()


async def journal_ids(n: MeshNode, origin: str) -> list[str]:
    events = await n.node.journal.events_since(origin, 0, 100_000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), f"{n.name}: gaps or repeats"
    return [e.id for e in events]


async def test_a_lan_peer_gets_full_rate_while_a_narrowband_peer_of_the_same_node_gets_its_thinned_rate(
    net: MeshNet,
) -> None:
    port = free_port()
    narrow = {"lease_s": 5.0}
    classes = {"radio": "narrowband"}
    hub = await net.start("hub", mesh_config(listen=[endpoint(port)], peer_link_classes=classes, **narrow))
    lan_proxy = await net.proxy(port)  # counts only
    pdt_proxy = await net.proxy(port, shaping=Shaping(rate_bps=9600))  # a PDT data channel
    lan = await net.start("lan", mesh_config(connect=[lan_proxy.endpoint], **narrow))
    radio = await net.start("radio", mesh_config(connect=[pdt_proxy.endpoint], link_class="narrowband", **narrow))
    for n, peer in ((hub, "lan"), (hub, "radio"), (lan, "hub"), (radio, "hub")):
        await eventually(lambda n=n, p=peer: n.mesh.ctx and n.mesh.ctx.links.is_up(p), 10, f"{n.name} sees {peer}")
    assert hub.mesh._publisher is not None
    pacing = hub.mesh._publisher.pacing
    await eventually(lambda: [t.link_class for t in pacing.active()] == ["lan", "narrowband"], 5, "both tiers followed")
    assert pacing.shared_class == "narrowband"  # events go at the narrowest pace: they reach everyone

    on_lan, on_radio = Counter(lan), Counter(radio)
    lan_before, radio_before = lan_proxy.bytes_down, pdt_proxy.bytes_down
    events: list[str] = []
    offered = 0
    try:
        for tick in range(SECONDS * HZ):  # bounded: 20 drones at 10 Hz for 6 s, an alarm and a message each second
            t = time.time()
            for v in range(VEHICLES):
                offered += 1
                pos = Position(lat=36.7 + tick * 1e-5, lon=119.1 + v * 1e-4)
                hub.scene.apply_state(Vehicle(id=f"vehicle:hub:{v}", origin="hub", ts=t, pos=pos))
            if tick % HZ == 0:
                alarm = Alert(id=f"hub-alarm-{tick}", origin="hub", ts=t, title="man down")
                message = Message(id=f"hub-msg-{tick}", origin="hub", ts=t, sender="cp", text=f"move to sector {tick}")
                await hub.scene.append_many([alarm, message])
                events += [alarm.id, message.id]
            await asyncio.sleep(1 / HZ)
        for n in (lan, radio):  # every event reaches both, once, in the hub's numbering
            await eventually(lambda n=n: all(n.scene.alert(i) for i in events[::2]), 20, f"alarms on {n.name}")
        lan_bytes, radio_bytes = lan_proxy.bytes_down - lan_before, pdt_proxy.bytes_down - radio_before
    finally:
        on_lan.close()
        on_radio.close()
    for n in (lan, radio):
        await eventually(lambda n=n: len(n.scene.messages()) == SECONDS, 20, f"messages on {n.name}")
        assert await journal_ids(n, "hub") == events

    # The LAN peer got (nearly) every position; the narrowband peer each drone's first position and at
    # most one more (the narrowband tier sends a drone that only moves at most every 10 s).
    assert on_lan.updates >= 0.8 * offered, (on_lan.updates, offered)
    assert VEHICLES <= on_radio.updates <= 2 * VEHICLES, on_radio.updates
    # On the wire, at the same time: the narrowband link carried what 9.6 kbit/s allows (its first
    # positions, the events, node entity and catch-up: 3.6-5.3 KB seen), the LAN link every position
    # (~35 B each: 41 KB seen). Paced at the narrowest peer, both would have carried about the same.
    assert radio_bytes <= 9600 / 8 * (SECONDS + 5), radio_bytes
    assert lan_bytes >= 25 * offered and lan_bytes > 4 * radio_bytes, (lan_bytes, radio_bytes)
