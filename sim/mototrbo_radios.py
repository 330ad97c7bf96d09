"""Simulated MOTOTRBO radios on loopback: each radio a UDP endpoint at its own address.

The PDT gateway emulator models a serial line; MOTOTRBO data is UDP from many addresses, so it
gets this simulator instead. Linux routes all of 127.0.0.0/8 to the loopback interface, so radio
1001 binds 127.0.3.233 (``network`` 127 in place of the CAI network 12) on the LRRP, ARS and TMS
ports and talks to fieldkit exactly as a radio behind a control station would: it registers (ARS),
reports and answers polls (LRRP), sends texts and acknowledges fieldkit's (TMS), using the same
message code fieldkit decodes with, from the radio's end.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from collections.abc import Callable, Mapping

from edge.radio import Delivery, Fix, Presence, RadioEvent, Text
from edge.radio import mototrbo_ars as ars
from edge.radio import mototrbo_lrrp as lrrp
from edge.radio import mototrbo_tms as tms
from edge.radio.mototrbo_records import MalformedError, Service, UnsupportedError, address

from .pdt_gateway import PollRequest, Request, TextRequest
from .radios import Radio, RadioWorld

log = logging.getLogger(__name__)


class _RadioSocket(asyncio.DatagramProtocol):
    def __init__(self, sim: MotoTrboRadios, radio: Radio, service: Service) -> None:
        self.sim, self.radio, self.service = sim, radio, service

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.sim._received(self.radio, self.service, data)

    def error_received(self, exc: Exception) -> None:
        log.debug("simulated radio %s %s: %s", self.radio.unit, self.service.name, exc)


class MotoTrboRadios:
    """Component: the world's radios speaking MOTOTRBO data services to fieldkit on ``server``."""

    name = "sim-mototrbo-radios"

    def __init__(
        self,
        world: RadioWorld,
        *,
        server: str,
        ports: Mapping[Service, int],
        clock: Callable[[], float],
        network: int = 127,
        tick_s: float = 0.2,
        ack_delay_s: float = 1.5,
    ) -> None:
        self.world = world
        self.server = server
        self.ports = dict(ports)
        self.clock = clock
        self.network = network
        self._tick_s = tick_s
        self._ack_delay_s = ack_delay_s
        self._transports: dict[tuple[str, Service], asyncio.DatagramTransport] = {}
        self._acks: list[tuple[float, Delivery]] = []
        self._seq: dict[str, int] = {}
        self._shown: set[tuple[str, int]] = set()
        self.received: list[Request] = []  # every request fieldkit made, in order
        self.texts_shown: list[TextRequest] = []  # texts radios displayed (repeats removed)
        self.registered: list[str] = []  # radios whose registration fieldkit answered
        self.acked_texts: list[tuple[str, int]] = []  # (radio, sequence) of radio texts fieldkit acknowledged
        self.report_requests: list[tuple[str, int]] = []  # (radio, interval) of triggered location requests

    def address_of(self, unit: str) -> str:
        """Where a simulated radio lives."""
        return ".".join(str(b) for b in address(unit, self.network))

    async def start(self) -> None:
        """Bind every radio's three service sockets (idempotent)."""
        if self._transports:
            return
        loop = asyncio.get_running_loop()
        try:
            for radio in self.world.radios:
                for service, port in self.ports.items():
                    transport, _ = await loop.create_datagram_endpoint(
                        functools.partial(_RadioSocket, self, radio, service),
                        local_addr=(self.address_of(radio.unit), port),
                        family=socket.AF_INET,
                    )
                    self._transports[(radio.unit, service)] = transport
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Unbind every radio."""
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()

    async def run(self) -> None:
        """Step the radios and serve fieldkit's requests until cancelled."""
        await self.start()
        try:
            while True:
                now = self.clock()
                for event in self.world.step(now):
                    self.emit(event)
                due = [a for a in self._acks if a[0] <= now]
                self._acks = [a for a in self._acks if a[0] > now]
                for _, delivery in due:
                    self.emit(delivery)
                await asyncio.sleep(self._tick_s)
        finally:
            self.close()

    # -- the radios' side -----------------------------------------------------------------------

    def emit(self, event: RadioEvent) -> None:
        """A radio sends what ``event`` says (tests script traffic with it); other kinds are not sent.

        A Fix is a triggered location report, a Presence an ARS registration or deregistration, a
        Text a TMS text to fieldkit, and a Delivery the TMS acknowledgement of text ``msg_id`` (the
        sequence number fieldkit gave it).
        """
        if isinstance(event, Fix) and event.unit is not None:
            self._send(event.unit, Service.LRRP, lrrp.report(event, request_id=0))
        elif isinstance(event, Presence):
            self._send(event.unit, Service.ARS, ars.registration(event.unit) if event.online else ars.deregistration())
        elif isinstance(event, Text):
            seq = self._seq.get(event.src, 0)
            self._seq[event.src] = (seq + 1) & tms.MAX_SEQ
            self._send(event.src, Service.TMS, tms.text(event.text, seq))
        elif isinstance(event, Delivery):
            self._send(event.unit, Service.TMS, tms.ack(event.msg_id))

    def _send(self, unit: str, service: Service, payload: bytes) -> None:
        transport = self._transports.get((unit, service))
        if transport is not None:
            transport.sendto(payload, (self.server, self.ports[service]))

    def _received(self, radio: Radio, service: Service, data: bytes) -> None:
        try:
            if service is Service.LRRP:
                self._location_request(radio, data)
            elif service is Service.ARS:
                if ars.parse(data).kind == ars.ArsType.ANSWER:
                    self.registered.append(radio.unit)
            else:
                self._text(radio, tms.parse(data))
        except (MalformedError, UnsupportedError) as exc:
            log.warning("simulated radio %s: bad %s message %s: %s", radio.unit, service.name, data.hex(), exc)

    def _location_request(self, radio: Radio, data: bytes) -> None:
        messages, _ = lrrp.parse(data)
        for m in messages:
            if m.document is lrrp.Document.IMMEDIATE_REQUEST and m.request_id is not None:
                self.received.append(PollRequest(unit=radio.unit))
                fix = self.world.fix(radio, self.clock())
                self._send(
                    radio.unit,
                    Service.LRRP,
                    lrrp.report(fix, request_id=m.request_id, document=lrrp.Document.IMMEDIATE_REPORT),
                )
            elif m.document is lrrp.Document.TRIGGERED_REQUEST and m.request_id is not None:
                self.report_requests.append((radio.unit, m.interval_s or 0))
                self._send(radio.unit, Service.LRRP, lrrp.answer(lrrp.Document.TRIGGERED_ANSWER, m.request_id))

    def _text(self, radio: Radio, m: tms.TmsMessage) -> None:
        if m.kind is tms.TmsKind.ACK and m.seq is not None:
            self.acked_texts.append((radio.unit, m.seq))
            return
        if m.kind is not tms.TmsKind.TEXT or m.seq is None:
            return
        request = TextRequest(dst=radio.unit, text=m.text(), group=False, msg_id=m.seq)
        self.received.append(request)
        key = (radio.unit, m.seq)
        if key not in self._shown:  # a retry is acknowledged again, shown once
            self._shown.add(key)
            self.texts_shown.append(request)
        if m.ack_requested:
            when = self.clock() + self._ack_delay_s
            self._acks.append((when, Delivery(msg_id=m.seq, unit=radio.unit, ok=True)))
