"""CBR / RAR via ``rarfile``, which needs the system tool ``unar``, ``unrar`` or ``bsdtar``."""

from __future__ import annotations

from pathlib import Path

import rarfile

from .base import ArchiveBook, ContainerError, Limits
from .entries import Entry

INSTALL_HINT = "install one of unar, unrar or bsdtar (Debian: apt-get install unar)"


def rar_tool() -> str | None:
    """The extraction tool rarfile will use (e.g. "unar"), or None when the system has none."""
    try:
        setup = rarfile.tool_setup(force=True)
    except rarfile.RarCannotExec:
        return None
    return setup.get_cmdline("open_cmd", "x")[0]


class CbrBook(ArchiveBook):
    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(Path(path), limits or Limits(), format="cbr")
        try:
            self.archive = rarfile.RarFile(self.path)
        except rarfile.NeedFirstVolume as exc:
            raise ContainerError("unreadable", f"not the first volume of a multi-part RAR: {exc}") from None
        except (rarfile.Error, OSError) as exc:
            if "password" in str(exc).lower():
                raise ContainerError("encrypted", "RAR archive has encrypted headers") from None
            raise ContainerError("unreadable", f"not a readable RAR archive: {exc}") from None
        self.infos = {info.filename: info for info in self.archive.infolist()}

    def list_entries(self) -> list[Entry]:
        entries = []
        for info in self.infos.values():
            if info.is_dir():
                kind = "dir"
            elif info.is_symlink():
                kind = "symlink"
            elif info.is_file():
                kind = "file"
            else:
                kind = "other"
            entries.append(
                Entry(info.filename, int(info.file_size or 0), kind, encrypted=info.needs_password())
            )
        return entries

    def compression_ratio(self, entry: Entry) -> float | None:
        info = self.infos[entry.name]
        return (info.file_size or 0) / max(info.compress_size or 0, 1)

    def read_entry(self, entry: Entry) -> bytes:
        try:
            with self.archive.open(self.infos[entry.name]) as handle:
                return handle.read(self.limits.max_entry_bytes + 1)
        except rarfile.RarCannotExec:
            raise ContainerError("missing_tool", f"cannot extract RAR data: {INSTALL_HINT}") from None

    def close(self) -> None:
        self.archive.close()
