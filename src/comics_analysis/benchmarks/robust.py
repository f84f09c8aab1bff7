"""The report rows of ``panels-robust.json`` (scripts/eval_panels_robust.py): the classical detector
on the real dev pages as published and as other collections would hold them (tilted, rescaled,
compressed, grainy, soft, on aged paper, printed darker), F1 per book and the change from the
pages as published."""

from __future__ import annotations

from .extractors import PANEL_BOOKS, Row, _num

AS_PUBLISHED = "as published"


def _panels_robust(d: dict) -> list[Row]:
    scans = d.get("scans", {})
    base = scans.get(AS_PUBLISHED, {})
    books = [k for k, v in base.items() if isinstance(v, dict) and "f1" in v]
    rows = []
    for name, result in scans.items():
        cells = []
        for book in books:
            b = result.get(book)
            if not isinstance(b, dict):
                continue
            change = "" if name == AS_PUBLISHED else f" ({b['f1'] - base[book]['f1']:+.3f})"
            cells.append(f"{PANEL_BOOKS.get(book, book).split(' (')[0]} {_num(b['f1'])}{change}")
        rows.append(
            Row(f"Panels on the real dev pages, {name}", "F1@0.5 per book (change)", "; ".join(cells))
        )
    return rows
