"""A process that records a sim camera until it is killed: ``python record_main.py PATH``."""

from __future__ import annotations

import asyncio
import sys

from media.encoder import Profile
from media.recording import Recorder
from media.relay import Relay
from media.sources.sim import SimCamera


async def main(path: str) -> None:
    camera = SimCamera(Profile(320, 240, 15, keyframe_interval_s=0.5))
    relay = Relay("cam", request_keyframe=camera.request_keyframe)
    recorder = Recorder(path, camera.info)
    recorder.attach(relay)
    task = asyncio.create_task(camera.run(relay))
    while recorder.stats.frames == 0:
        await asyncio.sleep(0.05)
    print("recording", flush=True)
    await task  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
