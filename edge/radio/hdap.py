"""Hytera DMR Application Protocol (HDAP): the message envelope inside an HRNP data frame.

Every HDAP service shares one envelope (OK-DMR/ok-dmrlib ``hytera/pdu/hdap.py``, the ADK notes in
``HytPacket_TxCtrl``)::

    0    message header   service: 0x02 RCP, 0x08 LP, 0x09 TMP, 0x11 RRS, 0x12 TP, 0x13 DTP,
                          0x14 DDS; bit 7 set marks a "reliable" message
    1    opcode           u16
    3    length           u16, the payload bytes that follow
    5    payload
    5+n  checksum         (~(sum of opcode, length and payload bytes) + 0x33) & 0xFF
    6+n  0x03             message end

Radio Control Protocol (RCP) opcode and length are little-endian; every other service is
big-endian. The 0x03 end byte also occurs inside payloads (radio ids, request ids, UTF-16 text), so
a message is delimited by its length field, never by searching for 0x03.

Radio ids travel as 4-byte "radio IPs": a subnet byte, then the id as a 24-bit big-endian number
(ok-dmrlib ``hytera/pdu/radio_ip.py``; the ADK TMP decoder reads ids the same way). Radio 1001 on
subnet 10 is 10.0.3.233.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from .framing import EncodeError, RadioError

END = 0x03
ENVELOPE_LEN = 7  # header, opcode, length, checksum, end
MAX_RADIO_ID = 0xFFFFFF


class HdapService(enum.IntEnum):
    """The HDAP service a message belongs to (the message header, reliable bit cleared)."""

    RCP = 0x02  # radio control
    LP = 0x08  # location
    TMP = 0x09  # text messages
    RRS = 0x11  # radio registration
    TP = 0x12  # telemetry
    DTP = 0x13  # data transfer
    DDS = 0x14  # data delivery states


class MalformedError(RadioError):
    """An HDAP message that breaks its own layout (length, checksum, end byte, field values)."""


@dataclass(frozen=True, slots=True)
class HdapMessage:
    """One HDAP message: service, opcode (as a number, whatever the byte order) and payload."""

    service: HdapService
    opcode: int
    payload: bytes
    reliable: bool = False

    def __bytes__(self) -> bytes:
        order = _byte_order(self.service)
        if len(self.payload) > 0xFFFF:
            raise EncodeError(f"HDAP payload of {len(self.payload)} bytes exceeds the 16-bit length field")
        checked = self.opcode.to_bytes(2, order) + len(self.payload).to_bytes(2, order) + self.payload
        header = self.service | (0x80 if self.reliable else 0)
        return bytes((header,)) + checked + bytes((hdap_checksum(checked), END))

    @classmethod
    def parse(cls, data: bytes) -> HdapMessage:
        """Parse exactly one HDAP message; raises MalformedError naming what is wrong."""
        if len(data) < ENVELOPE_LEN:
            raise MalformedError(f"HDAP message too short: {len(data)} bytes")
        try:
            service = HdapService(data[0] & 0x7F)
        except ValueError:
            raise MalformedError(f"unknown HDAP service 0x{data[0]:02X}") from None
        order = _byte_order(service)
        length = int.from_bytes(data[3:5], order)
        if ENVELOPE_LEN + length != len(data):
            raise MalformedError(f"HDAP length field says {length} payload bytes in a {len(data)}-byte message")
        if data[-1] != END:
            raise MalformedError(f"HDAP message ends with 0x{data[-1]:02X}, not 0x03")
        expected = hdap_checksum(data[1:-2])
        if data[-2] != expected:
            raise MalformedError(f"HDAP checksum 0x{data[-2]:02X} does not match 0x{expected:02X}")
        return cls(service, int.from_bytes(data[1:3], order), bytes(data[5:-2]), bool(data[0] & 0x80))


def _byte_order(service: HdapService) -> Literal["little", "big"]:
    return "little" if service is HdapService.RCP else "big"


def hdap_checksum(checked: bytes | bytearray | memoryview) -> int:
    """HDAP checksum of the opcode, length and payload bytes: ``~sum + 0x33``, low byte."""
    return (0x33 - 1 - sum(checked)) & 0xFF


def radio_ip(unit: str | int, subnet: int) -> bytes:
    """The 4-byte radio IP of a unit id (``"1001"`` -> 10.0.3.233 on subnet 10)."""
    number = unit_number(unit)
    return bytes((subnet & 0xFF,)) + number.to_bytes(3, "big")


def unit_number(unit: str | int) -> int:
    """A unit or talkgroup id as a number in the 24-bit DMR range; EncodeError otherwise."""
    try:
        number = int(unit)
    except ValueError:
        raise EncodeError(f"radio id {unit!r} is not a number") from None
    if not 0 <= number <= MAX_RADIO_ID:
        raise EncodeError(f"radio id {number} is outside the 24-bit DMR range")
    return number


def unit_of(ip: bytes | bytearray | memoryview) -> str:
    """The decimal radio id in a 4-byte radio IP (the subnet byte is not part of the id)."""
    if len(ip) != 4:
        raise MalformedError(f"radio IP must be 4 bytes, got {len(ip)}")
    return str(int.from_bytes(ip[1:4], "big"))


def u32(value: int, what: str) -> bytes:
    """``value`` as a big-endian u32 field; EncodeError when it does not fit."""
    if not 0 <= value <= 0xFFFFFFFF:
        raise EncodeError(f"{what} {value} does not fit in 32 bits")
    return value.to_bytes(4, "big")
