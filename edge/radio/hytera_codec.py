"""Hytera HRNP + HDAP, the application end: radio events from a Hytera radio or gateway, requests back.

Sans-I/O. ``feed(data, now)`` returns the radio events a chunk completes, and appends to ``outbox``
the frames the protocol obliges us to send back: the HRNP data ack for every data frame (the radio
retransmits until it gets one), the HRNP close ack, an RRS answer to each radio registration, and a
TMP ack for each private text addressed to us. The adapter writes out and clears ``outbox`` after
every ``feed`` and right after opening the link: a fresh codec starts with the HRNP connect request
queued, so one codec per link opening is one HRNP session. ``outbox`` keeps the newest
``max_outbox`` frames; older ones are dropped (counted as ``outbox_overflow``), since a late ack is
as good as none.

Drops, by kind: ``garbage``, ``bad_header``, ``oversize``, ``bad_checksum``, ``stale`` (the HRNP
framer, see ``hytera.HrnpFramer``), ``malformed`` (an HDAP message inside a good HRNP frame that
breaks its layout), ``unsupported`` (a good message we do not decode).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from . import hdap_location, hdap_registration, hdap_text
from .events import RadioEvent, Text
from .framing import DropCounter
from .hdap import HdapMessage, HdapService, MalformedError, unit_number
from .hdap_control import CallTracker
from .hytera import APP, HEADER_LEN, MAX_FRAME, RADIO, STALE_AFTER_S, HrnpFrame, HrnpFramer, HrnpOpcode

log = logging.getLogger(__name__)

REGISTRATION_VALID_S = 3600  # how long a radio's registration holds before it registers again
MAX_OUTBOX = 256
Decoder = Callable[[HdapMessage], list[RadioEvent] | None]


class HrnpState(enum.Enum):
    """Where the HRNP session stands."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


class HyteraCodec:
    """The ``hytera`` framing: HRNP frames carrying HDAP location, text, registration and radio control."""

    name = "hytera"

    def __init__(self, *, local_id: str | int = 1, subnet: int = 10, max_frame: int = MAX_FRAME,
                 stale_after_s: float = STALE_AFTER_S, registration_valid_s: int = REGISTRATION_VALID_S,
                 max_outbox: int = MAX_OUTBOX) -> None:
        self.drops = DropCounter(self.name, log)
        self.frames = 0
        self.outbox: list[bytes] = []
        self.state = HrnpState.CONNECTING
        self.local_id = str(unit_number(local_id))
        self.subnet = subnet
        self.registration_valid_s = registration_valid_s
        self.max_outbox = max_outbox
        self._framer = HrnpFramer(self.drops, max_frame=max_frame, stale_after_s=stale_after_s)
        self._calls = CallTracker()
        self._decoders: dict[HdapService, Decoder] = {
            HdapService.LP: hdap_location.decode,
            HdapService.TMP: hdap_text.decode,
            HdapService.RRS: hdap_registration.decode,
            HdapService.RCP: self._calls.decode,
        }
        self._packet = 0
        self._request = 0
        self._queue(HrnpFrame(HrnpOpcode.CONNECT, src=APP, dst=RADIO))

    def feed(self, data: bytes, now: float) -> list[RadioEvent]:
        """Events completed by ``data``; replies owed to the radio are appended to ``outbox``."""
        events: list[RadioEvent] = []
        for frame in self._framer.feed(data, now):
            events += self._handle(frame)
        self.frames = self._framer.frames
        return events

    @property
    def pending(self) -> int:
        """Bytes held for a frame not yet complete."""
        return self._framer.pending

    def encode_text(self, dst: str, text: str, *, group: bool, msg_id: int) -> bytes:
        """A TMP private or group text from us, in an HRNP data frame; EncodeError if it cannot be sent."""
        message = hdap_text.text(self.local_id, dst, text, group=group, msg_id=msg_id, subnet=self.subnet)
        return self._data(message)

    def encode_poll(self, unit: str) -> bytes:
        """An LP immediate location request for ``unit``, in an HRNP data frame."""
        self._request = (self._request + 1) & 0xFFFFFFFF
        return self._data(hdap_location.standard_request(unit, subnet=self.subnet, request_id=self._request))

    def _handle(self, frame: HrnpFrame) -> list[RadioEvent]:
        op = frame.opcode
        if op is HrnpOpcode.DATA:
            self._queue(frame.ack())
            if self.state is HrnpState.CONNECTING:
                self._set_state(HrnpState.CONNECTED)  # some gateways send data without a handshake
            return self._decode(frame.payload)
        if op is HrnpOpcode.ACCEPT:
            self._set_state(HrnpState.CONNECTED)
        elif op is HrnpOpcode.CLOSE:
            self._queue(HrnpFrame(HrnpOpcode.CLOSE_ACK, src=frame.dst, dst=frame.src,
                                  packet_number=frame.packet_number))
            self._set_state(HrnpState.CLOSED)
        elif op in (HrnpOpcode.REJECT, HrnpOpcode.CLOSE_ACK):
            self._set_state(HrnpState.CLOSED)
        elif op is HrnpOpcode.CONNECT:
            self.drops.drop("unsupported", HEADER_LEN, "HRNP connect: we are the application end, not the radio")
        return []

    def _decode(self, payload: bytes) -> list[RadioEvent]:
        try:
            message = HdapMessage.parse(payload)
            decoder = self._decoders.get(message.service)
            events = decoder(message) if decoder else None
        except MalformedError as exc:
            self.drops.drop("malformed", len(payload), str(exc))
            return []
        if events is None:
            self.drops.drop("unsupported", len(payload),
                            f"HDAP {message.service.name} opcode 0x{message.opcode:04X}")
            return []
        self._answer(message, events)
        return events

    def _answer(self, message: HdapMessage, events: list[RadioEvent]) -> None:
        ip = hdap_registration.needs_answer(message)
        if ip is not None:
            self._send(hdap_registration.registration_answer(ip, valid_s=self.registration_valid_s))
        for event in events:
            if isinstance(event, Text) and not event.group and event.dst == self.local_id and event.msg_id is not None:
                self._send(hdap_text.ack(event.msg_id, event.dst, src=event.src, subnet=self.subnet))

    def _data(self, message: HdapMessage) -> bytes:
        self._packet = (self._packet + 1) & 0xFFFF
        return bytes(HrnpFrame(HrnpOpcode.DATA, bytes(message), src=APP, dst=RADIO, packet_number=self._packet))

    def _send(self, message: HdapMessage) -> None:
        self.outbox.append(self._data(message))
        self._trim()

    def _queue(self, frame: HrnpFrame) -> None:
        self.outbox.append(bytes(frame))
        self._trim()

    def _trim(self) -> None:
        if len(self.outbox) > self.max_outbox:
            del self.outbox[0]
            self.drops.drop("outbox_overflow", 0, "the adapter is not draining the outbox")

    def _set_state(self, state: HrnpState) -> None:
        if state is not self.state:
            log.info("%s: HRNP %s -> %s", self.name, self.state.value, state.value)
            self.state = state

