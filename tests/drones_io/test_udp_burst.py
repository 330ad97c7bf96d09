"""The drones' UDP socket takes a burst of datagrams per readiness, not one per event-loop iteration.

Found by the incident benchmark: asyncio's datagram transport reads one datagram each time the loop
comes round, so a kit busy with video and WebSockets read 1,250 telemetry datagrams/s too slowly and
positions waited seconds in the kernel's buffer.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from drones.errors import LinkError
from drones.links import UDP_BURST, open_udp


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
