"""The drones' UDP socket takes a burst of datagrams per readiness, not one per event-loop iteration.

Found by the incident benchmark: asyncio's datagram transport reads one datagram each time the loop
comes round, so a kit busy with video and WebSockets read 1,250 telemetry datagrams/s too slowly and
positions waited seconds in the kernel's buffer.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from drones.errors import LinkError
from drones.links import UDP_BURST, UdpSocket, open_udp


async def test_a_burst_is_read_in_a_few_loop_iterations_in_order() -> None:
    sock = await open_udp("127.0.0.1", 0)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    try:
        count = UDP_BURST + 44
        for k in range(count):
            sender.sendto(k.to_bytes(2, "big") * 10, sock.local_address)
        for _ in range(3):  # three turns of the loop (one datagram each with asyncio's transport)
            await asyncio.sleep(0)
        assert sock.pending >= UDP_BURST
        got = [await asyncio.wait_for(sock.recv(), 5) for _ in range(count)]
        assert [int.from_bytes(data[:2], "big") for data, _ in got] == list(range(count))
        assert {addr for _, addr in got} == {sender.getsockname()}
        assert sock.dropped == 0
    finally:
        sender.close()
        await sock.aclose()


async def test_closing_ends_a_waiting_reader_and_sending() -> None:
    sock = await open_udp("127.0.0.1", 0)
    reader = asyncio.create_task(sock.recv())
    await asyncio.sleep(0)
    await sock.aclose()
    with pytest.raises(LinkError, match="closed"):
        await asyncio.wait_for(reader, 5)
    assert sock.sendto(b"x", ("127.0.0.1", 9)) is False
    await sock.aclose()  # twice is fine


async def test_what_the_kernel_drops_is_counted_and_said_once(caplog: pytest.LogCaptureFixture) -> None:
    """A burst larger than the receive buffer, sent while the loop is busy: the kernel's drops are counted."""
    sock = await open_udp("127.0.0.1", 0)
    sock._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small buffer (the kernel doubles it)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sent = 2000
        for k in range(sent):  # no await: nothing reads meanwhile
            sender.sendto(k.to_bytes(4, "big") * 25, sock.local_address)
        received = []
        with caplog.at_level(logging.WARNING, logger="drones.links"):
            for _ in range(2):  # a second burst after the first: one warning for both
                while (item := await _next(sock)) is not None:
                    received.append(item)
                for k in range(sent):
                    sender.sendto(k.to_bytes(4, "big") * 25, sock.local_address)
            while (item := await _next(sock)) is not None:
                received.append(item)
        sender.sendto(b"after", sock.local_address)  # the kernel's count rides on the next datagram read
        received.append(await asyncio.wait_for(sock.recv(), 5))
        assert 0 < len(received) < 3 * sent
        assert sock.kernel_dropped == 3 * sent + 1 - len(received), "every datagram was either read or counted"
        assert sock.dropped == 0
        assert len([r for r in caplog.records if "being dropped" in r.getMessage()]) == 1
    finally:
        sender.close()
        await sock.aclose()


async def _next(sock: UdpSocket) -> tuple[bytes, tuple[str, int]] | None:
    """The next datagram, or None once none came for 0.2 s."""
    try:
        return sock.take() or await asyncio.wait_for(sock.recv(), 0.2)
    except TimeoutError:
        return None


async def test_take_drains_what_waits_and_leaves_the_close_to_recv() -> None:
    sock = await open_udp("127.0.0.1", 0)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert sock.take() is None
        for k in range(3):
            sender.sendto(bytes([k]), sock.local_address)
        await asyncio.sleep(0.05)
        assert [sock.take()[0] for _ in range(3)] == [b"\x00", b"\x01", b"\x02"]  # type: ignore[index]
        assert sock.take() is None
        await sock.aclose()
        assert sock.take() is None
        with pytest.raises(LinkError, match="closed"):
            await asyncio.wait_for(sock.recv(), 5)
    finally:
        sender.close()
