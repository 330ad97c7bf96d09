"""HDAP Radio Registration Service (RRS, service 0x11): radios coming online and leaving.

The opcode is 0x00 then the RRS type; payloads are big-endian (OK-DMR/dmr-kaitai
``radio_registration_service.ksy``; captures in ok-dmrlib ``tests/dmrlib/hytera/pdu/test_rrs.py``)::

    0x03 registration             radio IP
    0x01 going offline            radio IP
    0x80 registration answer      radio IP, result u8 (0 ok), valid time u32 (s before the radio re-registers)
    0x02 online check             radio IP
    0x82 online check answer      radio IP, state u8 (0 online, 1 offline)

The application answers each registration (ok-dmrlib's RRS application does); a radio that gets no
answer keeps registering.
"""

from __future__ import annotations

from .events import Presence, RadioEvent
from .hdap import HdapMessage, HdapService, MalformedError, radio_ip, u32, unit_of

REGISTRATION = 0x03
GOING_OFFLINE = 0x01
REGISTRATION_ANSWER = 0x80
ONLINE_CHECK = 0x02
ONLINE_CHECK_ANSWER = 0x82


def decode(msg: HdapMessage) -> list[RadioEvent] | None:
    """Presence in an RRS message; None for a type this decoder does not handle."""
    kind = msg.opcode & 0xFF
    p = msg.payload
    if kind in (REGISTRATION, GOING_OFFLINE):
        _need(p, 4)
        return [Presence(unit=unit_of(p[0:4]), online=kind == REGISTRATION)]
    if kind == ONLINE_CHECK_ANSWER:
        _need(p, 5)
        return [Presence(unit=unit_of(p[0:4]), online=p[4] == 0)]
    if kind in (REGISTRATION_ANSWER, ONLINE_CHECK):
        return []
    return None


def _need(p: bytes, n: int) -> None:
    if len(p) < n:
        raise MalformedError(f"RRS payload of {len(p)} bytes, needs {n}")


def registration(unit: str | int, *, subnet: int, online: bool = True) -> HdapMessage:
    """0x03 / 0x01: a radio registering or going offline (the gateway end)."""
    return HdapMessage(HdapService.RRS, REGISTRATION if online else GOING_OFFLINE, radio_ip(unit, subnet))


def registration_answer(ip: bytes, *, valid_s: int, result: int = 0, reliable: bool = False) -> HdapMessage:
    """0x80: our answer to a registration from the radio at ``ip``."""
    payload = ip + bytes((result & 0xFF,)) + u32(valid_s, "valid time")
    return HdapMessage(HdapService.RRS, REGISTRATION_ANSWER, payload, reliable)


def needs_answer(msg: HdapMessage) -> bytes | None:
    """The radio IP to answer when ``msg`` is a registration, else None."""
    if msg.service is HdapService.RRS and msg.opcode & 0xFF == REGISTRATION and len(msg.payload) >= 4:
        return msg.payload[0:4]
    return None
