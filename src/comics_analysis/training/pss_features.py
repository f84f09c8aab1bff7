"""Page sources of PSS features (DESIGN 4.2): synthetic books with labels, DataSpec records, exports.

:func:`dataset_pages` turns anything ``sources.open_pages`` accepts into
:class:`~comics_analysis.inference.features.PageInput` items; the encoders, the text
serialisation (``page_text``) and the Zarr feature store are in :mod:`comics_analysis.inference`
(:mod:`~comics_analysis.inference.features`, :mod:`~comics_analysis.inference.vision`,
:mod:`~comics_analysis.inference.text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..inference.features import PageInput
from ..sources import PageSource, SyntheticSource, open_pages

__all__ = ["dataset_pages", "dataspec_pages", "source_pages", "synthetic_pages"]


# ---------------------------------------------------------------------------------------------- sources


def source_pages(source: PageSource) -> Iterator[PageInput]:
    """The pages of a page source with their images (opened lazily, in order; None for a page
    that has no image) and labels."""
    for page, image in source.iter_images(allow_missing=True):
        yield PageInput.of(page, image)


def synthetic_pages(
    n_books: int, seed: int = 0, size: tuple[int, int] = (265, 400), story_pages: tuple[int, int] = (6, 14)
) -> Iterator[PageInput]:
    """Pages of ``n_books`` synthetic books (``sources.SyntheticSource``), with labels."""
    return source_pages(SyntheticSource(n_books, seed=seed, size=size, story_pages=story_pages))


def dataspec_pages(path: str | Path, image_root: str | Path | None = None) -> Iterator[PageInput]:
    """Pages of DataSpec records (a .json/.jsonl file or folder, an annotate output); images from
    ``image_root``, else the root the source records or implies (``sources.open_pages``)."""
    return source_pages(open_pages(path, image_root=image_root, argument="path"))


def dataset_pages(
    dataset: str | Path, image_root: str | Path | None = None, seed: int = 0
) -> Iterator[PageInput]:
    """The pages of anything ``sources.open_pages`` accepts (``synthetic:N_BOOKS[:SEED]``, an
    annotate output, DataSpec files, a comic_pages export, ...); ``seed``: the seed of a
    ``synthetic:N`` without one."""
    if isinstance(dataset, str) and re.fullmatch(r"synthetic:\d+", dataset):
        dataset = f"{dataset}:{seed}"
    return source_pages(open_pages(dataset, image_root=image_root, argument="dataset"))
