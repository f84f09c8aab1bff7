"""Segment books with a CoSMo PSS model and write the predicted page types into a store: the
``segment`` job end to end (prediction lives in :mod:`comics_analysis.inference.pss`, the store's
``page_type`` column in :func:`set_page_types`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .progress import finished_chunks
from .writer import _AllChunks, _page_type

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


def set_page_types(store: str | Path, page_types: dict[str, str | None]) -> int:
    """Write page types (e.g. from ``segment``) into an existing store's ``page_type`` column for
    the pages it holds; returns how many rows changed. Finished chunks only, one whole chunk of
    the column at a time (a reader sees a chunk's old or new types, never a mix within a row)."""
    import zarr  # lazy: zarr is the store extra

    store = Path(store)
    if not (store / "zarr.json").is_file():
        raise FileNotFoundError(f"{store}: not an embedding store (no zarr.json)")
    group = zarr.open_group(str(store), mode="r+")
    chunk = int(group.attrs["chunk_pages"])
    changed = 0
    for c in sorted(finished_chunks(store)):
        start, stop = c * chunk, min((c + 1) * chunk, group["page_id"].shape[0])
        ids = group["page_id"][start:stop]
        old = group["page_type"][start:stop]
        new = np.array(
            [_page_type(page_types[pid]) if pid in page_types else t for pid, t in zip(ids, old)],
            dtype=object,
        )
        if (new != old).any():
            _AllChunks(group)["page_type"][start:stop] = new
            changed += int((new != old).sum())
    return changed
