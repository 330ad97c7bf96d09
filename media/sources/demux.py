"""Pass-through ingest: H.264 from RTSP, RTP (described by SDP) or MPEG-TS over UDP, relayed as is.

PyAV (FFmpeg) demuxes in a worker thread; nothing here decodes. Each packet becomes an Annex-B
:class:`~media.relay.AccessUnit` (AVCC converted, SPS/PPS from the extradata or the stream itself put
before keyframes that lack them) handed to the relay on the loop. Such a source cannot make a
keyframe on request (``forces_keyframes`` is False): the relay replays the current GOP to a newcomer.

What comes off the network is untrusted. Oversize or unparseable packets are dropped and counted
(:class:`IngestStats`), each kind logged once; B-frames, which Chromium decodes badly over WebRTC,
are relayed but flagged (``has_b_frames``, a counter, one warning). A source with no valid video for
``stall_s`` seconds ends with ``SourceError("no video for N s")``, however much garbage it sends.
Over RTP and MPEG-TS anyone can send to the port, and garbage can make FFmpeg fail to open the input
or end it (a stray RTCP BYE does), so those inputs are reopened and only a stall ends them.

Each source has its own worker thread. FFmpeg runs with low-latency options (no input buffering,
small probe) and an interrupt timeout of :data:`POLL_S`, so a read never blocks longer than that:
the thread checks for a stop or a stall between reads and ends within a poll of the feed being
cancelled. Opening an RTSP/RTP input waits up to ``stall_s`` (FFmpeg needs an SPS to open it), and a
thread cancelled then finishes that wait; MPEG-TS is read from our own socket
(:mod:`media.sources.tsudp`), so even its opening stops within 0.2 s.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import av
import av.container

from media import h264
from media.relay import AccessUnit, Relay
from media.threads import in_own_thread

from . import SourceError, StreamInfo
from .tsudp import DatagramReader, udp_address

log = logging.getLogger(__name__)

POLL_S = 0.5
RETRY_S = 0.2  # between attempts to open a connectionless input that garbage made fail
MAX_UNIT_BYTES = 4 << 20  # a 4K intra frame at a high bitrate stays well under this
LOW_LATENCY = {"fflags": "nobuffer", "probesize": "65536", "analyzeduration": "1000000"}
# FFmpeg's RTP reorder queue holds packets back waiting for gaps to fill (latency), and datagrams with
# random sequence numbers (garbage sprayed at the port) wedged it for seconds here: take packets as
# they come. A single-path drone link rarely reorders; a lost packet costs a damaged frame either way.
RTP_NO_REORDER = {"reorder_queue_size": "0"}


@dataclass(slots=True)
class IngestStats:
    """What an ingest received and what it dropped, for the scene and /metrics."""

    units: int = 0
    keyframes: int = 0
    b_frames: int = 0  # access units with B-slices (relayed, but flagged)
    corrupt: int = 0  # packets FFmpeg marked corrupt or that are not H.264 NAL units
    oversize: int = 0  # packets over max_unit_bytes
    garbage: int = 0  # datagrams that were not the expected framing (MPEG-TS)
    restarts: int = 0  # times a connectionless input ended or failed to open and was opened again


class _Watch:
    """Stop and stall, as the worker thread sees them."""

    def __init__(self, stall_s: float) -> None:
        self.stop = threading.Event()
        self.stall_s = stall_s
        self.last_video = time.monotonic()

    def fed(self) -> None:
        self.last_video = time.monotonic()

    @property
    def stalled(self) -> bool:
        return time.monotonic() - self.last_video > self.stall_s

    def give_up(self) -> bool:
        return self.stop.is_set() or self.stalled


def redact(url: str) -> str:
    """``url`` without a password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class DemuxSource:
    """A PyAV input whose H.264 is relayed untouched; see the module doc. Subclasses say how to open."""

    kind = "demux"
    forces_keyframes = False
    # A connectionless input (RTP, MPEG-TS over UDP) takes datagrams from anyone: what they make
    # FFmpeg do (fail to open, end the input: an RTCP BYE does) must not end the feed; only a stall
    # does. A connected one (RTSP) ends when its server says so, and the supervisor reconnects.
    connectionless = False

    def __init__(self, *, stall_s: float = 5.0, max_unit_bytes: int = MAX_UNIT_BYTES) -> None:
        self.stall_s = stall_s
        self.max_unit_bytes = max_unit_bytes
        self.info = StreamInfo()
        self.stats = IngestStats()
        self.has_b_frames = False
        self._length_size: int | None = None
        self._parameter_sets = b""
        self._origin: float | None = None  # seconds: the stream's first timestamp in this run
        self._next_pts = 0  # where this run's timestamps start (after the last run's, on a retry)
        self._max_pts = -1

    def describe(self) -> str:
        return self.kind

    def request_keyframe(self) -> None:
        """Nothing to ask of a pass-through source: the relay replays the current GOP instead."""

    def _open(self, watch: _Watch) -> av.container.InputContainer:
        raise NotImplementedError

    async def run(self, relay: Relay) -> None:
        loop = asyncio.get_running_loop()
        watch = _Watch(self.stall_s)
        self._origin = None
        self._next_pts = self._max_pts + 1  # timestamps go on where the previous run stopped
        try:
            pump = functools.partial(self._pump, loop, relay, watch)
            await in_own_thread(pump, name=f"ingest {self.describe()}")
        finally:
            watch.stop.set()
        raise SourceError(f"{self.describe()} ended the stream")

    def _stall_error(self) -> SourceError:
        dropped = self.stats.garbage + self.stats.corrupt + self.stats.oversize
        extra = f" ({dropped} bad packets dropped)" if dropped else ""
        return SourceError(f"no video for {self.stall_s:g} s from {self.describe()}{extra}")

    def _pump(self, loop: asyncio.AbstractEventLoop, relay: Relay, watch: _Watch) -> None:
        """Open the input and relay it until stopped or stalled (or ended, for a connected source)."""
        while not watch.stop.is_set():
            container = self._open_input(watch)
            if container is None:
                watch.stop.wait(RETRY_S)
                continue
            try:
                stream = self._video_stream(container)
                self._relay_until_end(container, stream, loop, relay, watch)
            finally:
                container.close()
            if not self.connectionless:
                return
            self._count("restarts", "the input ended (garbage can do that); listening again")

    def _open_input(self, watch: _Watch) -> av.container.InputContainer | None:
        """The opened input; None to try again (a connectionless input fed garbage) or when stopped."""
        try:
            return self._open(watch)
        except av.error.FFmpegError as exc:
            if watch.stop.is_set():
                return None
            if watch.stalled or isinstance(exc, av.error.ExitError):
                raise self._stall_error() from None
            if self.connectionless:
                self._count("restarts", f"the input did not open ({exc.strerror or exc}); trying again")
                return None
            raise SourceError(f"cannot open {self.describe()}: {exc.strerror or exc}") from None

    def _relay_until_end(
        self,
        container: av.container.InputContainer,
        stream: av.VideoStream,
        loop: asyncio.AbstractEventLoop,
        relay: Relay,
        watch: _Watch,
    ) -> None:
        while not watch.stop.is_set():
            try:
                if self._relay_packets(container, stream, loop, relay, watch):
                    return  # the end of the stream (or a stop)
            except av.error.ExitError:
                pass  # no packet within POLL_S: look at stop and stall, then read on
            except av.error.FFmpegError as exc:
                self._count("corrupt", f"the demuxer failed: {exc}")
                watch.stop.wait(0.05)  # an error that repeats at once must not spin a core until the stall
            if watch.stalled:
                raise self._stall_error()

    def _video_stream(self, container: av.container.InputContainer) -> av.VideoStream:
        if not container.streams.video:
            raise SourceError(f"{self.describe()} carries no video stream")
        stream = container.streams.video[0]
        name = stream.codec_context.name
        if name != "h264":
            raise SourceError(f"{self.describe()} carries {name} video; only H.264 is relayed")
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        self.info = StreamInfo("H264", ctx.width or None, ctx.height or None, float(rate) if rate else None)
        try:
            self._length_size, self._parameter_sets = h264.parameter_sets_of(bytes(ctx.extradata or b""))
        except h264.BitstreamError as exc:
            raise SourceError(f"{self.describe()} has unusable H.264 parameters: {exc}") from None
        return stream

    def _relay_packets(
        self,
        container: av.container.InputContainer,
        stream: av.VideoStream,
        loop: asyncio.AbstractEventLoop,
        relay: Relay,
        watch: _Watch,
    ) -> bool:
        """Relay until the stream ends (True) or a stall (False); FFmpeg errors propagate."""
        for packet in container.demux():
            if watch.give_up():
                return watch.stop.is_set()
            if packet.stream_index != stream.index or packet.size == 0:
                continue
            unit = self._unit(packet)
            if unit is None:
                continue
            watch.fed()
            try:
                loop.call_soon_threadsafe(relay.publish, unit)
            except RuntimeError:  # the loop is closing
                return True
        return not watch.stalled

    def _unit(self, packet: av.Packet[Any]) -> AccessUnit | None:
        """One demuxed packet as an Annex-B access unit, or None (dropped and counted)."""
        data = bytes(packet)
        if len(data) > self.max_unit_bytes:
            self._count("oversize", f"dropping a {len(data)}-byte packet (limit {self.max_unit_bytes})")
            return None
        if packet.is_corrupt:
            self._count("corrupt", "dropping a packet FFmpeg marked corrupt")
            return None
        try:
            if self._length_size is not None:
                data = h264.to_annexb(data, self._length_size, self._parameter_sets)
            elif not data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
                raise h264.BitstreamError("no start code")
            data = self._with_parameter_sets(data)
        except h264.BitstreamError as exc:
            self._count("corrupt", f"dropping a packet that is not H.264: {exc}")
            return None
        keyframe = packet.is_keyframe or h264.is_keyframe(data)
        if h264.has_b_slices(data):
            self.stats.b_frames += 1
            if not self.has_b_frames:
                self.has_b_frames = True
                log.warning("%s sends B-frames, which browsers decode badly over WebRTC", self.describe())
        self.stats.units += 1
        self.stats.keyframes += keyframe
        return AccessUnit.of(data, self._pts_90k(packet), keyframe=keyframe, captured=time.time())

    def _with_parameter_sets(self, annexb: bytes) -> bytes:
        """Remember in-band SPS/PPS (they may change mid-stream); add the latest before a bare IDR."""
        nals = [n for n in h264.nal_units(annexb) if h264.nal_type(n) in (h264.NAL_SPS, h264.NAL_PPS)]
        if not any(h264.nal_units(annexb)):
            raise h264.BitstreamError("no NAL units")
        if len(nals) >= 2:
            self._parameter_sets = b"".join(h264.START + n for n in nals)
            return annexb
        return h264.with_parameter_sets(annexb, self._parameter_sets)

    def _pts_90k(self, packet: av.Packet[Any]) -> int:
        """The packet's time in 1/90000 s from the start of the feed (a new run continues, never rewinds)."""
        ts = packet.pts if packet.pts is not None else packet.dts
        seconds = float(ts * packet.time_base) if ts is not None and packet.time_base else time.monotonic()
        if self._origin is None:
            self._origin = seconds
        pts = self._next_pts + round((seconds - self._origin) * 90000)
        self._max_pts = max(self._max_pts, pts)
        return pts

    def _count(self, what: str, message: str) -> None:
        """Count one ``what`` in the stats; log ``message`` for the first only."""
        count = getattr(self.stats, what) + 1
        setattr(self.stats, what, count)
        if count == 1:
            log.warning("%s: %s (further ones counted, not logged)", self.describe(), message)


class RtspSource(DemuxSource):
    """An RTSP camera or server, pulled over RTP/UDP (the transport the testbed's server supports)."""

    kind = "rtsp"

    def __init__(self, url: str, *, transport: str = "udp", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.transport = transport

    def describe(self) -> str:
        return redact(self.url)

    def _open(self, watch: _Watch) -> av.container.InputContainer:
        options = {**LOW_LATENCY, **RTP_NO_REORDER, "rtsp_transport": self.transport}
        return av.open(self.url, "r", options=options, timeout=(self.stall_s, POLL_S))


def rtp_sdp(port: int, host: str = "127.0.0.1", payload_type: int = 96) -> str:
    """The SDP of an H.264 RTP stream sent to ``host:port`` (packetization-mode 1, RFC 6184)."""
    family = "IP6" if ":" in host else "IP4"
    return (
        f"v=0\r\no=- 0 0 IN {family} {host}\r\ns=fieldkit\r\nc=IN {family} {host}\r\nt=0 0\r\n"
        f"m=video {port} RTP/AVP {payload_type}\r\na=rtpmap:{payload_type} H264/90000\r\n"
        f"a=fmtp:{payload_type} packetization-mode=1\r\n"
    )


class RtpSource(DemuxSource):
    """H.264 over RTP/UDP, as drone downlinks send it: described by an SDP, or just a port."""

    kind = "rtp"
    MAX_SDP_BYTES = 64 * 1024
    connectionless = True

    def __init__(
        self, sdp: str | None = None, *, port: int | None = None, host: str = "127.0.0.1", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if sdp is None:
            if port is None:
                raise ValueError("an RTP source needs an SDP or a port")
            sdp = rtp_sdp(port, host)
        if len(sdp.encode()) > self.MAX_SDP_BYTES or "m=video" not in sdp:
            raise ValueError("the SDP must describe a video stream and be under 64 KiB")
        self.sdp = sdp
        self.host = host

    def describe(self) -> str:
        port = next((line.split()[1] for line in self.sdp.splitlines() if line.startswith("m=video")), "?")
        return f"RTP on {self.host}:{port}"

    def _open(self, watch: _Watch) -> av.container.InputContainer:
        # localaddr keeps FFmpeg's RTP socket on the configured address (it would bind every interface).
        options = {**LOW_LATENCY, **RTP_NO_REORDER, "protocol_whitelist": "rtp,udp", "localaddr": self.host}
        sdp = io.BytesIO(self.sdp.encode())
        return av.open(sdp, "r", format="sdp", options=options, timeout=(self.stall_s, POLL_S))


class MpegTsSource(DemuxSource):
    """MPEG-TS pushed over UDP (optionally in RTP) to ``udp://HOST:PORT`` on this kit."""

    kind = "mpegts"
    connectionless = True

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.host, self.port = udp_address(url)
        self._reader: DatagramReader | None = None

    def describe(self) -> str:
        return f"MPEG-TS on {self.url}"

    def _count_garbage(self) -> None:
        self.stats.garbage += 1

    def _open(self, watch: _Watch) -> av.container.InputContainer:
        if self._reader is not None:
            self._reader.close()  # a previous attempt's
        try:
            self._reader = DatagramReader(self.host, self.port, watch.give_up, self._count_garbage)
        except OSError as exc:
            raise SourceError(f"cannot listen on {self.url}: {exc.strerror or exc}") from None
        try:
            return av.open(self._reader, "r", format="mpegts", options=LOW_LATENCY)
        except BaseException:
            self._reader.close()
            raise

    def _pump(self, loop: asyncio.AbstractEventLoop, relay: Relay, watch: _Watch) -> None:
        try:
            super()._pump(loop, relay, watch)
        finally:
            if self._reader is not None:
                self._reader.close()
