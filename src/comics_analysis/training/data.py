"""Training data for page models: DataSpec pages with their images, split into train / validation.

Sources (:func:`load_page_splits`):
- ``"synthetic"``: procedural pages with exact ground truth (``dataset_builders.load("synthetic")``);
  validation pages come from another seed, so they are really held out;
- anything :func:`comics_analysis.sources.open_pages` accepts: a ``datasets.Dataset`` /
  ``DatasetDict``, a ``save_to_disk`` folder, a ``comic_pages`` export (config ``config``,
  default ``aligned`` when the export has it, else ``all``), an annotate output, DataSpec files,
  ``synthetic:N_BOOKS[:SEED]``, ... (images under ``image_root`` or the root the source records).
A source with a validation split (``val`` / ``dev`` count as ``validation``) keeps it. Without one,
whole books go to validation (by a hash of ``book_id``), so no book has pages on both sides; a
single-book source falls back to a split by page (with a warning).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..dataset_builders import load
from ..dataset_builders.comic_pages import book_hash
from ..dataspec import Page
from ..sources import TRAINING_CONFIG, DatasetSource, PageSource, RecordSource, open_pages

log = logging.getLogger(__name__)

SYNTHETIC_VAL_SEED_OFFSET = 1000


class PageData:
    """Pages with their images, by position: ``item(i)`` (Page, RGB PIL image), ``len()``.

    A view of a :class:`~comics_analysis.sources.PageSource` (``source``); ``pages`` (records,
    images under ``image_root``) or ``dataset`` (DataSpec rows) build one."""

    def __init__(
        self,
        pages: list[Page] | None = None,
        image_root: Path | None = None,
        dataset=None,
        rows=None,
        source: PageSource | None = None,
    ):
        if source is None and pages is not None:
            source = RecordSource(pages, "pages", image_root=image_root)
        elif source is None and dataset is not None:
            source = DatasetSource(lambda: dataset, "dataset", image_root=image_root)
        if source is None:
            raise ValueError("PageData needs pages, a dataset or a source")
        self.source = source if rows is None else source.subset(rows)

    def __len__(self) -> int:
        return len(self.source)

    def item(self, i: int):
        """(Page record, RGB PIL image) of position ``i``."""
        page = self.source.page(i)
        return page, self.source.load_image(page)

    def page(self, i: int) -> Page:
        """The record of position ``i`` (no image read)."""
        return self.source.page(i)

    def image(self, i: int):
        """The RGB PIL image of position ``i``."""
        return self.source.load_image(self.source.page(i))

    def book_ids(self) -> list[str]:
        """The book of every position."""
        return self.source.book_ids()

    def subset(self, positions: list[int]) -> PageData:
        return PageData(source=self.source.subset(positions))


class MixedPageData:
    """Several :class:`PageData` one after the other (``item``, ``page``, ``image``, ``len``,
    ``book_ids``), each part ``repeat`` times: e.g. synthetic training pages and real books."""

    def __init__(self, parts: list[tuple[PageData, int]]):
        self.parts = [(data, int(repeat)) for data, repeat in parts if len(data) and repeat > 0]
        self.index = [
            (k, i)
            for k, (data, repeat) in enumerate(self.parts)
            for _ in range(repeat)
            for i in range(len(data))
        ]

    def __len__(self) -> int:
        return len(self.index)

    def _at(self, i: int):
        k, j = self.index[i]
        return self.parts[k][0], j

    def item(self, i: int):
        data, j = self._at(i)
        return data.item(j)

    def page(self, i: int) -> Page:
        data, j = self._at(i)
        return data.page(j)

    def image(self, i: int):
        data, j = self._at(i)
        return data.image(j)

    def book_ids(self) -> list[str]:
        return [self.page(i).book_id for i in range(len(self))]


def _held_out_book(book_id: str, hold_out: list[str]) -> bool:
    return any(book_id == h or book_id.startswith(h) for h in hold_out)


def real_page_data(
    sources: list[str], hold_out: list[str] | None = None, image_root: str | Path | None = None
) -> tuple[PageData | None, dict[str, Any]]:
    """The pages of the real page ``sources`` (anything ``open_pages`` reads: an ACBF book, an
    OpenMantra ``annotation.json``, DataSpec files, an annotate folder, a ``comic_pages`` export...)
    without the books in ``hold_out`` (a book id or its start, e.g. ``balloon-dream``), and what
    the model card says about them (pages per book, books held out)."""
    from collections import Counter

    hold_out = list(hold_out or [])
    parts, books, dropped = [], Counter(), Counter()
    for spec in sources:
        source = open_pages(
            spec, image_root=image_root, default_config=TRAINING_CONFIG, argument="real_pages"
        )
        ids = source.book_ids()
        keep = [i for i, b in enumerate(ids) if not _held_out_book(b, hold_out)]
        books.update(ids[i] for i in keep)
        dropped.update(b for b in ids if _held_out_book(b, hold_out))
        if keep:
            parts.append(source.subset(keep) if len(keep) < len(ids) else source)
    unmatched = [h for h in hold_out if not any(_held_out_book(b, [h]) for b in dropped)]
    if unmatched:
        raise ValueError(
            f"hold_out_books: no real book matches {', '.join(unmatched)} (books: {', '.join(sorted(books))})"
        )
    info = {
        "sources": [str(s) for s in sources],
        "pages_by_book": dict(books),
        "held_out_books": dict(dropped),
    }
    if not parts:
        return None, info
    data = (
        PageData(source=parts[0])
        if len(parts) == 1
        else MixedPageData([(PageData(source=p), 1) for p in parts])
    )
    return data, info


@dataclass
class PageSplits:
    train: PageData
    validation: PageData
    info: dict[str, Any] = field(default_factory=dict)  # what the model card says about the data


def split_by_book(book_ids: list[str], val_fraction: float) -> tuple[list[int], list[int], str]:
    """Positions of train and validation pages: the ``ceil(val_fraction * books)`` books with the
    lowest hash go to validation (at least one, and at least one book stays in train). With a
    single book, pages are split by position hash instead; the third value says which."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    books = sorted(set(book_ids), key=book_hash)
    if len(books) >= 2:
        n_val = min(len(books) - 1, max(1, math.ceil(val_fraction * len(books))))
        held = set(books[:n_val])
        val = [i for i, b in enumerate(book_ids) if b in held]
        return [i for i, b in enumerate(book_ids) if b not in held], val, "book"
    log.warning("the data has a single book: validation pages are drawn from it by page (not held-out books)")
    n = len(book_ids)
    ranked = sorted(range(n), key=lambda i: book_hash(f"{book_ids[i] if book_ids else ''}#{i}"))
    n_val = min(n - 1, max(1, math.ceil(val_fraction * n)))
    val = sorted(ranked[:n_val])
    held = set(val)
    return [i for i in range(n) if i not in held], val, "page"


def _held_out(source: PageSource, val_fraction: float, info: dict[str, Any]) -> PageSplits:
    """Train / validation of a source: its validation split when it has one, else held-out books."""
    if source.split_names:
        if "train" not in source.split_names:
            raise ValueError(
                f"dataset: {source.description} has no train split (splits: {', '.join(source.split_names)})"
            )
        if "validation" in source.split_names:
            train, val = source.split("train"), source.split("validation")
            info["validation"] = "validation split of the dataset"
            info["pages"] = {"train": len(train), "validation": len(val)}
            return PageSplits(PageData(source=train), PageData(source=val), info)
        source = source.split("train")
    if len(source) == 0:
        raise ValueError(f"dataset: {source.description} has no pages")
    whole = PageData(source=source)
    train, val, how = split_by_book(whole.book_ids(), val_fraction)
    info["validation"] = f"held out by {how} ({val_fraction:.0%} of {'books' if how == 'book' else 'pages'})"
    info["pages"] = {"train": len(train), "validation": len(val)}
    return PageSplits(whole.subset(train), whole.subset(val), info)


def load_page_splits(
    source: Any,
    *,
    config: str | None = None,
    image_root: str | Path | None = None,
    val_fraction: float = 0.1,
    synthetic_pages: int = 800,
    synthetic_val_pages: int = 100,
    synthetic_size: tuple[int, int] = (530, 800),
    seed: int = 0,
) -> PageSplits:
    """Train and validation pages from ``source`` (see the module docstring)."""
    if isinstance(source, str) and source == "synthetic":

        def synthetic(n: int, s: int):
            return load("synthetic", config="pages", n_pages=n, size=synthetic_size, seed=s)["train"]

        train = synthetic(synthetic_pages, seed)
        val = synthetic(synthetic_val_pages, seed + SYNTHETIC_VAL_SEED_OFFSET)
        info = {
            "source": "synthetic",
            "description": f"procedural comic pages with exact ground truth (comics_analysis.synth), "
            f"{synthetic_size[0]}x{synthetic_size[1]} px; validation pages from another seed",
            "validation": f"synthetic pages of seed {seed + SYNTHETIC_VAL_SEED_OFFSET} (train seed {seed})",
            "pages": {"train": synthetic_pages, "validation": synthetic_val_pages},
        }
        return PageSplits(PageData(dataset=train), PageData(dataset=val), info)
    pages = open_pages(
        source, config=config, image_root=image_root, default_config=TRAINING_CONFIG, argument="dataset"
    )
    info: dict[str, Any] = {"source": str(source) if isinstance(source, (str, Path)) else "datasets object"}
    if pages.config is not None:
        info["config"] = pages.config
    return _held_out(pages, val_fraction, info)


__all__ = ["MixedPageData", "PageData", "PageSplits", "load_page_splits", "real_page_data", "split_by_book"]
