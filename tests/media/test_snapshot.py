"""Snapshots: from a sim feed's keyframes, a small JPEG OpenCV decodes, with the picture's aspect."""

from __future__ import annotations

import asyncio
import itertools

import cv2
import numpy as np
from mediakit import finish

from media import stamp
from media.encoder import Profile
from media.keyframes import KeyframeDecoder
from media.relay import Relay
from media.snapshot import Snapshot, Snapshotter, encode_jpeg
from media.sources.sim import SimCamera


async def test_snapshots_of_a_720p_feed_fit_20_kb() -> None:
    camera = SimCamera(Profile(1280, 720, 15, bitrate_kbps=2500, keyframe_interval_s=0.5))
    relay = Relay("cam", request_keyframe=camera.request_keyframe)
    decoder = KeyframeDecoder("cam", min_interval_s=0.9)
    decoder.attach(relay)
    got: list[Snapshot] = []
    snapshots = Snapshotter(interval_s=0.9, on_snapshot=got.append)
    snapshots.attach(decoder)
    task = asyncio.create_task(camera.run(relay))
    try:
        async with asyncio.timeout(30):
            while len(got) < 3:
                await asyncio.sleep(0.05)
    finally:
        await finish(task)
        await decoder.aclose()
        await decoder.aclose()
    assert snapshots.latest is got[-1] and decoder.failed == 0
    assert decoder.decoded >= 3 and decoder.decoded < relay.stats.keyframes  # keyframes skipped while not due
    for snap in got:
        assert len(snap.jpeg) <= 20_000
        image = cv2.imdecode(np.frombuffer(snap.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[:2] == (snap.height, snap.width)
        assert snap.width <= 640 and abs(snap.width / snap.height - 16 / 9) < 0.02
        # It is the camera's picture: its stamp (drawn for 1280 px, so read at that size) survives.
        read = stamp.read(cv2.resize(image, (1280, 720), interpolation=cv2.INTER_NEAREST))
        assert read is not None and read.age_ms(int(snap.captured * 1000)) == 0
    gaps = [b.captured - a.captured for a, b in itertools.pairwise(got)]
    assert min(gaps) >= 0.9 - 0.05  # at most one per interval (keyframe times, so nearly exact)


def test_quality_and_size_step_down_until_it_fits() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    jpeg, width, height, quality = encode_jpeg(noise, max_bytes=20_000, max_width=640)
    assert len(jpeg) <= 20_000 and width < 640 and quality < 80
    assert abs(width / height - 4 / 3) < 0.02
    flat = np.full((480, 640, 3), 120, np.uint8)
    jpeg, width, height, quality = encode_jpeg(flat, max_bytes=20_000, max_width=320)
    assert (width, height, quality) == (320, 240, 80)  # a simple picture keeps the best quality
