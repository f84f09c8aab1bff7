"""ComicInfo.xml, every field of the v2.0 schema and the v2.1 draft, plain or namespaced.

The schema is one flat element of simple fields plus ``<Pages>``; it is read with defusedxml
(entity expansion and external references refused), namespaces stripped, integer fields checked
against their range (a value out of range is dropped with a warning naming the file and field),
and every other field kept as text, so unknown or future fields survive too. When the schemas are
at hand (``COMICS_ANALYSIS_SCHEMAS``, :mod:`comics_analysis.dataspec.schemas`) the document is also
validated (v2.0, or the v2.1 draft when it uses a v2.1 field; namespaces set aside): each problem
is a warning naming the file, line and element, and the file is read all the same.

``<Pages><Page Image="i" Type="..." DoublePage="true"/>`` gives each image (the i-th page image
of the container, in reading order) a page type, mapped to the DataSpec taxonomy:

=================  ==================  =================================================
ComicInfo Type     DataSpec page_type  why
=================  ==================  =================================================
FrontCover         cover
InnerCover         cover_internal      inside front or back cover
Roundup            text_backmatter     a recap or summary page: prose, not comics
Story              story               also the schema's default for a listed page
Advertisement      advertisement
Editorial          text_backmatter     prose
Letters            text_backmatter     letters column: prose
Preview            preview
BackCover          back_cover
Other              other
Deleted            other               a page the tagger hid; kept, never dropped
=================  ==================  =================================================

``Type`` may hold several values (an ``xs:list``); the first known one wins. Pages that the
file does not list get no type (None), not ``story``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ..dataspec.schemas import warn_invalid

log = logging.getLogger(__name__)

PAGE_TYPE_MAP: dict[str, str] = {
    "FrontCover": "cover",
    "InnerCover": "cover_internal",
    "Roundup": "text_backmatter",
    "Story": "story",
    "Advertisement": "advertisement",
    "Editorial": "text_backmatter",
    "Letters": "text_backmatter",
    "Preview": "preview",
    "BackCover": "back_cover",
    "Other": "other",
    "Deleted": "other",
}
# integer fields and the range a real value lies in
INT_FIELDS: dict[str, tuple[int, int]] = {
    "Count": (0, 1_000_000),
    "Volume": (0, 1_000_000),
    "AlternateCount": (0, 1_000_000),
    "Year": (1, 9999),
    "Month": (1, 12),
    "Day": (1, 31),
    "PageCount": (0, 1_000_000),
}
FLOAT_FIELDS = ("CommunityRating",)
V21_ONLY = frozenset({"Translator", "Tags", "StoryArcNumber", "GTIN"})  # fields of the v2.1 draft


@dataclass
class PageInfo:
    image: int  # index of the page image in the container's reading order
    type: str | None  # the ComicInfo Type as written (first value), None when absent
    page_type: str | None  # mapped to the DataSpec taxonomy
    double_page: bool = False
    width: int | None = None
    height: int | None = None


@dataclass
class ComicInfo:
    fields: dict[str, Any] = field(default_factory=dict)  # ComicInfo element name -> value
    pages: list[PageInfo] = field(default_factory=list)

    def page(self, index: int) -> PageInfo | None:
        return next((p for p in self.pages if p.image == index), None)

    @property
    def reading_direction(self) -> str | None:
        """``YesAndRightToLeft`` -> rtl, ``No`` -> ltr; ``Yes`` says manga but not the direction
        (None: detected later), ``Unknown`` or absent -> None."""
        manga = str(self.fields.get("Manga") or "").strip().lower()
        return {"yesandrighttoleft": "rtl", "no": "ltr"}.get(manga)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _int(text: str | None) -> int | None:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def _bool(text: str | None) -> bool:
    return str(text or "").strip().lower() in ("true", "1", "yes")


def parse(data: bytes, source: str = "ComicInfo.xml") -> ComicInfo | None:
    """The ComicInfo of ``data``; None when it is not well-formed, safe XML (a warning names
    ``source``). Values out of range are dropped with a warning naming the field."""
    from defusedxml import ElementTree

    try:
        root = ElementTree.fromstring(data)
    except Exception as exc:
        log.warning("%s: ComicInfo not read (%s: %s)", source, type(exc).__name__, exc)
        return None
    info = ComicInfo()
    names = {_local(child.tag) for child in root}
    version = "comicinfo-2.1" if names & V21_ONLY else "comicinfo-2.0"
    warn_invalid(data, version, source, strip_namespaces=True)  # when the schemas are at hand
    for child in root:
        name = _local(child.tag)
        if not name:
            continue
        if name == "Pages":
            info.pages = _pages(child, source)
            continue
        text = (child.text or "").strip()
        if not text:
            continue
        if name in INT_FIELDS:
            low, high = INT_FIELDS[name]
            value = _int(text)
            if value is None or not low <= value <= high:
                log.warning(
                    "%s: ignoring %s %r (not an integer in %d..%d)", source, name, text[:40], low, high
                )
                continue
            info.fields[name] = value
        elif name in FLOAT_FIELDS:
            try:
                info.fields[name] = float(text)
            except ValueError:
                log.warning("%s: ignoring %s %r (not a number)", source, name, text[:40])
        else:
            info.fields[name] = text
    return info


def _pages(node, source: str) -> list[PageInfo]:
    pages: dict[int, PageInfo] = {}
    for page in node:
        if _local(page.tag) != "Page":
            continue
        attrs = {_local(k): v for k, v in page.attrib.items()}
        image = _int(attrs.get("Image"))
        if image is None or image < 0:
            log.warning("%s: <Page> without a valid Image index %r ignored", source, attrs.get("Image"))
            continue
        written = (attrs.get("Type") or "").split()
        known = next((t for t in written if t in PAGE_TYPE_MAP), None)
        if written and known is None:
            log.warning("%s: page %d has unknown Type %r; mapped to other", source, image, attrs["Type"])
        kind = known or ("Story" if not written else None)  # the schema's default is Story
        width, height = _int(attrs.get("ImageWidth")), _int(attrs.get("ImageHeight"))
        pages[image] = PageInfo(
            image=image,
            type=kind if kind is not None else (written[0] if written else None),
            page_type=PAGE_TYPE_MAP.get(kind, "other") if kind is not None else "other",
            double_page=_bool(attrs.get("DoublePage")),
            width=width if width is not None and width > 0 else None,
            height=height if height is not None and height > 0 else None,
        )
    return [pages[i] for i in sorted(pages)]
