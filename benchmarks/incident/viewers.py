"""The WHEP viewers' process: aiortc peers watching the edge's feeds, counting frames.

``python -m benchmarks.incident.viewers`` reads one JSON line on stdin: ``{"url": ..., "token": ...,
"feeds": [...], "per_feed": N, "seconds": S, "warmup": W}``, opens N WHEP sessions per feed over
real HTTP, and after ``S`` seconds prints the frames each viewer assembled between ``W`` and ``S``.
No viewer decodes (as in ``benchmarks/video.py``): decoding is viewer work, not the node's, and 20
decoders would starve the 2-core machine the node is measured on. Its receiver counts the frames
aiortc's jitter buffer assembled instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

import aiortc.rtcrtpreceiver as receiver
import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription

from media.ice import use_host_addresses, use_rfc7675_consent


class CountingDecoder:
    """Stands in for a viewer's decoder: counts the frames it is handed."""

    def __init__(self) -> None:
        self.frames = 0

    def decode(self, encoded_frame: Any) -> list[Any]:
        self.frames += 1
        return []


async def watch(client: httpx.AsyncClient, feed: str) -> RTCPeerConnection:
    """One WHEP session on ``feed`` (its decoder is made, and counts, once the track starts)."""
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    response = await client.post(
        f"/api/feeds/{feed}/whep", content=pc.localDescription.sdp, headers={"Content-Type": "application/sdp"}
    )
    response.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
    pc.on("connectionstatechange", lambda: reached.setdefault(id(pc), set()).add(pc.connectionState))
    return pc


reached: dict[int, set[str]] = {}  # every connection state each peer connection went through


made: list[CountingDecoder] = []


def _counting(codec: Any) -> CountingDecoder:
    decoder = CountingDecoder()
    made.append(decoder)
    return decoder


async def packets(pc: RTCPeerConnection) -> int:
    """RTP packets ``pc`` has received so far."""
    stats = await pc.getStats()
    return sum(s.packetsReceived for s in stats.values() if s.type == "inbound-rtp")


SAMPLE_S = 30.0  # how often each connection's packet count is looked at, to tell when one went silent


async def main() -> None:
    plan = json.loads(await asyncio.to_thread(sys.stdin.readline))
    use_host_addresses(["127.0.0.1"])
    use_rfc7675_consent()  # as the node does
    receiver.get_decoder = _counting  # type: ignore[attr-defined,assignment]
    headers = {"Authorization": f"Bearer {plan['token']}"}
    pcs: list[RTCPeerConnection] = []
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=plan["url"], headers=headers, timeout=20.0) as client:
        for feed in plan["feeds"]:
            for _ in range(plan["per_feed"]):
                try:
                    pcs.append(await watch(client, feed))
                except (httpx.HTTPError, ValueError) as exc:
                    errors.append(f"{feed}: {exc!r}")
        await asyncio.sleep(plan["warmup"])
        loop = asyncio.get_running_loop()
        opened = loop.time()
        window = plan["seconds"] - plan["warmup"]
        before = {id(d): d.frames for d in made}  # a decoder is made at its first frame: later ones count from 0
        counts = [await packets(pc) for pc in pcs]
        last_grew = [0.0] * len(pcs)  # seconds into the window when each connection's count last grew
        at = 0.0
        while (left := opened + window - loop.time()) > 0:
            await asyncio.sleep(min(SAMPLE_S, left))
            now = [await packets(pc) for pc in pcs]
            at = loop.time() - opened
            last_grew = [at if n > c else t for n, c, t in zip(now, counts, last_grew, strict=True)]
            counts = now
        frames = [d.frames - before.get(id(d), 0) for d in made]
    frames += [0] * (len(pcs) - len(frames))
    states = [reached.get(id(pc), set()) | {pc.connectionState} for pc in pcs]
    out = {
        "viewers": len(pcs),
        "fps": [round(f / window, 1) for f in frames],
        "errors": errors,
        "never_connected": sum("connected" not in s for s in states),
        "failed_or_closed": sum(bool(s & {"failed", "closed"}) for s in states),
        # connections that received nothing since the look before the last, with when they last did (s into the window)
        "went_silent_s": sorted(round(t) for t in last_grew if t < at),
    }
    print(json.dumps(out), flush=True)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True), 10)


if __name__ == "__main__":
    asyncio.run(main())
