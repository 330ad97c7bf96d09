"""HDAP Text Message Protocol (TMP, service 0x09): short texts in UTF-16LE and their acknowledgements.

The two opcode bytes are a flag byte and the service (OK-DMR/dmr-kaitai
``text_message_protocol.ksy``; captures in ok-dmrlib ``tests/dmrlib/hytera/pdu/test_tmp.py``)::

    flags     bit 7 ack flag, bit 6 option flag (an option length u16 leads the payload and the
              option bytes end it)
    0xA1      private text       request id u32, destination IP, source IP, UTF-16LE text
    0xA2      private text ack   request id u32, destination IP, source IP, result u8
    0xB1      group text         request id u32, group IP, source IP, UTF-16LE text
    0xB2      group text ack     request id u32, group IP, result u8

dmr-kaitai reads ack flag 0 as "ack required", ok-dmrlib calls bit 7 "confirmed"; the captured text
carries 0x80 and is acknowledged all the same. So we ask for acks with 0x00 and acknowledge every
private text addressed to us whatever the flag. In both captured acks the destination IP is the
original text's destination, so an ack reports on the unit (or group) in its destination field.
Result 0 is delivered; 1 fail, 3 invalid parameters, 4 channel busy, 5 receive only, 6 low
battery, 7 PLL unlock, 8 no ack on the private call, 9 repeater wake-up failed, 10 no contact,
11 transmit denied, 12 transmit interrupted.
"""

from __future__ import annotations

from .events import Delivery, RadioEvent, Text
from .framing import EncodeError
from .hdap import HdapMessage, HdapService, MalformedError, radio_ip, u32, unit_of

PRIVATE = 0xA1
PRIVATE_ACK = 0xA2
GROUP = 0xB1
GROUP_ACK = 0xB2
ACK_NOT_REQUIRED = 0x80
HAS_OPTION = 0x40
NO_CONTACT = 0x0A
MAX_TEXT_UNITS = 256  # UTF-16 code units we put in one message; Hytera does not publish its limit


def decode(msg: HdapMessage) -> list[RadioEvent] | None:
    """Events in a TMP message; None for a service this decoder does not handle (short data, ...)."""
    service = msg.opcode & 0xFF
    body = _body(msg)
    if service in (PRIVATE, GROUP):
        _need(body, 12)
        return [Text(src=unit_of(body[8:12]), dst=unit_of(body[4:8]), text=_text(body[12:]),
                     group=service == GROUP, msg_id=int.from_bytes(body[0:4], "big"))]
    if service == PRIVATE_ACK:
        _need(body, 13)
        return [Delivery(msg_id=int.from_bytes(body[0:4], "big"), unit=unit_of(body[4:8]), ok=body[12] == 0)]
    if service == GROUP_ACK:
        _need(body, 9)
        return [Delivery(msg_id=int.from_bytes(body[0:4], "big"), unit=unit_of(body[4:8]), ok=body[8] == 0)]
    return None


def _body(msg: HdapMessage) -> bytes:
    p = msg.payload
    if not (msg.opcode >> 8) & HAS_OPTION:
        return p
    _need(p, 2)
    option_len = int.from_bytes(p[0:2], "big")
    if option_len > len(p) - 2:
        raise MalformedError(f"TMP option of {option_len} bytes in a {len(p)}-byte payload")
    return p[2 : len(p) - option_len]


def _need(body: bytes, n: int) -> None:
    if len(body) < n:
        raise MalformedError(f"TMP payload of {len(body)} bytes, needs {n}")


def _text(raw: bytes) -> str:
    # Some radios pad the text with NULs; an odd trailing byte becomes U+FFFD rather than an error.
    return raw.decode("utf-16-le", errors="replace").rstrip("\x00")


def text(src: str | int, dst: str | int, body: str, *, group: bool, msg_id: int, subnet: int,
         ack_required: bool = True) -> HdapMessage:
    """A1/B1: a private or group text from ``src`` to ``dst``."""
    encoded = _utf16(body)
    if len(encoded) // 2 > MAX_TEXT_UNITS:
        raise EncodeError(f"text of {len(encoded) // 2} UTF-16 units exceeds {MAX_TEXT_UNITS}")
    flags = 0 if ack_required else ACK_NOT_REQUIRED
    payload = u32(msg_id, "message id") + radio_ip(dst, subnet) + radio_ip(src, subnet) + encoded
    return HdapMessage(HdapService.TMP, (flags << 8) | (GROUP if group else PRIVATE), payload)


def _utf16(body: str) -> bytes:
    try:
        return body.encode("utf-16-le")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise EncodeError(f"text cannot be put in UTF-16: {exc.reason}") from None


def ack(msg_id: int, unit: str | int, *, src: str | int, subnet: int, result: int = 0,
        group: bool = False) -> HdapMessage:
    """A2/B2: the delivery report on text ``msg_id`` to ``unit`` (a group id when ``group``)."""
    head = u32(msg_id, "message id") + radio_ip(unit, subnet)
    if group:
        return HdapMessage(HdapService.TMP, (ACK_NOT_REQUIRED << 8) | GROUP_ACK, head + bytes((result & 0xFF,)))
    payload = head + radio_ip(src, subnet) + bytes((result & 0xFF,))
    return HdapMessage(HdapService.TMP, (ACK_NOT_REQUIRED << 8) | PRIVATE_ACK, payload)
