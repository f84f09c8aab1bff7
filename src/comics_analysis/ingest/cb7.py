"""CB7 / 7z via py7zr (LGPL, pure Python)."""

from __future__ import annotations

from pathlib import Path

import py7zr
import py7zr.exceptions
from py7zr.io import BytesIOFactory

from .base import ArchiveBook, ContainerError, Limits, RawPage
from .entries import Entry


class Cb7Book(ArchiveBook):
    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(Path(path), limits or Limits(), format="cb7")
        try:
            self.archive = py7zr.SevenZipFile(self.path)
        except py7zr.exceptions.PasswordRequired:
            raise ContainerError("encrypted", "7z archive with encrypted headers needs a password") from None
        except (py7zr.exceptions.Bad7zFile, py7zr.exceptions.ArchiveError, OSError, EOFError) as exc:
            raise ContainerError("unreadable", f"not a readable 7z archive: {exc}") from None
        if self.archive.needs_password():
            raise ContainerError("encrypted", "7z archive is encrypted")
        self.infos = {info.filename: info for info in self.archive.list()}

    def list_entries(self) -> list[Entry]:
        entries = []
        for info in self.infos.values():
            kind = (
                "dir" if info.is_directory else ("symlink" if getattr(info, "is_symlink", False) else "file")
            )
            entries.append(Entry(info.filename, int(info.uncompressed or 0), kind))
        return entries

    def _read_many(self, names: list[str]) -> dict[str, bytes]:
        # 7z archives are usually solid: one pass over all wanted members beats one pass each.
        factory = BytesIOFactory(self.limits.max_entry_bytes + 1)
        self.archive.reset()
        self.archive.extract(targets=names, factory=factory)
        out = {}
        for name in names:
            product = factory.products.get(name)
            if product is not None:
                product.seek(0)
                out[name] = product.read()
        return out

    def read_entry(self, entry: Entry) -> bytes:
        data = self._read_many([entry.name])
        if entry.name not in data:
            raise ContainerError("unreadable", f"7z member {entry.name!r} could not be read")
        return data[entry.name]

    def pages(self):
        plan = self.plan()
        wanted = [e for e in plan.pages if e.size <= self.limits.max_entry_bytes]
        try:
            data = self._read_many([e.name for e in wanted])
        except Exception as exc:
            raise ContainerError("unreadable", f"7z data could not be decoded: {exc}") from None
        for entry in plan.pages:
            if entry.name in data:
                yield RawPage(entry.name, data=data[entry.name])
            else:
                yield self.read_page(entry)

    def close(self) -> None:
        self.archive.close()
