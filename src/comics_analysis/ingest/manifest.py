"""The page manifest (Parquet): one row per page entry of every container, plus an errors table.

``ManifestWriter`` is the one place rows become a manifest: it takes containers in source-path
order, resolves containers seen twice, flags exact (SHA-256) and near (perceptual hash) duplicate
pages, and writes the rows as they come (row groups of ``ROW_GROUP_ROWS`` pages). It holds one
row group and a compact duplicate index (``DuplicateIndex``: ~150 bytes a page, not the ~4 KB of
a row), so ingesting or merging 10^6 pages does not hold 10^6 rows. Single runs, merged shards
and :func:`assemble` (rows in memory) all go through it, which is why they give identical files.
"""

from __future__ import annotations

import contextlib
import heapq
import os
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..dataspec import atomic_write, make_page_id
from .base import TRANSIENT_KINDS

PAGE_SCHEMA = pa.schema(
    [
        ("page_id", pa.string()),
        ("book_id", pa.string()),
        ("page_index", pa.int32()),
        ("path", pa.string()),  # relative to the output folder; null when the page failed
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("bytes", pa.int64()),
        ("sha256", pa.string()),
        ("phash", pa.string()),
        ("status", pa.string()),  # ok, or the error kind of the page
        ("fixes", pa.string()),  # why stored bytes differ from the source entry ("; "-joined)
        ("duplicate_of", pa.string()),
        ("near_duplicate_of", pa.string()),
        ("source_path", pa.string()),  # container, relative to the library root
        ("source_entry", pa.string()),
        ("container_format", pa.string()),
        ("container_sha256", pa.string()),
        ("container_bytes", pa.int64()),
        ("series", pa.string()),
        ("number", pa.string()),
        ("title", pa.string()),
        ("publisher", pa.string()),
        ("year", pa.int32()),
        ("reading_direction", pa.string()),
        (
            "book_metadata",
            pa.string(),
        ),  # JSON: {"comicinfo": every field, "acbf": its meta-data, "calibre": metadata.opf}
        ("page_type", pa.string()),  # DataSpec page type from ComicInfo <Pages> (ingest/comicinfo.py)
        ("page_type_source", pa.string()),  # "comicinfo" (or "acbf": its cover page) when page_type is set
        ("double_page", pa.bool_()),
    ]
)
ERROR_SCHEMA = pa.schema(
    [
        ("source_path", pa.string()),
        ("entry", pa.string()),
        ("kind", pa.string()),
        ("reason", pa.string()),
        ("book_id", pa.string()),
    ]
)
MANIFEST_FILE = "manifest.parquet"
ERRORS_FILE = "errors.parquet"


ROW_GROUP_ROWS = 16_384  # pages per Parquet row group: what a manifest writer holds at once
_BATCH_ROWS = 1_024  # rows kept as dicts before they become Arrow columns


class Manifest:
    """A manifest's pages and errors. ``ingest`` returns one that reads its pages from the file
    it wrote on first use (``pages``, ``rows()``): counting them (``len``, ``counts``) needs no
    read."""

    def __init__(
        self,
        pages: pa.Table | None = None,
        errors: pa.Table | None = None,
        *,
        path: Path | None = None,
        stats: dict | None = None,
    ) -> None:
        if pages is None and path is None:
            raise ValueError("a manifest needs its pages table or the path of its file")
        self._pages, self._path, self._stats = pages, path, stats
        self.errors = errors if errors is not None else ERROR_SCHEMA.empty_table()

    @property
    def pages(self) -> pa.Table:
        if self._pages is None:
            self._pages = pq.read_table(self._path)
        return self._pages

    def __len__(self) -> int:
        return self.counts()["pages"]

    def counts(self) -> dict:
        """pages, books, statuses {status: pages}, duplicates, near_duplicates."""
        if self._stats is None:
            table = self.pages
            statuses = pc.value_counts(table["status"]).to_pylist()
            self._stats = {
                "pages": table.num_rows,
                "books": pc.count_distinct(table["book_id"]).as_py(),
                "statuses": {s["values"]: s["counts"] for s in statuses},
                "duplicates": table.num_rows - table["duplicate_of"].null_count,
                "near_duplicates": table.num_rows - table["near_duplicate_of"].null_count,
            }
        return self._stats

    def rows(self) -> list[dict]:
        return self.pages.to_pylist()

    def error_rows(self) -> list[dict]:
        return self.errors.to_pylist()

    def ok(self) -> list[dict]:
        return [r for r in self.rows() if r["status"] == "ok"]


class DuplicateIndex:
    """Exact (SHA-256) and near (perceptual hash) duplicates of the pages given in manifest order.

    A page is flagged a duplicate of the first earlier page with the same SHA-256, and a near
    duplicate (when not an exact one) of the first earlier page within ``max_distance`` bits of
    perceptual hash. Near pages are found with a pigeonhole index: with the 64 bits cut into
    max_distance + 1 chunks, two hashes that close share at least one chunk exactly, so only pages
    in a shared bucket are compared. Each page costs its digest, its hash and its position (~150
    bytes), never its row.
    """

    def __init__(self, max_distance: int = 4) -> None:
        self.max_distance = max_distance
        n_chunks = max(max_distance, 0) + 1
        self._bounds = [round(i * 64 / n_chunks) for i in range(n_chunks + 1)]
        self._first: dict[bytes | str, int] = {}  # digest -> position of its first page
        self._books: list[str] = []
        self._book_at: dict[str, int] = {}
        self._page_book = array("I")  # position -> book
        self._page_index = array("I")  # position -> page index
        self._odd_ids: dict[int, str] = {}  # positions whose page id is not make_page_id's
        self._hashes = array("Q")
        self._hash_page = array("I")  # hash entry -> position of its page
        self._buckets: dict[tuple[int, int], array] = {}

    def _position(self, row: dict) -> int:
        book = self._book_at.get(row["book_id"])
        if book is None:
            book = self._book_at[row["book_id"]] = len(self._books)
            self._books.append(row["book_id"])
        position = len(self._page_book)
        index = row["page_index"]
        regular = isinstance(index, int) and 0 <= index < 2**32
        self._page_book.append(book)
        self._page_index.append(index if regular else 0)
        if not regular or make_page_id(row["book_id"], index) != row["page_id"]:
            self._odd_ids[position] = row["page_id"]
        return position

    def page_id(self, position: int) -> str:
        odd = self._odd_ids.get(position)
        if odd is not None:
            return odd
        return make_page_id(self._books[self._page_book[position]], self._page_index[position])

    def flag(self, row: dict) -> None:
        """Set the row's ``duplicate_of`` and ``near_duplicate_of``; rows come in manifest order."""
        row["duplicate_of"] = None
        row["near_duplicate_of"] = None
        if row["status"] != "ok":
            return
        position = self._position(row)
        try:
            digest: bytes | str = bytes.fromhex(row["sha256"])
        except (TypeError, ValueError):
            digest = row["sha256"]
        original = self._first.setdefault(digest, position)
        if original != position:
            row["duplicate_of"] = self.page_id(original)
        if self.max_distance < 0 or not row["phash"]:
            return
        value = int(row["phash"], 16)
        bounds = self._bounds
        keys = [
            (c, (value >> bounds[c]) & ((1 << (bounds[c + 1] - bounds[c])) - 1))
            for c in range(len(bounds) - 1)
        ]
        if row["duplicate_of"] is None:
            best = None
            seen: set[int] = set()
            for key in keys:
                for j in self._buckets.get(key, ()):
                    if j not in seen:
                        seen.add(j)
                        if (value ^ self._hashes[j]).bit_count() <= self.max_distance and (
                            best is None or j < best
                        ):
                            best = j
            if best is not None:
                row["near_duplicate_of"] = self.page_id(self._hash_page[best])
        entry = len(self._hashes)
        self._hashes.append(value)
        self._hash_page.append(position)
        for key in keys:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = array("I")
            bucket.append(entry)


def _remove_dead_writers_temp(path: Path) -> None:
    """Temp files of ``path`` left by a killed writer (``atomic_write(owner=True)`` names)."""
    for tmp in path.parent.glob(f".{path.name}.pid*.tmp"):
        pid = tmp.name[len(path.name) + 5 :].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass


class ManifestWriter:
    """Write ``FOLDER/{stem}manifest.parquet`` and ``{stem}errors.parquet`` from containers given
    in source-path order (``add``: one container's rows), holding at most one row group.

    A container whose book (same bytes) was already given under an earlier path is dropped with a
    ``duplicate_container`` error; rows of one container are ordered by page index. ``folder``
    None: nothing is written, ``finish`` returns the manifest in memory (``assemble``).
    Use as a context manager: the files appear (atomically) only when ``finish`` is reached.
    """

    def __init__(self, folder: Path | None, stem: str = "", near_duplicate_distance: int = 4) -> None:
        self.index = DuplicateIndex(near_duplicate_distance)
        self._kept: dict[str, str] = {}  # book -> the path it is kept under
        self._dropped: set[str] = set()
        self._duplicates: set[tuple[str, str]] = set()  # (dropped path, book)
        self._last: str | None = None
        self._batch: list[dict] = []
        self._tables: list[pa.Table] = []
        self._held = 0
        self._stats = {"pages": 0, "statuses": Counter(), "duplicates": 0, "near_duplicates": 0}
        self._stack = contextlib.ExitStack()
        self._writer: pq.ParquetWriter | None = None
        self._folder, self._stem = folder, stem
        if folder is not None:
            self.path = Path(folder) / f"{stem}{MANIFEST_FILE}"
            _remove_dead_writers_temp(self.path)
            handle = self._stack.enter_context(atomic_write(self.path, "wb", owner=True))
            self._writer = self._stack.enter_context(
                pq.ParquetWriter(handle, PAGE_SCHEMA, compression="zstd")
            )

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.__exit__(*exc)

    def add(self, rows: Iterable[dict]) -> None:
        unique: dict[tuple[str, int], dict] = {}
        for row in rows:
            path, book = row["source_path"], row["book_id"]
            if self._last is None or path != self._last:
                if self._last is not None and path < self._last:
                    raise ValueError(f"manifest rows out of order: container {path!r} after {self._last!r}")
                self._last = path
            kept = self._kept.setdefault(book, path)
            if kept != path:
                self._dropped.add(path)
                self._duplicates.add((path, book))
                continue
            unique.setdefault((book, row["page_index"]), row)
        for row in sorted(unique.values(), key=lambda r: r["page_index"]):
            self._write(dict(row))

    def _write(self, row: dict) -> None:
        self.index.flag(row)
        stats = self._stats
        stats["pages"] += 1
        stats["statuses"][row["status"]] += 1
        stats["duplicates"] += row["duplicate_of"] is not None
        stats["near_duplicates"] += row["near_duplicate_of"] is not None
        self._batch.append(row)
        if len(self._batch) == _BATCH_ROWS:
            self._flush_batch()
            if self._held >= ROW_GROUP_ROWS and self._writer is not None:
                self._write_group()

    def _flush_batch(self) -> None:
        if self._batch:
            self._tables.append(pa.Table.from_pylist(self._batch, schema=PAGE_SCHEMA))
            self._held += len(self._batch)
            self._batch = []

    def _write_group(self) -> None:
        self._writer.write_table(pa.concat_tables(self._tables).combine_chunks())
        self._tables, self._held = [], 0

    def finish(self, errors: Iterable[dict]) -> Manifest:
        """Write the last rows and the errors table (``errors``: of every container given)."""
        errors = [e for e in errors if e["source_path"] not in self._dropped]
        for path, book in sorted(self._duplicates, key=lambda d: (d[1], d[0])):
            errors.append(
                {
                    "source_path": path,
                    "entry": None,
                    "kind": "duplicate_container",
                    "reason": f"same bytes as {self._kept[book]}",
                    "book_id": book,
                }
            )
        unique_errors = {tuple(e.get(k) for k in ERROR_SCHEMA.names): e for e in errors}
        ordered_errors = sorted(
            unique_errors.values(), key=lambda e: (e["source_path"], e["entry"] or "", e["kind"])
        )
        error_table = pa.Table.from_pylist(
            [{k: e.get(k) for k in ERROR_SCHEMA.names} for e in ordered_errors], schema=ERROR_SCHEMA
        )
        self._flush_batch()
        stats = {**self._stats, "books": len(self._kept), "statuses": dict(self._stats["statuses"])}
        if self._writer is None:
            pages = pa.concat_tables([PAGE_SCHEMA.empty_table(), *self._tables])
            return Manifest(pages.combine_chunks(), error_table, stats=stats)
        if self._tables or stats["pages"] == 0:  # an empty manifest still has its (empty) row group
            self._tables = self._tables or [PAGE_SCHEMA.empty_table()]
            self._write_group()
        self._stack.close()  # the pages file is complete: renamed into place
        write_table(error_table, self._folder / f"{self._stem}{ERRORS_FILE}")
        return Manifest(path=self.path, errors=error_table, stats=stats)


def assemble(rows: list[dict], errors: list[dict], near_duplicate_distance: int = 4) -> Manifest:
    """Rows and errors from any number of runs or shards -> the final, deterministic manifest."""
    by_path: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_path[row["source_path"]].append(row)
    writer = ManifestWriter(None, near_duplicate_distance=near_duplicate_distance)
    for path in sorted(by_path):
        writer.add(by_path[path])
    return writer.finish(errors)


def _containers(path: Path) -> Iterator[list[dict]]:
    """The rows of a manifest file, one container at a time (a manifest is in source-path order)."""
    rows: list[dict] = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            if rows and row["source_path"] != rows[0]["source_path"]:
                yield rows
                rows = []
            rows.append(row)
    if rows:
        yield rows


def merge_shards(out: str | Path, near_duplicate_distance: int = 4) -> Manifest:
    """Merge ``out/shards/*`` into ``out/manifest.parquet`` (fails naming any missing shard),
    reading the shard manifests container by container."""
    out = Path(out)
    files = sorted((out / "shards").glob("*-of-*.manifest.parquet"))
    if not files:
        raise FileNotFoundError(f"no shard manifests in {out / 'shards'}")
    totals = {f.name.split(".")[0].split("-of-")[1] for f in files}
    if len(totals) != 1:
        raise ValueError(f"shards of different splits in {out / 'shards'}: {sorted(totals)}")
    total = int(totals.pop())
    present = {int(f.name.split("-of-")[0]) for f in files}
    missing = sorted(set(range(total)) - present)
    if missing:
        raise ValueError(f"cannot merge: shard(s) {missing} of {total} have not finished")
    errors = []
    for f in files:
        errors += pq.read_table(str(f).replace(".manifest.parquet", ".errors.parquet")).to_pylist()
    from .books import write_books_table  # lazy: books reads this module's manifest file name

    with ManifestWriter(out, "", near_duplicate_distance) as writer:
        for rows in heapq.merge(*map(_containers, files), key=lambda rows: rows[0]["source_path"]):
            writer.add(rows)
        manifest = writer.finish(errors)
    write_books_table(out)
    return manifest


def write_table(table: pa.Table, path: Path) -> None:
    with atomic_write(path, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")


def write_manifest(manifest: Manifest, folder: Path, stem: str = "") -> None:
    write_table(manifest.pages, folder / f"{stem}{MANIFEST_FILE}")
    write_table(manifest.errors, folder / f"{stem}{ERRORS_FILE}")


def read_manifest(folder: str | Path) -> Manifest:
    """The manifest an ingest run wrote into ``folder``."""
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no {MANIFEST_FILE} in {folder}: run `comics-analysis ingest` (or ingest-merge)"
        )
    return Manifest(pages=pq.read_table(path), errors=pq.read_table(folder / ERRORS_FILE))


def summary_text(manifest: Manifest, seconds: float) -> str:
    """Pages, books and speed, page statuses, duplicates and errors of an ingest, for a terminal."""
    counts = manifest.counts()
    pages = counts["pages"]
    lines = [
        f"{pages} pages from {counts['books']} books in {seconds:.1f} s "
        f"({pages / max(seconds, 1e-9):.1f} pages/s)",
        "page status: " + ", ".join(f"{k} {v}" for k, v in sorted(counts["statuses"].items())),
        f"duplicates flagged: {counts['duplicates']} exact, {counts['near_duplicates']} near",
    ]
    errors = Counter(e["kind"] for e in manifest.error_rows())
    if errors:
        lines.append("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(errors.items())))
    return "\n".join(lines)


def transient_errors(manifest: Manifest) -> list[dict]:
    """Errors that may pass on a re-run (a missing tool, no space, I/O): not cached, retried."""
    return [e for e in manifest.error_rows() if e["kind"] in TRANSIENT_KINDS]
