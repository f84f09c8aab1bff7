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


def zip_entry(info: zipfile.ZipInfo) -> Entry:
    mode = info.external_attr >> 16
    if info.is_dir():
        kind = "dir"
    elif stat.S_ISLNK(mode):
        kind = "symlink"
    else:
        kind = "file"
    return Entry(info.filename, info.file_size, kind, encrypted=bool(info.flag_bits & 0x1))


class CbzBook(ArchiveBook):
    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(Path(path), limits or Limits(), format="cbz")
        self.archive = open_zip(self.path)
        self.infos = {info.filename: info for info in self.archive.infolist()}

    def list_entries(self) -> list[Entry]:
        return [zip_entry(info) for info in self.infos.values()]

    def compression_ratio(self, entry: Entry) -> float | None:
        info = self.infos[entry.name]
        return info.file_size / max(info.compress_size, 1)

    def read_entry(self, entry: Entry) -> bytes:
        with self.archive.open(self.infos[entry.name]) as handle:
            return handle.read(self.limits.max_entry_bytes + 1)

    def close(self) -> None:
        self.archive.close()
