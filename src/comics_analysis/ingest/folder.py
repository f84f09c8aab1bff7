"""A plain folder of images is one book; its pages are the image files directly inside it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .base import ArchiveBook, ContainerError, Limits
from .entries import Entry, plan_pages


def folder_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` in natural order (the same filter as archives)."""
    entries = [
        Entry(p.name, 0, "symlink" if p.is_symlink() else "file") for p in folder.iterdir() if p.is_file()
    ]
    return [folder / e.name for e in plan_pages(entries).pages]


def folder_sha256(folder: Path) -> str:
    """A folder's content hash: SHA-256 over (name, SHA-256 of bytes) of its pages, in page order.

    Stable across machines and moves of the folder, changed by any edit of a page.
    """
    digest = hashlib.sha256()
    for path in folder_images(folder):
        digest.update(path.name.encode("utf-8") + b"\0" + hashlib.sha256(path.read_bytes()).digest() + b"\n")
    return digest.hexdigest()


class FolderBook(ArchiveBook):
    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(Path(path), limits or Limits(), format="folder")
        if not self.path.is_dir():
            raise ContainerError("unreadable", "not a folder")

    def list_entries(self) -> list[Entry]:
        entries = []
        for p in sorted(self.path.iterdir()):
            if p.is_symlink():
                entries.append(Entry(p.name, 0, "symlink"))
            elif p.is_file():
                entries.append(Entry(p.name, p.stat().st_size, "file"))
        return entries

    def read_entry(self, entry: Entry) -> bytes:
        with open(self.path / entry.name, "rb") as handle:
            return self.clock.read(handle, self.limits.max_entry_bytes + 1)
