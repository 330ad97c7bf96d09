"""Pass-through ingest against real senders: Debian's ffmpeg over RTP, MPEG-TS and RTSP (rtsp-server-perl)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from mediakit import X264_LIVE, Collector, decode, ffmpeg, finish, free_tcp_port, free_udp_port, process

from media import h264
from media.ice import use_host_addresses
from media.relay import Relay
from media.rtcloop import RtcLoop
from media.sources import SourceError
from media.sources.demux import MpegTsSource, RtpSource, RtspSource, redact
from media.sources.tsudp import ts_payload
from media.webrtc import answer_offer


async def test_rtp_from_ffmpeg_reaches_the_relay_and_decodes() -> None:
    port = free_udp_port()
    source = RtpSource(port=port, stall_s=5)
    relay = Relay("rtp")
    got = Collector(relay)
    task = asyncio.create_task(source.run(relay))
    with process(ffmpeg(*X264_LIVE, "-f", "rtp", f"rtp://127.0.0.1:{port}")):
        await got.wait(units=30, keyframes=2)
        listening = subprocess.run(["ss", "-uln"], capture_output=True, text=True).stdout
    assert await finish(task) is not None
    assert f"127.0.0.1:{port} " in listening and f"0.0.0.0:{port} " not in listening  # localaddr honoured
    assert source.info.codec == "H264" and (source.info.width, source.info.height) == (320, 240)
    assert source.forces_keyframes is False and not source.has_b_frames
    key = got.keyframes[-1]
    assert bytes(key.packet).startswith(b"\x00\x00\x00\x01")  # Annex-B with SPS in front
    frames = decode(key)
    assert frames and (frames[0].width, frames[0].height) == (320, 240)
    pts = [u.packet.pts for u in got.units]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    assert source.stats.units >= 30 and source.stats.corrupt == 0


async def test_rtp_described_by_ffmpegs_sdp_gets_sps_pps_from_it(tmp_path: Path) -> None:
    """With a global header x264 puts SPS/PPS only in the SDP: the source must add them to keyframes."""
    port = free_udp_port()
    sdp_file = tmp_path / "cam.sdp"
    sender = ffmpeg(*X264_LIVE, "-flags", "+global_header", "-f", "rtp", "-sdp_file", str(sdp_file))
    with process([*sender, f"rtp://127.0.0.1:{port}"]):
        async with asyncio.timeout(10):
            while not sdp_file.exists() or "m=video" not in sdp_file.read_text():
                await asyncio.sleep(0.05)
        sdp = sdp_file.read_text()
        assert "sprop-parameter-sets=" in sdp
        source = RtpSource(sdp, stall_s=5)
        relay = Relay("rtp")
        got = Collector(relay)
        task = asyncio.create_task(source.run(relay))
        await got.wait(units=20, keyframes=2)
        await finish(task)
    for key in got.keyframes:
        kinds = [h264.nal_type(n) for n in h264.nal_units(bytes(key.packet))]
        assert kinds[:2] == [h264.NAL_SPS, h264.NAL_PPS] and h264.NAL_IDR in kinds
        assert decode(key)  # on its own, with a fresh decoder
    assert not any(
        h264.NAL_SPS in {h264.nal_type(n) for n in h264.nal_units(bytes(u.packet))} for u in got.units if not u.keyframe
    )


async def test_mpegts_over_udp_from_ffmpeg() -> None:
    port = free_udp_port()
    source = MpegTsSource(f"udp://127.0.0.1:{port}", stall_s=5)
    relay = Relay("ts")
    got = Collector(relay)
    task = asyncio.create_task(source.run(relay))
    with process(ffmpeg(*X264_LIVE, "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316")):
        await got.wait(units=30, keyframes=2)
    await finish(task)
    assert (source.info.width, source.info.height) == (320, 240)
    assert not source.has_b_frames and source.stats.b_frames == 0 and source.stats.garbage == 0
    assert decode(got.keyframes[-1])


async def test_cancelling_ends_the_worker_thread_promptly() -> None:
    """Cancel while the input is open and idle: the worker must close its socket within a poll or so."""
    port = free_udp_port()
    source = MpegTsSource(f"udp://127.0.0.1:{port}", stall_s=30)
    task = asyncio.create_task(source.run(Relay("idle")))
    await asyncio.sleep(1.0)
    with pytest.raises(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))  # the source holds it
    assert isinstance(await finish(task), asyncio.CancelledError)
    async with asyncio.timeout(5):  # far below the 30 s stall: the thread saw the stop
        while not _bindable(port):
            await asyncio.sleep(0.05)


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_rtsp_pull_from_rtsp_server_perl() -> None:
    client_port, source_port = free_tcp_port(), free_tcp_port()
    server = [
        "rtsp-server-perl",
        "--clientport", str(client_port),
        "--serverport", str(source_port),
        "--client_listen_address", "127.0.0.1",
        "--source_listen_address", "127.0.0.1",
    ]  # fmt: skip
    with process(server):
        await _wait_tcp(source_port)
        push = ffmpeg(*X264_LIVE, "-f", "rtsp", "-rtsp_transport", "udp", f"rtsp://127.0.0.1:{source_port}/cam")
        with process(push):
            relay = Relay("rtsp")
            got = Collector(relay)
            deadline = time.monotonic() + 15
            while True:  # as the feed's supervisor would: until ffmpeg has announced the stream
                source = RtspSource(f"rtsp://127.0.0.1:{client_port}/cam", stall_s=8)
                task = asyncio.create_task(source.run(relay))
                try:
                    await got.wait(units=20, keyframes=2, timeout=30, source=task)
                    break
                except SourceError as exc:
                    if not str(exc).startswith("cannot open") or time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            await finish(task)
    assert (source.info.width, source.info.height) == (320, 240)
    assert decode(got.keyframes[-1])


async def test_garbage_is_counted_and_a_valid_stream_still_gets_through() -> None:
    port = free_udp_port()
    source = MpegTsSource(f"udp://127.0.0.1:{port}", stall_s=5)
    relay = Relay("ts")
    got = Collector(relay)
    task = asyncio.create_task(source.run(relay))
    stop = threading.Event()
    spray = threading.Thread(target=_spray, args=(port, stop), daemon=True)
    spray.start()
    try:
        with process(ffmpeg(*X264_LIVE, "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316")):
            await got.wait(units=30, keyframes=2)
    finally:
        stop.set()
        spray.join()
    await finish(task)
    assert source.stats.garbage > 10
    assert decode(got.keyframes[-1])


async def test_only_garbage_ends_with_a_clear_error() -> None:
    port = free_udp_port()
    source = MpegTsSource(f"udp://127.0.0.1:{port}", stall_s=1.5)
    stop = threading.Event()
    spray = threading.Thread(target=_spray, args=(port, stop), daemon=True)
    spray.start()
    try:
        with pytest.raises(SourceError, match=r"no video for 1.5 s from MPEG-TS on udp://127.0.0.1:\d+ \(\d+ bad"):
            await asyncio.wait_for(source.run(Relay("junk")), 15)
    finally:
        stop.set()
        spray.join()
    assert source.stats.garbage > 10


async def test_garbage_to_an_rtp_port_ends_with_the_stall_error() -> None:
    port = free_udp_port()
    source = RtpSource(port=port, stall_s=1.5)
    stop = threading.Event()
    spray = threading.Thread(target=_spray, args=(port, stop), daemon=True)
    spray.start()
    try:
        with pytest.raises(SourceError, match=r"no video for 1.5 s from RTP on 127.0.0.1:\d+"):
            await asyncio.wait_for(source.run(Relay("junk")), 15)
    finally:
        stop.set()
        spray.join()


async def test_a_source_that_stalls_mid_stream_and_a_retry_continues_the_timeline() -> None:
    port = free_udp_port()
    source = RtpSource(port=port, stall_s=2.0)
    relay = Relay("rtp")
    got = Collector(relay)
    for attempt in (1, 2):
        with process(ffmpeg(*X264_LIVE, "-f", "rtp", f"rtp://127.0.0.1:{port}", seconds=4)):
            await asyncio.sleep(1.0)  # the sender is up (its first packets go nowhere, which is fine)
            with pytest.raises(SourceError, match=r"^no video for 2 s from RTP on 127.0.0.1:\d+$"):
                await asyncio.wait_for(source.run(relay), 20)
        if attempt == 1:
            first_run = len(got.units)
    assert first_run > 10 and len(got.units) > first_run + 10  # it streamed each time before stalling
    pts = [u.packet.pts for u in got.units]
    assert pts[first_run] > pts[first_run - 1]  # the second run's timeline follows the first's


async def test_garbage_sprayed_at_a_live_rtp_source_does_not_end_it() -> None:
    """Anyone can send to the port; some garbage makes FFmpeg end its input (an RTCP BYE does)."""
    port = free_udp_port()
    source = RtpSource(port=port, stall_s=5)
    relay = Relay("rtp")
    got = Collector(relay)
    task = asyncio.create_task(source.run(relay))
    stop = threading.Event()
    spray = threading.Thread(target=_spray, args=(port, stop, True), daemon=True)
    try:
        with process(ffmpeg(*X264_LIVE, "-f", "rtp", f"rtp://127.0.0.1:{port}")):
            await got.wait(units=15, keyframes=1)
            spray.start()
            async with asyncio.timeout(40):  # until the garbage has ended FFmpeg's input once
                while source.stats.restarts == 0:
                    await asyncio.sleep(0.1)
            await got.wait(units=len(got.units) + 30, keyframes=len(got.keyframes) + 2, timeout=40)
    finally:
        stop.set()
        if spray.is_alive():
            spray.join()
    assert not task.done()
    await finish(task)


async def test_an_rtsp_server_that_is_not_there() -> None:
    port = free_tcp_port()
    source = RtspSource(f"rtsp://user:secret@127.0.0.1:{port}/cam", stall_s=5)
    with pytest.raises(SourceError) as caught:
        await asyncio.wait_for(source.run(Relay("none")), 15)
    message = str(caught.value)
    assert message.startswith(f"cannot open rtsp://user:***@127.0.0.1:{port}/cam: ") and "refused" in message.lower()


async def test_rtp_ingest_plays_to_a_webrtc_viewer() -> None:
    """ffmpeg -> RTP -> RtpSource -> Relay -> aiortc sender -> an aiortc viewer that decodes."""
    port = free_udp_port()
    source = RtpSource(port=port, stall_s=5)
    relay = Relay("rtp")
    got = Collector(relay)
    task = asyncio.create_task(source.run(relay))
    use_host_addresses(["127.0.0.1"])
    client = RTCPeerConnection()
    frames: asyncio.Queue[av.VideoFrame] = asyncio.Queue()
    client.on("track", lambda track: pulls.append(asyncio.ensure_future(_pull(track, frames))))
    pulls: list[asyncio.Future[None]] = []
    rtc = RtcLoop()
    try:
        with process(ffmpeg(*X264_LIVE, "-f", "rtp", f"rtp://127.0.0.1:{port}")):
            await got.wait(units=20, keyframes=1)  # join mid-GOP: the relay replays the GOP so far
            client.addTransceiver("video", direction="recvonly")
            await client.setLocalDescription(await client.createOffer())
            viewer, answer = await answer_offer(
                relay, "rtp", client.localDescription.sdp, "test", lambda v: None, rtc=rtc
            )
            await client.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            decoded = [await asyncio.wait_for(frames.get(), 20) for _ in range(10)]
            await viewer.close()
    finally:
        await client.close()
        await asyncio.to_thread(rtc.close)
        use_host_addresses(None)
        for pull in pulls:
            pull.cancel()
        await finish(task)
    assert {(f.width, f.height) for f in decoded} == {(320, 240)}
    assert source.forces_keyframes is False and relay.viewers == 0


async def _pull(track: MediaStreamTrack, out: asyncio.Queue[av.VideoFrame]) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            out.put_nowait(await track.recv())  # type: ignore[arg-type]


async def test_other_codecs_are_refused_by_name() -> None:
    port = free_udp_port()
    source = MpegTsSource(f"udp://127.0.0.1:{port}", stall_s=5)
    mpeg2 = ffmpeg("-c:v", "mpeg2video", "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316")
    with process(mpeg2), pytest.raises(SourceError, match=r"carries mpeg2video video; only H\.264 is relayed"):
        await asyncio.wait_for(source.run(Relay("m2v")), 15)


async def test_b_frame_sources_are_flagged() -> None:
    port = free_udp_port()
    source = MpegTsSource(f"udp://127.0.0.1:{port}", stall_s=5)
    relay = Relay("bf")
    got = Collector(relay)
    task = asyncio.create_task(source.run(relay))
    x264_bframes = ["-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "15", "-pix_fmt", "yuv420p"]
    with process(ffmpeg(*x264_bframes, "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316")):
        await got.wait(units=30, keyframes=2)
    await finish(task)
    assert source.has_b_frames and source.stats.b_frames > 5


async def test_oversize_packets_are_dropped_and_counted() -> None:
    port = free_udp_port()
    source = MpegTsSource(f"udp://127.0.0.1:{port}", stall_s=5, max_unit_bytes=1500)
    relay = Relay("big")
    got = Collector(relay)
    task = asyncio.create_task(source.run(relay))
    with process(ffmpeg(*X264_LIVE, "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316")):
        async with asyncio.timeout(20):
            while source.stats.oversize < 2 or len(got.units) < 5:
                await asyncio.sleep(0.1)
    await finish(task)
    assert all(u.size <= 1500 for u in got.units)


def test_ts_framing_and_redaction() -> None:
    ts = bytes([0x47]) + bytes(187)
    assert ts_payload(ts * 7) == ts * 7
    assert ts_payload(bytes([0x80, 33]) + bytes(10) + ts) == ts  # MPEG-TS in RTP (RFC 2250)
    assert ts_payload(ts[:-1]) is None and ts_payload(b"\x00" + ts[1:]) is None and ts_payload(b"") is None
    assert redact("rtsp://admin:hunter2@10.0.0.5:554/live") == "rtsp://admin:***@10.0.0.5:554/live"
    assert redact("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"


def _spray(port: int, stop: threading.Event, rtcp: bool = False) -> None:
    """Random datagrams at ~200/s until ``stop``; with ``rtcp``, one in ten is an RTCP BYE (RFC 3550)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        n = 0
        while not stop.wait(0.005):
            n += 1
            if rtcp and n % 10 == 0:
                s.sendto(b"\x81\xcb\x00\x01" + os.urandom(4), ("127.0.0.1", port))
            else:
                s.sendto(os.urandom(1 + os.urandom(1)[0] * 5), ("127.0.0.1", port))


async def _wait_tcp(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
        else:
            writer.close()
            await writer.wait_closed()
            return
