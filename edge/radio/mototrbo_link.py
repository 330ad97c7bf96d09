"""The MOTOTRBO data services as one link: three UDP ports, datagrams in and out as records.

A control station (a MOTOTRBO radio with "Forward to PC") or MNIS routes the radios' data to the
PC's LRRP (4001), ARS (4005) and TMS (4007) ports; each service answers a radio from the same port
to the radio's own address. ``MotoTrboLink`` binds the three ports, wraps every datagram it
receives as a record carrying the service and the sender's IPv4 address (``mototrbo_records``),
and sends each record it is given from the service's socket to the address in the record, at the
same service port. So ``RadioGateway`` and ``MotoTrboCodec`` keep the one byte-stream interface
every other framing uses, and ``radio.raw_log`` captures replay through the codec unchanged.

Like the other links it never reconnects by itself: a failed socket ends ``read`` with LinkError
and the node's supervisor reopens the link. A send that the network refuses (ICMP unreachable, no
route to a talkgroup address) is logged, not a failure: UDP promises nothing, the services'
acknowledgements and the outbox's retries do.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from collections.abc import Mapping

from .config import MotoTrboSection
from .links import LinkError, _mapped
from .mototrbo_records import MAX_PAYLOAD, Datagram, RecordError, Service, split

log = logging.getLogger(__name__)

MAX_QUEUE = 10_000  # datagrams waiting for the gateway; past this new ones are dropped and counted
STANDARD_PORTS: Mapping[Service, int] = {s: int(s) for s in Service}


class _ServiceEndpoint(asyncio.DatagramProtocol):
    def __init__(self, link: MotoTrboLink, service: Service) -> None:
        self.link = link
        self.service = service

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.link._received(self.service, data, str(addr[0]))

    def error_received(self, exc: Exception) -> None:
        self.link._warn_once("send refused", f"{self.service.name}: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.link._lost(exc or LinkError(f"{self.service.name} socket closed"))


class MotoTrboLink:
    """LRRP, ARS and TMS sockets on one host; ``read``/``write`` carry records."""

    def __init__(self, host: str, ports: Mapping[Service, int]) -> None:
        self.description = "mototrbo " + " ".join(f"{s.name.lower()} {host}:{p}" for s, p in ports.items())
        self.host = host
        self.ports = dict(ports)
        self.dropped = 0  # datagrams dropped: the reader fell behind, too big, or not IPv4
        self.bad_writes = 0  # records the codec handed us that do not parse (a bug, never expected)
        self._queue: asyncio.Queue[bytes | BaseException] = asyncio.Queue(maxsize=MAX_QUEUE)
        self._transports: dict[Service, asyncio.DatagramTransport] = {}
        self._warned: set[str] = set()

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            for service, port in self.ports.items():
                with _mapped(f"mototrbo {service.name} {self.host}:{port}"):
                    transport, _ = await loop.create_datagram_endpoint(
                        functools.partial(_ServiceEndpoint, self, service),
                        local_addr=(self.host, port),
                        family=socket.AF_INET,
                    )
                self._transports[service] = transport
        except BaseException:
            await self.aclose()
            raise

    @property
    def local_ports(self) -> dict[Service, int]:
        """The ports actually bound (useful with port 0)."""
        return {s: int(t.get_extra_info("sockname")[1]) for s, t in self._transports.items()}

    async def read(self) -> bytes:
        """The next datagram as a record; LinkError when a socket is gone."""
        item = await self._queue.get()
        if isinstance(item, BaseException):
            raise LinkError(f"{self.description}: {item}")
        return item

    async def write(self, data: bytes) -> None:
        """Send every record in ``data`` from its service's socket to the radio it names."""
        try:
            datagrams = split(data)
        except RecordError as exc:
            self.bad_writes += 1
            log.error("%s: not records, not sent: %s", self.description, exc)
            return
        for d in datagrams:
            transport = self._transports.get(d.service)
            if transport is None or transport.is_closing():
                raise LinkError(f"{self.description}: {d.service.name} socket is closed")
            transport.sendto(d.payload, (d.ip_text, self.ports[d.service]))

    async def aclose(self) -> None:
        """Close every socket; safe to call twice."""
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()

    def _received(self, service: Service, data: bytes, host: str) -> None:
        try:
            ip = socket.inet_aton(host)
        except OSError:
            ip = b""
        if len(ip) != 4 or len(data) > MAX_PAYLOAD or self._queue.full():
            self.dropped += 1  # never block the loop for one noisy sender; counted
            self._warn_once("dropped", f"{service.name} datagram from {host} ({len(data)} bytes)")
            return
        self._queue.put_nowait(bytes(Datagram(service, ip, data)))

    def _lost(self, exc: BaseException) -> None:
        if self._transports:  # not our own aclose
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(exc)

    def _warn_once(self, kind: str, detail: str) -> None:
        level = logging.DEBUG if kind in self._warned else logging.WARNING
        self._warned.add(kind)
        log.log(level, "%s: %s: %s", self.description, kind, detail)


async def open_mototrbo(host: str, ports: Mapping[Service, int] = STANDARD_PORTS) -> MotoTrboLink:
    """Bind the LRRP, ARS and TMS ports on ``host``; radios are answered at the same port numbers."""
    link = MotoTrboLink(host, ports)
    await link._open()
    return link


def mototrbo_ports(section: MotoTrboSection | None) -> dict[Service, int]:
    """The configured port of each service."""
    section = section or MotoTrboSection()
    return {Service.LRRP: section.lrrp_port, Service.ARS: section.ars_port, Service.TMS: section.tms_port}
