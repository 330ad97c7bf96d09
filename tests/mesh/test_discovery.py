"""zeroconf discovery on loopback: announce, browse, and the found peer becomes a Zenoh link."""

from __future__ import annotations

import asyncio
import time

from meshkit import MeshNet, endpoint, eventually, free_port, mesh_config

from edge.scene import Alert
from mesh import Announcement, Discovery
from mesh.discovery import parse_txt, split_endpoint, txt_properties

LOOPBACK = ["127.0.0.1"]


def test_txt_round_trip_and_unspecified_host() -> None:
    # 0.0.0.0 here is only text in an announcement (a kit listening on every interface); nothing is sent.
    me = Announcement(node_id="kit-1", name="Kit 1", role="edge", zenoh="tcp/0.0.0.0:7447", zid="ab", http_port=8080)
    props = {k.encode(): v.encode() for k, v in txt_properties(me).items()}
    found = parse_txt(props, ["127.0.0.5", "fe80::1"])
    assert found is not None
    assert found.zenoh == "tcp/127.0.0.5:7447"  # "wherever you found me"
    assert (found.node_id, found.name, found.role, found.zid, found.http_port) == ("kit-1", "Kit 1", "edge", "ab", 8080)
    assert parse_txt({b"id": b"x"}, ["127.0.0.5"]) is None  # no endpoint: not dialable
    assert parse_txt({b"zenoh": b"tcp/1.2.3.4:1"}, []) is None  # no id
    assert split_endpoint("tcp/[::1]:7447") == ("tcp", "::1", 7447)


async def test_two_announcers_on_loopback_find_each_other() -> None:
    found: dict[str, list[Announcement]] = {"a": [], "b": []}
    ports = free_port(), free_port()
    discoveries = [
        Discovery(
            Announcement(node_id=name, name=name, role="edge", zenoh=endpoint(port)),
            found[name].append,
            interfaces=LOOPBACK,
        )
        for name, port in zip(("a", "b"), ports, strict=True)
    ]
    try:
        started = time.monotonic()
        await asyncio.gather(*(d.start() for d in discoveries))
        await eventually(lambda: found["a"] and found["b"], 10, "each finds the other")
        print(f"found each other {time.monotonic() - started:.2f} s after starting")
        assert [p.zenoh for p in found["a"]] == [endpoint(ports[1])]
        assert [p.node_id for p in found["b"]] == ["a"]
    finally:
        await asyncio.gather(*(d.aclose() for d in discoveries))


async def test_discovered_nodes_connect_over_zenoh_with_no_configured_endpoint(net: MeshNet) -> None:
    opts = {"discovery": True, "discovery_interfaces": LOOPBACK, "dial_grace_s": 30.0}
    started = time.monotonic()
    a = await net.start("a", mesh_config(listen=[endpoint(free_port())], **opts))
    b = await net.start("b", mesh_config(listen=[endpoint(free_port())], **opts))
    assert a.mesh.ctx is not None and b.mesh.ctx is not None
    await eventually(lambda: a.mesh.ctx.links.is_up("b") and b.mesh.ctx.links.is_up("a"), 20, "linked by discovery")
    took = time.monotonic() - started
    assert a.mesh.reopened_at is not None
    relink = asyncio.get_running_loop().time() - a.mesh.reopened_at
    # Only the smaller id dials (reopening its session once); the other accepts.
    assert a.mesh.ctx.counters.reopens == 1 and b.mesh.ctx.counters.reopens == 0
    assert a.mesh.session.extra_connect == (b.mesh_cfg.listen[0],)
    print(
        f"linked {took:.2f} s after start; the reopen took {a.mesh.session.last_open_s * 1000:.1f} ms to open, "
        f"both saw each other alive {relink * 1000:.0f} ms after it (within the 50 ms poll)"
    )
    await b.scene.append(Alert(id="b-1", origin="b", ts=time.time(), title="found you"))
    await eventually(lambda: a.scene.alert("b-1") is not None, 5, "b's alert on a")
