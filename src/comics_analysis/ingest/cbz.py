"""CBZ / ZIP (and the zip layer of EPUB)."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

from .base import ArchiveBook, ContainerError, Limits
from .entries import Entry


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ContainerError("unreadable", f"not a readable zip archive: {exc}") from None


def zip_entry(info: zipfile.ZipInfo, key: str | None = None) -> Entry:
    mode = info.external_attr >> 16
    if info.is_dir():
        kind = "dir"
    elif stat.S_ISLNK(mode):
        kind = "symlink"
    else:
        kind = "file"
    return Entry(info.filename, info.file_size, kind, encrypted=bool(info.flag_bits & 0x1), key=key)


def unique_infos(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Members by a unique key: the name, and ``name#2``, ``name#3`` ... for a name repeated
    (zipfile keeps every member; a dict by name would silently drop all but the last)."""
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        key, n = info.filename, 1
        while key in infos:
            n += 1
            key = f"{info.filename}#{n}"
        infos[key] = info
    return infos


class CbzBook(ArchiveBook):
    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(Path(path), limits or Limits(), format="cbz")
        self.archive = open_zip(self.path)
        self.infos = unique_infos(self.archive)

    def list_entries(self) -> list[Entry]:
        return [zip_entry(info, None if key == info.filename else key) for key, info in self.infos.items()]

    def compression_ratio(self, entry: Entry) -> float | None:
        info = self.infos[entry.handle]
        return info.file_size / max(info.compress_size, 1)

    def read_entry(self, entry: Entry) -> bytes:
        with self.archive.open(self.infos[entry.handle]) as handle:
            return self.clock.read(handle, self.limits.max_entry_bytes + 1)

    def close(self) -> None:
        self.archive.close()
