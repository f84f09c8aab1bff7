"""``annotate``'s errors table: one row per page that has no annotation, with the reason.

A page whose image could not be read (or is no page: too small, too elongated, over the pixel
cap) still has a DataSpec record, with no panels and an ``image:...`` flag; it is listed here
too. A book that failed as a whole (its engine worker died more often than the engine retries,
or raised) has no records: its pages are listed with the reason, and a rerun redoes the book.
"""

from __future__ import annotations

from pathlib import Path

from ..dataspec import Page, atomic_write

COLUMNS = ("page_id", "book_id", "page_index", "kind", "reason")
FAILED_PAGE_FLAGS = ("image:",)  # the flags of failed_page records (see pipeline.failed_page)


def page_errors(page: Page) -> list[dict]:
    """The rows of a record that is a failed page (none for an annotated page)."""
    return [
        {
            "page_id": page.page_id,
            "book_id": page.book_id,
            "page_index": page.page_index,
            "kind": flag.split(" ")[0],
            "reason": flag,
        }
        for flag in page.quality.flags
        if flag.startswith(FAILED_PAGE_FLAGS)
    ]


def failed_pages(rows: list[dict], reason: str) -> list[dict]:
    """The rows of a book (its manifest rows) that failed as a whole, for ``reason``."""
    kind = reason.split(":")[0] if ":" in reason else "error"
    return [
        {
            "page_id": row["page_id"],
            "book_id": row["book_id"],
            "page_index": row["page_index"],
            "kind": f"book:{kind}",
            "reason": reason,
        }
        for row in sorted(rows, key=lambda r: r["page_index"])
    ]


def write_errors(rows: list[dict], path: str | Path) -> int:
    """The table (possibly empty), sorted by page id, written atomically; returns its rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = sorted(rows, key=lambda r: (r["page_id"], r["reason"]))
    schema = pa.schema(
        [
            ("page_id", pa.string()),
            ("book_id", pa.string()),
            ("page_index", pa.int32()),
            ("kind", pa.string()),
            ("reason", pa.string()),
        ]
    )
    table = pa.Table.from_pylist(rows, schema=schema)
    with atomic_write(path, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
    return table.num_rows
