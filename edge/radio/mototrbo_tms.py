"""MOTOTRBO TMS (Text Message Service, UDP 4007): texts in UTF-16LE and their acknowledgements.

Layout (big-endian lengths)::

    0  2  length          bytes that follow
    2  1  first header    bit 7 more headers, bit 6 acknowledgement requested, bit 5 reserved
                          (set in simple texts), bit 4 control, bits 3-0 type:
                          user (bit 4 clear) 0 simple text; control 0 service availability,
                          control 15 acknowledgement
    3  1  address length  then that many address bytes (empty between a radio and its server)
       headers            while the previous header byte had bit 7 set: the first holds the 5 low
                          bits of the 7-bit sequence number, the second its 2 high bits (bits 6-5)
                          and the encoding (bits 4-0: 4 is UCS-2/UTF-16LE); further ones are skipped
       text               the rest, UTF-16LE (simple texts only)

A radio repeats an unacknowledged text; the acknowledgement carries the text's sequence number
and comes from the radio that received it, so the sender's address tells whose it is. Radios do
not acknowledge texts sent to a talkgroup's address (MOTOTRBO wiki "Text Messaging": a group
sender only learns the text was transmitted); current radios show up to 280 characters.

Captures in OK-DMR/ok-dmrlib ``tests/dmrlib/motorola/test_tms.py`` (layout in
``motorola/text_messaging_service.py``): the text "ahoj", sequence 85, acknowledgement requested,
address ``01`` is ``000DE001019544610068006F006A00``; the acknowledgement of sequence 53 is
``00049F009520``; service availability ``0003D00001`` and its acknowledgement ``00021F00``.
pboyd04/Moto.Net ``TMS/TMSMessage.cs`` and rick51231/node-dmr-lib ``Protocols/TMS.js`` put CR LF
before the text they send and strip it from texts they receive; we strip it and do not add it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .framing import EncodeError
from .mototrbo_records import MalformedError

MORE_HEADERS = 0x80
ACK_REQUESTED = 0x40
RESERVED = 0x20
CONTROL = 0x10
UTF16LE = 0x04
MAX_TEXT_UNITS = 280
MAX_SEQ = 0x7F


class TmsKind(enum.Enum):
    """What a TMS message is."""

    TEXT = "text"
    ACK = "ack"
    AVAILABILITY = "availability"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class TmsMessage:
    """One decoded TMS message."""

    kind: TmsKind
    header: int
    address: bytes = b""
    seq: int | None = None
    encoding: int | None = None
    body: bytes = b""

    @property
    def ack_requested(self) -> bool:
        """The sender waits for our acknowledgement."""
        return bool(self.header & ACK_REQUESTED)

    def text(self) -> str:
        """The text, without the CR LF some senders put first or padding NULs."""
        text = self.body.decode("utf-16-le", errors="replace")  # an odd last byte becomes U+FFFD
        return text.removeprefix("\r\n").rstrip("\x00")


def parse(payload: bytes) -> TmsMessage:
    """Parse one TMS message; MalformedError names what breaks the layout."""
    if len(payload) < 4:
        raise MalformedError(f"TMS message of {len(payload)} bytes")
    length = int.from_bytes(payload[0:2], "big")
    if length < 2 or 2 + length > len(payload):
        raise MalformedError(f"TMS length field says {length} bytes, {len(payload) - 2} follow")
    body = payload[2 : 2 + length]
    header = body[0]
    address_len = body[1]
    pos = 2 + address_len
    if pos > len(body):
        raise MalformedError(f"TMS address of {address_len} bytes runs past the message")
    address = body[2:pos]
    seq: int | None = None
    encoding: int | None = None
    more = header & MORE_HEADERS
    index = 0
    while more:
        if pos >= len(body):
            raise MalformedError("TMS header announces another header it does not carry")
        b = body[pos]
        if index == 0:
            seq = b & 0x1F
        elif index == 1 and seq is not None:
            seq |= b & 0x60
            encoding = b & 0x1F
        more, pos, index = b & 0x80, pos + 1, index + 1
    control, kind = header & CONTROL, header & 0x0F
    if not control and kind == 0:
        return TmsMessage(TmsKind.TEXT, header, address, seq, encoding, body[pos:])
    if control and kind == 0x0F:
        return TmsMessage(TmsKind.ACK, header, address, seq)
    if control and kind == 0:
        return TmsMessage(TmsKind.AVAILABILITY, header, address)
    return TmsMessage(TmsKind.OTHER, header, address, seq)


def _seq_headers(seq: int, encoding: int | None) -> bytes:
    if not 0 <= seq <= MAX_SEQ:
        raise EncodeError(f"TMS sequence number {seq} does not fit in 7 bits")
    if seq <= 0x1F and encoding is None:
        return bytes((seq,))
    return bytes((MORE_HEADERS | (seq & 0x1F), (seq & 0x60) | (encoding or 0)))


def _message(body: bytes) -> bytes:
    return len(body).to_bytes(2, "big") + body


def text(body: str, seq: int, *, ack_requested: bool = True, address: bytes = b"") -> bytes:
    """A simple text; EncodeError if it is too long for a radio or cannot be put in UTF-16."""
    try:
        encoded = body.encode("utf-16-le")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise EncodeError(f"text cannot be put in UTF-16: {exc.reason}") from None
    if len(encoded) // 2 > MAX_TEXT_UNITS:
        raise EncodeError(f"text of {len(encoded) // 2} UTF-16 units exceeds {MAX_TEXT_UNITS}")
    if len(address) > 0xFF:
        raise EncodeError(f"TMS address of {len(address)} bytes")
    header = MORE_HEADERS | RESERVED | (ACK_REQUESTED if ack_requested else 0)
    return _message(bytes((header, len(address))) + address + _seq_headers(seq, UTF16LE) + encoded)


def ack(seq: int | None) -> bytes:
    """The acknowledgement of text ``seq`` (None: of a message without a sequence number)."""
    if seq is None:
        return _message(bytes((CONTROL | 0x0F, 0)))
    return _message(bytes((MORE_HEADERS | CONTROL | 0x0F, 0)) + _seq_headers(seq, None))
