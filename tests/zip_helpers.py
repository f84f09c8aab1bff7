"""Zip archives Python cannot write: a member encrypted with traditional PKWARE (ZipCrypto)."""

from __future__ import annotations

import struct
import zlib


def zipcrypto(name: str, data: bytes, password: bytes) -> bytes:
    """A one-member zip encrypted with traditional PKWARE (ZipCrypto) encryption, stored."""
    keys = [0x12345678, 0x23456789, 0x34567890]

    def crc(value: int, byte: int) -> int:
        return zlib.crc32(bytes([byte]), value ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

    def update(byte: int) -> None:
        keys[0] = crc(keys[0], byte)
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = crc(keys[2], keys[1] >> 24)

    def encrypt(plain: bytes) -> bytes:
        out = bytearray()
        for byte in plain:
            temp = (keys[2] | 2) & 0xFFFF
            out.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
            update(byte)
        return bytes(out)

    for byte in password:
        update(byte)
    checksum = zlib.crc32(data)
    body = encrypt(bytes(11) + bytes([checksum >> 24])) + encrypt(data)
    raw = name.encode()
    local = struct.pack(
        "<4s5H3L2H", b"PK\x03\x04", 20, 1, 0, 0, 0, checksum, len(body), len(data), len(raw), 0
    )
    central = struct.pack(
        "<4s6H3L5H2L",
        b"PK\x01\x02",
        20,
        20,
        1,
        0,
        0,
        0,
        checksum,
        len(body),
        len(data),
        len(raw),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    head = local + raw + body
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(raw), len(head), 0)
    return head + central + raw + end
