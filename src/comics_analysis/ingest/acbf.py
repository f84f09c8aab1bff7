"""ACBF books: an ``.acbf`` file with its images beside it, or an archive (CBZ, CB7, CBT) with an
``.acbf`` inside.

The ACBF decides the pages and their order: the cover page, then the body pages (as
:mod:`comics_analysis.dataspec.acbf` reads them). An image ``href`` is a path relative to the
ACBF (inside the folder, or inside the archive: paths that climb out are refused), or ``#id``, an
image embedded in the ACBF's ``<data>`` as base64. Archive images the ACBF does not name are not
pages (each is reported, kind ``not_in_acbf``). The book metadata (:mod:`~.dataspec.acbf_meta`)
goes into the manifest's ``book_metadata`` under ``acbf``, and fills the title, series, number,
publisher and year a ComicInfo.xml in the same archive lacks (ComicInfo wins: it is what library
managers edit). The cover page gets page type ``cover`` (source ``acbf``) unless ComicInfo
types it.

Ground truth: the frames (panels, source ``gt``) and text-areas (lettering units with their
polygons and kinds) of the book's main language (the text layer drawn in the images, ACBF's
``show="false"``, else the first declared: what OCR reads on the page) become DataSpec pages with
the ingested page ids and images, written to ``OUT/groundtruth/<book_id>.jsonl`` beside an
``images-root.txt`` that points at ``OUT``: that folder reads like an ``annotate`` output (``eval
panels --gt``, ``export acbf``, ``dataset build``). Each other language's text layers (the
translations) are the same pages with that language's lettering, in
``OUT/groundtruth/lang-<lang>/<book_id>.jsonl`` (a DataSpec folder of its own, for training or
evaluating in that language); ``export acbf`` writes them back as text layers. A malformed
frame or text-area is skipped with a warning naming the file and element; the rest of the book
is read.

Parsing is defusedxml's (no DTD, no entities, no network); with the schemas at hand
(:mod:`~.dataspec.schemas`) an ACBF 1.1 document is validated too, each problem a warning.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from ..dataspec import DataSpecError, Provenance, atomic_write, write_jsonl
from ..dataspec.acbf import (
    NAMESPACES,
    acbf_languages,
    acbf_page,
    choose_language,
    image_href,
    page_elements,
    parse_acbf,
)
from ..dataspec.acbf_meta import acbf_metadata, book_fields, decode_binary, embedded_images
from ..dataspec.io import image_escapes
from ..dataspec.schemas import warn_invalid
from .base import Book, ContainerError, Limits, RawPage
from .entries import Entry, Skipped

log = logging.getLogger(__name__)

GROUND_TRUTH_DIR = "groundtruth"
IMAGES_ROOT_FILE = "images-root.txt"  # annotate's name for it (annotate.pipeline.IMAGES_ROOT_FILE)
MAX_ACBF_BYTES = 1 << 30  # an ACBF with every image embedded is large, but not this large


def is_acbf_name(name: str) -> bool:
    return name.lower().endswith(".acbf")


def has_acbf(folder: Path) -> bool:
    """Whether a folder holds an ACBF book (its images are that book's, not a folder book)."""
    return any(p.is_file() and is_acbf_name(p.name) for p in folder.iterdir())


class AcbfDocument:
    """A parsed ACBF: its pages in reading order, metadata, embedded images and ground truth."""

    def __init__(self, data: bytes, source: str, base: str = "", validate: bool = True):
        self.source, self.base = source, base  # base: the ACBF's folder inside an archive
        self.root = parse_acbf(data, source)
        if validate and self.root.tag == f"{{{NAMESPACES[0]}}}ACBF":
            warn_invalid(data, "acbf-1.1", source)
        self.elements = page_elements(self.root)
        if not self.elements:
            raise ContainerError("empty", f"{source}: no coverpage and no body/page elements")
        self.lang = choose_language(self.root, None, source)  # the main language (lettered in the images)
        self.other_langs = [lang for lang in acbf_languages(self.root) if lang != self.lang]
        self.meta = acbf_metadata(self.root)
        self.binaries = embedded_images(self.root)

    def metadata(self, existing: dict | None = None) -> dict:
        """Book metadata as readers return it, with ``acbf``; ``existing`` (ComicInfo's) wins."""
        out = dict(existing or {})
        for key, value in book_fields(self.meta).items():
            if out.get(key) in (None, "") and value not in (None, ""):
                out[key] = value
        out["acbf"] = self.meta
        return out

    @property
    def has_cover(self) -> bool:
        """Whether the first page is the ACBF's ``<coverpage>``."""
        return self.elements[0][0].endswith("coverpage")

    def resolve(self, href: str) -> str | None:
        """The archive or folder path an external ``href`` names; None when it climbs out."""
        if image_escapes(href) or "\\" in href or ":" in href.split("/", 1)[0]:
            return None
        path = posixpath.normpath(posixpath.join(self.base, href))
        return None if path.startswith("../") or path == ".." else path

    def pages(self, read: Callable[[str], RawPage], limit: int) -> Iterator[RawPage]:
        """Raw pages in ACBF order; ``read(path)`` reads an external image (folder or archive)."""
        for where, element in self.elements:
            href = image_href(element)
            if not href:
                yield RawPage(where, error_kind="missing_image", error=f"{where}: no <image href=...>")
            elif href.startswith("#"):
                yield self._embedded(href, limit)
            else:
                path = self.resolve(href)
                if path is None:
                    yield RawPage(href, error_kind="unsafe_path", error=f"{where}: image {href!r} refused")
                else:
                    yield read(path)

    def _embedded(self, href: str, limit: int) -> RawPage:
        binary = self.binaries.get(href[1:])
        if binary is None:
            return RawPage(href, error_kind="missing_image", error=f"no <binary id={href[1:]!r}> in <data>")
        try:
            return RawPage(href, data=decode_binary(binary, limit))
        except ValueError as exc:
            return RawPage(href, error_kind="unreadable_entry", error=str(exc))

    def ground_truth(self, rows: list[dict], source_path: str, lang: str | None = None) -> list:
        """DataSpec pages of the ingested pages ``rows`` (in ACBF order): frames and the
        text-areas of ``lang`` (default: the main language)."""
        pages = []
        for (where, element), row in zip(self.elements, rows):
            if row.get("status") != "ok":
                continue
            provenance = Provenance(
                source_path=source_path,
                source_entry=row["source_entry"],
                image_sha256=row.get("sha256"),
                page_type_source=row.get("page_type_source"),
            )
            try:
                page = acbf_page(
                    element,
                    where,
                    row["page_index"],
                    row["book_id"],
                    (row["width"], row["height"]),
                    row["path"],
                    lang or self.lang,
                    self.source,
                    provenance,
                    strict=False,
                )
            except DataSpecError as exc:
                log.warning("%s: no ground truth for %s (%s)", self.source, where, exc)
                continue
            page.page_type = row.get("page_type")
            pages.append(page)
        return pages


def load_document(data: bytes, source: str, base: str = "") -> AcbfDocument:
    """:class:`AcbfDocument`, or a :class:`ContainerError` (kind ``unreadable``) naming ``source``."""
    try:
        return AcbfDocument(data, source, base)
    except DataSpecError as exc:
        raise ContainerError("unreadable", str(exc)) from None


class AcbfBook(Book):
    """An ``.acbf`` file; its images are files beside it (or embedded)."""

    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(Path(path), limits or Limits(), format="acbf")
        size = self.path.stat().st_size
        if size > MAX_ACBF_BYTES:
            raise ContainerError("too_large", f"ACBF file is {size} bytes (limit {MAX_ACBF_BYTES})")
        self.acbf = load_document(self.path.read_bytes(), self.path.name)
        self.metadata = self.acbf.metadata()

    def _read(self, rel: str) -> RawPage:
        path = self.path.parent / rel
        limit = self.limits.max_entry_bytes
        try:
            if path.is_symlink():
                return RawPage(rel, error_kind="symlink", error="refused symbolic link")
            if path.stat().st_size > limit:
                return RawPage(rel, error_kind="too_large", error=f"image is over {limit} bytes")
            return RawPage(rel, data=path.read_bytes())
        except FileNotFoundError:
            return RawPage(rel, error_kind="missing_image", error=f"image {rel!r} not found beside the ACBF")
        except OSError as exc:
            return RawPage(rel, error_kind="unreadable_entry", error=f"{type(exc).__name__}: {exc}")

    def pages(self) -> Iterator[RawPage]:
        yield from self.acbf.pages(self._read, self.limits.max_entry_bytes)


def archive_pages(book, acbf_entry: Entry, pages: list[Entry]) -> Iterator[RawPage]:
    """The pages of an archive ``book`` holding ``acbf_entry``, in the ACBF's order (module
    docstring); sets ``book.acbf`` and adds the ACBF's metadata to ``book.metadata``."""
    data = book.read_entry(acbf_entry)
    if len(data) > book.limits.max_entry_bytes:
        raise ContainerError(
            "too_large", f"{acbf_entry.name} inflates past {book.limits.max_entry_bytes} bytes"
        )
    base = posixpath.dirname(acbf_entry.name.replace("\\", "/"))
    book.acbf = load_document(data, f"{book.path.name}: {acbf_entry.name}", base)
    book.metadata = book.acbf.metadata(book.metadata)
    by_name = {e.name.replace("\\", "/"): e for e in pages}
    folded = {name.lower(): e for name, e in by_name.items()}
    used: set[str] = set()

    def read(path: str) -> RawPage:
        entry = by_name.get(path) or folded.get(path.lower())
        if entry is None:
            return RawPage(path, error_kind="missing_image", error=f"{path!r} is not in the archive")
        used.add(entry.name)
        return book.read_page(entry)

    yield from book.acbf.pages(read, book.limits.max_entry_bytes)
    for entry in pages:
        if entry.name not in used:
            book.skipped.append(Skipped(entry.name, "not_in_acbf", "an image the ACBF does not name"))


def content_sha256(path: Path) -> str:
    """SHA-256 of an ``.acbf`` file and every image file beside it that it names, so that a
    changed image makes ingest read the book again (the book id stays the ACBF's)."""
    digest = hashlib.sha256(path.read_bytes())
    try:
        document = AcbfDocument(path.read_bytes(), path.name, validate=False)
    except (DataSpecError, ContainerError):
        return digest.hexdigest()
    for _, element in document.elements:
        href = image_href(element) or ""
        rel = document.resolve(href) if href and not href.startswith("#") else None
        image = path.parent / rel if rel else None
        if image is not None and image.is_file() and not image.is_symlink():
            digest.update(rel.encode("utf-8") + b"\0" + hashlib.sha256(image.read_bytes()).digest())
    return digest.hexdigest()


def write_ground_truth(out: Path, document: AcbfDocument, rows: list[dict], source_path: str) -> str | None:
    """Write the book's ground truth (module docstring); returns its path relative to ``out``."""
    pages = document.ground_truth(rows, source_path)
    if not pages:
        return None
    rel = f"{GROUND_TRUTH_DIR}/{pages[0].book_id}.jsonl"
    _write_truth(out / GROUND_TRUTH_DIR, pages, "..")
    for lang in document.other_langs:  # the translations: same pages, that language's lettering
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,34}", lang):
            log.warning(
                "%s: text layer language %r is not a language tag; not written", document.source, lang
            )
            continue
        translated = document.ground_truth(rows, source_path, lang)
        if translated:
            _write_truth(out / GROUND_TRUTH_DIR / f"lang-{lang}", translated, "../..")
    return rel


def _write_truth(folder: Path, pages: list, images_root: str) -> None:
    write_jsonl(pages, folder / f"{pages[0].book_id}.jsonl")
    if not (folder / IMAGES_ROOT_FILE).is_file():
        with atomic_write(folder / IMAGES_ROOT_FILE) as handle:
            handle.write(images_root + "\n")
