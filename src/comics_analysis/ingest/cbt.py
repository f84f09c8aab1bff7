"""CBT / TAR (any compression tarfile reads)."""

from __future__ import annotations

import tarfile
from pathlib import Path

from .base import ArchiveBook, ContainerError, Limits
from .entries import Entry


class CbtBook(ArchiveBook):
    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(Path(path), limits or Limits(), format="cbt")
        try:
            self.archive = tarfile.open(self.path, "r:*")  # noqa: SIM115 - closed by close()
            self.members = {m.name: m for m in self.archive.getmembers()}
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ContainerError("unreadable", f"not a readable tar archive: {exc}") from None

    def list_entries(self) -> list[Entry]:
        entries = []
        for member in self.members.values():
            if member.isdir():
                kind = "dir"
            elif member.issym() or member.islnk():
                kind = "symlink"
            elif member.isfile():
                kind = "file"
            else:
                kind = "other"
            entries.append(Entry(member.name, member.size, kind))
        return entries

    def read_entry(self, entry: Entry) -> bytes:
        handle = self.archive.extractfile(self.members[entry.name])
        if handle is None:
            raise ContainerError("unreadable", f"tar member {entry.name!r} has no data")
        with handle:
            return handle.read(self.limits.max_entry_bytes + 1)

    def close(self) -> None:
        self.archive.close()
