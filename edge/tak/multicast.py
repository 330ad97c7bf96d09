"""Multicast SA: our picture as CoT datagrams on ATAK's mesh group, and theirs taken in.

ATAK without a server shares positions by sending each CoT event as one UDP datagram to
239.2.3.1:6969 (XML, or TAK Protocol v1 with the mesh header ``0xbf 0x01 0xbf``). We join the group
on one configured interface (loopback by default, so nothing reaches a radio network unless asked)
and send from it with ``IP_MULTICAST_LOOP`` on, so ATAK or pytak on this same machine hears us too;
our own datagrams coming back are recognised by uid and ignored. A unicast ``group`` sends there
instead and listens on ``interface``:``port``.

Received datagrams go through a bounded queue (drop-newest when full, counted: one flood of
datagrams must not hold memory), each checked by the same safe parser as every other link.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections import Counter
from typing import TYPE_CHECKING

from edge.scene import Snapshot, Subscription

from .config import MulticastSA, TakSection
from .hub import CotHub, encode

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    from edge.node import EdgeNode

log = logging.getLogger(__name__)

QUEUE_DATAGRAMS = 1024
MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[bytes], counts: Counter[str], max_bytes: int) -> None:
        self.queue = queue
        self.counts = counts
        self.max_bytes = max_bytes
        self.warned = False

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.counts["datagrams_in"] += 1
        if len(data) > self.max_bytes:
            self.counts["rejected_oversize"] += 1
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.counts["dropped_queue_full"] += 1
            if not self.warned:
                self.warned = True
                log.warning("multicast SA: datagrams arrive faster than they are taken in; dropping")

    def error_received(self, exc: Exception) -> None:
        self.counts["socket_errors"] += 1


class TakMulticast:
    """Component: CoT out to and in from a UDP multicast group."""

    name = "tak-multicast"

    def __init__(self, node: EdgeNode, cfg: TakSection, hub: CotHub) -> None:
        self.node = node
        self.cfg = cfg
        self.sa: MulticastSA = cfg.multicast
        self.hub = hub
        self.framing = "mesh" if self.sa.protocol == "protobuf" else "xml"
        self.counts: Counter[str] = Counter()
        self.ready = asyncio.Event()

    @property
    def is_multicast(self) -> bool:
        """True when the group is a multicast address (not a unicast destination)."""
        return ipaddress.IPv4Address(self.sa.group).is_multicast

    def _sockets(self) -> tuple[socket.socket, socket.socket]:
        recv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        send = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            recv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ATAK and others may share the group
            recv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if self.is_multicast:
                recv.bind((self.sa.group, self.sa.port))  # only this group's datagrams
                membership = socket.inet_aton(self.sa.group) + socket.inet_aton(self.sa.interface)
                recv.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
                send.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.sa.interface))
                send.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.sa.ttl)
                send.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            else:
                recv.bind((self.sa.interface, self.sa.port))
            send.bind((self.sa.interface, 0))
            recv.setblocking(False)
            send.setblocking(False)
        except OSError:
            recv.close()
            send.close()
            raise
        return recv, send

    async def run(self) -> None:
        """Send and receive until cancelled."""
        loop = asyncio.get_running_loop()
        recv, send = self._sockets()
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_DATAGRAMS)
        receiver = _Receiver(queue, self.counts, min(self.cfg.max_event_bytes, MAX_DATAGRAM))
        rx, _ = await loop.create_datagram_endpoint(lambda: receiver, sock=recv)
        tx, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, sock=send)
        log.info("multicast SA on %s:%d via %s (%s)", self.sa.group, self.sa.port, self.sa.interface, self.sa.protocol)
        subscription = self.hub.scene.subscribe(self.name)
        self.ready.set()
        tasks = [
            asyncio.create_task(self._take(queue)),
            asyncio.create_task(self._pump(tx, subscription)),
            asyncio.create_task(self._resend(tx)),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.ready.clear()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            subscription.close()
            rx.close()
            tx.close()

    async def _take(self, queue: asyncio.Queue[bytes]) -> None:
        while True:
            data = await queue.get()
            raw = data if data[:1] == b"\xbf" else data.strip()  # a protobuf message may end in a space byte
            await self.hub.take_raw(raw, self.name, self.counts, accept=self.sa.accept_in)

    async def _pump(self, tx: asyncio.DatagramTransport, subscription: Subscription) -> None:
        while True:
            item = await subscription.get()
            if isinstance(item, Snapshot):
                self._send(tx, self.hub.picture(item, self.name))
            elif isinstance(item, list):
                self._send(tx, self.hub.deltas(item, self.name))

    async def _resend(self, tx: asyncio.DatagramTransport) -> None:
        while True:
            await asyncio.sleep(self.cfg.resend_s)
            self._send(tx, self.hub.picture(self.hub.scene.snapshot(), self.name))

    def _send(self, tx: asyncio.DatagramTransport, events: list[ET.Element]) -> None:
        for event in events:
            data = encode(event, self.framing)  # type: ignore[arg-type]
            if len(data) > MAX_DATAGRAM:
                self.counts["too_big_to_send"] += 1
                continue
            tx.sendto(data, (self.sa.group, self.sa.port))
            self.counts["events_out"] += 1
            self.counts["bytes_out"] += len(data)
