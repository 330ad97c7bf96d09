"""MOTOTRBO ARS (Automatic Registration Service, UDP 4005): radios announcing themselves, and our answer.

A radio registers when it powers on or changes to a data-capable channel, and keeps repeating the
registration until the server acknowledges it. Layout (big-endian)::

    0  2  length          bytes that follow
    2  1  first header    bit 7 more headers, bit 6 acknowledged (in an answer: set means failure),
                          bit 5 priority, bit 4 control, bits 3-0 PDU type:
                          0 device registration, 1 device deregistration, 4 query,
                          5 user registration, 6 user deregistration, 7 user registration answer,
                          15 registration or query answer
    registration:  [event/encoding header if bit 7: bits 6-5 event (1 initial, 2 refresh),
                   bits 4-0 encoding (0 UTF-8)], then three length-prefixed strings: device id
                   (the radio id in decimal), user id, password
    answer:        [second header if bit 7: refresh time in 30-minute steps, or the failure reason]

Captures in OK-DMR/ok-dmrlib ``tests/dmrlib/motorola/test_ars.py`` (layout in
``motorola/automatic_registration_service.py``; also sdrtrunk ``ip/ars/``): radio 11 registering is
``0007F0200231310000``, a deregistration ``000131``, the server's success answer with a 30-minute
refresh ``0002BF01``. Some captures end with two more bytes (``1080``) after the message; bytes
past the length are ignored.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .framing import EncodeError
from .mototrbo_records import MalformedError


class ArsType(enum.IntEnum):
    """ARS PDU types."""

    DEVICE_REGISTRATION = 0x0
    DEVICE_DEREGISTRATION = 0x1
    QUERY = 0x4
    USER_REGISTRATION = 0x5
    USER_DEREGISTRATION = 0x6
    USER_REGISTRATION_ANSWER = 0x7
    ANSWER = 0xF


MORE_HEADERS = 0x80
ACKNOWLEDGED = 0x40
PRIORITY = 0x20
CONTROL = 0x10
MAX_STRING = 64  # device ids are decimal radio ids; anything longer is not a radio's


@dataclass(frozen=True, slots=True)
class ArsMessage:
    """One decoded ARS message."""

    kind: int  # an ArsType value, or another 4-bit type this module does not know
    header: int
    device_id: str | None = None  # registrations only
    refresh: int | None = None  # answers with a second header: 30-minute steps (or the failure reason)

    @property
    def failed(self) -> bool:
        """For an answer: the acknowledged bit set means the request failed."""
        return bool(self.header & ACKNOWLEDGED)


def parse(payload: bytes) -> ArsMessage:
    """Parse one ARS message; MalformedError names what breaks the layout."""
    if len(payload) < 3:
        raise MalformedError(f"ARS message of {len(payload)} bytes")
    length = int.from_bytes(payload[0:2], "big")
    if length < 1 or 2 + length > len(payload):
        raise MalformedError(f"ARS length field says {length} bytes, {len(payload) - 2} follow")
    body = payload[2 : 2 + length]
    header = body[0]
    kind = header & 0x0F
    pos = 1
    if kind in (ArsType.DEVICE_REGISTRATION, ArsType.USER_REGISTRATION):
        if header & MORE_HEADERS:
            pos += 1
        device, pos = _string(body, pos)
        for _ in range(2):  # user id, password: read to check the layout, not used
            _, pos = _string(body, pos)
        return ArsMessage(kind, header, device_id=device)
    if kind in (ArsType.ANSWER, ArsType.USER_REGISTRATION_ANSWER) and header & MORE_HEADERS:
        if len(body) < 2:
            raise MalformedError("ARS answer announces a second header it does not carry")
        return ArsMessage(kind, header, refresh=body[1] & 0x7F)
    return ArsMessage(kind, header)


def _string(body: bytes, pos: int) -> tuple[str, int]:
    if pos >= len(body):
        raise MalformedError(f"ARS registration ends at byte {pos}, before its strings")
    n = body[pos]
    if pos + 1 + n > len(body):
        raise MalformedError(f"ARS string of {n} bytes runs past the message")
    raw = body[pos + 1 : pos + 1 + n]
    return raw.decode("utf-8", errors="replace"), pos + 1 + n


def _message(body: bytes) -> bytes:
    return len(body).to_bytes(2, "big") + body


def registration(device_id: str, *, initial: bool = True) -> bytes:
    """A radio's device registration (the radio end), with an event/encoding header."""
    raw = device_id.encode("utf-8")
    if len(raw) > MAX_STRING:
        raise EncodeError(f"ARS device id of {len(raw)} bytes")
    header = MORE_HEADERS | ACKNOWLEDGED | PRIORITY | CONTROL | ArsType.DEVICE_REGISTRATION
    event = (1 if initial else 2) << 5
    return _message(bytes((header, event, len(raw))) + raw + b"\x00\x00")


def deregistration() -> bytes:
    """A radio's device deregistration (the radio end): it is switching off or leaving the channel."""
    return _message(bytes((PRIORITY | CONTROL | ArsType.DEVICE_DEREGISTRATION,)))


def answer(*, refresh: int = 1, ok: bool = True) -> bytes:
    """Our answer to a registration: success with a refresh time in 30-minute steps (0: no refresh)."""
    header = MORE_HEADERS | PRIORITY | CONTROL | ArsType.ANSWER | (0 if ok else ACKNOWLEDGED)
    return _message(bytes((header, refresh & 0x7F)))
