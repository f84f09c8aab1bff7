"""RAR archives written here: no free software writes RAR, but stored (method 0) RAR5 entries
are a few lines of the format; rarfile reads their data itself (bsdtar reads them too)."""

from __future__ import annotations

import struct
import zlib


def _vint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _block(body: bytes) -> bytes:
    size = _vint(len(body))
    return struct.pack("<I", zlib.crc32(size + body)) + size + body


def write_stored_rar5(path, entries: list[tuple[str, bytes]]) -> None:
    """A RAR5 archive whose entries are stored (method 0), each with its CRC32."""
    out = bytearray(b"Rar!\x1a\x07\x01\x00")
    out += _block(_vint(1) + _vint(0) + _vint(0))  # main archive header
    for name, data in entries:
        raw = name.encode("utf-8")
        out += _block(
            _vint(2)  # file header
            + _vint(0x02)  # a data area follows
            + _vint(len(data))
            + _vint(0x04)  # file flags: CRC32 present
            + _vint(len(data))  # unpacked size
            + _vint(0o100644)
            + struct.pack("<I", zlib.crc32(data))
            + _vint(0)  # compression: version 0, stored
            + _vint(1)  # host OS: Unix
            + _vint(len(raw))
            + raw
        )
        out += data
    out += _block(_vint(5) + _vint(0) + _vint(0))  # end of archive
    path.write_bytes(bytes(out))
