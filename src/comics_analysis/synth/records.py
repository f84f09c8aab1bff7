"""DataSpec records without images: many plausible pages fast, for store and search benchmarks.

Layouts come from :func:`make_layout` and lettering from the synthetic text generator, so panel
counts, boxes and text lengths look like the rendered synthetic books, at a tiny fraction of the
cost (nothing is drawn). Page ``i`` of a book is a cover (0), an advertisement (every 9th), or a
story page.
"""

from __future__ import annotations

import numpy as np

from ..dataspec import Page, make_book_id, make_page_id
from . import text as words
from .layout import LAYOUTS, make_layout


def make_page_records(
    books: int, pages_per_book: int = 20, seed: int = 0, size: tuple[int, int] = (1060, 1600)
) -> list[Page]:
    """``books * pages_per_book`` DataSpec pages with panels and lettered text (no image files)."""
    width, height = size
    pages = []
    for b in range(books):
        rng = np.random.default_rng((seed, b))
        book_id = make_book_id(f"synthetic book {b}", f"{seed:08x}{b:056x}")
        direction = "rtl" if b % 3 == 2 else "ltr"
        for i in range(pages_per_book):
            page_type = "cover" if i == 0 else ("advertisement" if i % 9 == 8 else "story")
            panels, texts = [], []
            if page_type == "story":
                layout = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
                specs = make_layout(layout, rng, width, height, direction)
            else:
                specs = []
            for j, spec in enumerate(specs):
                x, y, w, h = (float(v) for v in spec.rect)
                dialogue = [words.dialogue(rng) for _ in range(int(rng.integers(0, 3)))]
                narration = [words.caption(rng)] if rng.random() < 0.3 else []
                sfx = [words.sfx(rng)] if rng.random() < 0.15 else []
                panels.append(
                    {
                        "bbox": [x, y, w, h],
                        "order": j,
                        "source": "synthetic",
                        "text": {"dialogue": dialogue, "narration": narration, "sfx": sfx},
                    }
                )
                for kind, items in (("narration", narration), ("dialogue", dialogue), ("sfx", sfx)):
                    for k, line in enumerate(items):
                        box = [x + 4 + 6 * k, y + 4 + 20 * k, max(1.0, min(w - 8, 200.0)), 18.0]
                        texts.append(
                            {"bbox": box, "text": line, "kind": kind, "panel": j, "source": "synthetic"}
                        )
            if page_type != "story":
                line = words.title(rng) if page_type == "cover" else words.product(rng)
                texts.append(
                    {
                        "bbox": [40.0, 40.0, 400.0, 60.0],
                        "text": line,
                        "kind": "unknown",
                        "source": "synthetic",
                    }
                )
            pages.append(
                Page(
                    page_id=make_page_id(book_id, i),
                    book_id=book_id,
                    page_index=i,
                    width=width,
                    height=height,
                    reading_direction=direction,
                    panels=panels,
                    texts=texts,
                    page_type=page_type,
                )
            )
    return pages
