"""The books of an ingest run for one annotate shard, read from the manifest one book at a time.

The manifest lists pages by container and page index, so a book's pages are together: streaming
its record batches gives one book's rows at a time, and the driver's memory does not grow with
the library (a list of every row costs ~4 KB a page: 4 GB at 10^6 pages). A manifest whose books
are not together (written by hand, say) is grouped in memory instead.

An engine worker (``annotate --engine ray``) is sent a :class:`BookSpan` instead of the rows: the
book id and where its rows are in the manifest (row positions), ~200 bytes a book; it reads the
rows itself (:func:`read_book`). The driver holds one span per book, not ~4 KB a page.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from ..ingest import read_manifest, shard_of
from ..ingest.manifest import MANIFEST_FILE


@dataclass(frozen=True)
class BookSpan:
    """Where one book's rows are in a manifest: ``runs`` of row positions ``[start, stop)`` (one
    run when the manifest keeps the book's rows together)."""

    manifest: str
    book_id: str
    runs: tuple[tuple[int, int], ...]


_CACHE: dict[str, object] = {}  # the last row group a worker read: consecutive books share it


def _row_group(parquet: pq.ParquetFile, path: str, index: int):
    key = f"{path}|{index}|{Path(path).stat().st_mtime_ns}"
    if _CACHE.get("key") != key:
        _CACHE.update(key=key, table=parquet.read_row_group(index))
    return _CACHE["table"]


def read_book(span: BookSpan) -> list[dict]:
    """The ok rows of ``span``'s book, in manifest order (as :class:`ShardBooks` yields them);
    reads only the row groups the runs touch (the last one read is kept for the next book)."""
    parquet = pq.ParquetFile(span.manifest)
    rows: list[dict] = []
    for start, stop in span.runs:
        first = 0
        for group in range(parquet.metadata.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            lo, hi = max(start, first), min(stop, first + size)
            if lo < hi:
                table = _row_group(parquet, span.manifest, group)
                rows += table.slice(lo - first, hi - lo).to_pylist()
            first += size
    rows = [r for r in rows if r["status"] == "ok" and r["book_id"] == span.book_id]
    if not rows:
        raise ValueError(f"{span.manifest}: no ok rows of book {span.book_id} at rows {list(span.runs)}")
    return rows


class ShardBooks:
    """The ok pages of the books of shard ``shard_index`` of ``num_shards``: ``counts`` (book id
    -> pages) up front from two columns, the rows (dicts, in page order) book by book."""

    def __init__(self, ingest_dir: str | Path, num_shards: int = 1, shard_index: int = 0):
        self.path = Path(ingest_dir) / MANIFEST_FILE
        if not self.path.is_file():
            read_manifest(ingest_dir)  # raises, saying how to make one
        self.ingest_dir = Path(ingest_dir)
        self.num_shards, self.shard_index = num_shards, shard_index
        table = pq.read_table(self.path, columns=["book_id", "status"])
        order: list[str] = []
        ends: set[str] = set()
        self.grouped = True  # every book's rows are together
        self._runs: dict[str, list[list[int]]] = {}  # this shard's books: runs of row positions
        for position, book_id in enumerate(table.column("book_id").to_pylist()):
            if not order or order[-1] != book_id:
                if book_id in ends:
                    self.grouped = False
                ends.add(book_id)
                order.append(book_id)
                if self._mine(book_id):
                    self._runs.setdefault(book_id, []).append([position, position])
            if book_id in self._runs and self._runs[book_id][-1][1] == position:
                self._runs[book_id][-1][1] = position + 1
        ok = [
            b
            for b, s in zip(table.column("book_id").to_pylist(), table.column("status").to_pylist())
            if s == "ok"
        ]
        self.counts = dict(sorted(Counter(b for b in ok if self._mine(b)).items()))

    def _mine(self, book_id: str) -> bool:
        return shard_of(book_id, self.num_shards) == self.shard_index

    def __len__(self) -> int:
        return len(self.counts)

    def spans(self) -> Iterator[BookSpan]:
        """A :class:`BookSpan` per book with ok pages, in the order :meth:`__iter__` yields them."""
        books = sorted(self.counts) if not self.grouped else [b for b in self._runs if b in self.counts]
        for book_id in books:
            runs = tuple((start, stop) for start, stop in self._runs[book_id])
            yield BookSpan(str(self.path), book_id, runs)

    def __iter__(self) -> Iterator[list[dict]]:
        if not self.grouped:
            books: dict[str, list[dict]] = defaultdict(list)
            for row in read_manifest(self.ingest_dir).ok():
                if self._mine(row["book_id"]):
                    books[row["book_id"]].append(row)
            yield from (sorted(books[b], key=lambda r: r["page_index"]) for b in sorted(books))
            return
        rows: list[dict] = []
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                if row["status"] != "ok" or not self._mine(row["book_id"]):
                    continue
                if rows and row["book_id"] != rows[0]["book_id"]:
                    yield rows
                    rows = []
                rows.append(row)
        if rows:
            yield rows
