"""Recording: a sim feed remuxed to fragmented MP4, read back by ffprobe and PyAV, and a kill -9 survived."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import av
from mediakit import Collector, finish

from media import h264
from media.encoder import Profile
from media.recording import Recorder
from media.relay import AccessUnit, Relay
from media.sources.sim import SimCamera

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def slices(annexb: bytes) -> list[bytes]:
    """The coded slices of an access unit: what a re-encode would change."""
    return [n for n in h264.nal_units(annexb) if h264.nal_type(n) in (h264.NAL_SLICE, h264.NAL_IDR)]


def ffprobe(path: Path) -> dict[str, object]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-count_frames", "-show_entries",
         "stream=codec_name,width,height,nb_read_frames", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out)["streams"][0])


async def test_a_recording_is_the_relayed_h264_remuxed(tmp_path: Path) -> None:
    camera = SimCamera(Profile(320, 240, 15, keyframe_interval_s=0.5))
    relay = Relay("cam", request_keyframe=camera.request_keyframe)
    task = asyncio.create_task(camera.run(relay))
    path = tmp_path / "rec" / "cam.mp4"
    recorder = Recorder(path, camera.info)
    recorder.attach(relay)
    seen = Collector(relay)
    await seen.wait(units=30, keyframes=3)
    await asyncio.sleep(1.0)
    after = len(seen.units)  # aclose() stops listening before it first awaits: nothing comes between
    await recorder.aclose()
    await recorder.aclose()  # twice is fine
    await asyncio.sleep(0.3)
    await finish(task)
    assert len(seen.units) > after  # the camera went on; the recording did not
    first_key = next(i for i, u in enumerate(seen.units) if u.keyframe)
    relayed: list[AccessUnit] = seen.units[first_key:after]

    probe = ffprobe(path)
    assert probe["codec_name"] == "h264" and (probe["width"], probe["height"]) == (320, 240)
    assert int(str(probe["nb_read_frames"])) == len(relayed) == recorder.stats.frames
    assert recorder.error is None and recorder.stats.dropped == 0

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        length_size, _ = h264.parameter_sets_of(bytes(stream.codec_context.extradata or b""))
        assert length_size == 4  # AVCC in the file, from our Annex-B
        packets = [p for p in container.demux(stream) if p.size]
        assert [slices(h264.to_annexb(bytes(p), 4)) for p in packets] == [slices(bytes(u.packet)) for u in relayed]
        assert [p.is_keyframe for p in packets] == [u.keyframe for u in relayed]
        times = [float(p.pts * p.time_base) for p in packets if p.pts is not None]
        assert times[0] == 0 and 1.0 < times[-1] < 10
        container.seek(0)
        assert sum(1 for _ in container.decode(video=0)) == len(relayed)


async def test_a_recording_cut_by_kill_9_is_still_readable(tmp_path: Path) -> None:
    path = tmp_path / "cut.mp4"
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's media/, not the installed one
    proc = subprocess.Popen([sys.executable, str(HERE / "record_main.py"), str(path)], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
        assert line.strip() == b"recording"
        await asyncio.sleep(2.5)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    probe = ffprobe(path)
    frames = int(str(probe["nb_read_frames"]))
    assert probe["codec_name"] == "h264" and frames >= 15  # at least a second of 15 fps survived
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == frames
