"""Motorola MOTOTRBO data services, the application end: LRRP location, ARS registration, TMS text.

Sans-I/O over the records of ``mototrbo_records`` (one per UDP datagram, with the service and the
radio's address; ``MotoTrboLink`` makes and sends them). ``feed(data, now)`` returns the radio
events the records complete, and appends to ``outbox`` the records the services oblige us to send:
the ARS answer every registration waits for (and, when ``report_interval_s`` is set, a triggered
location request so the radio reports on its own), and the TMS acknowledgement of every text that
asks for one. The radio id is the last three octets of the address a datagram came from.

Texts to a unit go to its address on the CAI network (``radio_network``) and are acknowledged by
TMS sequence number, a 7-bit number: each text to a unit gets the next one, a retry of the same
text keeps its number, and the acknowledgement maps back to the outbox's ``msg_id``. Texts to a
talkgroup go to its address on the CAI group network (``group_network``, 225) and are never
acknowledged. A radio repeats a text until acknowledged; a repeat (same radio, number and text
within ``DUPLICATE_WINDOW_S``) is acknowledged again but not reported twice. Texts from radios
are addressed to us (``local_id``): the link does not see a datagram's destination, so a text a
radio sent to a talkgroup address arrives as one to us.

Drops, by kind: ``garbage``, ``bad_header``, ``oversize``, ``stale`` (the record framer),
``malformed`` (a service message that breaks its layout), ``unsupported`` (a well-formed message
we do not decode: LRRP documents with constant tables, ARS user registration, other TMS types),
``unknown_token`` (an LRRP token of unknown length: the rest of that document is lost),
``duplicate`` (a text repeated by its radio), ``unmatched_ack`` (a TMS acknowledgement of nothing
we sent), ``outbox_overflow``.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict

from . import mototrbo_ars as ars
from . import mototrbo_lrrp as lrrp
from . import mototrbo_tms as tms
from .events import Delivery, Presence, RadioEvent, Text
from .framing import DropCounter
from .mototrbo_records import (
    MAX_PAYLOAD,
    STALE_AFTER_S,
    Datagram,
    DatagramFramer,
    MalformedError,
    Service,
    UnsupportedError,
    address,
    unit_number,
    unit_of,
)

log = logging.getLogger(__name__)

MAX_OUTBOX = 256
MAX_TRACKED = 1024  # texts remembered for acknowledgement matching and for repeat detection
DUPLICATE_WINDOW_S = 120.0
ARS_REFRESH = 1  # ask radios to re-register every 30 minutes


class MotoTrboCodec:
    """The ``mototrbo`` framing: LRRP, ARS and TMS datagrams as records from ``MotoTrboLink``."""

    name = "mototrbo"

    def __init__(self, *, radio_network: int = 12, group_network: int = 225, local_id: str | int = 1,
                 report_interval_s: int = 0, max_payload: int = MAX_PAYLOAD, stale_after_s: float = STALE_AFTER_S,
                 max_outbox: int = MAX_OUTBOX) -> None:
        self.drops = DropCounter(self.name, log)
        self.frames = 0
        self.outbox: list[bytes] = []
        self.radio_network = radio_network
        self.group_network = group_network
        self.local_id = str(unit_number(local_id))
        self.report_interval_s = report_interval_s
        self.max_outbox = max_outbox
        self._framer = DatagramFramer(self.drops, max_payload=max_payload, stale_after_s=stale_after_s)
        self._request = secrets.randbelow(0xFFFF)
        self._next_seq: dict[str, int] = {}
        self._seq_of: OrderedDict[tuple[str, int], int] = OrderedDict()  # (unit, msg_id) -> seq
        self._msg_of: dict[tuple[str, int], int] = {}  # (unit, seq) -> msg_id
        self._heard: OrderedDict[tuple[str, int], tuple[str, float]] = OrderedDict()  # (unit, seq) -> text, when

    @property
    def pending(self) -> int:
        """Bytes held for a record not yet complete."""
        return self._framer.pending

    def feed(self, data: bytes, now: float) -> list[RadioEvent]:
        """Events completed by ``data``; replies owed to radios are appended to ``outbox``."""
        events: list[RadioEvent] = []
        for datagram in self._framer.feed(data, now):
            events += self._handle(datagram, now)
        self.frames = self._framer.frames
        return events

    def encode_text(self, dst: str, text: str, *, group: bool, msg_id: int) -> bytes:
        """A TMS text to a unit (acknowledged) or a talkgroup (not); EncodeError if it cannot be sent."""
        if group:
            payload = tms.text(text, self._next(dst, group=True), ack_requested=False)
            return bytes(Datagram(Service.TMS, address(dst, self.group_network), payload))
        ip = address(dst, self.radio_network)
        unit = str(unit_number(dst))
        held = self._seq_of.get((unit, msg_id))
        seq = self._next(unit) if held is None else held  # a retry keeps its number
        payload = tms.text(text, seq)
        if held is None:
            self._track(unit, msg_id, seq)  # only once the text could be encoded
        return bytes(Datagram(Service.TMS, ip, payload))

    def encode_poll(self, unit: str) -> bytes:
        """An LRRP immediate location request to ``unit``."""
        return bytes(Datagram(Service.LRRP, address(unit, self.radio_network),
                              lrrp.immediate_request(self._request_id())))

    # -- inbound -------------------------------------------------------------------------------

    def _handle(self, d: Datagram, now: float) -> list[RadioEvent]:
        unit = unit_of(d.ip)
        try:
            if d.service is Service.LRRP:
                return self._location(d, unit)
            if d.service is Service.ARS:
                return self._registration(d, unit)
            return self._text(d, unit, now)
        except MalformedError as exc:
            self.drops.drop("malformed", len(d.payload), f"{d.service.name} from {d.ip_text}: {exc}")
        except UnsupportedError as exc:
            self.drops.drop("unsupported", len(d.payload), f"{d.service.name} from {d.ip_text}: {exc}")
        return []

    def _location(self, d: Datagram, unit: str) -> list[RadioEvent]:
        messages, problem = lrrp.parse(d.payload)
        events: list[RadioEvent] = []
        for m in messages:
            if m.unknown_token is not None:
                self.drops.drop("unknown_token", 0, f"LRRP token 0x{m.unknown_token:02X} from {d.ip_text}")
            if m.document in lrrp.REPORTS:
                events.append(m.fix(unit))
            elif m.document in lrrp.REQUESTS:
                self.drops.drop("unsupported", 0, f"LRRP request 0x{m.document:02X}: we are not a radio")
            elif m.result not in (lrrp.SUCCESS, lrrp.NO_RESULT):
                log.info("%s: radio %s answered LRRP request %s with result %d", self.name, unit, m.request_id,
                         m.result)
        if problem is not None:
            raise problem
        return events

    def _registration(self, d: Datagram, unit: str) -> list[RadioEvent]:
        m = ars.parse(d.payload)
        if m.kind == ars.ArsType.DEVICE_REGISTRATION:
            self._send(Service.ARS, d.ip, ars.answer(refresh=ARS_REFRESH))
            if self.report_interval_s > 0:
                self._send(Service.LRRP, d.ip, lrrp.triggered_request(self._request_id(), self.report_interval_s))
            return [Presence(unit=unit, online=True)]
        if m.kind == ars.ArsType.DEVICE_DEREGISTRATION:
            return [Presence(unit=unit, online=False)]
        if m.kind == ars.ArsType.ANSWER:
            return []  # a radio's answer to a query: we send none
        raise UnsupportedError(f"ARS type {m.kind}")

    def _text(self, d: Datagram, unit: str, now: float) -> list[RadioEvent]:
        m = tms.parse(d.payload)
        if m.kind is tms.TmsKind.ACK:
            return self._delivery(unit, m.seq, d.ip_text)
        if m.kind is tms.TmsKind.AVAILABILITY:
            if m.ack_requested:
                self._send(Service.TMS, d.ip, tms.ack(None))
            return []
        if m.kind is not tms.TmsKind.TEXT:
            raise UnsupportedError(f"TMS message type 0x{m.header & 0x1F:02X}")
        if m.encoding not in (None, 0, tms.UTF16LE):
            raise UnsupportedError(f"TMS text encoding {m.encoding}")
        if m.ack_requested:
            self._send(Service.TMS, d.ip, tms.ack(m.seq))
        body = m.text()
        if m.seq is not None and self._repeat(unit, m.seq, body, now):
            self.drops.drop("duplicate", 0, f"text {m.seq} from radio {unit} again")
            return []
        return [Text(src=unit, dst=self.local_id, text=body)]

    def _delivery(self, unit: str, seq: int | None, ip: str) -> list[RadioEvent]:
        msg_id = self._msg_of.get((unit, seq)) if seq is not None else None
        if msg_id is None:
            self.drops.drop("unmatched_ack", 0, f"TMS acknowledgement {seq} from {ip}")
            return []
        return [Delivery(msg_id=msg_id, unit=unit, ok=True)]

    def _repeat(self, unit: str, seq: int, body: str, now: float) -> bool:
        key = (unit, seq)
        held = self._heard.get(key)
        self._heard[key] = (body, now)
        self._heard.move_to_end(key)
        while len(self._heard) > MAX_TRACKED:
            self._heard.popitem(last=False)
        return held is not None and held[0] == body and now - held[1] <= DUPLICATE_WINDOW_S

    # -- outbound ------------------------------------------------------------------------------

    def _next(self, key: str, *, group: bool = False) -> int:
        slot = f"g{key}" if group else key
        seq = self._next_seq.get(slot)
        if seq is None:
            seq = secrets.randbelow(tms.MAX_SEQ + 1)  # a fresh codec does not reuse a recent number
        self._next_seq[slot] = (seq + 1) & tms.MAX_SEQ
        return seq

    def _track(self, unit: str, msg_id: int, seq: int) -> None:
        stale = self._msg_of.get((unit, seq))
        if stale is not None:
            self._seq_of.pop((unit, stale), None)  # 128 texts later the number comes round again
        self._seq_of[(unit, msg_id)] = seq
        self._msg_of[(unit, seq)] = msg_id
        while len(self._seq_of) > MAX_TRACKED:
            (old_unit, _), old_seq = self._seq_of.popitem(last=False)
            self._msg_of.pop((old_unit, old_seq), None)

    def _request_id(self) -> int:
        self._request = (self._request + 1) & 0xFFFFFFFF
        return self._request

    def _send(self, service: Service, ip: bytes, payload: bytes) -> None:
        self.outbox.append(bytes(Datagram(service, ip, payload)))
        if len(self.outbox) > self.max_outbox:
            del self.outbox[0]
            self.drops.drop("outbox_overflow", 0, "the adapter is not draining the outbox")
