"""Write ACBF 1.1 (Advanced Comic Book Format) for panel-by-panel reading in comic readers.

One ``.acbf`` per book of an annotate folder (or of any folder of DataSpec JSON Lines, such as
the ``groundtruth/`` folder ingest writes for ACBF books): the book's metadata
(:mod:`.acbf_info`), page 0 as the ``<coverpage>`` and the others as ``<body><page>``s, each
with its ``<image href>``, ``<frame points>`` per panel in reading order (the panel's polygon when
known, else its box), and a ``<text-layer>`` with a ``<text-area points type>`` per lettering
unit (its polygon when known, else its box; its text as one paragraph) in the book's language,
plus one per other language of an ACBF book (``groundtruth/lang-<lang>/``, written by ingest).
Points are whole pixels (rounded: within half a pixel of the DataSpec coordinates). DataSpec text kind -> ACBF
text-area type (lossy where DataSpec has fewer kinds; reading back gives the same kinds):

================================  ===================
dialogue                          (none: speech)
narration                         commentary
sfx                               audio
unknown, page_number, signature   sign
================================  ===================

Images: ``entries`` (default) names each page by its entry in the book (an image file beside an
``.acbf`` or in a folder book, a member of a CBZ), which is what the book's readers open when
the ``.acbf`` sits in the archive (``copy``, ``in-place``) or beside the images; ``embed`` puts
the ingested page images into the ``.acbf`` (``<data><binary>``, base64): one self-contained file,
for any container (PDF, EPUB, CBR ...). Pages that were embedded in the original ACBF are
embedded again.

Modes as ``export comicinfo``: ``sidecar`` writes ``OUT/<container path without its
extension>.acbf``; ``copy`` writes a copy of each CBZ with ``<name>.acbf`` at its root (any other
``.acbf`` member replaced); ``in-place`` rewrites the CBZ itself, atomically. A book whose
archive cannot be rewritten (damaged, encrypted, read-only) is reported and left byte-identical.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree as ET

from ..dataspec import Page, read_jsonl
from ..dataspec.io import resolve_image
from ..dataspec.schemas import warn_invalid
from .acbf_info import NS, book_language, from_comicinfo, meta_data, q, sub
from .archive import REWRITE_ERRORS, ExportResult, check_mode, is_zip, read_books, rewrite_zip, write_sidecar
from .comicinfo import BOOK_FIELDS

log = logging.getLogger(__name__)

TYPE_OF_KIND = {
    "dialogue": None,
    "narration": "commentary",
    "sfx": "audio",
    "unknown": "sign",
    "page_number": "sign",
    "signature": "sign",
}
IMAGES = ("entries", "embed")


def _points(polygon) -> str:
    return " ".join(f"{round(x)},{round(y)}" for x, y in polygon)


def _outline(item) -> list[tuple[float, float]]:
    if item.polygon:
        return list(item.polygon)
    x, y, w, h = item.bbox
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def _page_content(element: ET.Element, page: Page, href: str, lang: str, layers: dict | None = None) -> None:
    sub(element, "image", href=href)
    translated = [
        (other, pages[page.page_id]) for other, pages in (layers or {}).items() if page.page_id in pages
    ]
    for layer_lang, source in [(lang, page), *translated]:
        if source.texts:
            layer = sub(element, "text-layer", lang=layer_lang)
            for text in source.texts:
                kind = TYPE_OF_KIND.get(text.kind)
                sub(sub(layer, "text-area", points=_points(_outline(text)), type=kind), "p", text.text)
    for panel in page.panels:
        sub(element, "frame", points=_points(_outline(panel)))


def acbf_xml(
    pages: list[Page],
    hrefs: list[str],
    meta: dict,
    lang: str,
    binaries: dict[str, tuple[str, bytes]] | None = None,
    layers: dict[str, dict[str, Page]] | None = None,
) -> bytes:
    """An ACBF 1.1 document of ``pages`` (in order; their images named by ``hrefs``), with the
    book metadata ``meta`` (the shape of ``dataspec.acbf_meta.acbf_metadata``), the pages' text
    layer in ``lang``, one more per language of ``layers`` ({lang: {page id: page with that
    language's lettering}}) and ``binaries`` ({id: (content type, bytes)}) embedded in ``<data>``."""
    root = ET.Element(q("ACBF"), xmlns=NS)
    cover = None
    body_pages = list(zip(pages, hrefs))
    if len(pages) > 1:  # a one-page book is its body's page (the body needs one)
        cover = ET.Element(q("coverpage"))
        _page_content(cover, pages[0], hrefs[0], lang, layers)
        body_pages = body_pages[1:]
    meta_data(root, meta, lang, cover, others=list(layers or {}))
    body = sub(root, "body")
    for page, href in body_pages:
        _page_content(sub(body, "page"), page, href, lang, layers)
    if binaries:
        data = sub(root, "data")
        for binary_id, (content_type, payload) in binaries.items():
            sub(
                data,
                "binary",
                base64.b64encode(payload).decode("ascii"),
                id=binary_id,
                content_type=content_type,
            )
    ET.indent(root, space=" ")
    text = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8")


def _book_meta(metadata: dict, first_row: dict, lang: str | None) -> tuple[dict, str]:
    fields = dict(metadata.get("comicinfo") or {})
    for key, name in BOOK_FIELDS:
        if first_row.get(key) not in (None, "") and name not in fields:
            fields[name] = first_row[key]
    calibre = metadata.get("calibre") or {}
    meta = metadata.get("acbf") or from_comicinfo(fields, calibre)
    return meta, lang or book_language(meta, fields, calibre)


def _images(book, images: str, images_root: Path | None) -> tuple[list[str], dict]:
    """Each page's href and the binaries to embed (module docstring)."""
    hrefs, binaries = [], {}
    for page in book.pages:
        entry = page.provenance.source_entry or book.rows.get(page.page_id, {}).get("source_entry")
        if images == "entries" and entry and not entry.startswith("#"):
            hrefs.append(PurePosixPath(entry.replace("\\", "/")).as_posix())
            continue
        if images_root is None or not page.image:
            raise ValueError(
                f"page {page.page_id}: embedding its image needs the ingest folder (images root)"
            )
        path = resolve_image(images_root, page.image, page.page_id)
        binary_id = f"p{page.page_index:04d}{path.suffix.lower()}"
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        binaries[binary_id] = (content_type, path.read_bytes())
        hrefs.append(f"#{binary_id}")
    return hrefs, binaries


def translated_pages(pages_arg: str | Path) -> dict[str, dict[str, dict[str, Page]]]:
    """{book id: {lang: {page id: page}}} of the ``lang-<lang>/`` folders beside the pages (ingest
    writes an ACBF book's other text layers there, :mod:`comics_analysis.ingest.acbf`)."""
    found: dict[str, dict[str, dict[str, Page]]] = {}
    folder = Path(pages_arg)
    for sub_folder in sorted(folder.glob("lang-*")) if folder.is_dir() else []:
        for path in sorted(sub_folder.glob("*.jsonl")):
            for page in read_jsonl(path):
                found.setdefault(page.book_id, {}).setdefault(sub_folder.name[5:], {})[page.page_id] = page
    return found


def sidecar_name(source: str, book_id: str) -> str:
    """``x.cbz`` -> ``x.acbf``, a folder ``x`` -> ``x.acbf``; the library root itself (``.``) ->
    ``<book id>.acbf``."""
    path = PurePosixPath(source)
    if not path.name or path.name in (".", ".."):
        return f"{book_id}.acbf"
    return (path.with_suffix(".acbf") if path.suffix else path.with_name(path.name + ".acbf")).as_posix()


def export_acbf(
    pages_arg: str | Path,
    out: str | Path | None = None,
    *,
    mode: str = "sidecar",
    library: str | Path | None = None,
    lang: str | None = None,
    images: str = "entries",
) -> ExportResult:
    """ACBF for every book of an annotate folder (module docstring). ``library``: the folder that
    was ingested (needed by ``copy`` and ``in-place``); ``lang``: the text layer's language
    (default: the book's, else ``und``)."""
    check_mode(mode, out, library)
    if images not in IMAGES:
        raise ValueError(f"unknown images option {images!r}; expected one of {', '.join(IMAGES)}")
    books, images_root = read_books(pages_arg)
    translations = translated_pages(pages_arg)
    result = ExportResult(what=".acbf")
    out = Path(out) if out is not None else None
    for book in books:
        source = book.source
        container = Path(library) / source if library is not None else None
        try:
            meta, layer = _book_meta(book.metadata, book.first_row, lang)
            hrefs, binaries = _images(book, images, images_root)
            layers = {
                other: pages for other, pages in translations.get(book.book_id, {}).items() if other != layer
            }
            xml = acbf_xml(book.pages, hrefs, meta, layer, binaries, layers)
            warn_invalid(xml, "acbf-1.1", f"{source}: the ACBF written")  # when the schemas are at hand
            if mode == "sidecar" or not is_zip(container):
                if mode != "sidecar":
                    if out is None:
                        raise ValueError("not a zip; a sidecar needs an output folder (out)")
                    result.sidecars.append(Path(source))
                target = out / sidecar_name(source, book.book_id)
                if container is not None and target.resolve() == container.resolve():
                    raise ValueError(
                        f"the sidecar {target} would replace the book itself; choose another --out"
                    )
                write_sidecar(target, xml)
            else:
                target = out / source if mode == "copy" else container
                target.parent.mkdir(parents=True, exist_ok=True)
                name = f"{PurePosixPath(source).stem}.acbf"
                rewrite_zip(container, target, name, xml, lambda member: member.lower().endswith(".acbf"))
            result.written.append(target)
        except REWRITE_ERRORS as exc:
            result.errors.append(f"{source}: {type(exc).__name__}: {exc}")
            log.warning("%s: not written (%s)", source, exc)
    return result


__all__ = ["IMAGES", "TYPE_OF_KIND", "acbf_xml", "export_acbf"]
