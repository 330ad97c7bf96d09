"""The gateway's end of each framing, for the emulator: radio events to bytes, fieldkit's requests back.

Each side uses the same framing code fieldkit decodes with, from the other end, so the simulation
exercises the real encoders and framers in both directions.
"""

from __future__ import annotations

from edge.radio import Alarm, CallEnd, CallStart, Delivery, EncodeError, Fix, Presence, RadioEvent, Text
from edge.radio.binary import EXAMPLE, BinaryGateway
from edge.radio.binary_description import BinaryFraming, Poll
from edge.radio.binary_description import load as load_framing
from edge.radio.hdap_location import PollRequest as HytPoll
from edge.radio.hytera_gateway import HyteraGateway
from edge.radio.nmea_kenwood import encode_unit_fix

from .pdt_gateway import GatewaySide, PollRequest, Request, TextRequest


class HyteraSide:
    """A Hytera repeater/radio gateway speaking HRNP + HDAP."""

    name = "hytera"

    def __init__(self, *, dispatcher_id: int = 1, subnet: int = 10) -> None:
        self._gw = HyteraGateway(dispatcher_id=dispatcher_id, subnet=subnet)
        self.outbox = self._gw.outbox  # HRNP accept and acks for fieldkit

    def encode(self, event: RadioEvent) -> bytes | None:
        gw = self._gw
        if isinstance(event, Fix) and event.unit is not None:
            return gw.triggered_location(event.unit, event)
        if isinstance(event, Alarm):
            return gw.emergency_alarm(event.unit, end=event.cleared)
        if isinstance(event, Text):
            return gw.text(event.src, event.dst, event.text, group=event.group, msg_id=event.msg_id or 0)
        if isinstance(event, Delivery):
            return gw.delivery(event.msg_id, event.unit, ok=event.ok)
        if isinstance(event, Presence):
            return gw.registration(event.unit, online=event.online)
        if isinstance(event, CallStart):
            return gw.call_start(event.caller, event.talkgroup, event.call_type)
        if isinstance(event, CallEnd):
            return gw.call_end(event.caller, event.talkgroup)
        return None  # HDAP has no public battery/status layout

    def requests(self, data: bytes, now: float) -> list[Request]:
        out: list[Request] = []
        for item in self._gw.feed(data, now):
            if isinstance(item, HytPoll):
                out.append(PollRequest(unit=item.unit))
            elif isinstance(item, Text) and item.msg_id is not None:
                out.append(TextRequest(dst=item.dst, text=item.text, group=item.group, msg_id=item.msg_id))
        return out


class NmeaSide:
    """A gateway that only relays positions as Kenwood unit sentences ($PKNDS for DMR ids)."""

    name = "nmea"

    def __init__(self) -> None:
        self.outbox: list[bytes] = []

    def encode(self, event: RadioEvent) -> bytes | None:
        if isinstance(event, Fix) and event.unit is not None:
            return encode_unit_fix(event)
        return None  # NMEA carries no texts, calls or alarms from DMR radios

    def requests(self, data: bytes, now: float) -> list[Request]:
        return []  # one-way: fieldkit cannot send texts or polls over NMEA


class BinarySide:
    """A gateway speaking a described binary framing (by default the example PDT framing)."""

    def __init__(self, description: BinaryFraming) -> None:
        self._gw = BinaryGateway(description)
        self.name = self._gw.name
        self.outbox: list[bytes] = []

    def encode(self, event: RadioEvent) -> bytes | None:
        try:
            return self._gw.encode(event)
        except EncodeError:
            return None  # the description has no message for this kind of event

    def requests(self, data: bytes, now: float) -> list[Request]:
        out: list[Request] = []
        for item in self._gw.feed(data, now):
            if isinstance(item, Poll):
                out.append(PollRequest(unit=item.unit))
            elif item.msg_id is not None:
                out.append(TextRequest(dst=item.dst, text=item.text, group=item.group, msg_id=item.msg_id))
        return out


def side_for(framing: str, description: BinaryFraming | None = None) -> GatewaySide:
    """The gateway side of a framing by its configuration name."""
    if framing == "hytera":
        return HyteraSide()
    if framing == "nmea":
        return NmeaSide()
    if framing == "binary":
        return BinarySide(description or load_framing(EXAMPLE))
    raise ValueError(f"the simulated gateway cannot speak {framing!r} yet")
