"""The page manifest (Parquet): one row per page entry of every container, plus an errors table.

``assemble`` is the one place rows become a manifest: it resolves containers seen twice,
orders rows, and flags exact (SHA-256) and near (perceptual hash) duplicate pages. Single runs
and merged shards both go through it, which is why they give identical files.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..dataspec import atomic_write
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


@dataclass
class Manifest:
    pages: pa.Table
    errors: pa.Table

    def __len__(self) -> int:
        return self.pages.num_rows

    def rows(self) -> list[dict]:
        return self.pages.to_pylist()

    def error_rows(self) -> list[dict]:
        return self.errors.to_pylist()

    def ok(self) -> list[dict]:
        return [r for r in self.rows() if r["status"] == "ok"]


def _hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def flag_near_duplicates(rows: list[dict], max_distance: int) -> None:
    """Set ``near_duplicate_of`` to the first earlier page within ``max_distance`` bits of phash.

    Pigeonhole index: with the 64 bits cut into max_distance + 1 chunks, two hashes that close
    share at least one chunk exactly, so only pages in a shared bucket are compared.
    """
    if max_distance < 0:
        return
    n_chunks = max_distance + 1
    bounds = [round(i * 64 / n_chunks) for i in range(n_chunks + 1)]
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    hashes: list[int] = []
    ids: list[str] = []
    for row in rows:
        if row["status"] != "ok" or not row["phash"]:
            continue
        value = int(row["phash"], 16)
        keys = [(c, (value >> bounds[c]) & ((1 << (bounds[c + 1] - bounds[c])) - 1)) for c in range(n_chunks)]
        if row["duplicate_of"] is None:
            seen: set[int] = set()
            best = None
            for key in keys:
                for j in buckets.get(key, ()):
                    if j not in seen:
                        seen.add(j)
                        if _hamming(value, hashes[j]) <= max_distance and (best is None or j < best):
                            best = j
            if best is not None:
                row["near_duplicate_of"] = ids[best]
        index = len(hashes)
        hashes.append(value)
        ids.append(row["page_id"])
        for key in keys:
            buckets[key].append(index)


def assemble(rows: list[dict], errors: list[dict], near_duplicate_distance: int = 4) -> Manifest:
    """Rows and errors from any number of runs or shards -> the final, deterministic manifest."""
    by_book: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_book[row["book_id"]].add(row["source_path"])
    keep = {book: min(paths) for book, paths in by_book.items()}
    dropped = {path for book, paths in by_book.items() for path in paths if path != keep[book]}
    errors = [e for e in errors if e["source_path"] not in dropped]
    for book, paths in by_book.items():
        for path in sorted(paths - {keep[book]}):
            errors.append(
                {
                    "source_path": path,
                    "entry": None,
                    "kind": "duplicate_container",
                    "reason": f"same bytes as {keep[book]}",
                    "book_id": book,
                }
            )
    unique_rows: dict[tuple[str, int], dict] = {}
    for row in rows:
        if row["source_path"] == keep[row["book_id"]]:
            unique_rows.setdefault((row["book_id"], row["page_index"]), dict(row))
    ordered = sorted(unique_rows.values(), key=lambda r: (r["source_path"], r["page_index"]))
    first_by_sha: dict[str, str] = {}
    for row in ordered:
        row["duplicate_of"] = None
        row["near_duplicate_of"] = None
        if row["status"] != "ok":
            continue
        original = first_by_sha.setdefault(row["sha256"], row["page_id"])
        if original != row["page_id"]:
            row["duplicate_of"] = original
    flag_near_duplicates(ordered, near_duplicate_distance)
    unique_errors = {tuple(e.get(k) for k in ERROR_SCHEMA.names): e for e in errors}
    ordered_errors = sorted(
        unique_errors.values(), key=lambda e: (e["source_path"], e["entry"] or "", e["kind"])
    )
    return Manifest(
        pages=pa.Table.from_pylist(ordered, schema=PAGE_SCHEMA),
        errors=pa.Table.from_pylist(
            [{k: e.get(k) for k in ERROR_SCHEMA.names} for e in ordered_errors], schema=ERROR_SCHEMA
        ),
    )


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
    rows = manifest.rows()
    statuses = Counter(r["status"] for r in rows)
    books = len({r["book_id"] for r in rows})
    lines = [
        f"{len(rows)} pages from {books} books in {seconds:.1f} s "
        f"({len(rows) / max(seconds, 1e-9):.1f} pages/s)",
        "page status: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
    ]
    dups = sum(r["duplicate_of"] is not None for r in rows)
    near = sum(r["near_duplicate_of"] is not None for r in rows)
    lines.append(f"duplicates flagged: {dups} exact, {near} near")
    errors = Counter(e["kind"] for e in manifest.error_rows())
    if errors:
        lines.append("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(errors.items())))
    return "\n".join(lines)


def transient_errors(manifest: Manifest) -> list[dict]:
    """Errors that may pass on a re-run (a missing tool, no space, I/O): not cached, retried."""
    return [e for e in manifest.error_rows() if e["kind"] in TRANSIENT_KINDS]
