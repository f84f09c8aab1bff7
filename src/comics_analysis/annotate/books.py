"""The books of an ingest run for one annotate shard, read from the manifest one book at a time.

The manifest lists pages by container and page index, so a book's pages are together: streaming
its record batches gives one book's rows at a time, and the driver's memory does not grow with
the library (a list of every row costs ~4 KB a page: 4 GB at 10^6 pages). A manifest whose books
are not together (written by hand, say) is grouped in memory instead.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from ..ingest import read_manifest, shard_of
from ..ingest.manifest import MANIFEST_FILE


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
        for book_id in table.column("book_id").to_pylist():
            if not order or order[-1] != book_id:
                if book_id in ends:
                    self.grouped = False
                ends.add(book_id)
                order.append(book_id)
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
