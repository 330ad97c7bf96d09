"""The radio end of an HRNP link (the HRNP master), for the simulated gateway and for tests.

Sans-I/O like ``HyteraCodec``: ``feed`` takes what the application sent and returns its requests
(texts to send, position polls, the application's acks of radio texts); it appends to ``outbox`` the
HRNP accept, data acks and close acks the application waits for. The builders return complete HRNP
data frames, numbered in sequence, for everything a radio system reports: positions, texts,
delivery reports, registrations, calls and emergencies.
"""

from __future__ import annotations

import logging

from . import hdap_control, hdap_location, hdap_registration, hdap_text
from .events import CallType, Delivery, Fix, Text
from .framing import DropCounter
from .hdap import HdapMessage, HdapService, MalformedError, unit_number
from .hdap_location import PollRequest
from .hytera import APP, MAX_FRAME, RADIO, STALE_AFTER_S, HrnpFrame, HrnpFramer, HrnpOpcode

log = logging.getLogger(__name__)

GatewayRequest = Text | PollRequest | Delivery
MAX_OUTBOX = 1024


class HyteraGateway:
    """A Hytera radio or repeater as the application sees it over HRNP."""

    name = "hytera-gateway"

    def __init__(self, *, dispatcher_id: str | int = 1, subnet: int = 10, max_frame: int = MAX_FRAME,
                 stale_after_s: float = STALE_AFTER_S, max_outbox: int = MAX_OUTBOX) -> None:
        self.drops = DropCounter(self.name, log)
        self.frames = 0
        self.outbox: list[bytes] = []
        self.connected = False
        self.dispatcher_id = str(unit_number(dispatcher_id))
        self.subnet = subnet
        self.max_outbox = max_outbox
        self._framer = HrnpFramer(self.drops, max_frame=max_frame, stale_after_s=stale_after_s)
        self._packet = 0

    def feed(self, data: bytes, now: float) -> list[GatewayRequest]:
        """The application's requests completed by ``data``; HRNP replies go to ``outbox``."""
        requests: list[GatewayRequest] = []
        for frame in self._framer.feed(data, now):
            if frame.opcode is HrnpOpcode.CONNECT:
                self._reply(frame, HrnpOpcode.ACCEPT)
                self.connected = True
            elif frame.opcode is HrnpOpcode.CLOSE:
                self._reply(frame, HrnpOpcode.CLOSE_ACK)
                self.connected = False
            elif frame.opcode is HrnpOpcode.DATA:
                self._reply(frame, HrnpOpcode.DATA_ACK)
                requests += self._decode(frame.payload)
        self.frames = self._framer.frames
        return requests

    def _decode(self, payload: bytes) -> list[GatewayRequest]:
        try:
            message = HdapMessage.parse(payload)
            if message.service is HdapService.LP:
                poll = hdap_location.decode_request(message)
                return [poll] if poll else []
            if message.service is HdapService.TMP:
                events = hdap_text.decode(message) or []
                return [e for e in events if isinstance(e, Text | Delivery)]
        except MalformedError as exc:
            self.drops.drop("malformed", len(payload), str(exc))
        return []  # RRS answers and the rest need nothing from a simulated radio

    def _reply(self, frame: HrnpFrame, opcode: HrnpOpcode) -> None:
        reply = HrnpFrame(opcode, src=frame.dst, dst=frame.src, packet_number=frame.packet_number,
                          version=frame.version)
        self.outbox.append(bytes(reply))
        if len(self.outbox) > self.max_outbox:
            del self.outbox[0]

    def data(self, message: HdapMessage) -> bytes:
        """``message`` in the next numbered HRNP data frame from the radio."""
        self._packet = (self._packet + 1) & 0xFFFF
        return bytes(HrnpFrame(HrnpOpcode.DATA, bytes(message), src=RADIO, dst=APP, packet_number=self._packet))

    def location(self, unit: str | int, fix: Fix, *, request_id: int = 0) -> bytes:
        """A radio's answer to a poll (LP A002)."""
        return self.data(hdap_location.standard_answer(unit, fix, subnet=self.subnet, request_id=request_id))

    def triggered_location(self, unit: str | int, fix: Fix, *, request_id: int = 0) -> bytes:
        """A radio's periodic position report (LP C003)."""
        return self.data(hdap_location.triggered_report(unit, fix, subnet=self.subnet, request_id=request_id))

    def emergency(self, unit: str | int, fix: Fix) -> bytes:
        """A radio's emergency report with its position (LP B003)."""
        return self.data(hdap_location.emergency_report(unit, fix, subnet=self.subnet))

    def emergency_alarm(self, unit: str | int, *, end: bool = False) -> bytes:
        """A repeater's status for an emergency alarm from ``unit`` (RCP B845)."""
        return self.data(hdap_control.emergency_alarm(unit, end=end))

    def text(self, src: str | int, dst: str | int, body: str, *, group: bool = False, msg_id: int = 0,
             ack_required: bool = True) -> bytes:
        """A text from a radio (TMP A1/B1)."""
        return self.data(hdap_text.text(src, dst, body, group=group, msg_id=msg_id, subnet=self.subnet,
                                        ack_required=ack_required))

    def delivery(self, msg_id: int, unit: str | int, *, ok: bool = True, group: bool = False) -> bytes:
        """The delivery report on the application's text ``msg_id`` (TMP A2/B2)."""
        result = 0 if ok else hdap_text.NO_CONTACT
        return self.data(hdap_text.ack(msg_id, unit, src=self.dispatcher_id, subnet=self.subnet, result=result,
                                       group=group))

    def registration(self, unit: str | int, *, online: bool = True) -> bytes:
        """A radio registering or going offline (RRS 0x03 / 0x01)."""
        return self.data(hdap_registration.registration(unit, subnet=self.subnet, online=online))

    def call_start(self, caller: str | int, talkgroup: str | int, call_type: CallType = CallType.GROUP) -> bytes:
        """A repeater starting to repeat ``caller`` (RCP B845)."""
        return self.data(hdap_control.call_start(caller, talkgroup, call_type))

    def call_end(self, caller: str | int, talkgroup: str | int, call_type: CallType = CallType.GROUP) -> bytes:
        """A repeater in hang time after ``caller`` (RCP B845)."""
        return self.data(hdap_control.call_end(caller, talkgroup, call_type))
