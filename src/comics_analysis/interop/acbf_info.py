"""ACBF ``<meta-data>`` for an exported book, from what ingest kept of it.

Sources, first found wins per field: the book's own ACBF metadata (``book_metadata.acbf``, every
field :mod:`comics_analysis.dataspec.acbf_meta` reads, written back as it was), else ComicInfo
(``book_metadata.comicinfo``) and calibre (``book_metadata.calibre``), else the manifest's
columns (title, series, number, publisher, year). ComicInfo -> ACBF:

=======================================  ===================================================
ComicInfo                                ACBF
=======================================  ===================================================
Writer, Penciller, Inker, Colorist,      book-info/author with that ``activity`` (one per
Letterer, CoverArtist, Editor,           comma-separated name; "First Middle Last", a single
Translator                               word is a nickname)
Title                                    book-title
Series, Number, Volume                   sequence (title, the number as text, volume)
Genre                                    genre, for the names ACBF's list has (others dropped)
Summary                                  annotation
Tags                                     keywords
Characters                               characters/name
LanguageISO                              the text layer's language when none is given
Publisher, Year/Month/Day                publish-info/publisher, publish-date
AgeRating                                content-rating (type "ComicInfo")
=======================================  ===================================================

Every element is written in the ACBF 1.1 namespace and validates against its schema.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime, timezone
from typing import Any
from xml.etree import ElementTree as ET

NS = "http://www.acbf.info/xml/acbf/1.1"
GENRES = frozenset(
    (
        "science_fiction",
        "fantasy",
        "adventure",
        "horror",
        "mystery",
        "crime",
        "military",
        "real_life",
        "superhero",
        "humor",
        "western",
        "manga",
        "politics",
        "caricature",
        "sports",
        "history",
        "biography",
        "education",
        "computer",
        "religion",
        "romance",
        "children",
        "non-fiction",
        "adult",
        "alternative",
        "other",
    )
)
ACTIVITIES = ("Writer", "Penciller", "Inker", "Colorist", "Letterer", "CoverArtist", "Editor", "Translator")
AUTHOR_PARTS = ("first-name", "middle-name", "last-name", "nickname", "home-page", "email")
GENERATOR = "comics-analysis"


def q(name: str) -> str:
    """An element name: local, the namespace declared once on the root (``xmlns``), because
    ElementTree's ``default_namespace`` refuses the schema's unqualified attributes."""
    return name


def sub(parent: ET.Element, name: str, text: str | None = None, **attrs: Any) -> ET.Element:
    element = ET.SubElement(parent, q(name), {k.replace("_", "-"): str(v) for k, v in attrs.items() if v})
    if text is not None:
        element.text = str(text)
    return element


def _person(name: str, activity: str | None) -> dict[str, str]:
    parts = name.split()
    if len(parts) == 1:
        person = {"nickname": parts[0]}
    else:
        person = {"first-name": parts[0], "last-name": parts[-1]}
        if len(parts) > 2:
            person["middle-name"] = " ".join(parts[1:-1])
    return {**person, **({"activity": activity} if activity else {})}


def from_comicinfo(fields: dict[str, Any], calibre: dict[str, Any]) -> dict[str, Any]:
    """ACBF metadata (the shape of ``acbf_metadata``) from ComicInfo fields and calibre's OPF."""
    meta: dict[str, Any] = {"authors": []}
    for activity in ACTIVITIES:
        for name in str(fields.get(activity) or "").split(","):
            if name.strip():
                meta["authors"].append(_person(name.strip(), activity))
    if not meta["authors"]:
        meta["authors"] = [_person(a, None) for a in calibre.get("authors", []) if a.strip()]
    title = fields.get("Title") or calibre.get("title")
    if title:
        meta["book-title"] = {"": str(title)}
    genres = [g.strip().lower().replace(" ", "_") for g in str(fields.get("Genre") or "").split(",")]
    meta["genres"] = [{"genre": g} for g in dict.fromkeys(genres) if g in GENRES]
    if fields.get("Summary"):
        meta["annotation"] = {"": str(fields["Summary"])}
    keywords = fields.get("Tags") or ", ".join(calibre.get("tags", []))
    if keywords:
        meta["keywords"] = {"": str(keywords)}
    meta["characters"] = [c.strip() for c in str(fields.get("Characters") or "").split(",") if c.strip()]
    series = fields.get("Series") or calibre.get("series")
    if series:
        number = fields.get("Number") or calibre.get("series_index") or ""
        meta["sequences"] = [{"title": str(series), "volume": fields.get("Volume"), "number": str(number)}]
    if fields.get("AgeRating"):
        meta["content-rating"] = [{"type": "ComicInfo", "rating": str(fields["AgeRating"])}]
    publisher = fields.get("Publisher") or calibre.get("publisher")
    if publisher:
        meta["publisher"] = str(publisher)
    year = fields.get("Year")
    if year:
        meta["publish-date"] = str(year)
        with contextlib.suppress(TypeError, ValueError):  # not a real date: the year alone
            meta["publish-date-value"] = date(
                int(year), int(fields.get("Month") or 1), int(fields.get("Day") or 1)
            ).isoformat()
    return {k: v for k, v in meta.items() if v not in ([], {}, None, "")}


def book_language(meta: dict[str, Any], fields: dict[str, Any], calibre: dict[str, Any]) -> str:
    """The language of the lettering: the ACBF's first layer, ComicInfo's, calibre's, else ``und``."""
    for lang in (
        next((item["lang"] for item in meta.get("languages", [])), None),
        fields.get("LanguageISO"),
        next(iter(calibre.get("languages", [])), None),
    ):
        if lang and re.fullmatch(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*", str(lang)):
            return str(lang)
    return "und"


def _author(parent: ET.Element, author: dict[str, str]) -> None:
    if not any(author.get(part) for part in AUTHOR_PARTS):
        return
    element = sub(parent, "author", activity=author.get("activity"), lang=author.get("lang"))
    for part in AUTHOR_PARTS:
        if author.get(part):
            sub(element, part, author[part])


def _by_lang(parent: ET.Element, name: str, values: dict[str, str], paragraphs: bool = False) -> None:
    for lang, text in values.items():
        if paragraphs:
            element = sub(parent, name, lang=lang)
            for line in text.split("\n"):
                sub(element, "p", line)
        else:
            sub(parent, name, text, lang=lang)


def meta_data(
    root: ET.Element, meta: dict[str, Any], lang: str, cover: ET.Element | None, others: list[str] = ()
) -> None:
    """``<meta-data>`` under ``root``: book-info (with ``cover``, the coverpage element, and the
    text layers written: ``lang``, then ``others``), publish-info and document-info."""
    element = sub(root, "meta-data")
    info = sub(element, "book-info")
    for author in meta.get("authors", []):
        _author(info, author)
    _by_lang(info, "book-title", meta.get("book-title") or {})
    for genre in meta.get("genres", []):
        if genre.get("genre") in GENRES:
            sub(info, "genre", genre["genre"], match=genre.get("match"))
    _by_lang(info, "annotation", meta.get("annotation") or {}, paragraphs=True)
    _by_lang(info, "keywords", meta.get("keywords") or {})
    if cover is not None:
        info.append(cover)
    shown: dict[str, bool] = {}  # a language listed twice (drawn and shown) counts as drawn
    for item in meta.get("languages", []):
        shown[item["lang"]] = shown.get(item["lang"], True) and bool(item.get("show", False))
    languages = sub(info, "languages")
    sub(languages, "text-layer", lang=lang, show="true" if shown.get(lang) else "false")
    for other in others:  # translations: shown over the images (ACBF's show="true")
        sub(languages, "text-layer", lang=other, show="true")
    if meta.get("characters"):
        characters = sub(info, "characters")
        for name in meta["characters"]:
            sub(characters, "name", name)
    for sequence in meta.get("sequences", []):
        sub(
            info,
            "sequence",
            sequence.get("number") or "",
            title=sequence.get("title"),
            volume=sequence.get("volume"),
        )
    for ref in meta.get("databaseref", []):
        sub(info, "databaseref", ref.get("value") or "", dbname=ref.get("dbname"), type=ref.get("type"))
    for rating in meta.get("content-rating", []):
        sub(info, "content-rating", rating.get("rating") or "", type=rating.get("type") or "unknown")
    publish = sub(element, "publish-info")
    for key in ("publisher", "publish-date", "city", "isbn", "license"):
        if meta.get(key):
            value = meta.get("publish-date-value") if key == "publish-date" else None
            sub(publish, key, meta[key], value=value)
    _document_info(element, meta.get("document-info") or {})


def _document_info(parent: ET.Element, doc: dict[str, Any]) -> None:
    element = sub(parent, "document-info")
    authors = doc.get("authors") or [{"nickname": GENERATOR}]
    for author in authors:
        _author(element, author)
    today = datetime.now(timezone.utc).date().isoformat()
    sub(element, "creation-date", doc.get("creation-date") or today, value=None if doc else today)
    if doc.get("source"):
        source = sub(element, "source")
        for line in doc["source"]:
            sub(source, "p", line)
    if doc.get("id"):
        sub(element, "id", doc["id"])
    if doc.get("version"):
        with contextlib.suppress(ValueError):  # the schema's version is a number
            sub(element, "version", f"{float(doc['version']):g}")
    history = sub(element, "history")
    for line in doc.get("history", []):
        sub(history, "p", line)
    sub(history, "p", f"{today}: frames and text layer written by {GENERATOR} from DataSpec pages")
