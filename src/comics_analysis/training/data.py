"""Training data for page models: DataSpec pages with their images, split into train / validation.

Sources (:func:`load_page_splits`):
- ``"synthetic"``: procedural pages with exact ground truth (``dataset_builders.load("synthetic")``);
  validation pages come from another seed, so they are really held out;
- a ``datasets.Dataset`` / ``DatasetDict`` with the DataSpec features;
- a folder saved with ``save_to_disk``, a ``comic_pages`` export (``<config>/<split>-*.parquet``)
  or a folder of Parquet shards;
- an annotate output / folder of DataSpec ``.jsonl`` (images under ``image_root`` or the root
  annotate recorded).
Without a validation split, whole books go to validation (by a hash of ``book_id``), so no book
has pages on both sides; a single-book source falls back to a split by page (with a warning).
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..dataset_builders.comic_pages import book_hash
from ..dataspec import DataSpecError, Page, from_hf_row

log = logging.getLogger(__name__)

SYNTHETIC_VAL_SEED_OFFSET = 1000
_SHARD = re.compile(r"(?P<split>[A-Za-z_]+)-\d{5}-of-\d{5}\.parquet$")


class PageData:
    """Pages with their images, by position: ``page(i)``, ``image(i)`` (RGB PIL), ``len()``."""

    def __init__(
        self, pages: list[Page] | None = None, image_root: Path | None = None, dataset=None, rows=None
    ):
        self.pages = pages
        self.image_root = image_root
        self.dataset = dataset
        self.rows = list(range(len(dataset))) if dataset is not None and rows is None else rows
        if pages is None and dataset is None:
            raise ValueError("PageData needs pages or a dataset")

    def __len__(self) -> int:
        return len(self.pages) if self.pages is not None else len(self.rows)

    def item(self, i: int):
        """(Page record, RGB PIL image) of position ``i``."""
        from PIL import Image

        if self.pages is not None:
            page = self.pages[i]
            if page.image is None:
                raise DataSpecError("the page has no image path", page_id=page.page_id, field="image")
            path = Path(page.image) if self.image_root is None else self.image_root / page.image
            if not path.is_file():
                raise DataSpecError(
                    f"image file not found: {path} (pass image_root / --images)",
                    page_id=page.page_id,
                    field="image",
                )
            with Image.open(path) as opened:
                return page, opened.convert("RGB")
        row = self.dataset[self.rows[i]]
        try:
            page = from_hf_row(row)
        except DataSpecError as exc:
            raise exc.located(f"dataset row {self.rows[i]}") from None
        image = row.get("image")
        if isinstance(image, dict):
            if image.get("bytes"):
                image = Image.open(io.BytesIO(image["bytes"]))
            elif image.get("path"):
                root = self.image_root or Path()
                image = Image.open(root / image["path"])
        if image is None or not hasattr(image, "convert"):
            raise DataSpecError("the dataset row has no decodable image", page_id=page.page_id, field="image")
        return page, image.convert("RGB")

    def book_ids(self) -> list[str]:
        """The book of every position."""
        if self.pages is not None:
            return [p.book_id for p in self.pages]
        books = [str(b) for b in self.dataset["book_id"]]
        return [books[r] for r in self.rows]

    def subset(self, positions: list[int]) -> PageData:
        if self.pages is not None:
            return PageData(pages=[self.pages[i] for i in positions], image_root=self.image_root)
        return PageData(
            dataset=self.dataset, image_root=self.image_root, rows=[self.rows[i] for i in positions]
        )


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


def _parquet_splits(folder: Path, config: str | None) -> tuple[dict[str, list[str]], str | None]:
    """Split -> shard files of a comic_pages export or a folder of ``<split>-*.parquet``."""
    subdirs = sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.parquet")))
    chosen = None
    base = folder
    if subdirs and not any(folder.glob("*.parquet")):
        if config is not None and config not in subdirs:
            raise FileNotFoundError(f"{folder}: no config {config!r}; it has {', '.join(subdirs)}")
        chosen = config or next((c for c in ("aligned", "all") if c in subdirs), subdirs[0])
        base = folder / chosen
    files: dict[str, list[str]] = defaultdict(list)
    for path in sorted(base.glob("*.parquet")):
        match = _SHARD.search(path.name)
        files[match.group("split") if match else "train"].append(str(path))
    return dict(files), chosen


def _from_dataset(data, val_fraction: float, image_root, info: dict[str, Any]) -> PageSplits:
    import datasets

    if isinstance(data, datasets.DatasetDict):
        if "train" not in data:
            raise ValueError(f"the dataset has no train split (splits: {', '.join(data)})")
        if "validation" in data:
            info["validation"] = "validation split of the dataset"
            info["pages"] = {"train": len(data["train"]), "validation": len(data["validation"])}
            return PageSplits(
                PageData(dataset=data["train"], image_root=image_root),
                PageData(dataset=data["validation"], image_root=image_root),
                info,
            )
        data = data["train"]
    missing = {"page_id", "book_id", "panels", "image"} - set(data.column_names)
    if missing:
        raise DataSpecError(f"the dataset lacks the DataSpec column(s) {', '.join(sorted(missing))}")
    whole = PageData(dataset=data, image_root=image_root)
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
    import datasets

    root = Path(image_root) if image_root is not None else None
    if isinstance(source, str) and source == "synthetic":
        from ..dataset_builders import load

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
    if isinstance(source, datasets.Dataset | datasets.DatasetDict):
        return _from_dataset(source, val_fraction, root, {"source": "datasets object"})
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(
            f"dataset not found: {path} (a DataSpec folder, a comic_pages export or 'synthetic')"
        )
    info: dict[str, Any] = {"source": str(source)}
    if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
        return _from_dataset(datasets.load_from_disk(str(path)), val_fraction, root, info)
    if path.is_dir() and any(path.rglob("*.parquet")):
        files, chosen = _parquet_splits(path, config)
        if chosen:
            info["config"] = chosen
        data = datasets.load_dataset("parquet", data_files=files)
        return _from_dataset(data, val_fraction, root, info)
    from ..dataset_builders.comic_pages import images_root, read_collection
    from ..dataspec import read_pages

    if path.is_dir():
        pages = read_collection(path)
        root = images_root(path, root)
    else:
        pages = read_pages(path)
        root = root or path.parent
    if not pages:
        raise ValueError(f"{path}: no pages")
    whole = PageData(pages=pages, image_root=root)
    train, val, how = split_by_book([p.book_id for p in pages], val_fraction)
    info["validation"] = f"held out by {how} ({val_fraction:.0%} of {'books' if how == 'book' else 'pages'})"
    info["pages"] = {"train": len(train), "validation": len(val)}
    return PageSplits(whole.subset(train), whole.subset(val), info)


__all__ = ["PageData", "PageSplits", "load_page_splits", "split_by_book"]
