"""What every export to a comic file shares: the books of an annotate folder with their manifest
rows, and the atomic rewrite of a zip with one member replaced."""

from __future__ import annotations

import json
import os
import stat
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..annotate.pipeline import read_annotations, recorded_images_root
from ..dataspec import Page, atomic_write
from ..ingest import read_manifest

MODES = ("sidecar", "copy", "in-place")
REWRITE_ERRORS = (OSError, zipfile.BadZipFile, ValueError, RuntimeError)  # encrypted: RuntimeError


@dataclass
class ExportResult:
    written: list[Path] = field(default_factory=list)
    sidecars: list[Path] = field(default_factory=list)  # books that could only get a sidecar
    errors: list[str] = field(default_factory=list)
    what: str = "ComicInfo.xml"

    def summary_text(self) -> str:
        lines = [f"{len(self.written)} file(s) written"]
        if self.sidecars:
            lines.append(f"{len(self.sidecars)} book(s) are not zips: a sidecar {self.what} instead")
        lines += [f"error: {e}" for e in self.errors]
        return "\n".join(lines)


@dataclass
class Book:
    book_id: str
    pages: list[Page]  # in page order
    source: str  # the container's path relative to the library root
    rows: dict[str, dict]  # page_id -> manifest row (empty without the ingest folder)
    metadata: dict  # the manifest's book_metadata (JSON): comicinfo, acbf, calibre

    @property
    def first_row(self) -> dict:
        return self.rows.get(self.pages[0].page_id, {})


def check_mode(mode: str, out, library) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if mode != "in-place" and out is None:
        raise ValueError(f"mode {mode} needs an output folder (out)")
    if mode in ("copy", "in-place") and library is None:
        raise ValueError(f"mode {mode} needs the library folder that was ingested (library)")


def read_books(pages_arg: str | Path) -> tuple[list[Book], Path | None]:
    """The books of an annotate folder (or a folder of DataSpec JSON Lines) and the images root
    recorded with it (None when unknown)."""
    pages = read_annotations(pages_arg)
    if not pages:
        raise FileNotFoundError(f"{pages_arg}: no DataSpec pages")
    images_root = recorded_images_root(pages_arg)
    rows: dict[str, dict] = {}
    if images_root is not None and (images_root / "manifest.parquet").is_file():
        rows = {r["page_id"]: r for r in read_manifest(images_root).rows()}
    by_book: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        by_book[page.book_id].append(page)
    books = []
    for book_id, book_pages in sorted(by_book.items()):
        book_pages.sort(key=lambda p: p.page_index)
        first = rows.get(book_pages[0].page_id, {})
        source = book_pages[0].provenance.source_path or first.get("source_path") or book_id
        metadata = json.loads(first["book_metadata"]) if first.get("book_metadata") else {}
        books.append(Book(book_id, book_pages, source, rows, metadata))
    return books, images_root


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_sidecar(target: Path, data: bytes) -> None:
    """``data`` to ``target`` atomically, readable as any new file is (the temporary file's
    owner-only mode would hide it from a library server running as another user)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target, "wb") as handle:
        handle.write(data)
    os.chmod(target, 0o666 & ~_umask())


def is_zip(path: Path | None) -> bool:
    """Whether ``path`` is a zip book to rewrite: a zip, or a file named ``.cbz`` / ``.zip`` (a
    damaged one is not given a sidecar instead: its rewrite fails and is reported)."""
    if path is None or not path.is_file():
        return False
    return path.suffix.lower() in (".cbz", ".zip") or zipfile.is_zipfile(path)


def rewrite_zip(source: Path, target: Path, name: str, data: bytes, drop: Callable[[str], bool]) -> None:
    """``source`` zip with the members ``drop(name)`` selects removed and ``name`` (``data``)
    added, written atomically to ``target`` (a temporary file beside it, read back and CRC-checked,
    fsynced, renamed): every other member keeps its name, bytes, date and compression. A
    read-only ``target`` (no write permission bit) is refused, even for root: on any failure
    ``target`` is untouched."""
    if target.exists() and not target.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionError(
            f"{target} is read-only (mode {stat.filemode(target.stat().st_mode)}); not rewritten"
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(source) as old, zipfile.ZipFile(handle, "w") as new:
                for info in old.infolist():
                    if drop(info.filename):
                        continue
                    new.writestr(info, old.read(info), compress_type=info.compress_type)
                entry = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_DEFLATED
                new.writestr(entry, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(source.stat().st_mode))  # the archive keeps its permissions
        with zipfile.ZipFile(tmp) as check:  # read back before anything is replaced
            bad = check.testzip()
            if bad is not None:
                raise zipfile.BadZipFile(f"member {bad} failed its CRC check")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
