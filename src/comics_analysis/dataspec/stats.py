"""Counts over DataSpec pages, for summaries and dataset cards."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .records import PAGE_TYPES, Page


@dataclass
class TypeCounts:
    page_type: str
    pages: int = 0
    panels: int = 0
    texts: int = 0
    characters: int = 0

    @property
    def panels_per_page(self) -> float:
        return self.panels / self.pages if self.pages else 0.0

    @property
    def texts_per_page(self) -> float:
        return self.texts / self.pages if self.pages else 0.0


def counts_by_page_type(pages: Iterable[Page]) -> list[TypeCounts]:
    """Pages, panels, text boxes and characters per page type (taxonomy order, unlabelled last)."""
    rows: dict[str, TypeCounts] = {}
    for page in pages:
        key = page.page_type or "(none)"
        row = rows.setdefault(key, TypeCounts(key))
        row.pages += 1
        row.panels += len(page.panels)
        row.texts += len(page.texts)
        row.characters += len(page.characters)
    order = {name: i for i, name in enumerate(PAGE_TYPES)}
    return sorted(rows.values(), key=lambda r: order.get(r.page_type, len(order)))


def text_kind_counts(pages: Iterable[Page]) -> Counter:
    return Counter(text.kind for page in pages for text in page.texts)


# The project's two table renderers (terminal and Markdown); ours because no table library
# (tabulate, rich) is a dependency and these few lines keep every report's exact layout.
def format_table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain fixed-width table for a terminal (floats with 2 decimals)."""
    cells = [[str(h) for h in headers]] + [
        [f"{v:.2f}" if isinstance(v, float) else str(v) for v in r] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(headers: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown (GitHub) table; cells are ``str(value)`` with ``|`` escaped and newlines folded,
    so format numbers before passing them."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def page_summary_text(pages: Iterable[Page]) -> str:
    """Counts per page type (pages, panels, text boxes, characters, per-page means) and text boxes
    by kind, as a table for a terminal."""
    pages = list(pages)
    rows = counts_by_page_type(pages)
    table = [
        [r.page_type, r.pages, r.panels, r.texts, r.characters, r.panels_per_page, r.texts_per_page]
        for r in rows
    ]
    total = [
        sum(r.pages for r in rows),
        sum(r.panels for r in rows),
        sum(r.texts for r in rows),
        sum(r.characters for r in rows),
    ]
    table.append(["total", *total, total[1] / max(total[0], 1), total[2] / max(total[0], 1)])
    headers = ["page_type", "pages", "panels", "text boxes", "characters", "panels/page", "texts/page"]
    kinds = text_kind_counts(pages)
    return (
        format_table(headers, table)
        + "\ntext boxes by kind: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    )
