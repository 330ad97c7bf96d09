"""Header-level MAVLink framing for routing: bytes in, checked frames out, nothing decoded.

Wire format (https://mavlink.io/en/guide/serialization.html)::

    MAVLink 1: FE len seq sysid compid msgid                      payload crc16
    MAVLink 2: FD len incompat compat seq sysid compid msgid:24   payload crc16 [signature:13]

The CRC is CRC-16/MCRF4XX over everything after the start marker plus the message's CRC_EXTRA byte
(computed by fastcrc in C). MAVLink 2 senders drop trailing zero bytes of the payload, so a target
field past the end of a short payload is 0 (broadcast). Bit 0x01 of ``incompat_flags`` marks a signed
frame; any other incompat bit is one we do not understand, and the spec says to drop such frames.

The framer never raises on input. Every byte it does not deliver in a frame is counted in
``stats.garbage_bytes``, and each rejected candidate frame is counted once by why: ``bad_crc``,
``oversize`` (bad CRC and a length longer than its message allows: a false start marker or a damaged
length byte), ``unknown_msgid`` (when not forwarded), ``bad_flags``, ``bad_signature``, ``unsigned``.
After a rejected candidate it drops the start byte and scans on for the next start marker, so a
frame hidden behind a false one is still found (a frame with a good CRC refused for its signature is
dropped whole). Frames whose message id our dialect does not know
cannot be CRC-checked; like mavlink-router they are forwarded unchecked (``crc_checked`` False) and
counted in ``unknown_msgid``, unless the framer is told not to. A frame longer than this dialect's
definition of its message (extension fields from a newer dialect) passes if its CRC does, since
CRC_EXTRA covers only the base fields.
"""

from __future__ import annotations

import logging
import re
import struct
from dataclasses import dataclass, fields
from typing import NamedTuple

import fastcrc

from .dialect import MESSAGES, MessageInfo
from .errors import FrameError
from .signing import IFLAG_SIGNED, KEY_LEN, SIGNATURE_LEN, verify

log = logging.getLogger(__name__)

STX_V1 = 0xFE
STX_V2 = 0xFD
_MARKER = re.compile(b"[\xfd\xfe]")
_crc16 = fastcrc.crc16.mcrf4xx
_HEADER_V2 = struct.Struct("<xBBxBBBHB").unpack_from  # len, incompat, seq, sysid, compid, msgid low 16, high 8
_HEADER_V1 = struct.Struct("<xBBBBB").unpack_from  # len, seq, sysid, compid, msgid


class MavFrame(NamedTuple):
    """One whole MAVLink frame as it came off the wire, with the header fields routing needs."""

    raw: bytes
    msgid: int
    sysid: int
    compid: int
    seq: int
    crc: int  # as sent, little-endian on the wire
    target_system: int | None  # None: the message has no target field; 0: broadcast
    target_component: int | None
    crc_checked: bool  # False: the message id is unknown here, so the CRC could not be checked
    signature_checked: bool  # True: signed, and the signature matched the configured key

    @classmethod
    def parse(cls, data: bytes, *, signing_key: bytes | None = None) -> MavFrame:
        """Parse exactly one frame; raise :class:`FrameError` if ``data`` is anything else."""
        framer = MavFramer(signing_key=signing_key)
        frames = framer.feed(data)
        if len(frames) != 1 or framer.pending:
            dropped = {k: v for k, v in framer.stats.as_dict().items() if v}
            raise FrameError(f"not one MAVLink frame: {len(frames)} frames, {framer.pending} bytes left, {dropped}")
        return frames[0]

    def __bytes__(self) -> bytes:
        return self.raw

    @property
    def version(self) -> int:
        """1 or 2."""
        return 2 if self.raw[0] == STX_V2 else 1

    @property
    def payload_len(self) -> int:
        """The length field: payload bytes on the wire (after MAVLink 2 truncation)."""
        return self.raw[1]

    @property
    def incompat_flags(self) -> int:
        """MAVLink 2 incompatibility flags (0 for MAVLink 1)."""
        return self.raw[2] if self.raw[0] == STX_V2 else 0

    @property
    def compat_flags(self) -> int:
        """MAVLink 2 compatibility flags (0 for MAVLink 1)."""
        return self.raw[3] if self.raw[0] == STX_V2 else 0

    @property
    def signed(self) -> bool:
        """True if the frame carries a MAVLink 2 signature block."""
        return bool(self.incompat_flags & IFLAG_SIGNED)

    @property
    def payload(self) -> bytes:
        """The payload bytes as sent (possibly truncated)."""
        start = 10 if self.raw[0] == STX_V2 else 6
        return self.raw[start : start + self.raw[1]]

    @property
    def link_id(self) -> int | None:
        """The signature's link id, None if unsigned."""
        return self.raw[-SIGNATURE_LEN] if self.signed else None

    @property
    def signature_timestamp(self) -> int | None:
        """The signature's timestamp (10 us units since 2015-01-01 GMT), None if unsigned."""
        return int.from_bytes(self.raw[-12:-6], "little") if self.signed else None


@dataclass(slots=True)
class FramerStats:
    """What a framer delivered and what it dropped, by kind."""

    frames: int = 0
    garbage_bytes: int = 0  # every byte not delivered inside a frame
    bad_crc: int = 0
    oversize: int = 0
    unknown_msgid: int = 0  # forwarded unchecked, or dropped if forward_unknown is off
    bad_flags: int = 0
    bad_signature: int = 0
    unsigned: int = 0  # dropped because a key is configured and accept_unsigned is off

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class MavFramer:
    """Cuts a MAVLink 1/2 byte stream, chunked any way, into checked :class:`MavFrame` s."""

    def __init__(
        self,
        *,
        forward_unknown: bool = True,
        signing_key: bytes | None = None,
        accept_unsigned: bool = True,
        messages: dict[int, MessageInfo] = MESSAGES,
        name: str = "mavlink",
    ) -> None:
        if signing_key is not None and len(signing_key) != KEY_LEN:
            raise ValueError(f"a MAVLink signing key is {KEY_LEN} bytes, not {len(signing_key)}")
        self.name = name
        self.forward_unknown = forward_unknown
        self.signing_key = signing_key
        self.accept_unsigned = accept_unsigned
        self.stats = FramerStats()
        self._buf = b""
        self._warned: set[str] = set()
        # msgid -> (CRC_EXTRA as one byte, largest payload, target offsets or -1)
        self._table = {
            msgid: (bytes([m.crc_extra]), m.max_len, m.target_system_ofs, m.target_component_ofs)
            for msgid, m in messages.items()
        }

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[MavFrame]:  # noqa: PLR0915 -- one inlined loop: a call per frame costs ~10 %
        """Take the next chunk of the stream; return the frames it completed, in order."""
        buf = self._buf + data if self._buf else bytes(data)
        n = len(buf)
        i = 0
        out: list[MavFrame] = []
        table = self._table
        crc16 = _crc16
        new = tuple.__new__
        append = out.append
        key = self.signing_key
        while i < n:
            stx = buf[i]
            if stx == STX_V2:
                if n - i < 12:
                    break
                length, flags, seq, sysid, compid, msgid, msgid_hi = _HEADER_V2(buf, i)
                start = i + 10
                end = start + length + 2
                if flags:
                    if flags & ~IFLAG_SIGNED:
                        i = self._reject(buf, i, "bad_flags", 1)
                        continue
                    end += SIGNATURE_LEN
                if end > n:
                    break
                if msgid_hi:
                    msgid |= msgid_hi << 16
            elif stx == STX_V1:
                if n - i < 8:
                    break
                length, seq, sysid, compid, msgid = _HEADER_V1(buf, i)
                flags = 0
                start = i + 6
                end = start + length + 2
                if end > n:
                    break
            else:
                found = _MARKER.search(buf, i + 1)
                j = found.start() if found else n
                self.stats.garbage_bytes += j - i
                i = j
                continue
            pcrc = start + length
            crc = buf[pcrc] | buf[pcrc + 1] << 8
            info = table.get(msgid)
            if info is None:
                if not self.forward_unknown:
                    i = self._reject(buf, i, "unknown_msgid", 1)
                    continue
                self.stats.unknown_msgid += 1
                tsys = tcomp = None
                checked = False
            else:
                extra, max_len, ts_ofs, tc_ofs = info
                if crc16(buf[i + 1 : pcrc] + extra) != crc:
                    i = self._reject(buf, i, "oversize" if length > max_len else "bad_crc", 1)
                    continue
                # A target field cut off by MAVLink 2 trailing-zero truncation was 0: broadcast.
                tsys = None if ts_ofs < 0 else buf[start + ts_ofs] if ts_ofs < length else 0
                tcomp = None if tc_ofs < 0 else buf[start + tc_ofs] if tc_ofs < length else 0
                checked = True
            sig_checked = False
            if key is not None:
                if flags:
                    if not verify(key, buf[i:end]):
                        i = self._reject(buf, i, "bad_signature", end - i)
                        continue
                    sig_checked = True
                elif not self.accept_unsigned:
                    i = self._reject(buf, i, "unsigned", end - i)
                    continue
            # tuple.__new__ skips NamedTuple's Python-level __new__: a third of the cost of a frame.
            fields_ = (buf[i:end], msgid, sysid, compid, seq, crc, tsys, tcomp, checked, sig_checked)
            append(new(MavFrame, fields_))
            i = end
        self._buf = buf[i:] if i < n else b""
        self.stats.frames += len(out)
        return out

    def _reject(self, buf: bytes, i: int, kind: str, drop: int) -> int:
        """Count a rejected candidate at ``buf[i]``, drop ``drop`` bytes; return where to scan on."""
        setattr(self.stats, kind, getattr(self.stats, kind) + 1)
        self.stats.garbage_bytes += drop
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning("%s: dropped a frame (%s): %s", self.name, kind, buf[i : i + 12].hex())
        else:
            log.debug("%s: dropped a frame (%s)", self.name, kind)
        return i + drop
