"""The store's text table: the lettered text of a chunk's pages, one row per text line
(``STORE/text/chunk-NNNNNN.parquet``; columns ``layout.TEXT_COLUMNS``), written by the store writer."""

from __future__ import annotations

from pathlib import Path

from ..dataspec import atomic_write
from .inputs import PageItem
from .layout import TEXT_COLUMNS, TEXT_DIR


def text_rows(items: list[PageItem]) -> dict[str, list]:
    """Lettered text, one row per line, never truncated: page text boxes, else panel text."""
    cols: dict[str, list] = {c: [] for c in TEXT_COLUMNS}

    def add(page_id: str, panel: int, kind: str, order: int, text: str) -> None:
        for name, value in zip(TEXT_COLUMNS, (page_id, panel, kind, order, text)):
            cols[name].append(value)

    for item in items:
        page = item.page
        if page.texts:
            for order, box in enumerate(page.texts):
                add(page.page_id, box.panel, box.kind, order, box.text)
        else:
            order = 0
            for j, panel in enumerate(page.panels):
                for kind in ("narration", "dialogue", "sfx"):
                    for line in getattr(panel.text, kind):
                        add(page.page_id, j, kind, order, line)
                        order += 1
    return cols


def write_text_table(out: Path, chunk: int, items: list[PageItem]) -> None:
    """The text table file of chunk ``chunk`` (``STORE/text/chunk-NNNNNN.parquet``), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = text_rows(items)
    table = pa.table(
        {
            "page_id": pa.array(cols["page_id"], pa.string()),
            "panel": pa.array(cols["panel"], pa.int16()),
            "kind": pa.array(cols["kind"], pa.string()),
            "order": pa.array(cols["order"], pa.int32()),
            "text": pa.array(cols["text"], pa.string()),
        }
    )
    with atomic_write(out / TEXT_DIR / f"chunk-{chunk:06d}.parquet", "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
