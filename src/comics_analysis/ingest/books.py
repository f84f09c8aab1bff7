"""The books table of an ingest run: one DataSpec :class:`~comics_analysis.dataspec.books.BookRecord`
per book of the manifest, from the metadata ingest read (ComicInfo.xml, ACBF meta-data, calibre's
``metadata.opf``; kept whole in the manifest's ``book_metadata``).

Which source wins, field by field: calibre (where the user curates), then ComicInfo (what library
managers edit), then ACBF; a list field (credits, languages, genres, tags, characters) comes whole
from the first source that has one, never mixed. ``sources`` names the winner of each field.

================  ====================================  =============================  ==============
field             ComicInfo                             ACBF                           calibre
================  ====================================  =============================  ==============
title, series     Title, Series                         book-title (first language),   title,
                                                        first sequence's title         series
number, volume    Number, Volume                        sequence number, volume        series_index
count             Count
credits           Writer, Penciller, Inker, Colorist,   author (activity -> role,      authors
                  Letterer, CoverArtist, Editor,        names joined)                  (role author)
                  Translator (comma lists)
publisher         Publisher (Imprint apart)             publisher                      publisher
year/month/day    Year, Month, Day                      publish-date (value)           date
languages         LanguageISO                           languages/text-layer langs     languages
genres, tags      Genre, Tags (comma lists)             genre, keywords                tags
characters        Characters                            characters/name
summary           Summary                               annotation (first language)
manga             Manga (as written)
================  ====================================  =============================  ==============

``books.parquet`` is written next to ``manifest.parquet`` by ``ingest`` (and ``ingest-merge``), and
by ``annotate`` into its output, so a DataSpec folder carries its books.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..dataspec.books import BOOKS_FILE, BookRecord, Credit, write_books
from .calibre import book_metadata
from .manifest import MANIFEST_FILE

CREDIT_FIELDS = (
    "Writer",
    "Penciller",
    "Inker",
    "Colorist",
    "Letterer",
    "CoverArtist",
    "Editor",
    "Translator",
)
_COLUMNS = (
    "book_id",
    "status",
    "source_path",
    "container_format",
    "title",
    "series",
    "number",
    "publisher",
    "year",
    "reading_direction",
    "book_metadata",
)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip()).replace(" ", "_").replace("-", "_").lower()


def _split(text: Any) -> list[str]:
    return [part.strip() for part in str(text or "").split(",") if part.strip()]


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def from_comicinfo(fields: dict[str, Any]) -> dict[str, Any]:
    """Book fields of a ComicInfo (``ingest.comicinfo.ComicInfo.fields``)."""
    credits = [Credit(name=n, role=_snake(f)) for f in CREDIT_FIELDS for n in _split(fields.get(f))]
    return {
        "title": fields.get("Title"),
        "series": fields.get("Series"),
        "number": fields.get("Number"),
        "volume": _int(fields.get("Volume")),
        "count": _int(fields.get("Count")),
        "credits": credits,
        "publisher": fields.get("Publisher"),
        "imprint": fields.get("Imprint"),
        "year": _int(fields.get("Year")),
        "month": _int(fields.get("Month")),
        "day": _int(fields.get("Day")),
        "languages": _split(fields.get("LanguageISO")),
        "genres": _split(fields.get("Genre")),
        "tags": _split(fields.get("Tags")),
        "characters": _split(fields.get("Characters")),
        "summary": fields.get("Summary"),
        "manga": fields.get("Manga"),
    }


def _person(author: dict[str, str]) -> str:
    parts = [author.get(k) for k in ("first-name", "middle-name", "last-name") if author.get(k)]
    return " ".join(parts) or author.get("nickname") or ""


def _first_lang(values: dict[str, str], langs: list[str]) -> str | None:
    for lang in [*langs, ""]:
        if values.get(lang):
            return values[lang]
    return next(iter(values.values()), None)


def from_acbf(meta: dict[str, Any]) -> dict[str, Any]:
    """Book fields of an ACBF's meta-data (``dataspec.acbf_meta.acbf_metadata``)."""
    langs = list(dict.fromkeys(item["lang"] for item in meta.get("languages", [])))
    sequence = (meta.get("sequences") or [{}])[0]
    date = str(meta.get("publish-date-value") or meta.get("publish-date") or "")
    found = re.match(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", date.strip())
    year, month, day = (_int(g) for g in found.groups()) if found else (None, None, None)
    return {
        "title": _first_lang(meta.get("book-title") or {}, langs),
        "series": sequence.get("title") or None,
        "number": sequence.get("number") or None,
        "volume": _int(sequence.get("volume")),
        "credits": [
            Credit(name=_person(a), role=_snake(a.get("activity") or "author"))
            for a in meta.get("authors", [])
            if _person(a)
        ],
        "publisher": meta.get("publisher"),
        "year": year,
        "month": month,
        "day": day,
        "languages": langs,
        "genres": [g["genre"] for g in meta.get("genres", [])],
        "tags": [t for text in (meta.get("keywords") or {}).values() for t in _split(text)][:64],
        "characters": list(meta.get("characters", [])),
        "summary": _first_lang(meta.get("annotation") or {}, langs),
    }


def from_calibre(opf: dict[str, Any]) -> dict[str, Any]:
    """Book fields of calibre's ``metadata.opf`` (``ingest.calibre.read_opf``)."""
    fields = book_metadata(opf)
    date = str(opf.get("date") or "")
    found = re.match(r"(\d{4})-(\d{2})-(\d{2})", date)
    return {
        **fields,
        "month": _int(found.group(2)) if found and "year" in fields else None,
        "day": _int(found.group(3)) if found and "year" in fields else None,
        "credits": [Credit(name=a, role="author") for a in opf.get("authors", [])],
        "languages": list(opf.get("languages", [])),
        "tags": list(opf.get("tags", [])),
    }


READERS = {"calibre": from_calibre, "comicinfo": from_comicinfo, "acbf": from_acbf}  # precedence


def book_record(row: dict[str, Any], page_count: int) -> BookRecord:
    """The book of a manifest row (any page of it), ``page_count`` its ok pages."""
    metadata = json.loads(row["book_metadata"]) if row.get("book_metadata") else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, reader in READERS.items():
        if not metadata.get(source):
            continue
        for key, value in reader(metadata[source]).items():
            if key not in values and value not in (None, "", []):
                values[key], sources[key] = value, source
    direction = row.get("reading_direction")
    return BookRecord(
        book_id=row["book_id"],
        **values,
        page_count=page_count,
        reading_direction=direction if direction in ("ltr", "rtl") else None,
        source_path=row.get("source_path"),
        container_format=row.get("container_format"),
        sources=sources,
        metadata=json.dumps(metadata, ensure_ascii=False, sort_keys=True) if metadata else None,
    )


def book_records(rows: Iterable[dict[str, Any]]) -> Iterator[BookRecord]:
    """One record per book of manifest ``rows`` (a book's rows together or not)."""
    first: dict[str, dict] = {}
    counts: dict[str, int] = {}
    for row in rows:
        first.setdefault(row["book_id"], row)
        counts[row["book_id"]] = counts.get(row["book_id"], 0) + (row.get("status") == "ok")
    for book_id, row in first.items():
        yield book_record(row, counts[book_id])


def manifest_books(ingest_dir: str | Path, book_ids: set[str] | None = None) -> list[BookRecord]:
    """The books of an ingest folder's manifest (only ``book_ids`` when given), read in batches."""
    path = Path(ingest_dir) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {MANIFEST_FILE} in {ingest_dir}: run `comics-analysis ingest`")
    parquet = pq.ParquetFile(path)
    columns = [c for c in _COLUMNS if c in parquet.schema_arrow.names]

    def rows():
        for batch in parquet.iter_batches(batch_size=4096, columns=columns):
            for row in batch.to_pylist():
                if book_ids is None or row["book_id"] in book_ids:
                    yield row

    return list(book_records(rows()))


def write_books_table(ingest_dir: str | Path, out: str | Path | None = None, book_ids=None) -> Path:
    """``books.parquet`` of the manifest in ``ingest_dir``, into ``out`` (default: the same folder)."""
    target = Path(out if out is not None else ingest_dir) / BOOKS_FILE
    write_books(manifest_books(ingest_dir, book_ids), target)
    return target
