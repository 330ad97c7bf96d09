"""Per-message facts the header-level framer and the router need, taken from pymavlink's generated dialect.

pymavlink's generated module (``pymavlink.dialects.v20.ardupilotmega``) carries, for every message
class, its CRC_EXTRA, the wire-order field names (``ordered_fieldnames``) and the ``struct`` format
of the full payload (``unpacker``). From those we derive what routing needs without decoding: the
payload length with and without MAVLink 2 extension fields, and the byte offsets of
``target_system`` / ``target_component`` inside the payload. MAVLink serialization
(https://mavlink.io/en/guide/serialization.html) sorts base fields by type size, largest first, and
appends extension fields after them in declaration order; the generated format string already
follows that order, so offsets are prefix sums over its items.
"""

from __future__ import annotations

import re
import struct
from typing import Any, NamedTuple

from pymavlink.dialects.v20 import ardupilotmega as _dialect

DIALECT = _dialect
"""The pymavlink dialect module every part of ``drones`` uses (ardupilotmega, a superset of common)."""

MAVLINK_MSG_ID: dict[str, int] = {cls.msgname: msgid for msgid, cls in _dialect.mavlink_map.items()}
"""Message name (``"HEARTBEAT"``) to message id, for the dialect above."""

# MANUAL_CONTROL names its target system "target"; every other addressed message says target_system.
_TARGET_SYSTEM_NAMES = ("target_system", "target")
_FORMAT_ITEM = re.compile(r"(\d*)([xcbB?hHiIlLqQnNefdspP])")


class MessageInfo(NamedTuple):
    """What the framer and router know about one message id without decoding it."""

    name: str
    crc_extra: int
    min_len: int  # payload bytes without MAVLink 2 extension fields (a MAVLink 1 payload)
    max_len: int  # payload bytes with every extension field this dialect knows
    target_system_ofs: int  # byte offset in the payload, -1 if the message has no target system
    target_component_ofs: int  # byte offset in the payload, -1 if the message has no target component


def field_offsets(msg_class: Any) -> dict[str, tuple[int, int]]:
    """Wire offset and size in bytes of each field of a generated pymavlink message class."""
    fmt = msg_class.unpacker.format
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    items = _FORMAT_ITEM.findall(fmt.lstrip("<>=!@"))
    names: list[str] = list(msg_class.ordered_fieldnames)
    if len(items) != len(names):
        raise ValueError(f"{msg_class.msgname}: format {fmt!r} does not match fields {names}")
    offsets: dict[str, tuple[int, int]] = {}
    offset = 0
    for name, (count, code) in zip(names, items, strict=True):
        size = struct.calcsize(f"<{count}{code}")
        offsets[name] = (offset, size)
        offset += size
    return offsets


def _info(msg_class: Any) -> MessageInfo:
    offsets = field_offsets(msg_class)
    max_len = int(msg_class.unpacker.size)
    min_len = _base_length(msg_class, offsets)
    ts = next((offsets[n][0] for n in _TARGET_SYSTEM_NAMES if n in offsets and offsets[n][1] == 1), -1)
    tc = offsets["target_component"][0] if "target_component" in offsets else -1
    return MessageInfo(msg_class.msgname, msg_class.crc_extra, min_len, max_len, ts, tc)


def _base_length(msg_class: Any, offsets: dict[str, tuple[int, int]]) -> int:
    # pymavlink does not mark extension fields on the class, but its generated __init__ lists them
    # after the base fields with a default of 0; the base payload ends where the first defaulted
    # parameter's field starts. Without defaults, the whole payload is base.
    init = msg_class.__init__
    defaults = init.__defaults__ or ()
    if not defaults:
        return int(msg_class.unpacker.size)
    params = init.__code__.co_varnames[1 : init.__code__.co_argcount]
    return offsets[params[len(params) - len(defaults)]][0]


MESSAGES: dict[int, MessageInfo] = {msgid: _info(cls) for msgid, cls in _dialect.mavlink_map.items()}
"""Message id to :class:`MessageInfo` for every message of the dialect."""
