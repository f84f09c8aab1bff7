"""Write ComicInfo.xml for comic readers and library managers (Komga, Kavita, YACReader, ...).

One file per book: the book's own ComicInfo fields as ingest read them (``book_metadata``), then
``<Pages>`` with each page's ``Type`` (from its DataSpec page type), ``DoublePage``,
``ImageSize``, ``ImageWidth`` and ``ImageHeight``. Elements are written in the schema's order
(v2.0, or the v2.1 draft when a field of the draft is present), so the file validates.

DataSpec page type -> ComicInfo Type (the reverse of ingest's mapping; lossy where ComicInfo
has no type of its own: credits_indicia and art_backmatter -> Other, text_backmatter ->
Editorial):

==================  ===============
cover               FrontCover
cover_internal      InnerCover
credits_indicia     Other
story               Story
advertisement       Advertisement
preview             Preview
text_backmatter     Editorial
art_backmatter      Other
back_cover          BackCover
other               Other
==================  ===============

Three ways out: a sidecar ``.ComicInfo.xml`` per book, a copy of the CBZ with the new
ComicInfo.xml inside, or (only when asked) the original CBZ rewritten in place: written to a
temporary file beside it, fsynced, then renamed over it, so a failure leaves the original
byte-identical. Only zip containers can be rewritten; other formats get a sidecar.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ..dataspec import Page
from .archive import REWRITE_ERRORS, ExportResult, check_mode, is_zip, read_books, rewrite_zip, write_sidecar

log = logging.getLogger(__name__)

TYPE_OF_PAGE: dict[str, str] = {
    "cover": "FrontCover",
    "cover_internal": "InnerCover",
    "credits_indicia": "Other",
    "story": "Story",
    "advertisement": "Advertisement",
    "preview": "Preview",
    "text_backmatter": "Editorial",
    "art_backmatter": "Other",
    "back_cover": "BackCover",
    "other": "Other",
}
# element order of the schemas (an xs:sequence: order matters)
ORDER_V20 = [
    "Title",
    "Series",
    "Number",
    "Count",
    "Volume",
    "AlternateSeries",
    "AlternateNumber",
    "AlternateCount",
    "Summary",
    "Notes",
    "Year",
    "Month",
    "Day",
    "Writer",
    "Penciller",
    "Inker",
    "Colorist",
    "Letterer",
    "CoverArtist",
    "Editor",
    "Publisher",
    "Imprint",
    "Genre",
    "Web",
    "PageCount",
    "LanguageISO",
    "Format",
    "BlackAndWhite",
    "Manga",
    "Characters",
    "Teams",
    "Locations",
    "ScanInformation",
    "StoryArc",
    "SeriesGroup",
    "AgeRating",
    "Pages",
    "CommunityRating",
    "MainCharacterOrTeam",
    "Review",
]
ORDER_V21 = list(ORDER_V20)  # the v2.1 draft inserts four fields and appends GTIN
for _after, _name in (("Editor", "Translator"), ("Genre", "Tags"), ("StoryArc", "StoryArcNumber")):
    ORDER_V21.insert(ORDER_V21.index(_after) + 1, _name)
ORDER_V21.append("GTIN")
# manifest columns that fill a ComicInfo field the book's own ComicInfo lacks (calibre's, say)
BOOK_FIELDS = (
    ("series", "Series"),
    ("number", "Number"),
    ("title", "Title"),
    ("publisher", "Publisher"),
    ("year", "Year"),
)


def comicinfo_xml(fields: dict[str, Any], pages: list[dict[str, Any]]) -> bytes:
    """A ComicInfo document: ``fields`` (element name -> value; unknown names are dropped) and
    ``pages`` (dicts with image, type and optional double_page, size, width, height)."""
    order = ORDER_V21 if set(fields) - set(ORDER_V20) & set(ORDER_V21) else ORDER_V20
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<ComicInfo xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
    ]
    fields = {**fields, "PageCount": len(pages)} if pages else dict(fields)
    for name in order:
        if name == "Pages":
            if pages:
                lines.append("  <Pages>")
                for page in pages:
                    attrs = [f'Image="{int(page["image"])}"']
                    if page.get("type"):
                        attrs.append(f"Type={quoteattr(page['type'])}")
                    if page.get("double_page"):
                        attrs.append('DoublePage="true"')
                    for key, attr in (
                        ("size", "ImageSize"),
                        ("width", "ImageWidth"),
                        ("height", "ImageHeight"),
                    ):
                        if page.get(key) is not None:
                            attrs.append(f'{attr}="{int(page[key])}"')
                    lines.append(f"    <Page {' '.join(attrs)} />")
                lines.append("  </Pages>")
            continue
        value = fields.get(name)
        if value is None or value == "":
            continue
        lines.append(f"  <{name}>{escape(str(value))}</{name}>")
    lines.append("</ComicInfo>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _book_pages(pages: list[Page], manifest_rows: dict[str, dict], images_root: Path | None) -> list[dict]:
    out = []
    for page in sorted(pages, key=lambda p: p.page_index):
        row = manifest_rows.get(page.page_id, {})
        size = row.get("bytes")
        if size is None and images_root is not None and page.image:
            path = images_root / page.image
            size = path.stat().st_size if path.is_file() else None
        out.append(
            {
                "image": page.page_index,
                "type": TYPE_OF_PAGE.get(page.page_type) if page.page_type else None,
                "double_page": bool(row.get("double_page")),
                "size": size,
                "width": page.width,
                "height": page.height,
            }
        )
    return out


def export_comicinfo(
    pages_arg: str | Path,
    out: str | Path | None = None,
    *,
    mode: str = "sidecar",
    library: str | Path | None = None,
) -> ExportResult:
    """ComicInfo.xml for every book of an annotate folder (``pages_arg``).

    ``mode``: ``sidecar`` writes ``OUT/<container path>.ComicInfo.xml``; ``copy`` writes
    ``OUT/<container path>``, a copy of the CBZ with the new ComicInfo.xml (other formats get a
    sidecar); ``in-place`` rewrites the CBZs under ``library`` themselves (atomically). ``library``
    is the folder that was ingested (the containers' paths are relative to it); needed by
    ``copy`` and ``in-place``.
    """
    check_mode(mode, out, library)
    books, images_root = read_books(pages_arg)
    result = ExportResult()
    out = Path(out) if out is not None else None
    for book in books:
        first, source = book.first_row, book.source
        fields = dict(book.metadata.get("comicinfo") or {})
        for key, name in BOOK_FIELDS:
            if first.get(key) not in (None, "") and name not in fields:
                fields[name] = first[key]
        xml = comicinfo_xml(fields, _book_pages(book.pages, book.rows, images_root))
        container = Path(library) / source if library is not None else None
        try:
            if mode == "sidecar" or not is_zip(container):
                if mode != "sidecar":
                    if out is None:
                        raise ValueError(f"{source}: not a zip; a sidecar needs an output folder (out)")
                    result.sidecars.append(Path(source))
                target = out / f"{source}.ComicInfo.xml"
                write_sidecar(target, xml)
            else:
                target = out / source if mode == "copy" else container
                target.parent.mkdir(parents=True, exist_ok=True)
                rewrite_zip(container, target, "ComicInfo.xml", xml, _is_comicinfo)
            result.written.append(target)
        except REWRITE_ERRORS as exc:
            result.errors.append(f"{source}: {type(exc).__name__}: {exc}")
            log.warning("%s: not written (%s)", source, exc)
    return result


def _is_comicinfo(name: str) -> bool:
    return name.rsplit("/", 1)[-1].lower() == "comicinfo.xml"
