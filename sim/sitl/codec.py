"""Bytes to pymavlink messages and back, with pymavlink's generated ardupilotmega dialect (no mavutil)."""

from __future__ import annotations

import logging
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

log = logging.getLogger(__name__)

Msg = Any


class Encoder:
    """Packs one vehicle's messages: its sysid/compid, a running sequence number, MAVLink 2 unless told."""

    def __init__(self, sysid: int, compid: int, mavlink1: bool = False) -> None:
        self._mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)
        self._mavlink1 = mavlink1

    def encode(self, msg: Msg) -> bytes:
        """The wire bytes of one message (empty for a MAVLink 2-only message on a MAVLink 1 link)."""
        if self._mavlink1 and msg.id > 255:
            return b""
        buf: bytes = msg.pack(self._mav, force_mavlink1=self._mavlink1)
        self._mav.seq = (self._mav.seq + 1) % 256
        return buf


class Decoder:
    """Parses a byte stream (one per peer); garbage and bad CRCs are counted and dropped."""

    def __init__(self) -> None:
        self._mav = mavlink.MAVLink(None)
        self._mav.robust_parsing = True
        self.bad = 0

    def feed(self, data: bytes) -> list[Msg]:
        """Messages completed by ``data``."""
        try:
            parsed = self._mav.parse_buffer(data) or []
        except mavlink.MAVError as exc:  # an unknown message id or a malformed MAVLink 2 frame
            log.debug("undecodable input: %s", exc)
            self.bad += 1
            return []
        good = [m for m in parsed if m.get_type() != "BAD_DATA"]
        self.bad += len(parsed) - len(good)
        return good
