"""Page sources of PSS features (DESIGN 4.2): synthetic books with labels and DataSpec records.

:func:`dataset_pages` turns ``synthetic:N_BOOKS[:SEED]`` or a DataSpec file / folder into
:class:`~comics_analysis.inference.features.PageInput` items; the encoders, the text
serialisation (``page_text``) and the Zarr feature store are in :mod:`comics_analysis.inference`
(:mod:`~comics_analysis.inference.features`, :mod:`~comics_analysis.inference.vision`,
:mod:`~comics_analysis.inference.text`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from ..dataspec import read_pages
from ..inference.features import PageInput, page_text

__all__ = ["dataset_pages", "dataspec_pages", "synthetic_pages"]


# ---------------------------------------------------------------------------------------------- sources


def synthetic_pages(
    n_books: int, seed: int = 0, size: tuple[int, int] = (265, 400), story_pages: tuple[int, int] = (6, 14)
) -> Iterator[PageInput]:
    """Pages of ``n_books`` synthetic books (kinds cycling issue / anthology / manga), with labels.

    Book ids are ``synthetic-<seed>-<b>`` so different seeds never collide."""
    from ..synth.book import BOOK_KINDS, make_book  # synth is a later stage: imported on demand

    for b in range(n_books):
        kind = BOOK_KINDS[b % len(BOOK_KINDS)]
        book = make_book((seed, b), kind=kind, number=b + 1, size=size, story_pages=tuple(story_pages))
        book_id = f"synthetic-{seed}-{b:05d}"
        for i, page in enumerate(book.pages):
            yield PageInput(
                page_id=f"{book_id}/p{i:04d}",
                book_id=book_id,
                page_index=i,
                image=page.image,
                text=page_text(page.record),
                page_type=page.record.page_type,
                story_start=bool(page.record.story_start),
            )


def dataspec_pages(path: str | Path, image_root: str | Path | None = None) -> Iterator[PageInput]:
    """Pages of DataSpec records (a .json/.jsonl file or folder); images from ``image_root``
    (default: the folder itself), opened lazily."""
    path = Path(path)
    root = Path(image_root) if image_root else (path if path.is_dir() else path.parent)
    for page in read_pages(path):
        image = None
        if page.image:
            file = root / page.image
            if not file.is_file():
                raise FileNotFoundError(f"page {page.page_id}: image {file} not found (field image)")
            with Image.open(file) as handle:
                image = handle.convert("RGB")
        yield PageInput(
            page_id=page.page_id,
            book_id=page.book_id,
            page_index=page.page_index,
            image=image,
            text=page_text(page),
            page_type=page.page_type,
            story_start=bool(page.story_start),
        )


def dataset_pages(dataset: str, image_root: str | None = None, seed: int = 0) -> Iterator[PageInput]:
    """``synthetic:N_BOOKS`` (``synthetic:N:SEED``) or a DataSpec file / folder."""
    if dataset.startswith("synthetic:"):
        parts = dataset.split(":")
        try:
            n_books = int(parts[1])
            seed = int(parts[2]) if len(parts) > 2 else seed
        except (IndexError, ValueError):
            raise ValueError(f"expected synthetic:N_BOOKS[:SEED], got {dataset!r}") from None
        return synthetic_pages(n_books, seed=seed)
    if not Path(dataset).exists():
        raise FileNotFoundError(f"dataset {dataset!r}: no such DataSpec file or folder (or synthetic:N)")
    return dataspec_pages(dataset, image_root)
