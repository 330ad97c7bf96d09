"""HDAP Radio Control Protocol (RCP, service 0x02): who is talking on which talkgroup, and alarms.

RCP is little-endian, opcode and length included. The call activity comes from the repeater's
broadcast transmit status, opcode 0xB845 (OK-DMR/ok-dmrlib ``hytera/pdu/radio_control_protocol.py``
and the capture in its ``test_rcp.py``; the ADK notes in ``HytPacket_QSO`` read it the same way)::

    mode u16 | status u16 | service u16 | call type u16 | target id u32 | sender id u32

Ids here are plain DMR ids, not radio IPs. Status values: 0 local repeating, 1 local call hang
time, 2 IP repeating, 3 IP call hang time, 4 channel hang time, 5 sleep, 6 remote PTT transmit,
7 remote PTT hang time, 8 remote PTT transmit end, 9 remote PTT wait ack, 10 remote PTT time-out,
11-15 the same for local PTT. Service 1 is voice. Call types: 0 private, 1 group, 2 all,
3 emergency group, 4 remote monitor, 5 emergency alarm, 6-8 priority private/group/all,
12 emergency alarm with call (ok-dmrlib; dmr-kaitai leaves 5 reserved).

A repeater reports the end of one transmission several ways in a row (the ADK trace shows 8, 1, 4),
so ``CallTracker`` keeps the calls in progress and reports each start and end once.
"""

from __future__ import annotations

import struct

from .events import Alarm, AlarmKind, CallEnd, CallStart, CallType, RadioEvent
from .hdap import HdapMessage, HdapService, MalformedError, unit_number

REPEATER_TRANSMIT_STATUS = 0xB845
CALL_REPLY = 0x8841
BROADCAST_CONFIG_REPLY = 0x80C9
SERVICE_VOICE = 0x01
SERVICE_SUPPLEMENTARY = 0x06
SERVICE_VOICE_OF_PHONE = 0x1F
LOCAL_REPEATING = 0x00
LOCAL_CALL_HANG_TIME = 0x01
CALL_EMERGENCY_ALARM = 0x05
CALL_EMERGENCY_ALARM_WITH_CALL = 0x0C
_STARTS = frozenset({0x00, 0x02, 0x06, 0x0B})
_ENDS = frozenset({0x01, 0x03, 0x04, 0x05, 0x07, 0x08, 0x0A, 0x0C, 0x0D, 0x0F})
_CALL_TYPES = {
    0x00: CallType.PRIVATE, 0x06: CallType.PRIVATE,
    0x01: CallType.GROUP, 0x07: CallType.GROUP,
    0x02: CallType.ALL, 0x08: CallType.ALL,
    0x03: CallType.EMERGENCY, CALL_EMERGENCY_ALARM_WITH_CALL: CallType.EMERGENCY,
}
_RCP_CALL_TYPES = {CallType.PRIVATE: 0x00, CallType.GROUP: 0x01, CallType.ALL: 0x02, CallType.EMERGENCY: 0x03}
_STATUS = struct.Struct("<4H2I")
MAX_ACTIVE = 1024  # calls in progress we remember; the oldest is forgotten past this


class CallTracker:
    """Turns RCP broadcast statuses into call starts, ends and alarms, each reported once."""

    def __init__(self) -> None:
        self._active: dict[tuple[str, str, str], None] = {}

    def decode(self, msg: HdapMessage) -> list[RadioEvent] | None:
        """Events in an RCP message; None for an opcode this decoder does not handle."""
        if msg.opcode in (CALL_REPLY, BROADCAST_CONFIG_REPLY):
            return []
        if msg.opcode != REPEATER_TRANSMIT_STATUS:
            return None
        if len(msg.payload) < _STATUS.size:
            raise MalformedError(f"RCP transmit status of {len(msg.payload)} bytes, needs {_STATUS.size}")
        _mode, status, service, call_type, target, sender = _STATUS.unpack_from(msg.payload)
        caller, talkgroup = str(sender), str(target)
        if call_type == CALL_EMERGENCY_ALARM:
            return self._alarm(status, caller)
        kind = _CALL_TYPES.get(call_type)
        if kind is None or service not in (SERVICE_VOICE, SERVICE_VOICE_OF_PHONE):
            return []  # data traffic, remote monitor, radio check, ... : not a voice call
        events: list[RadioEvent] = []
        if call_type == CALL_EMERGENCY_ALARM_WITH_CALL:
            events += self._alarm(status, caller)
        key = ("call", caller, talkgroup)
        if status in _STARTS and key not in self._active:
            self._remember(key)
            events.append(CallStart(caller=caller, talkgroup=talkgroup, call_type=kind))
        elif status in _ENDS and key in self._active:
            del self._active[key]
            events.append(CallEnd(caller=caller, talkgroup=talkgroup))
        return events

    def _alarm(self, status: int, unit: str) -> list[RadioEvent]:
        key = ("alarm", unit, "")
        if status in _STARTS and key not in self._active:
            self._remember(key)
            return [Alarm(unit=unit, kind=AlarmKind.EMERGENCY)]
        if status in _ENDS:
            self._active.pop(key, None)
        return []

    def _remember(self, key: tuple[str, str, str]) -> None:
        if len(self._active) >= MAX_ACTIVE:
            del self._active[next(iter(self._active))]
        self._active[key] = None


def transmit_status(sender: str | int, target: str | int, *, status: int, call_type: int,
                    service: int = SERVICE_VOICE, mode: int = 0) -> HdapMessage:
    """0xB845: a repeater's broadcast transmit status (the gateway end)."""
    payload = _STATUS.pack(mode, status, service, call_type, unit_number(target), unit_number(sender))
    return HdapMessage(HdapService.RCP, REPEATER_TRANSMIT_STATUS, payload)


def call_start(caller: str | int, talkgroup: str | int, call_type: CallType = CallType.GROUP) -> HdapMessage:
    """A repeater starting to repeat ``caller`` on ``talkgroup``."""
    return transmit_status(caller, talkgroup, status=LOCAL_REPEATING, call_type=_RCP_CALL_TYPES[call_type])


def call_end(caller: str | int, talkgroup: str | int, call_type: CallType = CallType.GROUP) -> HdapMessage:
    """A repeater going into call hang time after ``caller`` on ``talkgroup``."""
    return transmit_status(caller, talkgroup, status=LOCAL_CALL_HANG_TIME, call_type=_RCP_CALL_TYPES[call_type])


def emergency_alarm(unit: str | int, *, end: bool = False) -> HdapMessage:
    """A repeater carrying (or, with ``end``, done carrying) an emergency alarm from ``unit``."""
    return transmit_status(unit, 0, status=LOCAL_CALL_HANG_TIME if end else LOCAL_REPEATING,
                           call_type=CALL_EMERGENCY_ALARM, service=SERVICE_SUPPLEMENTARY)
