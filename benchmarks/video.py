"""Video: server CPU per viewer and glass-to-glass latency, relay path vs re-encode path, same run.

Three kinds of process, all on loopback:

* the **server** (``--serve relay|reencode``): a 720p sim camera. ``relay`` is fieldkit's path —
  ``SimCamera`` encodes once, ``Relay`` fans the access units out, ``media.webrtc.answer_offer``
  makes each viewer (aiortc packetizes only). ``reencode`` is the path fieldkit avoids — the same
  rendered frames through aiortc's ``MediaRelay``, so every viewer's sender encodes its own copy.
  Offers and answers travel over the server's stdin/stdout, so nothing but WebRTC is measured.
* **load viewers**, in this process: real aiortc peers that receive and depacketize every frame but
  do not decode (their decoder is replaced by a no-op, so a 2-core machine can hold 20 of them).
* one **probe viewer** (``--probe``), in its own process: decodes every frame and reads the capture
  time burned into it (``media/stamp.py``): glass-to-glass latency measured at the glass.

Server CPU is read from /proc/<pid>/stat over a fixed window after a warm-up. Bounded: about
``(warmup + seconds + 3) * configurations`` seconds.

    .venv/bin/python benchmarks/video.py                      # 1, 5, 10, 20 viewers; ~3 min
    .venv/bin/python benchmarks/video.py --quick              # 1 and 5 viewers at 640x360; ~1 min
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402
from av import VideoFrame  # noqa: E402

from media import stamp  # noqa: E402
from media.encoder import Profile  # noqa: E402
from media.ice import use_host_addresses  # noqa: E402
from media.relay import Relay  # noqa: E402
from media.sources.scenery import Scenery  # noqa: E402
from media.sources.sim import SimCamera  # noqa: E402
from media.webrtc import answer_offer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")

# -- server ----------------------------------------------------------------------------------------


class RenderedCamera(MediaStreamTrack):
    """The sim scenery as decoded frames (the re-encode path's source)."""

    kind = "video"

    def __init__(self, width: int, height: int, fps: float) -> None:
        super().__init__()
        self._scenery = Scenery(width, height, seed=1)
        self._period, self._n, self._start = 1 / fps, 0, time.monotonic()

    async def recv(self) -> VideoFrame:  # type: ignore[override]
        due = self._start + self._n * self._period
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        image = self._scenery.render(self._n, self._n * self._period, time.time())
        frame = VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")  # once, shared
        frame.pts, frame.time_base = round(self._n * self._period * 90000), fractions.Fraction(1, 90000)
        self._n += 1
        return frame


async def serve(mode: str, width: int, height: int, fps: float) -> None:
    """Answer offers from stdin (one JSON line each) until stdin closes."""
    use_host_addresses(["127.0.0.1"])
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    peers: list[Any] = []
    if mode == "relay":
        camera = SimCamera(Profile(width, height, fps, bitrate_kbps=2500))
        relay = Relay("bench", request_keyframe=camera.request_keyframe)
        task = asyncio.create_task(camera.run(relay))
    else:
        source, media_relay = RenderedCamera(width, height, fps), MediaRelay()
    while line := await reader.readline():
        offer = json.loads(line)["offer"]
        if mode == "relay":
            viewer, answer = await answer_offer(relay, "bench", offer, "bench", lambda v: None)
            peers.append(viewer)
        else:
            pc = RTCPeerConnection()
            pc.addTrack(media_relay.subscribe(source, buffered=False))
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            answer = pc.localDescription.sdp
            peers.append(pc)
        print(json.dumps({"answer": answer}), flush=True)
    if mode == "relay":
        task.cancel()


# -- viewers ---------------------------------------------------------------------------------------


class _NoDecoder:
    def decode(self, encoded_frame: Any) -> list[Any]:
        return []


async def _offer() -> RTCPeerConnection:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc


async def probe(seconds: float, warmup: float) -> None:
    """Decode frames and print the ages of their stamps (ms) seen after the warm-up, as JSON."""
    use_host_addresses(["127.0.0.1"])
    pc = await _offer()
    print(json.dumps({"offer": pc.localDescription.sdp}), flush=True)
    answer = json.loads(await asyncio.to_thread(sys.stdin.readline))["answer"]
    track: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    pc.on("track", lambda t: track.done() or track.set_result(t))
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    video = await asyncio.wait_for(track, 20)
    ages: list[int] = []
    start = time.monotonic()
    with contextlib.suppress(MediaStreamError, TimeoutError):
        while time.monotonic() - start < warmup + seconds:
            frame = await asyncio.wait_for(video.recv(), 10)
            now = time.time()
            read = stamp.read(frame.to_ndarray(format="bgr24"))  # type: ignore[union-attr]
            if read is not None and time.monotonic() - start > warmup:
                ages.append(read.age_ms(int(now * 1000)))
    print(json.dumps({"ages": ages}), flush=True)
    await pc.close()


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


async def run_config(mode: str, viewers: int, args: argparse.Namespace) -> dict[str, Any]:
    """One server, ``viewers - 1`` load viewers and one probe; server CPU and probe latency."""
    me = [sys.executable, __file__]
    server = await asyncio.create_subprocess_exec(
        *me,
        "--serve",
        mode,
        "--size",
        args.size,
        "--fps",
        str(args.fps),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert server.stdin and server.stdout

    async def ask(offer: str) -> str:
        assert server.stdin and server.stdout
        server.stdin.write((json.dumps({"offer": offer}) + "\n").encode())
        await server.stdin.drain()
        return str(json.loads(await asyncio.wait_for(server.stdout.readline(), 30))["answer"])

    loads: list[RTCPeerConnection] = []
    probe_proc = None
    try:
        for _ in range(viewers - 1):
            pc = await _offer()
            await pc.setRemoteDescription(RTCSessionDescription(await ask(pc.localDescription.sdp), "answer"))
            loads.append(pc)
        probe_proc = await asyncio.create_subprocess_exec(
            *me,
            "--probe",
            "--seconds",
            str(args.seconds),
            "--warmup",
            str(args.warmup),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert probe_proc.stdin and probe_proc.stdout
        offer = json.loads(await asyncio.wait_for(probe_proc.stdout.readline(), 30))["offer"]
        probe_proc.stdin.write((json.dumps({"answer": await ask(offer)}) + "\n").encode())
        await probe_proc.stdin.drain()
        await asyncio.sleep(args.warmup)
        t0, c0 = time.monotonic(), _cpu_ticks(server.pid)
        await asyncio.sleep(args.seconds)
        t1, c1 = time.monotonic(), _cpu_ticks(server.pid)
        ages = json.loads(await asyncio.wait_for(probe_proc.stdout.readline(), 30))["ages"]
    finally:
        for pc in loads:
            await pc.close()
        for proc in (probe_proc, server):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
    cpu = (c1 - c0) / TICKS / (t1 - t0) * 100
    ages.sort()
    return {
        "mode": mode,
        "viewers": viewers,
        "cpu_pct": cpu,
        "p50": statistics.median(ages) if ages else None,
        "p95": ages[int(len(ages) * 0.95)] if ages else None,
        "frames": len(ages),
    }


def _fmt(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:.0f}{unit}"


async def main(args: argparse.Namespace) -> None:
    import aiortc.rtcrtpreceiver  # noqa: PLC0415

    aiortc.rtcrtpreceiver.get_decoder = lambda codec: _NoDecoder()  # type: ignore[assignment,return-value]  # load viewers only
    use_host_addresses(["127.0.0.1"])
    rows = []
    for viewers in args.viewers:
        rows.append(await run_config("relay", viewers, args))
    for viewers in args.reencode_viewers:
        rows.append(await run_config("reencode", viewers, args))
    print(
        f"\nsim feed {args.size} @ {args.fps:g} fps; window {args.seconds:g} s after {args.warmup:g} s "
        f"warm-up; {os.cpu_count()} cores\n"
    )
    print("| path | viewers | server CPU (% of a core) | per extra viewer | latency p50 | latency p95 | frames read |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    base = {r["mode"]: r for r in rows if r["viewers"] == 1}
    for r in rows:
        one = base.get(r["mode"])
        extra = (r["cpu_pct"] - one["cpu_pct"]) / (r["viewers"] - 1) if one and r["viewers"] > 1 else None
        per_viewer = "—" if extra is None else f"{extra:.2f} %"
        print(
            f"| {r['mode']} | {r['viewers']} | {r['cpu_pct']:.1f} | {per_viewer} "
            f"| {_fmt(r['p50'], ' ms')} | {_fmt(r['p95'], ' ms')} | {r['frames']} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=["relay", "reencode"])
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--viewers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 5, 10, 20])
    parser.add_argument("--reencode-viewers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--quick", action="store_true")
    ns = parser.parse_args()
    if ns.serve:
        w, h = (int(x) for x in ns.size.split("x"))
        asyncio.run(serve(ns.serve, w, h, ns.fps))
    elif ns.probe:
        asyncio.run(probe(ns.seconds, ns.warmup))
    else:
        if ns.quick:
            ns.size, ns.seconds, ns.warmup, ns.viewers, ns.reencode_viewers = "640x360", 6.0, 3.0, [1, 5], [1]
        asyncio.run(main(ns))
