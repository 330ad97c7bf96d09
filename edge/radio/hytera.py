"""Hytera Radio Network Protocol (HRNP): the frame that carries HDAP messages over TCP, UDP or USB.

Layout (big-endian; OK-DMR/dmr-kaitai ``hytera_radio_network_protocol.ksy``, OK-DMR/ok-dmrlib
``hytera/pdu/hrnp.py``)::

    0  0x7E            header
    1  version         0x04 today (0x03 seen from older radios)
    2  block           fragment number, 0
    3  opcode          0xFE connect, 0xFD accept, 0xFC reject, 0xFB close, 0xFA close ack,
                       0x00 data, 0x10 data ack
    4  source          0x20 the application (slave), 0x10 the radio / gateway (master)
    5  destination
    6  packet number   u16, echoed by the data ack
    8  length          u16, the whole frame including these 12 bytes
    10 checksum        u16, RFC 1071 internet checksum over the frame with this field zero
    12 data            one HDAP message when the opcode is data

There is no byte stuffing: 0x7E can occur anywhere inside a frame, so the framer trusts the length
field and the checksum, never a scan for the next 0x7E, to find the end of a frame.

The checksum is the RFC 1071 one's-complement sum of 16-bit big-endian words (an odd frame padded
with a zero byte), end-around carry folded, inverted. alebo62/HyteraNetRpt ``checksum.cpp`` computes
it that way; ok-dmrlib truncates the carry and adds a "+1 quirk" for data frames instead, which
happens to agree on its own samples but rejects its 225-byte RCP capture, which the RFC 1071 sum
accepts. Every capture in ok-dmrlib's ``test_hrnp.py`` checks out with the RFC 1071 sum.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from .framing import DropCounter, RadioError

log = logging.getLogger(__name__)

START = 0x7E
HEADER_LEN = 12
VERSION = 0x04
MAX_VERSION = 0x0F  # versions 0x00-0x04 are known (ok-dmrlib); a little headroom for newer radios
APP = 0x20  # the application's HRNP address (the slave)
RADIO = 0x10  # the radio's or gateway's HRNP address (the master)
MAX_FRAME = 2048  # far above any HDAP message we use; the wire allows 65535
STALE_AFTER_S = 3.0


class HrnpOpcode(enum.IntEnum):
    """What an HRNP frame is."""

    DATA = 0x00
    DATA_ACK = 0x10
    CLOSE_ACK = 0xFA
    CLOSE = 0xFB
    REJECT = 0xFC
    ACCEPT = 0xFD
    CONNECT = 0xFE


_OPCODES = frozenset(int(op) for op in HrnpOpcode)


class HrnpError(RadioError):
    """Bytes that are not one valid HRNP frame."""


def checksum(frame: bytes | bytearray | memoryview) -> int:
    """RFC 1071 checksum of ``frame`` with its checksum field (bytes 10-11) taken as zero."""
    data = bytes(frame[:10]) + b"\0\0" + bytes(frame[12:])
    return _fold_inverted(data)


def checksum_ok(frame: bytes | bytearray | memoryview) -> bool:
    """True when ``frame`` (checksum field included) sums to one's-complement zero."""
    return _fold_inverted(frame) == 0


def _fold_inverted(data: bytes | bytearray | memoryview) -> int:
    # The one's-complement sum of 16-bit words is the number modulo 0xFFFF (2**16 == 1 mod 0xFFFF),
    # except that a non-zero multiple of 0xFFFF folds to 0xFFFF, not 0 (RFC 1071 section 2).
    raw = bytes(data)
    if len(raw) % 2:
        raw += b"\0"
    number = int.from_bytes(raw, "big")
    total = number % 0xFFFF
    if total == 0 and number:
        total = 0xFFFF
    return ~total & 0xFFFF


@dataclass(frozen=True, slots=True)
class HrnpFrame:
    """One HRNP frame; ``bytes(frame)`` fills in the length and the checksum."""

    opcode: HrnpOpcode
    payload: bytes = b""
    src: int = APP
    dst: int = RADIO
    packet_number: int = 0
    block: int = 0
    version: int = VERSION

    def __bytes__(self) -> bytes:
        length = HEADER_LEN + len(self.payload)
        if length > 0xFFFF:
            raise HrnpError(f"HRNP frame of {length} bytes exceeds the 16-bit length field")
        head = bytes((START, self.version, self.block, self.opcode, self.src, self.dst))
        body = head + self.packet_number.to_bytes(2, "big") + length.to_bytes(2, "big")
        frame = body + b"\0\0" + self.payload
        return body + checksum(frame).to_bytes(2, "big") + self.payload

    @classmethod
    def parse(cls, data: bytes) -> HrnpFrame:
        """Parse exactly one complete frame; raises HrnpError naming what is wrong."""
        if len(data) < HEADER_LEN:
            raise HrnpError(f"HRNP frame too short: {len(data)} bytes")
        if data[0] != START:
            raise HrnpError(f"HRNP frame must start with 0x7E, got 0x{data[0]:02X}")
        if data[3] not in _OPCODES:
            raise HrnpError(f"unknown HRNP opcode 0x{data[3]:02X}")
        length = int.from_bytes(data[8:10], "big")
        if length != len(data):
            raise HrnpError(f"HRNP length field says {length} bytes, got {len(data)}")
        if not checksum_ok(data):
            raise HrnpError(f"HRNP checksum 0x{data[10:12].hex()} does not match 0x{checksum(data):04x}")
        return cls._trusted(data)

    @classmethod
    def _trusted(cls, data: bytes) -> HrnpFrame:
        return cls(
            opcode=HrnpOpcode(data[3]),
            payload=bytes(data[HEADER_LEN:]),
            src=data[4],
            dst=data[5],
            packet_number=int.from_bytes(data[6:8], "big"),
            block=data[2],
            version=data[1],
        )

    def ack(self) -> HrnpFrame:
        """The data ack this data frame asks for: same packet number, addresses swapped."""
        return HrnpFrame(HrnpOpcode.DATA_ACK, src=self.dst, dst=self.src, packet_number=self.packet_number,
                         version=self.version)


class HrnpFramer:
    """Finds HRNP frames in a byte stream split anywhere; counts what it drops in ``drops``.

    Resync: bytes before a 0x7E are ``garbage``; at a 0x7E whose header is impossible
    (``bad_header``: version over 0x0F, unknown opcode, length under 12), too long (``oversize``)
    or whose checksum fails (``bad_checksum``) one byte is dropped and the scan resumes at the next
    0x7E. A partial frame that has waited more than ``stale_after_s`` (by the ``now`` passed in) is
    dropped as ``stale`` when the next bytes arrive.
    """

    def __init__(self, drops: DropCounter, *, max_frame: int = MAX_FRAME,
                 stale_after_s: float = STALE_AFTER_S) -> None:
        self.drops = drops
        self.max_frame = max_frame
        self.stale_after_s = stale_after_s
        self.frames = 0
        self._buf = bytearray()
        self._since: float | None = None  # when the partial frame at the head of _buf became the head

    def feed(self, data: bytes, now: float) -> list[HrnpFrame]:
        """Frames completed by ``data``, in order."""
        if self._buf and self._since is not None and now - self._since > self.stale_after_s:
            self._drop_stale()
        self._buf += data
        frames, consumed = self._scan()
        if not self._buf:
            self._since = None
        elif consumed or self._since is None:
            self._since = now
        return frames

    @property
    def pending(self) -> int:
        """Bytes held for a frame not yet complete."""
        return len(self._buf)

    def _drop_stale(self) -> None:
        # Drop the stale frame's head and what follows up to the next 0x7E; a frame start after
        # it is rescanned with the new bytes.
        nxt = self._buf.find(START, 1)
        end = len(self._buf) if nxt < 0 else nxt
        self.drops.drop("stale", end, f"partial frame older than {self.stale_after_s:g} s")
        del self._buf[:end]

    def _scan(self) -> tuple[list[HrnpFrame], bool]:
        buf = self._buf
        frames: list[HrnpFrame] = []
        i = 0
        size = len(buf)
        while i < size:
            if buf[i] != START:
                j = buf.find(START, i)
                j = size if j < 0 else j
                self.drops.drop("garbage", j - i)
                i = j
                continue
            avail = size - i
            problem = self._header_problem(buf, i, avail)
            if problem is not None:
                self.drops.drop(problem, 1)
                i += 1
                continue
            if avail < HEADER_LEN:
                break
            length = (buf[i + 8] << 8) | buf[i + 9]
            if avail < length:
                break
            frame = bytes(buf[i : i + length])
            if not checksum_ok(frame):
                self.drops.drop("bad_checksum", 1, f"HRNP frame of {length} bytes")
                i += 1
                continue
            frames.append(HrnpFrame._trusted(frame))
            i += length
        self.frames += len(frames)
        if i:
            del buf[:i]
        return frames, i > 0

    def _header_problem(self, buf: bytearray, i: int, avail: int) -> str | None:
        # Judge a header as soon as its bytes are in, so a false 0x7E does not hold up the stream.
        if avail > 1 and buf[i + 1] > MAX_VERSION:
            return "bad_header"
        if avail > 3 and buf[i + 3] not in _OPCODES:
            return "bad_header"
        if avail > 9:
            length = (buf[i + 8] << 8) | buf[i + 9]
            if length < HEADER_LEN:
                return "bad_header"
            if length > self.max_frame:
                return "oversize"
        return None
