"""MOTOTRBO datagrams as records in a byte stream: how UDP metadata reaches a byte-stream codec.

MOTOTRBO data services are UDP datagrams, one service per port, and a radio is known by its IP
address — the byte-stream ``Codec`` interface carries neither. ``MotoTrboLink`` therefore wraps
every datagram it receives in a small self-describing record, and ``MotoTrboCodec`` hands the link
records to send; the gateway component passes them along as bytes like any other link's, the raw
log stores them, and a replay feeds them back unchanged. The layout is fieldkit's own (big-endian)::

    0   4  b"TRBO"           magic
    4   2  service           the service's well-known port: 4001 LRRP, 4005 ARS, 4007 TMS
    6   4  radio address     source of a datagram received, destination of one to send
    10  2  payload length    at most ``MAX_PAYLOAD``
    12  n  payload           the UDP payload, unchanged

The service is named by its standard port even when the link listens elsewhere (tests, NAT); the
link maps it to the ports it actually uses. ``DatagramFramer`` reads records from chunks split
anywhere and resynchronises after garbage like every other framer.

Radio ids and IP addresses (MOTOTRBO System Planner, "System Design Considerations": radio 12045
is 12.0.47.13): the first octet is the CAI network (12 by default; 13 addresses a PC behind a
radio; talkgroups use the CAI group network, 225), the other three octets the 24-bit id.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .framing import DropCounter, EncodeError, RadioError

MAGIC = b"TRBO"
HEADER_LEN = 12
MAX_PAYLOAD = 1500  # one Ethernet-sized datagram; MOTOTRBO data messages are far smaller
STALE_AFTER_S = 2.0  # a record split across reads completes within one loop turn; older halves are stale
MAX_RADIO_ID = 0xFFFFFF


class Service(enum.IntEnum):
    """A MOTOTRBO data service, by its well-known UDP port."""

    LRRP = 4001  # location
    ARS = 4005  # registration
    TMS = 4007  # text messages


_SERVICES = frozenset(int(s) for s in Service)


class RecordError(RadioError, ValueError):
    """Bytes that are not whole, well-formed records."""


class MalformedError(RadioError):
    """A MOTOTRBO message (LRRP, ARS or TMS) that breaks its own layout."""


class UnsupportedError(RadioError):
    """A well-formed MOTOTRBO message of a kind fieldkit does not decode."""


@dataclass(frozen=True, slots=True)
class Datagram:
    """One UDP payload of a MOTOTRBO service, with the radio address it came from or goes to."""

    service: Service
    ip: bytes  # 4 bytes
    payload: bytes

    def __bytes__(self) -> bytes:
        if len(self.payload) > MAX_PAYLOAD:
            raise EncodeError(f"datagram of {len(self.payload)} bytes exceeds {MAX_PAYLOAD}")
        if len(self.ip) != 4:
            raise EncodeError(f"radio address must be 4 bytes, got {len(self.ip)}")
        return (MAGIC + self.service.to_bytes(2, "big") + self.ip + len(self.payload).to_bytes(2, "big")
                + self.payload)

    @property
    def ip_text(self) -> str:
        """The radio address in dotted form."""
        return ".".join(str(b) for b in self.ip)


def split(data: bytes) -> list[Datagram]:
    """Whole records back to back (what a codec hands the link); RecordError names what is wrong."""
    out: list[Datagram] = []
    pos = 0
    while pos < len(data):
        if data[pos : pos + 4] != MAGIC or len(data) - pos < HEADER_LEN:
            raise RecordError(f"no record header at byte {pos}")
        service, length = _header(data, pos)
        if service is None or length > MAX_PAYLOAD or pos + HEADER_LEN + length > len(data):
            raise RecordError(f"bad record header at byte {pos}")
        end = pos + HEADER_LEN + length
        out.append(Datagram(service, bytes(data[pos + 6 : pos + 10]), bytes(data[pos + HEADER_LEN : end])))
        pos = end
    return out


def _header(data: bytes | bytearray, pos: int) -> tuple[Service | None, int]:
    port = int.from_bytes(data[pos + 4 : pos + 6], "big")
    length = int.from_bytes(data[pos + 10 : pos + 12], "big")
    return (Service(port) if port in _SERVICES else None), length


class DatagramFramer:
    """Records out of a byte stream split anywhere; drops are counted in ``drops``."""

    def __init__(self, drops: DropCounter, *, max_payload: int = MAX_PAYLOAD,
                 stale_after_s: float = STALE_AFTER_S) -> None:
        self.drops = drops
        self.frames = 0
        self.max_payload = min(max_payload, MAX_PAYLOAD)
        self.stale_after_s = stale_after_s
        self._buf = bytearray()
        self._since: float | None = None  # when the held partial record began arriving

    @property
    def pending(self) -> int:
        """Bytes held for a record not yet complete."""
        return len(self._buf)

    def feed(self, data: bytes, now: float) -> list[Datagram]:
        """Records completed by ``data``."""
        if self._buf and self._since is not None and now - self._since > self.stale_after_s:
            self.drops.drop("stale", len(self._buf), "a record was cut short")
            self._buf.clear()
        held = bool(self._buf)
        self._buf += data
        out: list[Datagram] = []
        while (record := self._next()) is not None:
            out.append(record)
        if not self._buf:
            self._since = None
        elif out or not held:
            self._since = now  # what is held now began arriving in this chunk
        self.frames += len(out)
        return out

    def _next(self) -> Datagram | None:
        buf = self._buf
        while True:
            start = buf.find(MAGIC)
            if start < 0:
                keep = _magic_prefix_len(buf)
                if len(buf) > keep:
                    self.drops.drop("garbage", len(buf) - keep)
                    del buf[: len(buf) - keep]
                return None
            if start > 0:
                self.drops.drop("garbage", start)
                del buf[:start]
            if len(buf) < HEADER_LEN:
                return None
            service, length = _header(buf, 0)
            if service is None or length > self.max_payload:
                kind = "bad_header" if service is None else "oversize"
                self.drops.drop(kind, 1, f"record header {bytes(buf[:HEADER_LEN]).hex()}")
                del buf[:1]  # resync: the magic may have been payload; rescan from the next byte
                continue
            end = HEADER_LEN + length
            if len(buf) < end:
                return None
            record = Datagram(service, bytes(buf[6:10]), bytes(buf[HEADER_LEN:end]))
            del buf[:end]
            return record


def _magic_prefix_len(buf: bytearray) -> int:
    """How many trailing bytes of ``buf`` could begin the magic."""
    for n in range(min(len(MAGIC) - 1, len(buf)), 0, -1):
        if buf[-n:] == MAGIC[:n]:
            return n
    return 0


def unit_number(unit: str | int) -> int:
    """A radio or talkgroup id as a number in the 24-bit DMR range; EncodeError otherwise."""
    try:
        number = int(unit)
    except ValueError:
        raise EncodeError(f"radio id {unit!r} is not a number") from None
    if not 0 < number <= MAX_RADIO_ID:
        raise EncodeError(f"radio id {number} is outside the 24-bit DMR range")
    return number


def address(unit: str | int, network: int) -> bytes:
    """The IP address of a radio (or, with the group network, a talkgroup): 1001 on 12 is 12.0.3.233."""
    return bytes((network & 0xFF,)) + unit_number(unit).to_bytes(3, "big")


def unit_of(ip: bytes) -> str:
    """The radio id in an IP address: its last three octets (the network octet is not part of it)."""
    return str(int.from_bytes(ip[1:4], "big"))
