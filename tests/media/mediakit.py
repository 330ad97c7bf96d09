"""Test helpers for media: free loopback ports, Debian's ffmpeg as an independent sender, collectors."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from collections.abc import Iterator

import av

from media.relay import AccessUnit, Relay

TESTSRC = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=15"]
X264_LIVE = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15", "-pix_fmt", "yuv420p"]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def process(args: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args``; kill it (and wait) on the way out whatever happened."""
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        if proc.stderr:
            proc.stderr.close()


def ffmpeg(*args: str, seconds: float = 30) -> list[str]:
    """An ffmpeg command line sending a test pattern in real time for at most ``seconds``."""
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", *TESTSRC, "-t", str(seconds), *args]


class Collector:
    """Every access unit a relay publishes, with a way to wait for enough of them."""

    def __init__(self, relay: Relay) -> None:
        self.units: list[AccessUnit] = []
        self._changed = asyncio.Event()
        relay.listen(self._note)

    def _note(self, unit: AccessUnit) -> None:
        self.units.append(unit)
        self._changed.set()

    @property
    def keyframes(self) -> list[AccessUnit]:
        return [u for u in self.units if u.keyframe]

    async def wait(
        self, units: int, keyframes: int = 1, timeout: float = 20, source: asyncio.Task[None] | None = None
    ) -> None:
        """Until ``units`` and ``keyframes`` have come; a ``source`` task that ends first raises its error."""
        async with asyncio.timeout(timeout):
            while len(self.units) < units or len(self.keyframes) < keyframes:
                self._changed.clear()
                if source is not None and source.done():
                    source.result()
                    raise AssertionError("the source ended without an error")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.2)


def decode(unit: AccessUnit) -> list[av.VideoFrame]:
    """Decode one access unit with a fresh decoder (it must be a self-contained keyframe)."""
    codec = av.CodecContext.create("h264", "r")
    frames = list(codec.decode(av.Packet(bytes(unit.packet))))
    frames += list(codec.decode(None))
    return frames  # type: ignore[return-value]


async def finish(task: asyncio.Task[None]) -> BaseException | None:
    """Cancel ``task`` if running and return how it ended."""
    if not task.done():
        task.cancel()
    try:
        await task
    except BaseException as exc:  # the test inspects it
        return exc
    return None
