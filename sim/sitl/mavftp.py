"""MAVFTP (FILE_TRANSFER_PROTOCOL) refused at once: every request gets a NAK.

MAVProxy (and QGroundControl) first try to fetch ``@PARAM/param.pck`` over MAVFTP and only fall
back to PARAM_REQUEST_LIST after their FTP request times out (about 11 s in MAVProxy 1.8). A NAK
ends that wait immediately. Payload layout from https://mavlink.io/en/services/ftp.html: seq
(uint16), session, opcode, size, req_opcode, burst_complete, padding, offset (uint32), data.
"""

from __future__ import annotations

import struct
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

Msg = Any

OP_NAK = 129
ERR_UNKNOWN_COMMAND = 7  # MAVFTP error code: "command not supported"
_HEADER = struct.Struct("<HBBBBBBI")
_PAYLOAD_LEN = 251


def refuse(msg: Msg) -> list[Msg]:
    """The NAK answering one FILE_TRANSFER_PROTOCOL request (nothing for a malformed one)."""
    payload = bytes(msg.payload)
    if len(payload) < _HEADER.size:
        return []
    seq, session, opcode, *_ = _HEADER.unpack_from(payload)
    if opcode == OP_NAK or opcode == OP_NAK - 1:  # replies (ACK 128 / NAK 129) are never answered
        return []
    reply = _HEADER.pack((seq + 1) & 0xFFFF, session, OP_NAK, 1, opcode, 0, 0, 0) + bytes([ERR_UNKNOWN_COMMAND])
    data = list(reply.ljust(_PAYLOAD_LEN, b"\x00"))
    return [mavlink.MAVLink_file_transfer_protocol_message(0, msg.get_srcSystem(), msg.get_srcComponent(), data)]
