"""CBR / RAR via ``rarfile``, which needs the system tool ``unar``, ``unrar`` or ``bsdtar``.

Stored (uncompressed) entries are read by ``rarfile`` itself; compressed ones through the tool.
bsdtar (libarchive) reads neither solid archives, RARVM filters nor passwords, so when it is the
tool, an entry it cannot decode is a transient ``missing_tool`` failure naming unar or unrar (the
same bytes may read once one is installed), never a final verdict on the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import rarfile

from .base import ArchiveBook, ContainerError, Limits
from .entries import Entry

INSTALL_HINT = "install one of unar, unrar or bsdtar (Debian: apt-get install unar)"
BSDTAR_HINT = "install unar or unrar (Debian: apt-get install unar) to read it"


class _BsdtarSetup(rarfile.ToolSetup):
    """rarfile's bsdtar command line with the archive right after ``-f``.

    rarfile 4.5 builds ``bsdtar -x --to-stdout -f -- ARCHIVE [NAME]``, so bsdtar opens a file
    named ``--`` and every compressed entry fails. bsdtar takes member names as patterns, so
    the name's wildcard characters are escaped.
    """

    def open_cmdline(self, pwd, rarfn, filefn=None):
        if pwd is not None:
            raise rarfile.RarCannotExec("bsdtar does not support passwords")
        cmdline = [rarfile.BSDTAR_TOOL, "-x", "--to-stdout", "-f", rarfn]
        if filefn:
            cmdline += ["--", re.sub(r"([\\*?\[])", r"\\\1", filefn)]
        return cmdline


def _setup() -> rarfile.ToolSetup:
    """rarfile's chosen tool (cached by rarfile), with bsdtar's command line corrected."""
    setup = rarfile.tool_setup()
    if setup.setup is rarfile.BSDTAR_CONFIG and not isinstance(setup, _BsdtarSetup):
        setup = rarfile.CURRENT_SETUP = _BsdtarSetup(rarfile.BSDTAR_CONFIG)
    return setup


def rar_tool() -> str | None:
    """The extraction tool rarfile will use (e.g. "unar"), or None when the system has none."""
    try:
        rarfile.tool_setup(force=True)
        return Path(_setup().get_cmdline("check_cmd", None)[0]).name
    except rarfile.RarCannotExec:
        return None


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
        info = self.infos[entry.name]
        stored = info.compress_type == rarfile.RAR_M0 and not info.needs_password()
        try:
            tool = None if stored else _setup()
            with self.archive.open(info) as handle:
                return self.clock.read(handle, self.limits.max_entry_bytes + 1)
        except rarfile.RarCannotExec:
            raise ContainerError("missing_tool", f"cannot extract RAR data: {INSTALL_HINT}") from None
        except rarfile.Error:
            if isinstance(tool, _BsdtarSetup):
                solid = " (a solid archive, which libarchive cannot read)" if self.archive.is_solid() else ""
                raise ContainerError(
                    "missing_tool",
                    f"bsdtar could not decode {entry.name!r}{solid}: {BSDTAR_HINT}",
                ) from None
            raise

    def close(self) -> None:
        self.archive.close()
