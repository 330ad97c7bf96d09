"""Video across the mesh: a command post and an edge with a sim camera, on loopback through the link proxy.

Real Zenoh sessions (one per node, over TCP through ``sim/linkproxy.py``), real HTTP to the post's
API, and an aiortc WHEP viewer that decodes the pictures and reads the sim camera's burned-in stamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import zenoh
from meshkit import CutProxy, MeshNet, MeshNode, endpoint, eventually, free_port, mesh_config
from prometheus_client.parser import text_string_to_metric_families
from whep_client import SIM_FEED, watch

from edge.auth import Role
from edge.scene import Feed
from mesh.feedwire import SnapW, UnitW, WantW, encode, want_key
from mesh.snapshots import MAX_ENTRIES, SNAP_MAX_BYTES

FEED_ID = "feed:edge1:cam1"
MEDIA = {"feeds": [SIM_FEED], "snapshot_interval_s": 1.0}


@asynccontextmanager
async def client(node: MeshNode) -> AsyncIterator[httpx.AsyncClient]:
    token = node.node.tokens.create(Role.VIEWER, "mesh video tester")
    assert node.node.api_url is not None
    async with httpx.AsyncClient(
        base_url=node.node.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0
    ) as c:
        yield c


def feeds(node: MeshNode) -> dict[str, Any]:
    assert node.mesh.feeds is not None
    return node.mesh.feeds.report()


async def start_pair(
    net: MeshNet, hub: dict[str, Any] | None = None, edge: dict[str, Any] | None = None, media: dict[str, Any] = MEDIA
) -> tuple[MeshNode, MeshNode, CutProxy]:
    """The post (listening) and edge1 (a sim camera) dialing it through a proxy; both up to each other.

    ``hub``, ``edge``: more `[mesh]` options for each."""
    port = free_port()
    post = await net.start("hub", mesh_config(listen=[endpoint(port)], **(hub or {})), role="command-post")
    proxy = await net.proxy(port)
    kit = await net.start(
        "edge1", mesh_config(connect=[proxy.endpoint], listen=[endpoint(free_port())], **(edge or {})), media=media
    )
    await eventually(lambda: post.mesh.ctx is not None and post.mesh.ctx.links.is_up("edge1"), 20, "edge1 up")
    await eventually(lambda: isinstance(post.scene.get(FEED_ID), Feed), 20, "the edge's feed in the post's picture")
    return post, kit, proxy


async def rate(proxy: CutProxy, seconds: float) -> float:
    """Bytes per second through the proxy, both ways, over ``seconds``."""
    before = proxy.bytes_up + proxy.bytes_down
    await asyncio.sleep(seconds)
    return (proxy.bytes_up + proxy.bytes_down - before) / seconds


async def test_the_post_serves_an_edge_s_snapshot_and_live_video_only_while_watched(net: MeshNet) -> None:
    hub, edge, proxy = await start_pair(net)
    assert hub.node.media is not None and edge.node.media is not None

    # Snapshots cross the mesh by themselves; the post serves the edge's by feed id.
    await eventually(lambda: feeds(hub)["snapshots_received"], 20, "a snapshot at the post")
    async with client(hub) as c:
        r = await c.get(f"/api/feeds/{FEED_ID}/snapshot.jpg")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/jpeg" and r.headers["x-origin"] == "edge1"
        assert r.content.startswith(b"\xff\xd8\xff") and len(r.content) <= 20_000
        assert (await c.get("/api/feeds/feed:edge1:nope/snapshot.jpg")).status_code == 404
        encoded = await c.get("/api/feeds/feed%3Aedge1%3Acam1/snapshot.jpg")  # as the page asks (encodeURIComponent)
        assert encoded.status_code == 200 and encoded.content.startswith(b"\xff\xd8\xff")
    async with client(edge) as c:  # the kit itself answers for its own feed by id, too
        own = await c.get("/api/feeds/feed%3Aedge1%3Acam1/snapshot.jpg")
        assert own.status_code == 200 and own.headers["x-origin"] == "edge1"
    async with client(hub) as c:
        # Nobody watches: the edge sends no video at all.
        idle = await rate(proxy, 3.0)
        assert feeds(edge)["video_units_sent"] == 0 and feeds(edge)["video_sending"] == []

        # One viewer on the post: frames of the edge's camera, its stamps in order.
        first = await watch(c, FEED_ID)
        await first.wait_frames(30, timeout=30)
        counters = [s.frame for s in first.stamps]
        assert len(counters) >= 20, f"only {len(counters)} stamps read"
        assert all(b > a for a, b in itertools.pairwise(counters)), counters
        assert feeds(edge)["video_sending"] == ["cam1"]

        # A second viewer shares the one relay and the one subscription.
        second = await watch(c, FEED_ID)
        await second.wait_frames(15, timeout=30)
        assert hub.node.media.remote.opened == 1
        assert hub.node.media.remote.runners[FEED_ID].relay.viewers == 2
        assert feeds(hub)["video_subscriptions"] == 1 and feeds(hub)["video_watching"] == ["edge1/cam1"]
        samples = {
            (m.name, m.labels.get("what")): m.value
            for family in text_string_to_metric_families((await c.get("/metrics")).text)
            for m in family.samples
        }
        assert samples[("fieldkit_remote_feeds", None)] == 1
        assert samples[("fieldkit_mesh_feed_samples_total", "video_subscriptions")] == 1
        assert samples[("fieldkit_mesh_feed_samples_total", "video_units_received")] >= 30
        watched = await rate(proxy, 3.0)
        assert watched > 5 * idle, (watched, idle)

        await first.close(c)
        await second.close(c)
    # Both gone: the post stops its relay, its wants stop, and the edge stops sending.
    await eventually(lambda: not feeds(edge)["video_sending"], 20, "the edge stops sending")
    sent = feeds(edge)["video_units_sent"]
    await asyncio.sleep(1.5)
    assert feeds(edge)["video_units_sent"] == sent
    assert hub.node.media.remote.runners == {}


async def test_a_stalled_edge_camera_shows_as_stalled_on_the_post(net: MeshNet) -> None:
    hub, edge, _ = await start_pair(net)
    assert edge.node.media is not None and hub.node.media is not None
    async with client(hub) as c:
        viewer = await watch(c, FEED_ID)
        await viewer.wait_frames(10, timeout=30)
        assert hub.node.media.remote.state(FEED_ID) == "live"
        edge.node.media.feeds["cam1"].source.paused = True
        await eventually(lambda: hub.node.media.remote.state(FEED_ID) == "stalled", 20, "stalled relay at the post")
        await eventually(  # and the edge's own word for it, in the post's picture
            lambda: isinstance(e := hub.scene.get(FEED_ID), Feed) and e.state == "stalled", 30, "stalled in the picture"
        )
        edge.node.media.feeds["cam1"].source.paused = False
        frames = viewer.frames
        await viewer.wait_frames(frames + 10, timeout=30)
        await eventually(lambda: hub.node.media.remote.state(FEED_ID) == "live", 20, "live again at the post")
        await viewer.close(c)


async def test_a_narrow_link_variant_of_an_edge_s_feed_crosses_as_its_own_stream(net: MeshNet) -> None:
    low = {"name": "low", "width": 160, "height": 90, "fps": 5.0, "bitrate_kbps": 60}
    hub, edge, _ = await start_pair(net, media={"feeds": [{**SIM_FEED, "variants": [low]}]})
    assert hub.node.media is not None
    await eventually(lambda: "low" in getattr(hub.scene.get(FEED_ID), "profiles", []), 20, "the variant in the picture")
    async with client(hub) as c:
        viewer = await watch(c, FEED_ID, profile="low")
        await viewer.wait_frames(10, timeout=30)
        assert viewer.sizes == {(160, 90)}  # the kit's second encode, passed through the post as it is
        assert feeds(edge)["video_sending"] == ["cam1.low"]
        assert set(hub.node.media.remote.runners) == {f"{FEED_ID}.low"}
        r = await c.post(
            f"/api/feeds/{FEED_ID}/whep?profile=huge", content="v=0", headers={"Content-Type": "application/sdp"}
        )
        assert r.status_code == 404 and "no profile 'huge'" in r.text
        await viewer.close(c)


async def test_a_narrowband_link_refuses_live_video_but_carries_small_snapshots(net: MeshNet) -> None:
    hub, edge, _ = await start_pair(
        net, hub={"peer_link_classes": {"edge1": "narrowband"}}, edge={"peer_link_classes": {"hub": "narrowband"}}
    )
    async with client(hub) as c:
        r = await c.post(
            f"/api/feeds/{FEED_ID}/whep",
            content="v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n",
            headers={"Content-Type": "application/sdp"},
        )
        assert r.status_code == 409, r.text
        assert "narrowband" in r.json()["detail"]
        await eventually(lambda: feeds(hub)["snapshots_received"], 30, "a snapshot over the narrowband link")
        r = await c.get(f"/api/feeds/{FEED_ID}/snapshot.jpg")
        assert r.status_code == 200 and r.content.startswith(b"\xff\xd8\xff")
        assert len(r.content) <= SNAP_MAX_BYTES["narrowband"]
    assert hub.node.media is not None and hub.node.media.remote.runners == {}

    # Even asked directly, the edge sends no video to a node behind a narrowband link.
    payload = encode(WantW("hub", True))
    await hub.mesh.session.call(lambda s: s.put(want_key("edge1", "cam1"), payload))
    await eventually(lambda: feeds(edge)["video_wants_refused"], 10, "the want refused at the edge")
    assert feeds(edge)["video_sending"] == [] and feeds(edge)["video_units_sent"] == 0


def _raw_session(*endpoints: str) -> zenoh.Session:
    config = {
        "mode": "peer",
        "scouting": {"multicast": {"enabled": False}, "gossip": {"enabled": False}},
        "listen": {"endpoints": []},
        "connect": {"endpoints": list(endpoints)},
    }
    return zenoh.open(zenoh.Config.from_json5(json.dumps(config)))


async def test_hostile_snapshot_and_video_payloads_are_dropped_and_counted(net: MeshNet) -> None:
    hub, edge, _ = await start_pair(net)
    await eventually(lambda: feeds(hub)["snapshots_received"], 20, "a first snapshot at the post")
    assert hub.mesh.cfg.listen and edge.mesh.cfg.listen
    raw = await asyncio.to_thread(_raw_session, hub.mesh.cfg.listen[0], edge.mesh.cfg.listen[0])
    try:
        async with client(hub) as c:
            viewer = await watch(c, FEED_ID)
            await viewer.wait_frames(5, timeout=30)
            jpeg_like = b"\xff\xd8\xff" + bytes(200_000) + b"\xff\xd9"
            hostile = [
                ("fk/edge1/snap/cam1", encode(SnapW(1.0, 10, 10, b"GIF89a not a jpeg"))),  # not a JPEG
                ("fk/edge1/snap/cam1", b"\x93\x01\x02"),  # not our schema
                ("fk/edge1/snap/cam1", jpeg_like),  # far too large
                ("fk/ghost/snap/cam1", encode(SnapW(1.0, 10, 10, b"\xff\xd8\xff\xe0JFIF\xff\xd9"))),  # unknown origin
                ("fk/edge1/snap/a.b", encode(SnapW(1.0, 10, 10, b"\xff\xd8\xff\xe0JFIF\xff\xd9"))),  # bad key
                ("fk/edge1/video/cam1", encode(UnitW(1, 0, True, 1.0, b"not annex-b"))),  # not H.264
                ("fk/edge1/video/cam1", b"\xc1garbage"),  # not msgpack
                ("fk/edge1/video/cam1", encode(UnitW(1, 0, True, 1.0, b"\x00\x00\x00\x01" + bytes(600_000)))),  # huge
                ("fk/edge1/want/cam1", b"\xff\xff"),  # a broken want
                ("fk/edge1/want/cam1", encode(WantW("ghost", True))),  # a want from nobody we know
            ]
            before_hub, before_edge = feeds(hub), feeds(edge)

            def put_all() -> None:
                for key, payload in hostile:
                    raw.put(key, payload)

            def dropped() -> bool:
                h, e = feeds(hub), feeds(edge)
                return (
                    h["snapshots_dropped_malformed"] >= before_hub["snapshots_dropped_malformed"] + 3
                    and h["snapshots_dropped_oversize"] >= before_hub["snapshots_dropped_oversize"] + 1
                    and h["snapshots_dropped_unknown"] >= before_hub["snapshots_dropped_unknown"] + 1
                    and h["video_units_dropped_malformed"] >= before_hub["video_units_dropped_malformed"] + 2
                    and h["video_units_dropped_oversize"] >= before_hub["video_units_dropped_oversize"] + 1
                    and e["video_wants_dropped"] >= before_edge["video_wants_dropped"] + 2
                )

            # A session that just opened sends a put only to the subscribers it has heard of so far, and
            # on a busy machine it hears of them late: put the set again until all of it was counted
            # (the counts are at-least, so a repeat cannot make the check pass wrongly).
            for _ in range(10):
                await asyncio.to_thread(put_all)
                with contextlib.suppress(AssertionError):
                    await eventually(dropped, 2, "")
                    break
            assert dropped(), f"every hostile payload counted: {feeds(hub)} {feeds(edge)}"
            # Both nodes keep going: the viewer still gets pictures, the post still gets real snapshots.
            frames, snaps = viewer.frames, feeds(hub)["snapshots_received"]
            await viewer.wait_frames(frames + 15, timeout=30)
            await eventually(lambda: feeds(hub)["snapshots_received"] > snaps, 20, "a real snapshot after the attack")
            r = await c.get(f"/api/feeds/{FEED_ID}/snapshot.jpg")
            assert r.status_code == 200 and r.content.startswith(b"\xff\xd8\xff")

            # A flood of well-formed snapshots of made-up feeds: the post holds a bounded number.
            tiny = encode(SnapW(2.0, 10, 10, b"\xff\xd8\xff\xe0JFIF\xff\xd9"))

            def flood() -> None:
                for n in range(MAX_ENTRIES + 100):
                    raw.put(f"fk/edge1/snap/made-up-{n}", tiny)

            received = feeds(hub)["snapshots_received"]
            await asyncio.to_thread(flood)
            await eventually(lambda: feeds(hub)["snapshots_received"] >= received + MAX_ENTRIES + 100, 20, "the flood")
            assert feeds(hub)["snapshots_held"] == MAX_ENTRIES
            assert not hub.task.done() and not edge.task.done()
            assert hub.mesh.session.is_open and edge.mesh.session.is_open
            await viewer.close(c)
    finally:
        await asyncio.to_thread(raw.close)
