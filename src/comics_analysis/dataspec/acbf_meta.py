"""ACBF book metadata (``<meta-data>``) as plain JSON, and the images embedded in ``<data>``.

:func:`acbf_metadata` keeps every field of ACBF 1.1's ``book-info``, ``publish-info`` and
``document-info`` that a library manager or a reader shows, as JSON-ready values (lists where the
schema repeats an element, ``{lang: text}`` where it is per language, ``""`` for no language):

==================  =====================================================================
key                 from
==================  =====================================================================
authors             book-info/author: activity, lang, first-name, middle-name, last-name,
                    nickname, home-page, email
book-title          book-info/book-title, by lang
genres              book-info/genre: [{genre, match}]
annotation          book-info/annotation, by lang, paragraphs joined by a newline
keywords            book-info/keywords, by lang
characters          book-info/characters/name
sequences           book-info/sequence: [{title, volume, number}]
languages           book-info/languages/text-layer: [{lang, show}]
content-rating      book-info/content-rating: [{type, rating}]
databaseref         book-info/databaseref: [{dbname, type, value}]
publisher, city,    publish-info/...; publish-date as text and its ``value`` attribute
isbn, license,      (``publish-date-value``, an ISO date)
publish-date
document-info       authors, creation-date, source, id, version, history
==================  =====================================================================

:func:`book_fields` reduces it to the manifest's columns (title, series, number, publisher, year).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from .acbf import _child, _children, _lettering

AUTHOR_PARTS = ("first-name", "middle-name", "last-name", "nickname", "home-page", "email")


def _text(element) -> str:
    return " ".join(_lettering(element).split()) if element is not None else ""


def _by_lang(elements) -> dict[str, str]:
    out: dict[str, str] = {}
    for element in elements:
        text = _text(element)
        if text:
            out.setdefault(element.get("lang") or "", text)
    return out


def _authors(parent) -> list[dict[str, str]]:
    authors = []
    for author in _children(parent, "author"):
        item = {key: author.get(key) for key in ("activity", "lang") if author.get(key)}
        for part in AUTHOR_PARTS:
            value = _text(_child(author, part))
            if value:
                item[part] = value
        if len(item) > ("activity" in item) + ("lang" in item):
            authors.append(item)
    return authors


def _paragraphs(element) -> str:
    return "\n".join(t for t in (_text(p) for p in _children(element, "p")) if t)


def acbf_metadata(root) -> dict[str, Any]:
    """The book's metadata (module docstring); keys without a value are left out."""
    meta = _child(root, "meta-data")
    info = _child(meta, "book-info") if meta is not None else None
    publish = _child(meta, "publish-info") if meta is not None else None
    document = _child(meta, "document-info") if meta is not None else None
    out: dict[str, Any] = {}
    if info is not None:
        out["authors"] = _authors(info)
        out["book-title"] = _by_lang(_children(info, "book-title"))
        out["genres"] = [
            {
                "genre": _text(g),
                **({"match": int(g.get("match"))} if (g.get("match") or "").isdigit() else {}),
            }
            for g in _children(info, "genre")
            if _text(g)
        ]
        out["annotation"] = {
            a.get("lang") or "": _paragraphs(a) for a in _children(info, "annotation") if _paragraphs(a)
        }
        out["keywords"] = _by_lang(_children(info, "keywords"))
        out["characters"] = [
            _text(n) for c in _children(info, "characters") for n in _children(c, "name") if _text(n)
        ]
        out["sequences"] = [
            {"title": s.get("title") or "", "volume": s.get("volume"), "number": _text(s)}
            for s in _children(info, "sequence")
        ]
        languages = _child(info, "languages")
        out["languages"] = [
            {"lang": t.get("lang"), "show": (t.get("show") or "").strip().lower() in ("true", "1")}
            for t in (_children(languages, "text-layer") if languages is not None else [])
            if t.get("lang")
        ]
        out["content-rating"] = [
            {"type": r.get("type") or "", "rating": _text(r)} for r in _children(info, "content-rating")
        ]
        out["databaseref"] = [
            {"dbname": d.get("dbname") or "", "type": d.get("type"), "value": _text(d)}
            for d in _children(info, "databaseref")
        ]
    if publish is not None:
        for key in ("publisher", "city", "isbn", "license", "publish-date"):
            value = _text(_child(publish, key))
            if value:
                out[key] = value
        date = _child(publish, "publish-date")
        if date is not None and date.get("value"):
            out["publish-date-value"] = date.get("value")
    if document is not None:
        doc: dict[str, Any] = {"authors": _authors(document)}
        for key in ("creation-date", "id", "version"):
            value = _text(_child(document, key))
            if value:
                doc[key] = value
        for key in ("source", "history"):
            element = _child(document, key)
            if element is not None and _paragraphs(element):
                doc[key] = _paragraphs(element).split("\n")
        out["document-info"] = {k: v for k, v in doc.items() if v}
    return {k: v for k, v in out.items() if v not in ({}, [], None, "")}


def _first(values: dict[str, str], langs: list[str]) -> str | None:
    for lang in [*langs, ""]:
        if values.get(lang):
            return values[lang]
    return next(iter(values.values()), None)


def book_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """The manifest's book columns from :func:`acbf_metadata`: title (in the first declared
    language when it has one), series and number (the first sequence), publisher, year."""
    langs = [item["lang"] for item in meta.get("languages", [])]
    sequence = (meta.get("sequences") or [{}])[0]
    year = None
    for text in (meta.get("publish-date-value"), meta.get("publish-date")):
        found = re.search(r"\b(\d{4})\b", text or "")
        if found and 1 <= int(found.group(1)) <= 9999:
            year = int(found.group(1))
            break
    return {
        "title": _first(meta.get("book-title") or {}, langs),
        "series": sequence.get("title") or None,
        "number": sequence.get("number") or None,
        "publisher": meta.get("publisher"),
        "year": year,
    }


def embedded_images(root) -> dict[str, Any]:
    """``{id: <binary> element}`` of the ``<data>`` sections (decoded by :func:`decode_binary`)."""
    found = {}
    for data in _children(root, "data"):
        for binary in _children(data, "binary"):
            if binary.get("id"):
                found.setdefault(binary.get("id"), binary)
    return found


def decode_binary(binary, limit: int) -> bytes:
    """The bytes of a ``<binary>`` (base64); ValueError when not base64 or over ``limit`` bytes."""
    text = "".join((binary.text or "").split())
    if len(text) * 3 // 4 > limit:
        raise ValueError(f"embedded image {binary.get('id')!r} is over {limit} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"embedded image {binary.get('id')!r} is not base64: {exc}") from None


__all__ = ["acbf_metadata", "book_fields", "decode_binary", "embedded_images"]
