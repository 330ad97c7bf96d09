"""The relay on its own: viewers start at a keyframe, a forcing source is asked for one, a pass-through
source's newcomer gets the current GOP, a slow viewer is cut back to the next keyframe, and a
browser's PLI reaches the source."""

from __future__ import annotations

import asyncio
import threading

from kit import LocalNode
from whep_client import watch

from edge.auth import Role
from media import h264
from media.encoder import H264Encoder, Profile
from media.relay import AccessUnit, Relay
from media.rtcloop import RtcLoop
from media.sources.sim import SimCamera


def unit(n: int, *, key: bool) -> AccessUnit:
    nal = bytes([0x65 if key else 0x41, 0x88, n & 0xFF])
    return AccessUnit.of(h264.START + nal, n * 6000, keyframe=key, captured=0.0)


async def test_a_pass_through_newcomer_gets_the_current_gop_and_starts_at_its_keyframe() -> None:
    relay = Relay("cam", viewer_queue=10)
    relay.publish(unit(0, key=False))  # before any keyframe: never replayed
    for n, key in [(1, True), (2, False), (3, False)]:
        relay.publish(unit(n, key=key))
    track = relay.subscribe()
    relay.publish(unit(4, key=False))
    got = [await track.recv() for _ in range(4)]
    assert [p.pts // 6000 for p in got] == [1, 2, 3, 4]
    assert relay.keyframe_requests == 0
    track.stop()
    assert relay.viewers == 0


async def test_a_forcing_source_is_asked_for_a_keyframe_and_the_viewer_waits_for_it() -> None:
    asked: list[int] = []
    relay = Relay("cam", request_keyframe=lambda: asked.append(1))
    relay.publish(unit(1, key=True))
    track = relay.subscribe()
    assert asked == [1], "a new viewer asks the source for a keyframe"
    relay.publish(unit(2, key=False))  # not a start point for the newcomer
    relay.publish(unit(3, key=True))
    assert (await track.recv()).pts == 3 * 6000


async def test_a_slow_viewer_is_cut_back_to_the_next_keyframe() -> None:
    asked: list[int] = []
    relay = Relay("cam", request_keyframe=lambda: asked.append(1), viewer_queue=4)
    slow, fast = relay.subscribe(), relay.subscribe()
    relay.publish(unit(0, key=True))
    for n in range(1, 5):
        relay.publish(unit(n, key=False))
        assert (await fast.recv()).pts == (n - 1) * 6000
    # slow never read: its queue overflowed, was emptied, and it waits for a keyframe
    assert slow.dropped == 4 and relay.stats.viewer_drops == 4
    assert len(asked) == 3, "two subscriptions and one cut-back asked for keyframes"
    relay.publish(unit(5, key=False))
    relay.publish(unit(6, key=True))
    assert (await slow.recv()).pts == 6 * 6000


async def test_the_sim_camera_makes_a_keyframe_when_a_viewer_joins() -> None:
    camera = SimCamera(Profile(160, 90, 30.0, keyframe_interval_s=60.0))
    relay = Relay("cam", request_keyframe=camera.request_keyframe)
    task = asyncio.create_task(camera.run(relay))
    try:
        while relay.stats.units < 5:
            await asyncio.sleep(0.02)
        assert relay.stats.keyframes == 1, "with a 60 s GOP only the first picture is a keyframe"
        seen = relay.stats.units
        track = relay.subscribe()
        packet = await asyncio.wait_for(track.recv(), 5)
        assert h264.is_keyframe(bytes(packet))
        assert relay.stats.units - seen <= 3, "the keyframe comes within a couple of frames, not a GOP"
        assert relay.stats.keyframes == 2
        track.stop()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_browsers_pli_reaches_the_source(cam_node: LocalNode) -> None:
    media = cam_node.node.media
    assert media is not None
    async with cam_node.client(Role.VIEWER) as client:
        viewer = await watch(client, "cam1")
        await viewer.wait_frames(3)
        relay = media.feeds["cam1"].relay
        before, keyframes = relay.keyframe_requests, relay.stats.keyframes
        receiver = viewer.pc.getReceivers()[0]
        ssrc = next(iter(receiver._RTCRtpReceiver__remote_streams))  # type: ignore[attr-defined]
        await receiver._send_rtcp_pli(ssrc)
        for _ in range(100):
            if relay.keyframe_requests > before and relay.stats.keyframes > keyframes:
                break
            await asyncio.sleep(0.05)
        assert relay.keyframe_requests == before + 1
        assert relay.stats.keyframes > keyframes, "the sim encoder answered the PLI with a keyframe"
        await viewer.close(client)


def test_encoders_are_counted() -> None:
    before = H264Encoder.instances
    H264Encoder(Profile(64, 64))
    assert H264Encoder.instances == before + 1


async def test_a_track_read_on_the_webrtc_loop_gets_units_and_hands_drops_and_its_end_back() -> None:
    """The relay on the node's loop, the track's recv() on the WebRTC loop's thread (media.rtcloop)."""
    asked: list[int] = []
    relay = Relay("cam", request_keyframe=lambda: asked.append(1), viewer_queue=4)
    rtc = RtcLoop()
    node_thread = threading.get_ident()
    try:
        track = relay.subscribe(consumer=rtc.loop)

        async def read(n: int) -> list[tuple[int, bool]]:
            out = []
            for _ in range(n):
                packet = await asyncio.wait_for(track.recv(), 5)
                out.append((packet.pts // 6000, threading.get_ident() != node_thread))
            return out

        relay.publish(unit(0, key=False))  # the newcomer waits for a keyframe
        relay.publish(unit(1, key=True))
        relay.publish(unit(2, key=False))
        assert await rtc.run(read(2)) == [(1, True), (2, True)]
        for n in range(3, 9):  # nobody reads: the queue (4) overflows on the WebRTC loop
            relay.publish(unit(n, key=False))
        await rtc.run(asyncio.sleep(0.05))
        await asyncio.sleep(0.05)  # the cut-back's report crosses back to this loop
        assert track.dropped == 4 and relay.stats.viewer_drops == 4
        assert len(asked) == 2, "the subscription and the cut-back asked for keyframes"
        relay.close()  # the feed ends: the track ends over there, then leaves the relay here
        await rtc.run(asyncio.sleep(0.05))
        await asyncio.sleep(0.05)
        assert track.readyState == "ended" and relay.viewers == 0
    finally:
        await asyncio.to_thread(rtc.close)
