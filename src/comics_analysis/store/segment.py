"""Segment books with a CoSMo PSS model and write the predicted page types into a store: the
``segment`` job end to end (prediction lives in :mod:`comics_analysis.inference.pss`, the store's
``page_type`` column in :func:`~comics_analysis.store.writer.set_page_types`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .writer import set_page_types

if TYPE_CHECKING:
    from ..inference.pss import Segmentation


@dataclass
class SegmentRun:
    """The segmentation and, when a store was given, how many of its rows changed page type."""

    segmentation: Segmentation
    store: Path | None = None
    store_updated: int | None = None

    def summary_text(self) -> str:
        """The segments of every book, then the store update (if any)."""
        text = self.segmentation.tables()
        if self.store is not None:
            text += f"\npage_type of {self.store_updated} store rows updated in {self.store}"
        return text


def segment_into_store(
    model: str | Path | None,
    features: str | Path,
    books: Sequence[str] = ("all",),
    *,
    store: str | Path | None = None,
    window: int | None = 32,
    stride: int | None = 16,
    json_path: str | Path | None = None,
    dataspec: str | Path | None = None,
) -> SegmentRun:
    """:func:`~comics_analysis.inference.pss.segment_books` (``model`` None: the zero-shot
    segmenter; ``json_path`` and ``dataspec`` as there), then the predicted page types into the
    embedding store ``store`` when given."""
    # lazy: inference.pss imports torch
    from ..inference.pss import segment_books

    result = segment_books(
        model, features, list(books), window=window, stride=stride, json_path=json_path, dataspec=dataspec
    )
    if store is None:
        return SegmentRun(result)
    return SegmentRun(result, Path(store), set_page_types(store, result.page_types()))
