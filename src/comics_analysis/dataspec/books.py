"""The DataSpec books table: one :class:`BookRecord` per book, beside the page records.

Pages join books on ``book_id`` (DESIGN 3.1). A book record carries what readers and library
managers show of a book (title, series, number, volume, credits, publisher, date, languages,
genres, tags, summary, manga flag and reading direction), how many pages were ingested, and,
per field, where its value came from (``sources``: ``comicinfo``, ``acbf`` or ``calibre``). The
metadata as read (every ComicInfo field, the ACBF meta-data, calibre's OPF) stays in
``metadata`` (JSON text), so nothing the formats hold is lost.

Files: ``books.parquet`` (features :func:`book_features`; readable by ``datasets``, pandas and
DuckDB) in the ingest folder and in an ``annotate`` output (not JSON Lines: a folder's ``.jsonl``
files are page records); a ``comic_pages`` export has the same rows as its ``books`` config.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from .io import atomic_write
from .records import SCHEMA_VERSION, DataSpecError, Direction, _Record

BOOKS_FILE = "books.parquet"
BOOK_SOURCES: tuple[str, ...] = ("comicinfo", "acbf", "calibre")


class Credit(_Record):
    """A person and what they did for the book (role in snake case: writer, penciller, inker,
    colorist, letterer, cover_artist, editor, translator, author, artist, ...)."""

    name: str
    role: str


class BookRecord(_Record):
    """One book (module docstring); every field but ``book_id`` may be empty."""

    schema_version: str = SCHEMA_VERSION
    book_id: str
    title: str | None = None
    series: str | None = None
    number: str | None = None
    volume: int | None = None
    count: int | None = None  # issues in the series
    credits: list[Credit] = Field(default_factory=list)
    publisher: str | None = None
    imprint: str | None = None
    year: int | None = None
    month: int | None = None
    day: int | None = None
    languages: list[str] = Field(default_factory=list)
    genres: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    characters: list[str] = Field(default_factory=list)
    summary: str | None = None
    page_count: int = 0  # pages ingested (status ok)
    manga: str | None = None  # ComicInfo's Manga as written (Yes, No, YesAndRightToLeft, Unknown)
    reading_direction: Direction | None = None
    source_path: str | None = None  # the container, relative to the library root
    container_format: str | None = None
    sources: dict[str, str] = Field(default_factory=dict)  # field -> comicinfo | acbf | calibre
    metadata: str | None = None  # JSON: the metadata as read, by format

    def authors(self, limit: int = 4) -> list[str]:
        """Names of the credited people, in order, each once (at most ``limit``)."""
        names = list(dict.fromkeys(c.name for c in self.credits))
        return names[:limit]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BookRecord:
        data = dict(data)
        if isinstance(data.get("sources"), list):  # the datasets row form
            data["sources"] = {item["field"]: item["source"] for item in data["sources"]}
        try:
            return cls(**data)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            raise DataSpecError(
                f"invalid book record ({error['msg']})", page_id=data.get("book_id"), field=field
            ) from None


def book_features():
    """The ``datasets.Features`` of a books row (``sources`` as a list of {field, source})."""
    from datasets import Features, List, Value

    strings = List(Value("string"))
    return Features(
        {
            "schema_version": Value("string"),
            "book_id": Value("string"),
            "title": Value("string"),
            "series": Value("string"),
            "number": Value("string"),
            "volume": Value("int32"),
            "count": Value("int32"),
            "credits": List({"name": Value("string"), "role": Value("string")}),
            "publisher": Value("string"),
            "imprint": Value("string"),
            "year": Value("int32"),
            "month": Value("int32"),
            "day": Value("int32"),
            "languages": strings,
            "genres": strings,
            "tags": strings,
            "characters": strings,
            "summary": Value("string"),
            "page_count": Value("int32"),
            "manga": Value("string"),
            "reading_direction": Value("string"),
            "source_path": Value("string"),
            "container_format": Value("string"),
            "sources": List({"field": Value("string"), "source": Value("string")}),
            "metadata": Value("string"),
        }
    )


def book_hf_row(book: BookRecord) -> dict[str, Any]:
    row = book.to_dict()
    row["sources"] = [{"field": k, "source": v} for k, v in sorted(book.sources.items())]
    return row


def write_books(books: Iterable[BookRecord], path: str | Path) -> int:
    """Book records as one Parquet file (:func:`book_features`), sorted by book id, written
    atomically; returns the count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = book_features()
    ordered = sorted(books, key=lambda b: b.book_id)
    rows = [features.encode_example(book_hf_row(b)) for b in ordered]
    table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
    with atomic_write(path, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
    return len(ordered)


def read_books(path: str | Path) -> dict[str, BookRecord]:
    """``{book_id: record}`` of a books table (``books.parquet``, or the Parquet shards of an
    export's ``books`` config); a bad row raises naming the file and the row."""
    import pyarrow.parquet as pq

    books: dict[str, BookRecord] = {}
    for number, row in enumerate(pq.read_table(path).to_pylist(), start=1):
        try:
            book = BookRecord.from_dict(row)
        except DataSpecError as exc:
            raise exc.located(str(path), number) from None
        books[book.book_id] = book
    return books


__all__ = ["BOOKS_FILE", "BookRecord", "Credit", "book_features", "book_hf_row", "read_books", "write_books"]
