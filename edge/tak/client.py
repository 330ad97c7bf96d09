"""A TAK server we connect out to (TAK Server, OpenTAKServer, FreeTAKServer): push our picture, take theirs.

The same stream the streaming port serves (the picture, then every change, and the picture again
every ``resend_s``) is written to the server; whatever the server sends (its users' positions,
GeoChat, emergencies) is framed, parsed safely and taken in. Every connection starts in XML; with
``protocol = "protobuf"`` we ask for TAK Protocol v1 when the server offers it (``negotiation.py``)
and stay in XML with a server that never does (FreeTAKServer, OpenTAKServer).

Reconnecting is the node's one mechanism: when the connection fails or ends, ``run`` raises and the
supervisor starts it again with backoff and jitter. TLS always verifies the server (against
``ca`` or the system's CAs) and presents our client certificate when one is configured, as TAK
Server's 8089 requires; a refused certificate is logged in plain words with the key to fix.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections import Counter
from typing import TYPE_CHECKING

from edge.scene import Snapshot, Subscription
from edge.supervisor import LinkDown

from . import negotiation
from .config import TakSection, TakServerLink
from .cotin import CotEvent, CotRejected
from .framer import EventFramer
from .hub import CotHub, Framing, encode

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    from edge.node import EdgeNode

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
WRITE_TIMEOUT_S = 30.0  # a server that takes nothing for this long is treated as gone
READ_CHUNK = 64 * 1024


class TakLinkError(LinkDown):
    """The link to a TAK server failed; the message says why in plain words."""


class TakClient:
    """Component: one outgoing connection to a TAK server."""

    def __init__(self, node: EdgeNode, cfg: TakSection, link: TakServerLink, hub: CotHub) -> None:
        self.node = node
        self.cfg = cfg
        self.link = link
        self.hub = hub
        self.name = f"tak-server:{link.label}"
        self.framing: Framing = "xml"  # every connection starts in XML; "stream" once TAK Protocol is agreed
        self.counts: Counter[str] = Counter()
        self.connected = asyncio.Event()
        self._settled = asyncio.Event()  # clear while our protocol request awaits the server's answer
        self._asked: str | None = None  # uid of our request
        self._warned_key = False

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for this server, or None for plain TCP."""
        if not self.link.tls:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.link.ca or None)
        if self.link.cert:
            if self.link.key and os.stat(self.link.key).st_mode & 0o077 and not self._warned_key:
                self._warned_key = True
                log.warning("%s: %s is readable by other users; make it 0600", self.name, self.link.key)
            context.load_cert_chain(self.link.cert, self.link.key or None)
        return context

    async def run(self) -> None:
        """Connect, push and read until the connection ends; then raise so the supervisor reconnects."""
        reader, writer = await self._connect()
        self.counts["connects"] += 1
        self.framing, self._asked = "xml", None
        self._settled.set()
        self.connected.set()
        subscription = self.hub.scene.subscribe(self.name)
        log.info("%s: connected (%s)", self.name, self.link.protocol)
        tasks = [
            asyncio.create_task(self._pump(writer, subscription)),
            asyncio.create_task(self._resend(writer)),
            asyncio.create_task(self._read(reader, writer)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.connected.clear()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            subscription.close()
            writer.transport.abort()
        for task in done:
            if (exc := task.exception()) is not None:
                raise TakLinkError(f"connection lost: {type(exc).__name__}: {exc}") from exc
        raise TakLinkError("the server closed the connection")

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        where = f"{self.link.host}:{self.link.port}"
        try:
            context = self.ssl_context()
        except (OSError, ssl.SSLError) as exc:
            raise TakLinkError(f"cannot load TLS files for {where} (tak.servers cert/key/ca): {exc}") from None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                return await asyncio.open_connection(
                    self.link.host,
                    self.link.port,
                    ssl=context,
                    server_hostname=(self.link.server_name or self.link.host) if context else None,
                    limit=READ_CHUNK,
                )
        except ssl.SSLCertVerificationError as exc:
            self.counts["tls_refused"] += 1
            message = f"TLS to {where}: the server's certificate is not trusted ({exc.verify_message})"
            log.error("%s; check tak.servers ca and server_name for %s", message, self.link.label)
            raise TakLinkError(message) from None
        except ssl.SSLError as exc:
            self.counts["tls_refused"] += 1
            raise TakLinkError(f"TLS to {where} failed: {exc.reason or exc}") from None
        except (OSError, TimeoutError) as exc:
            self.counts["connect_failed"] += 1
            raise TakLinkError(f"cannot connect to {where}: {exc or 'timed out'}") from None

    async def _pump(self, writer: asyncio.StreamWriter, subscription: Subscription) -> None:
        while True:
            item = await subscription.get()
            if isinstance(item, Snapshot):
                await self._send(writer, self.hub.picture(item, self.name))
            elif isinstance(item, list):
                await self._send(writer, self.hub.deltas(item, self.name))

    async def _resend(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(self.cfg.resend_s)
            await self._send(writer, self.hub.picture(self.hub.scene.snapshot(), self.name))

    async def _send(self, writer: asyncio.StreamWriter, events: list[ET.Element]) -> None:
        if not events:
            return
        if not self._settled.is_set():  # after our request we may send nothing until the answer
            try:
                async with asyncio.timeout(negotiation.ANSWER_TIMEOUT_S):
                    await self._settled.wait()
            except TimeoutError:
                raise TakLinkError("no answer to our TAK Protocol request within a minute") from None
        data = b"".join(encode(e, self.framing) for e in events)
        writer.write(data)
        self.counts["events_out"] += len(events)
        self.counts["bytes_out"] += len(data)
        async with asyncio.timeout(WRITE_TIMEOUT_S):
            await writer.drain()

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Accept stream frames whenever protobuf is wanted: a server switches on its answer, mid-read.
        framer = EventFramer(self.cfg.max_event_bytes, protobuf=self.link.protocol == "protobuf")
        while data := await reader.read(READ_CHUNK):
            self.counts["bytes_in"] += len(data)
            for raw in framer.feed(data):
                try:
                    event = self.hub.decode(raw)
                except CotRejected as exc:
                    self.counts[f"rejected_{exc.reason}"] += 1
                    continue
                if negotiation.is_control(event):
                    await self._negotiate(event, writer)
                else:
                    await self.hub.take(event, self.name, self.counts)
            for kind, count in framer.drops.items():
                self.counts[f"framer_{kind}"] += count
            framer.drops.clear()

    async def _negotiate(self, event: CotEvent, writer: asyncio.StreamWriter) -> None:
        """Ask for TAK Protocol when the server offers it and protobuf is configured; act on its answer."""
        if event.type == negotiation.OFFER:
            wanted = self.link.protocol == "protobuf" and self.framing == "xml" and self._asked is None
            if wanted and negotiation.VERSION in event.control_versions:
                self._asked = event.uid
                self._settled.clear()
                writer.write(encode(negotiation.request(event.uid, self.node.clock()), "xml"))
                self.counts["protocol_requests"] += 1
        elif event.type == negotiation.RESPONSE and event.uid == self._asked:
            if event.control_status:
                self.framing = "stream"
                log.info("%s: switched to TAK Protocol version 1", self.name)
            else:
                log.warning("%s: the server refused TAK Protocol; staying with XML", self.name)
            self.counts["protocol_protobuf" if event.control_status else "protocol_refused"] += 1
            self._settled.set()
