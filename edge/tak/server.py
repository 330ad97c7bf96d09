"""The TAK streaming port: CoT XML out to every connected client, and CoT in from them.

Like TAK Server's streaming TCP input: events back to back, no framing beyond the XML itself. A new
client gets the current picture, then every change as it happens (a scene subscription), and every
entity again each ``resend_s`` so nothing goes stale on its map. What a client sends is framed
(``EventFramer``), parsed safely (``parse_event``), put into the picture (``Inbound``) and relayed as
sent to the other clients, as a TAK server does, so ATAK users also see each other.

Per-client buffer: writes go to the transport without waiting; when a client's unsent bytes pass
``max_client_buffer_bytes`` it is too slow to keep up and is disconnected (logged, counted), so one
stalled phone never holds memory or the picture back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from typing import TYPE_CHECKING

from edge.scene import Scene, Snapshot, Subscription

from . import negotiation
from .config import TakSection
from .cotin import CotEvent, CotRejected
from .framer import EventFramer
from .hub import CotHub, Framing, encode, reframe

if TYPE_CHECKING:
    from edge.node import EdgeNode

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
CLOSE_TIMEOUT_S = 1.0


class _Client:
    """One connected TAK client."""

    def __init__(self, name: str, writer: asyncio.StreamWriter, framer: EventFramer) -> None:
        self.name = name
        self.writer = writer
        self.framer = framer
        self.dropped = False
        self.framing: Framing = "xml"  # "stream" once the client negotiated TAK Protocol
        self.offer_uid = f"protouid-{uuid.uuid4()}"


class TakServer:
    """Component: serve the picture as CoT on a TCP port and take CoT in."""

    name = "tak"

    def __init__(self, node: EdgeNode, cfg: TakSection, hub: CotHub) -> None:
        self.node = node
        self.cfg = cfg
        self.hub = hub
        self.counts: Counter[str] = Counter()
        self.port: int | None = None
        self.listening = asyncio.Event()
        self._clients: dict[_Client, asyncio.Task[None]] = {}

    @property
    def clients(self) -> int:
        """Clients connected now."""
        return len(self._clients)

    @property
    def scene(self) -> Scene:
        """The node's scene."""
        assert self.node.scene is not None
        return self.node.scene

    async def run(self) -> None:
        """Listen until cancelled; re-send the picture every ``resend_s``."""
        server = await asyncio.start_server(self._serve, self.cfg.host, self.cfg.port, limit=READ_CHUNK)
        self.port = server.sockets[0].getsockname()[1]
        log.info("TAK streaming port on %s:%d", self.cfg.host, self.port)
        self.listening.set()
        try:
            while True:
                await asyncio.sleep(self.cfg.resend_s)
                picture = _Encoded(self.hub.picture(self.scene.snapshot(), self.name))
                for client in list(self._clients):
                    self._send(client, picture.as_(client.framing))
                    self.counts["events_out"] += len(picture.events)
        finally:
            self.listening.clear()
            server.close()
            # Abort the connections rather than cancel their tasks: each handler then sees EOF and ends
            # normally (asyncio's stream callback logs an error for a cancelled handler task).
            tasks = list(self._clients.values())
            for client in list(self._clients):
                client.writer.transport.abort()
            if tasks:
                await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S * 2)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await server.wait_closed()

    # -- one connection --------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        name = f"tak:{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "tak:client"
        if len(self._clients) >= self.cfg.max_clients:
            self.counts["clients_refused"] += 1
            log.warning("%s refused: %d TAK clients already", name, len(self._clients))
            await _close(writer)
            return
        client = _Client(name, writer, EventFramer(self.cfg.max_event_bytes))
        task = asyncio.current_task()
        assert task is not None
        self._clients[client] = task
        self.counts["clients_accepted"] += 1
        subscription = self.scene.subscribe(name)
        log.info("%s connected", name)
        if self.cfg.offer_protobuf:
            self._send(client, encode(negotiation.offer(client.offer_uid, self.node.clock()), "xml"))
        try:
            pump = asyncio.create_task(self._pump(client, subscription))
            try:
                await self._read(client, reader)
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
        finally:
            subscription.close()
            del self._clients[client]
            log.info("%s disconnected", name)
            await _close(writer)

    async def _pump(self, client: _Client, subscription: Subscription) -> None:
        while not client.dropped:
            item = await subscription.get()
            if isinstance(item, Snapshot):
                events = self.hub.picture(item, self.name)
            elif isinstance(item, list):
                events = self.hub.deltas(item, self.name)
            else:
                continue
            self._send(client, _Encoded(events).as_(client.framing))
            self.counts["events_out"] += len(events)

    async def _read(self, client: _Client, reader: asyncio.StreamReader) -> None:
        while not client.dropped:
            data = await reader.read(READ_CHUNK)
            if not data:
                return
            self.counts["bytes_in"] += len(data)
            before = sum(client.framer.drops.values())
            for raw in client.framer.feed(data):
                await self._take(client, raw)
            if sum(client.framer.drops.values()) != before:
                for kind, count in client.framer.drops.items():
                    self.counts[f"framer_{kind}"] += count
                client.framer.drops.clear()

    async def _take(self, client: _Client, raw: bytes) -> None:
        """One event from a client: into the picture (if taken in) and on to the other clients."""
        try:
            event = self.hub.decode(raw)
        except CotRejected as exc:
            self.counts[f"rejected_{exc.reason}"] += 1
            return
        if negotiation.is_control(event):
            self._negotiate(client, event)
            return
        if await self.hub.take(event, self.name, self.counts, accept=self.cfg.accept_in):
            as_sent: dict[str, bytes] = {}
            for other in list(self._clients):
                if other is not client:
                    if other.framing not in as_sent:
                        as_sent[other.framing] = reframe(raw, other.framing)
                    self._send(other, as_sent[other.framing])

    def _negotiate(self, client: _Client, event: CotEvent) -> None:
        """A client asks to switch to TAK Protocol (after our offer): answer, and switch if we can."""
        if event.type != negotiation.REQUEST or client.framing != "xml":
            return
        accepted = self.cfg.offer_protobuf and event.uid == client.offer_uid
        accepted = accepted and negotiation.VERSION in event.control_versions
        self._send(client, encode(negotiation.response(event.uid, accepted, self.node.clock()), "xml"))
        if accepted:
            client.framing = "stream"
            client.framer.protobuf = True
            self.counts["clients_protobuf"] += 1
            log.info("%s: switched to TAK Protocol version 1", client.name)

    def _send(self, client: _Client, data: bytes) -> None:
        if client.dropped or not data:
            return
        transport = client.writer.transport
        if transport.is_closing():
            return
        client.writer.write(data)
        self.counts["bytes_out"] += len(data)
        if transport.get_write_buffer_size() > self.cfg.max_client_buffer_bytes:
            client.dropped = True
            self.counts["clients_dropped_slow"] += 1
            log.warning(
                "%s is too slow (%d bytes unsent): disconnected", client.name, transport.get_write_buffer_size()
            )
            transport.abort()


class _Encoded:
    """A batch of events, encoded once per framing asked for."""

    def __init__(self, events: list[ET.Element]) -> None:
        self.events = events
        self._bytes: dict[str, bytes] = {}

    def as_(self, framing: Framing) -> bytes:
        if framing not in self._bytes:
            self._bytes[framing] = b"".join(encode(e, framing) for e in self.events)
        return self._bytes[framing]


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await writer.wait_closed()
