"""Video: glass-to-glass latency and server CPU per viewer, packet relay beside per-viewer re-encoding.

One 720p sim feed is served to N aiortc viewers in a second process (so their decoding is not
counted as server CPU), in two ways in the same run:

- **relay** (what fieldkit does): the sim camera encodes once (x264 ultrafast/zerolatency) and
  :class:`media.relay.Relay` hands the same encoded packets to every viewer's sender
  (:func:`media.webrtc.answer_offer`).
- **re-encode** (what aiortc's ``MediaRelay`` gives): the sim's decoded frames (yuv420p, converted
  once) are shared by ``MediaRelay`` and every viewer's sender encodes them with aiortc's own H.264
  encoder. It is run for fewer viewers, because it saturates this 2-core machine.

Only the first viewer decodes (to read the stamp); the others count the frames aiortc assembled for
them, so 20 viewers do not starve the machine with decoding that is not server work.
Server CPU is the benchmark process's user+system time over a fixed window once every viewer plays,
as a share of one core; "per extra viewer" subtracts the 0-viewer run (the sim's own rendering and,
for the relay, its one encode). Latency is read at the first viewer from the capture time burned
into each picture (:mod:`media.stamp`) against the host clock, after decoding: it spans render,
encode, relay, RTP on loopback, aiortc's jitter buffer and decoder.

    .venv/bin/python benchmarks/video.py                 # ~2 min
    .venv/bin/python benchmarks/video.py --quick         # ~40 s: fewer viewer counts, shorter windows
    .venv/bin/python benchmarks/video.py --write-doc     # also replace the Video section of docs/PERFORMANCE.md
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import logging
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiortc.rtcrtpreceiver as receiver  # noqa: E402
import av  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402
from aiortc.mediastreams import MediaStreamTrack  # noqa: E402

from benchmarks.perfdoc import heading, publish  # noqa: E402
from media import stamp  # noqa: E402
from media.encoder import H264Encoder, Profile  # noqa: E402
from media.ice import use_host_addresses, use_rfc7675_consent  # noqa: E402
from media.relay import Relay  # noqa: E402
from media.rtcloop import RtcLoop  # noqa: E402
from media.sources.scenery import Scenery  # noqa: E402
from media.sources.sim import SimCamera  # noqa: E402
from media.webrtc import answer_offer, h264_codecs  # noqa: E402

PROFILE = Profile(1280, 720, 15.0, bitrate_kbps=2000, keyframe_interval_s=2.0)
TITLE = "## Video: one 720p feed to N WebRTC viewers, packet relay beside per-viewer re-encode"


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the viewers' process -------------------------------------------------------------------------


class CountingDecoder:
    """What each viewer's aiortc receiver decodes with: counts the frames it was handed.

    Only the first viewer really decodes (and reads the stamp): decoding 720p for 20 viewers in one
    process would starve the machine the server is measured on, and a viewer's decoding is not
    server work. The others count the frames aiortc's jitter buffer assembled for them.
    """

    made: list[CountingDecoder] = []

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.frames = 0
        self.made.append(self)

    def decode(self, encoded_frame: Any) -> list[Any]:
        self.frames += 1
        return self.inner.decode(encoded_frame) if self.inner is not None else []


def count_instead_of_decoding() -> None:
    real = receiver.get_decoder  # type: ignore[attr-defined]
    receiver.get_decoder = lambda codec: CountingDecoder(None if CountingDecoder.made else real(codec))  # type: ignore[attr-defined,assignment,return-value]


async def viewers_main(count: int, warmup_s: float, window_s: float) -> None:
    """Open ``count`` viewers (offers out on stdout, answers in on stdin), then report what they got."""
    use_host_addresses(["127.0.0.1"])
    use_rfc7675_consent()  # as the node does
    count_instead_of_decoding()
    pcs = [RTCPeerConnection() for _ in range(count)]
    ages: list[int] = []
    pulls: list[asyncio.Future[None]] = []
    measuring = False

    def on_track(track: MediaStreamTrack) -> None:
        async def pull() -> None:
            with contextlib.suppress(Exception):
                while True:
                    frame = await track.recv()  # only the one decoding viewer's track yields frames
                    if measuring:
                        read = stamp.read(frame.to_ndarray(format="gray"))  # type: ignore[union-attr]
                        if read is not None:
                            ages.append(read.age_ms(int(time.time() * 1000)))

        pulls.append(asyncio.ensure_future(pull()))

    offers = []
    for pc in pcs:
        pc.addTransceiver("video", direction="recvonly")
        pc.on("track", on_track)
        await pc.setLocalDescription(await pc.createOffer())
        offers.append(pc.localDescription.sdp)
    print(json.dumps(offers), flush=True)
    answers = json.loads(await asyncio.to_thread(sys.stdin.readline))
    for pc, answer in zip(pcs, answers, strict=True):
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await asyncio.sleep(warmup_s)
    before = [d.frames for d in CountingDecoder.made]
    measuring = True
    await asyncio.sleep(window_s)
    measuring = False
    frames = [d.frames - b for d, b in zip(CountingDecoder.made, before, strict=False)]
    frames += [0] * (count - len(frames))  # a viewer that never got a frame has no decoder
    print(json.dumps({"frames": frames, "ages": ages}), flush=True)
    await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)


# -- the server -----------------------------------------------------------------------------------


class SimFrames(MediaStreamTrack):
    """The sim's pictures as decoded frames (yuv420p, converted once), for aiortc's MediaRelay."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._scenery = Scenery(PROFILE.width, PROFILE.height)
        self._start = time.monotonic()
        self._n = 0

    async def recv(self) -> av.VideoFrame:
        due = self._start + self._n / PROFILE.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        elapsed, captured = time.monotonic() - self._start, time.time()
        image = await asyncio.to_thread(self._scenery.render, self._n, elapsed, captured)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts, frame.time_base = round(elapsed * 90000), fractions.Fraction(1, 90000)
        self._n += 1
        return frame


async def answer_reencode(relay: MediaRelay, source: SimFrames, offer: str) -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver(relay.subscribe(source), direction="sendonly")
    transceiver.setCodecPreferences(h264_codecs())  # the same codec as the relay path
    await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return pc, pc.localDescription.sdp


async def run_config(path: str, count: int, warmup_s: float, window_s: float) -> dict[str, Any]:
    """One measurement: start the feed, connect ``count`` viewers in a child process, measure."""
    tasks: list[asyncio.Task[None]] = []
    closers: list[Any] = []
    rtc = RtcLoop()
    encoders_before = H264Encoder.instances
    if path == "relay":
        camera = SimCamera(PROFILE)
        relay = Relay("bench", request_keyframe=camera.request_keyframe)
        tasks.append(asyncio.create_task(camera.run(relay)))
    else:
        frames = SimFrames()
        media_relay = MediaRelay()
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--viewer", str(count), str(warmup_s), str(window_s),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert child.stdin and child.stdout
    try:
        if count == 0 and path == "reencode":  # nothing pulls frames without a viewer: render as one would
            tasks.append(asyncio.create_task(_drain(media_relay.subscribe(frames))))
        offers = json.loads(await asyncio.wait_for(child.stdout.readline(), 60))
        answers = []
        for offer in offers:
            if path == "relay":
                viewer, answer = await answer_offer(relay, "bench", offer, "bench", lambda v: None, rtc=rtc)
                closers.append(viewer.close)
            else:
                pc, answer = await answer_reencode(media_relay, frames, offer)
                closers.append(pc.close)
            answers.append(answer)
        child.stdin.write((json.dumps(answers) + "\n").encode())
        await child.stdin.drain()
        await asyncio.sleep(warmup_s)
        cpu0, t0 = cpu_s(), time.monotonic()
        await asyncio.sleep(window_s)
        cpu = (cpu_s() - cpu0) / (time.monotonic() - t0)
        report = json.loads(await asyncio.wait_for(child.stdout.readline(), 60))
        await asyncio.wait_for(child.wait(), 30)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await asyncio.gather(*(close() for close in closers), return_exceptions=True)
        await asyncio.to_thread(rtc.close)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    ages = sorted(report["ages"])
    fps = [n / window_s for n in report["frames"]]
    return {
        "path": path,
        "viewers": count,
        "cpu_pct": 100 * cpu,
        "fps_min": min(fps) if fps else None,
        "fps_median": statistics.median(fps) if fps else None,
        "p50_ms": ages[len(ages) // 2] if ages else None,
        "p95_ms": ages[min(len(ages) - 1, int(len(ages) * 0.95))] if ages else None,
        "samples": len(ages),
        "feed_encoders": H264Encoder.instances - encoders_before,
    }


async def _drain(track: MediaStreamTrack) -> None:
    while True:
        await track.recv()


def table(rows: list[dict[str, Any]]) -> str:
    base = {r["path"]: r["cpu_pct"] for r in rows if r["viewers"] == 0}
    out = [
        "| path | viewers | server CPU (% of a core) | per extra viewer | viewer fps min / median"
        " | latency p50 / p95 (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        per = (r["cpu_pct"] - base[r["path"]]) / r["viewers"] if r["viewers"] else None
        fps = f"{r['fps_min']:.1f} / {r['fps_median']:.1f}" if r["fps_min"] is not None else "-"
        lat = f"{r['p50_ms']} / {r['p95_ms']} (n={r['samples']})" if r["p50_ms"] is not None else "-"
        per_s = f"{per:.1f}" if per is not None else "-"
        out.append(f"| {r['path']} | {r['viewers']} | {r['cpu_pct']:.1f} | {per_s} | {fps} | {lat} |")
    return "\n".join(out)


async def bench(quick: bool) -> list[dict[str, Any]]:
    use_host_addresses(["127.0.0.1"])
    warmup, window = (2.0, 4.0) if quick else (3.0, 8.0)
    plan = [("relay", n) for n in ((0, 1, 5, 20) if quick else (0, 1, 5, 10, 20))]
    plan += [("reencode", n) for n in ((0, 1, 2) if quick else (0, 1, 2, 5))]
    rows = []
    for path, count in plan:
        row = await run_config(path, count, warmup, window)
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
        if path == "reencode" and row["fps_min"] is not None and row["fps_min"] < PROFILE.fps / 2:
            break  # saturated: more viewers would only starve the machine
    return rows


def reading(rows: list[dict[str, Any]]) -> str:
    """One paragraph computed from the rows: the per-viewer costs and latency side by side."""
    base = {r["path"]: r["cpu_pct"] for r in rows if r["viewers"] == 0}
    per = {
        path: [(r["cpu_pct"] - base[path]) / r["viewers"] for r in rows if r["path"] == path and r["viewers"]]
        for path in base
    }
    relay = [r for r in rows if r["path"] == "relay" and r["viewers"]]
    reencode = [r for r in rows if r["path"] == "reencode" and r["viewers"]]
    saturated = [r["viewers"] for r in reencode if r["fps_min"] < PROFILE.fps * 0.9]
    text = (
        f"Reading: relaying packets costs {min(per['relay']):.1f}-{max(per['relay']):.1f} % of a core per extra "
        f"viewer, with p50 latency {relay[0]['p50_ms']}-{max(r['p50_ms'] for r in relay)} ms from 1 to "
        f"{relay[-1]['viewers']} viewers; re-encoding costs "
        f"{min(per['reencode']):.0f}-{max(per['reencode']):.0f} % of a core per viewer"
    )
    if saturated:
        text += (
            f" and could not keep {PROFILE.fps:g} fps from {saturated[0]} viewers on (its per-viewer figure "
            "there is capped by the machine, not by the work)"
        )
    return text + ". In the relay path a viewer costs only aiortc's packetizing, SRTP and sending."


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--viewer":
        asyncio.run(viewers_main(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    rows = asyncio.run(bench(args.quick))
    setup = (
        f"aiortc, viewers in a second process on loopback; {PROFILE.width}x{PROFILE.height} at {PROFILE.fps:g} fps, "
        f"{PROFILE.bitrate_kbps} kbit/s."
    )
    lines = [*heading(TITLE, wall_s=time.monotonic() - started), setup, "", table(rows), "", reading(rows)]
    publish(lines, write=args.write_doc)


if __name__ == "__main__":
    main()
