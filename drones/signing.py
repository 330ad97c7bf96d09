"""MAVLink 2 packet signing: the 13-byte signature block and its check.

Facts from https://mavlink.io/en/guide/message_signing.html: a signed frame has bit 0x01 of
``incompat_flags`` set and 13 bytes after the CRC: ``link_id`` (1 byte), ``timestamp`` (48 bits,
little-endian, in 10 microsecond units since 2015-01-01 00:00 GMT) and ``signature``, the first 48
bits of ``sha256(secret_key + header + payload + crc + link_id + timestamp)``, where *header* starts at
the 0xFD start marker. The secret key is 32 bytes.
"""

from __future__ import annotations

import hashlib
import hmac

IFLAG_SIGNED = 0x01
SIGNATURE_LEN = 13
KEY_LEN = 32
MAVLINK_EPOCH_UNIX_S = 1_420_070_400  # 2015-01-01 00:00:00 GMT


def signature(key: bytes, signed_part: bytes) -> bytes:
    """The 6-byte signature of ``signed_part`` (start marker through link id and timestamp)."""
    return hashlib.sha256(key + signed_part).digest()[:6]


def verify(key: bytes, raw: bytes) -> bool:
    """True if ``raw``, a whole signed MAVLink 2 frame, carries the right signature for ``key``."""
    return hmac.compare_digest(signature(key, raw[:-6]), raw[-6:])


def sign(key: bytes, unsigned: bytes, link_id: int, timestamp: int) -> bytes:
    """Append a signature block to ``unsigned``, a MAVLink 2 frame whose CRC covers the signed flag."""
    block = bytes([link_id]) + timestamp.to_bytes(6, "little")
    return unsigned + block + signature(key, unsigned + block)


def timestamp_from_unix(unix_s: float) -> int:
    """A signing timestamp (10 microsecond units since the MAVLink epoch) for a Unix time."""
    return int((unix_s - MAVLINK_EPOCH_UNIX_S) * 100_000)
