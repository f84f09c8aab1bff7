"""What a store is written from: DataSpec pages (a folder, a file, a list) or a ``datasets``
Dataset with the DataSpec features. Each page reaches the embedding function as a
:class:`PageItem`: the validated :class:`Page` record plus a way to get its image.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..dataspec import DataSpecError, Page, from_hf_row, read_pages


@dataclass
class PageItem:
    """One page handed to ``embed_fn``: ``page`` (DataSpec record) and its image, on demand."""

    page: Page
    image: Any = None  # a decoded PIL image or a datasets image dict {"path", "bytes"}; else page.image
    image_root: Path | None = None

    def load_image(self):
        """The page as an RGB PIL image (from the dataset row, or ``image_root / page.image``)."""
        from PIL import Image

        image = self.image
        if isinstance(image, Image.Image):
            return image.convert("RGB")
        if isinstance(image, dict) and image.get("bytes"):
            return Image.open(io.BytesIO(image["bytes"])).convert("RGB")
        path = self.page.image
        if isinstance(image, dict) and image.get("path"):
            path = image["path"]
        if path is None:
            raise DataSpecError("the page has no image", page_id=self.page.page_id, field="image")
        full = Path(path) if self.image_root is None else Path(self.image_root) / path
        if not full.is_file():
            raise DataSpecError(
                f"image file {full} not found (set image_root to the folder the paths are relative to)",
                page_id=self.page.page_id,
                field="image",
            )
        with Image.open(full) as opened:
            return opened.convert("RGB")


class PageSource(ABC):
    """Rows in a fixed order: ``page_ids`` (cheap) and ``items(start, stop)`` (pages + images)."""

    def __init__(self, page_ids: list[str], name: str):
        self.page_ids = page_ids
        self.name = name

    def __len__(self) -> int:
        return len(self.page_ids)

    @abstractmethod
    def items(self, start: int, stop: int) -> list[PageItem]:
        """Rows ``start:stop`` as page items (each subclass reads its own storage)."""


class PagesSource(PageSource):
    def __init__(self, pages: Sequence[Page], name: str, image_root: str | Path | None = None):
        for i, page in enumerate(pages):
            if not isinstance(page, Page):
                raise DataSpecError(f"{name}: row {i} is a {type(page).__name__}, not a DataSpec Page")
        super().__init__([p.page_id for p in pages], name)
        self.pages = list(pages)
        self.image_root = Path(image_root) if image_root is not None else None

    def items(self, start: int, stop: int) -> list[PageItem]:
        return [PageItem(page, image_root=self.image_root) for page in self.pages[start:stop]]


class DatasetSource(PageSource):
    """A ``datasets.Dataset`` whose rows have the DataSpec features (``dataspec.hf_features``)."""

    def __init__(self, dataset, image_root: str | Path | None = None):
        missing = {"page_id", "book_id", "page_index", "panels"} - set(dataset.column_names)
        if missing:
            raise DataSpecError(
                f"dataset lacks the DataSpec column(s) {', '.join(sorted(missing))}", file="dataset"
            )
        super().__init__([str(v) for v in dataset["page_id"]], "dataset")
        self.dataset = dataset
        self.image_root = Path(image_root) if image_root is not None else None

    def items(self, start: int, stop: int) -> list[PageItem]:
        out = []
        for offset, row in enumerate(self.dataset.select(range(start, stop))):
            try:
                page = from_hf_row(row)
            except DataSpecError as exc:
                raise exc.located(f"dataset row {start + offset}") from None
            out.append(PageItem(page, image=row.get("image"), image_root=self.image_root))
        return out


def page_source(source: Any, image_root: str | Path | None = None) -> PageSource:
    """A :class:`PageSource` for a path (annotate output folder, DataSpec .json/.jsonl/folder),
    a ``datasets.Dataset``, a list of :class:`Page`, or a PageSource."""
    if isinstance(source, PageSource):
        return source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such DataSpec file or folder")
        if path.is_dir() and (path / "dataspec").is_dir():
            from ..annotate import read_annotations

            pages = read_annotations(path)
        else:
            pages = read_pages(path)
        return PagesSource(pages, str(path), image_root)
    if hasattr(source, "column_names") and hasattr(source, "select"):
        return DatasetSource(source, image_root)
    if isinstance(source, Sequence):
        return PagesSource(source, "pages", image_root)
    raise TypeError(f"cannot write a store from a {type(source).__name__}; pass a path, Dataset or pages")
