"""The ``books`` config of a ``comic_pages`` export: one row per book (DataSpec books table,
:mod:`comics_analysis.dataspec.books`), split like its pages.

Where the books come from, first found: ``books.parquet`` in the DataSpec folder (``annotate``
writes it; in a ``comic_pages`` export, the ``books/`` shards), in the folder above a
``dataspec/`` folder, in the images root (the ingest folder, where ``ingest`` writes it), else
computed from the images root's ``manifest.parquet`` (an ingest run made before the table
existed). Only the books that have pages in the collection are
written; each book goes to the split of its pages (``comic_pages.assign_splits``), so
``load_dataset(folder, name="books", split="train")`` lists the books of the ``train`` pages.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..dataspec.books import BOOKS_FILE, BookRecord, read_books, write_books
from ..ingest.books import manifest_books
from ..ingest.manifest import MANIFEST_FILE

log = logging.getLogger(__name__)

CONFIG = "books"


def find_books(data_dir: str | Path, images_root: str | Path | None = None) -> dict[str, BookRecord]:
    """``{book_id: record}`` of a collection (module docstring); ``{}`` when it has none."""
    data_dir = Path(data_dir)
    folders = [data_dir, *([data_dir.parent] if data_dir.name == "dataspec" else [])]
    if images_root is not None:
        folders.append(Path(images_root))
    for folder in folders:
        if (folder / BOOKS_FILE).is_file():
            return read_books(folder / BOOKS_FILE)
        shards = sorted((folder / CONFIG).glob("*.parquet")) if (folder / CONFIG).is_dir() else []
        if shards:  # a comic_pages export: its books config
            return {k: v for shard in shards for k, v in read_books(shard).items()}
    if images_root is not None and (Path(images_root) / MANIFEST_FILE).is_file():
        return {b.book_id: b for b in manifest_books(images_root)}
    return {}


def books_stats(found: dict[str, BookRecord], book_ids: Iterable[str]) -> dict[str, Any]:
    """Counts over the books ``book_ids`` for ``stats.json`` and the card: books, books with a
    title / series / credits, and how many books took a field from each source."""
    books = [found.get(b) or BookRecord(book_id=b) for b in book_ids]
    sources = Counter(source for b in books for source in set(b.sources.values()))
    return {
        "books": len(books),
        "with_title": sum(b.title is not None for b in books),
        "with_series": sum(b.series is not None for b in books),
        "with_credits": sum(bool(b.credits) for b in books),
        "metadata_sources": dict(sorted(sources.items())),
    }


def write_books_config(
    folder: Path, books: dict[str, BookRecord], book_splits: dict[str, str]
) -> dict[str, list[str]]:
    """``folder/books/<split>-00000-of-00001.parquet`` for the books of ``book_splits`` (book id ->
    split); returns split -> file names relative to ``folder``. Books without a record get one
    with their id only, so every page's book has a row."""
    by_split: dict[str, list[BookRecord]] = {}
    for book_id, split in sorted(book_splits.items()):
        by_split.setdefault(split, []).append(books.get(book_id) or BookRecord(book_id=book_id))
    missing = sorted(set(book_splits) - set(books))
    if missing:
        log.info("comic_pages: %d book(s) have no metadata record (e.g. %s)", len(missing), missing[0])
    (folder / CONFIG).mkdir(exist_ok=True)
    files: dict[str, list[str]] = {}
    for split in ("train", "validation", "test"):
        if split in by_split:
            name = f"{CONFIG}/{split}-00000-of-00001.parquet"
            write_books(by_split[split], folder / name)
            files[split] = [name]
    return files
