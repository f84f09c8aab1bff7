"""Which archive entries are pages, in what order, and what ComicInfo.xml says about the book."""

from __future__ import annotations

import logging
import posixpath
import re
from dataclasses import dataclass, field

from .comicinfo import parse

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".jp2", ".avif"}
)
_THUMBNAIL = re.compile(
    r"(^|/)(thumbs?|thumbnails?|\.thumbnails)(/|$)|(^|/)[^/]*[._-]thumb(nail)?\.[a-z0-9]+$", re.I
)
_CHUNKS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Entry:
    """One member of a container, as listed (nothing read yet)."""

    name: str
    size: int = 0
    kind: str = "file"  # file | dir | symlink | other
    encrypted: bool = False
    key: str | None = None  # the reader's handle when names repeat (a zip may hold a name twice)

    @property
    def handle(self) -> str:
        return self.name if self.key is None else self.key


@dataclass
class Skipped:
    entry: str
    kind: str  # error kind, e.g. unsafe_path, symlink, encrypted_entry
    reason: str


def natural_key(name: str) -> tuple:
    """Sort key where digit runs compare as numbers: "p2" < "p10"; case-insensitive otherwise."""
    parts = _CHUNKS.split(name.replace("\\", "/").lower())
    return tuple((0, int(p), p) if p.isdigit() else (1, 0, p) for p in parts), name


def unsafe_reason(name: str) -> str | None:
    """Why an entry name could escape an extraction folder, or None when it is safe."""
    normal = name.replace("\\", "/")
    if normal.startswith("/") or re.match(r"^[A-Za-z]:", normal):
        return "absolute path"
    if ".." in normal.split("/"):
        return "'..' component"
    if "\x00" in normal:
        return "NUL byte in name"
    return None


def skip_reason(name: str) -> str | None:
    """Why a safe entry is not a page (None when it is one)."""
    normal = name.replace("\\", "/")
    base = posixpath.basename(normal)
    if normal.startswith("__MACOSX/") or "/__MACOSX/" in normal or base.startswith("._"):
        return "macOS resource fork"
    if base.lower() in {"thumbs.db", ".ds_store", "desktop.ini"}:
        return "system file"
    if base.startswith("."):
        return "hidden file"
    if _THUMBNAIL.search(normal):
        return "thumbnail"
    if posixpath.splitext(base)[1].lower() not in IMAGE_EXTENSIONS:
        return "not an image"
    return None


@dataclass
class PagePlan:
    pages: list[Entry] = field(default_factory=list)
    comic_info: Entry | None = None
    acbf: Entry | None = None  # an ACBF document: it orders the pages (ingest.acbf)
    skipped: list[Skipped] = field(default_factory=list)


def plan_pages(entries: list[Entry]) -> PagePlan:
    """Split a listing into page entries (natural order), ComicInfo.xml, an ACBF and recorded skips."""
    plan = PagePlan()
    for entry in entries:
        if entry.kind == "dir":
            continue
        unsafe = unsafe_reason(entry.name)
        if unsafe:
            plan.skipped.append(Skipped(entry.name, "unsafe_path", f"refused entry with {unsafe}"))
            continue
        if entry.kind == "symlink":
            plan.skipped.append(Skipped(entry.name, "symlink", "refused symbolic link entry"))
            continue
        if entry.kind != "file":
            plan.skipped.append(Skipped(entry.name, "not_a_file", f"refused {entry.kind} entry"))
            continue
        if posixpath.basename(entry.name.replace("\\", "/")).lower() == "comicinfo.xml":
            plan.comic_info = plan.comic_info or entry
            continue
        if entry.name.lower().endswith(".acbf") and not entry.encrypted:
            plan.acbf = plan.acbf or entry
            continue
        reason = skip_reason(entry.name)
        if reason is not None:
            continue  # not a page and not a problem: resource forks, text files, thumbnails
        if entry.encrypted:
            plan.skipped.append(Skipped(entry.name, "encrypted_entry", "entry is encrypted"))
            continue
        plan.pages.append(entry)
    plan.pages.sort(key=lambda e: natural_key(e.name))
    return plan


_OBJECT_REPR = re.compile(r"<([\w.]+) object at 0x[0-9a-fA-F]+>")


def stable_reason(text: str) -> str:
    """An error message without object addresses (``<_io.BytesIO object at 0x7f..>`` ->
    ``<_io.BytesIO>``), so identical runs write identical error tables."""
    return _OBJECT_REPR.sub(r"<\1>", text)


def printable_name(name: str) -> str:
    """A file or entry name as valid UTF-8 text for manifests and messages.

    Names that are not UTF-8 on disk (latin-1 folders, tar entries) reach Python as lone
    surrogates (``surrogateescape``), which Parquet and JSON refuse; their raw bytes are shown as
    ``\\xNN`` escapes instead, the same on every run.
    """
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def parse_comic_info(data: bytes, source: str = "ComicInfo.xml") -> dict[str, object]:
    """Book metadata from a ComicInfo.xml (:mod:`.comicinfo`): series, number, title, publisher,
    year and reading direction, plus ``comicinfo`` (every field) and ``pages`` (page types).

    Malformed XML gives an empty dict (metadata is optional); defusedxml refuses entity tricks.
    A value out of range (a year outside 1..9999) is dropped with a warning naming ``source``.
    """
    info = parse(data, source)
    if info is None:
        return {}
    fields = info.fields
    return {
        "series": fields.get("Series"),
        "number": fields.get("Number"),
        "title": fields.get("Title"),
        "publisher": fields.get("Publisher"),
        "year": fields.get("Year"),
        "reading_direction": info.reading_direction,
        "comicinfo": fields,
        "pages": info.pages,
    }
