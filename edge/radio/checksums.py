"""Checksums that vendor framings use: 8/16-bit sums, the Internet checksum, CRC-16 variants, CRC-32.

Each is a pure function of the bytes it covers. CRC parameters and check values (the CRC of
``b"123456789"``) are those of the CRC RevEng catalogue
(https://reveng.sourceforge.io/crc-catalogue/16.htm), under the names vendors most often use.
``CHECKSUMS`` maps the names a framing description uses to the function and its size in bytes.
"""

from __future__ import annotations

import binascii
import zlib
from collections.abc import Callable
from typing import NamedTuple


def sum8(data: bytes) -> int:
    """Sum of all bytes, modulo 256."""
    return sum(data) & 0xFF


def sum16(data: bytes) -> int:
    """Sum of all bytes, modulo 65536 (a 16-bit byte sum, not a sum of words)."""
    return sum(data) & 0xFFFF


def xor8(data: bytes) -> int:
    """Exclusive-or of all bytes (the "BCC" of many serial protocols)."""
    acc = 0
    for byte in data:
        acc ^= byte
    return acc


def ones16(data: bytes) -> int:
    """The Internet checksum (RFC 1071): one's complement of the one's-complement sum of 16-bit words.

    Words are taken big-endian (network order) and an odd last byte is padded with a zero byte;
    RFC 1071 section 2(B) shows the result is byte-order independent, so writing it little-endian
    gives the little-endian form.
    """
    if len(data) % 2:
        data = data + b"\x00"
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _reflected_table(poly_reflected: int) -> tuple[int, ...]:
    table = []
    for index in range(256):
        crc = index
        for _ in range(8):
            crc = (crc >> 1) ^ poly_reflected if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE_1021 = _reflected_table(0x8408)  # x^16 + x^12 + x^5 + 1, bit-reversed
_TABLE_8005 = _reflected_table(0xA001)  # x^16 + x^15 + x^2 + 1, bit-reversed


def _crc16_reflected(data: bytes, table: tuple[int, ...], init: int, xorout: int) -> int:
    crc = init
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ xorout


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/IBM-3740, a.k.a. CCITT-FALSE or AUTOSAR: poly 0x1021, init 0xFFFF, not reflected."""
    return binascii.crc_hqx(data, 0xFFFF)


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM (ZMODEM, ACORN, LTE): poly 0x1021, init 0, not reflected."""
    return binascii.crc_hqx(data, 0)


def crc16_kermit(data: bytes) -> int:
    """CRC-16/KERMIT, the "true" CCITT CRC: poly 0x1021 reflected, init 0."""
    return _crc16_reflected(data, _TABLE_1021, 0, 0)


def crc16_x25(data: bytes) -> int:
    """CRC-16/IBM-SDLC, a.k.a. X-25 or ISO-HDLC: poly 0x1021 reflected, init and xorout 0xFFFF."""
    return _crc16_reflected(data, _TABLE_1021, 0xFFFF, 0xFFFF)


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS: poly 0x8005 reflected, init 0xFFFF (Modbus RTU writes it little-endian)."""
    return _crc16_reflected(data, _TABLE_8005, 0xFFFF, 0)


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC, the "plain" CRC-16 (LHA, CRC-IBM): poly 0x8005 reflected, init 0."""
    return _crc16_reflected(data, _TABLE_8005, 0, 0)


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC, the CRC-32 of Ethernet, zip and PNG."""
    return zlib.crc32(data)


class Checksum(NamedTuple):
    """A checksum function and how many bytes its value takes in a frame."""

    compute: Callable[[bytes], int]
    size: int


CHECKSUMS: dict[str, Checksum] = {
    "sum8": Checksum(sum8, 1),
    "xor8": Checksum(xor8, 1),
    "sum16": Checksum(sum16, 2),
    "ones16": Checksum(ones16, 2),
    "crc16-ccitt-false": Checksum(crc16_ccitt_false, 2),
    "crc16-xmodem": Checksum(crc16_xmodem, 2),
    "crc16-kermit": Checksum(crc16_kermit, 2),
    "crc16-x25": Checksum(crc16_x25, 2),
    "crc16-modbus": Checksum(crc16_modbus, 2),
    "crc16-arc": Checksum(crc16_arc, 2),
    "crc32": Checksum(crc32, 4),
}
