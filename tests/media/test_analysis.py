"""Analysis on decoded keyframes: the thermal sim's fire is a hot spot; sim movers are motion, drift is not."""

from __future__ import annotations

import asyncio
import math
import time

import av
import cv2
import numpy as np
import pytest
from mediakit import finish

from media.analysis import FeedAnalysis, Finding, MotionDetector, sim_overlays
from media.encoder import H264Encoder, Profile
from media.geo import EARTH_RADIUS_M, CameraPose, image_to_ground
from media.keyframes import KeyframeDecoder
from media.relay import Relay
from media.sources.scenery import Scenery
from media.sources.sim import SimCamera

W, H = 640, 360


async def analyse_sim(thermal: bool, want: int, **analyses: bool) -> tuple[list[Finding], FeedAnalysis]:
    camera = SimCamera(Profile(W, H, 15, keyframe_interval_s=0.5), thermal=thermal)
    relay = Relay("cam", request_keyframe=camera.request_keyframe)
    decoder = KeyframeDecoder("cam", min_interval_s=0.4)
    decoder.attach(relay)
    found: list[Finding] = []
    analysis = FeedAnalysis(ignore=sim_overlays(W, H), on_finding=found.append, **analyses)
    analysis.attach(decoder)
    task = asyncio.create_task(camera.run(relay))
    try:
        async with asyncio.timeout(30):
            while analysis.analysed < want:
                await asyncio.sleep(0.05)
    finally:
        await finish(task)
        await decoder.aclose()
    await asyncio.sleep(0)  # let the last call_soon_threadsafe land
    return found, analysis


async def test_the_thermal_sim_fire_is_a_hotspot_placed_on_the_ground() -> None:
    found, analysis = await analyse_sim(thermal=True, want=3, hotspots=True)
    assert len(found) == analysis.analysed == 3
    for finding in found:
        fire = finding.hotspots[0]
        assert abs(fire.x - 0.62 * W) < 4 and abs(fire.y - 0.58 * H) < 4
        assert 250 < fire.area_px < 3000 and fire.peak > 240
        assert all(s.area_px >= 50 for s in finding.hotspots)
    pose = CameraPose(lat=36.70, lon=119.16, alt_agl_m=100, heading_deg=0, pitch_deg=-90, hfov_deg=70)
    place = image_to_ground(fire.x, fire.y, W, H, pose)
    assert place is not None
    assert place[0] < 36.70 and place[1] > 119.16  # below and right of centre: south-east of a north-up camera


async def test_an_ordinary_scene_has_no_hotspots() -> None:
    found, analysis = await analyse_sim(thermal=False, want=2, hotspots=True)
    assert analysis.analysed >= 2 and found == []


async def test_the_moving_sim_scene_shows_motion() -> None:
    found, _ = await analyse_sim(thermal=False, want=4, motion=True)
    assert found, "no motion in a scene of moving vehicles"
    for finding in found:
        assert finding.motion is not None
        _, y, _, h = finding.motion.box
        assert y + h > 14 and y < H - 30  # not just the (ignored) overlays
        assert finding.motion.blobs >= 1 and 0 < finding.motion.changed < 0.5


def coded(images: list[np.ndarray]) -> list[np.ndarray]:
    """The pictures after an H.264 round trip (the decoder sees what a feed would carry)."""
    encoder = H264Encoder(Profile(W, H, 15, keyframe_interval_s=0.1))
    decoder = av.CodecContext.create("h264", "r")
    out = []
    for n, image in enumerate(images):
        encoder.request_keyframe()
        for unit in encoder.encode(av.VideoFrame.from_ndarray(image, format="bgr24"), n * 6000, time.time()):
            out += [f.to_ndarray(format="bgr24") for f in decoder.decode(av.Packet(bytes(unit.packet)))]
    return out


def test_a_static_scene_shows_no_motion() -> None:
    rng = np.random.default_rng(3)
    still = Scenery(W, H, seed=2).render(0, 5.0, 1_700_000_000.0)
    noisy = [np.clip(still + rng.normal(0, 4, still.shape), 0, 255).astype(np.uint8) for _ in range(4)]
    detector = MotionDetector(ignore=sim_overlays(W, H))
    assert [detector.update(image) for image in coded(noisy)] == [None] * 4


def test_the_camera_drifting_over_a_still_ground_is_not_motion() -> None:
    scenery = Scenery(W, H, seed=2)
    scenery._movers = []  # the ground only: what moves is the camera
    frames = coded([scenery.render(n, t, 1_700_000_000.0 + t) for n, t in enumerate((0.0, 2.0, 4.0, 6.0))])
    detector = MotionDetector(ignore=sim_overlays(W, H))
    results = [detector.update(image) for image in frames]
    assert results == [None] * 4
    # the ground did move between the pictures (so the check above can fail): measure it on the middle
    grey = [np.float32(f[40 : H - 40, :, 1]) for f in frames[:2]]
    (dx, _), _ = cv2.phaseCorrelate(grey[0], grey[1])
    assert abs(dx) > 10


@pytest.mark.parametrize(("heading", "north_m", "east_m"), [(0, 100, 0), (90, 0, 100), (180, -100, 0), (270, 0, -100)])
def test_nadir_projection(heading: float, north_m: float, east_m: float) -> None:
    pose = CameraPose(lat=36.7, lon=119.16, alt_agl_m=100, heading_deg=heading, hfov_deg=90, vfov_deg=90)
    assert image_to_ground(50, 50, 100, 100, pose) == pytest.approx((36.7, 119.16))
    lat, lon = image_to_ground(50, 0, 100, 100, pose) or (0.0, 0.0)  # the top edge: 45° off nadir
    assert (lat - 36.7) * math.pi / 180 * EARTH_RADIUS_M == pytest.approx(north_m, abs=1e-6)
    east = (lon - 119.16) * math.pi / 180 * EARTH_RADIUS_M * math.cos(math.radians(36.7))
    assert east == pytest.approx(east_m, abs=1e-6)


def test_oblique_projection_and_the_sky() -> None:
    pose = CameraPose(lat=0.0, lon=0.0, alt_agl_m=50, heading_deg=0, pitch_deg=-45, hfov_deg=60, vfov_deg=40)
    lat, lon = image_to_ground(320, 240, 640, 480, pose) or (9.0, 9.0)
    assert math.radians(lat) * EARTH_RADIUS_M == pytest.approx(50.0) and lon == pytest.approx(0.0)
    level = CameraPose(lat=0.0, lon=0.0, alt_agl_m=50, heading_deg=0, pitch_deg=0, hfov_deg=60, vfov_deg=40)
    assert image_to_ground(320, 100, 640, 480, level) is None  # above the horizon
    assert image_to_ground(320, 240, 640, 480, level) is None  # on it
    bottom = image_to_ground(320, 480, 640, 480, level)
    assert bottom is not None and math.radians(bottom[0]) * EARTH_RADIUS_M == pytest.approx(
        50 / math.tan(math.radians(20))
    )
    assert image_to_ground(320, 241, 640, 480, level) is None  # meets the ground beyond 5 km
