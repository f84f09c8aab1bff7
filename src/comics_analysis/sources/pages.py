"""Page sources: DataSpec :class:`~comics_analysis.dataspec.Page` records in a fixed order, the
one image loader, and the splits of sources that have them.

Every kind of source (records read from files, rows of a ``datasets`` dataset, synthetic books)
is a :class:`PageSource`: ``len()``, ``page_ids``, ``page(i)``, ``pages()``, ``load_image(page)``,
``items(start, stop)`` (pages with their images, what the embedding store writer reads),
``iter_images()`` (pages and images in order, lazily), ``subset(positions)`` and, where the
source has them, ``split_names`` / ``split(name)``. :func:`~.resolve.open_pages` decides which
one an argument means.

Images (:func:`open_image`, the only image loader): a decoded PIL image, ``datasets`` image
values (``{"bytes", "path"}``, bytes first) or a path, relative to the source's image root
(absolute paths are kept). Files are read whole, the EXIF orientation is applied when the file
has one (as ``datasets`` does, DESIGN 3.2: sizes are after orientation) and the result is RGB.
"""

from __future__ import annotations

import io
import json
from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from ..dataspec import DataSpecError, Page, from_hf_row, read_jsonl
from ..dataspec.io import resolve_image
from ..synth.book import BOOK_KINDS, make_book

SPLITS: tuple[str, ...] = ("train", "validation", "test")
SPLIT_ALIASES: dict[str, str] = {"val": "validation", "dev": "validation"}


def split_name(name: str) -> str:
    """The canonical split name of ``name`` (``val`` and ``dev`` mean ``validation``)."""
    key = str(name).strip().lower()
    key = SPLIT_ALIASES.get(key, key)
    if key not in SPLITS:
        aliases = ", ".join(f"{a} -> {c}" for a, c in SPLIT_ALIASES.items())
        raise ValueError(
            f"split: unknown split name {name!r}; expected one of {', '.join(SPLITS)} ({aliases})"
        )
    return key


def _located(page: Page | None, reason: str) -> DataSpecError:
    return DataSpecError(reason, page_id=page.page_id if page is not None else None, field="image")


def open_image(value: Any, image_root: str | Path | None = None, page: Page | None = None) -> Image.Image:
    """The page image as an RGB PIL image (module docstring); errors name the page and the file."""
    if isinstance(value, Image.Image):
        return value.convert("RGB")
    if isinstance(value, dict):
        if value.get("bytes"):
            return _decoded(Image.open(io.BytesIO(value["bytes"])))
        value = value.get("path")
    if value is None:
        raise _located(page, "the page has no image")
    path = (
        Path(value)
        if image_root is None
        else resolve_image(image_root, value, getattr(page, "page_id", None))
    )
    if not path.is_file():
        root = f"image root {image_root}" if image_root is not None else "no image root"
        raise _located(
            page, f"image file {path} not found ({root}; pass image_root= the folder it is relative to)"
        )
    with Image.open(path) as opened:
        return _decoded(opened)


def _decoded(image: Image.Image) -> Image.Image:
    image.load()
    if image.getexif().get(0x0112) is not None:  # EXIF orientation
        image = ImageOps.exif_transpose(image)
    return image.convert("RGB")


@dataclass
class PageItem:
    """One page for an embedding function: ``page`` (DataSpec record) and its image, on demand."""

    page: Page
    source: PageSource

    def load_image(self) -> Image.Image:
        return self.source.load_image(self.page)


class PageSource(ABC):
    """Pages in a fixed order with their images. Subclasses implement ``__len__``, ``page``,
    ``page_ids`` and ``load_image``; ``description`` says what was opened (for logs and stores)."""

    def __init__(
        self,
        description: str,
        *,
        path: Path | None = None,
        image_root: str | Path | None = None,
        config: str | None = None,
        split_name: str | None = None,
    ):
        self.description = description
        self.path = path
        self.image_root = Path(image_root) if image_root is not None else None
        self.config = config
        self.split_name = split_name

    @property
    def name(self) -> str:  # the store writer's word for it
        return self.description

    @abstractmethod
    def __len__(self) -> int: ...

    @property
    @abstractmethod
    def page_ids(self) -> list[str]: ...

    @abstractmethod
    def page(self, i: int) -> Page: ...

    @abstractmethod
    def load_image(self, page: Page) -> Image.Image: ...

    def pages(self) -> list[Page]:
        return [self.page(i) for i in range(len(self))]

    def book_ids(self) -> list[str]:
        return [page_id.rsplit("/", 1)[0] for page_id in self.page_ids]

    def items(self, start: int, stop: int) -> list[PageItem]:
        return [PageItem(self.page(i), self) for i in range(start, min(stop, len(self)))]

    def iter_images(self, allow_missing: bool = False) -> Iterator[tuple[Page, Image.Image | None]]:
        """Pages with their images, in order; ``allow_missing``: None for a page without an image
        (a missing file is still an error)."""
        for i in range(len(self)):
            page = self.page(i)
            yield page, self._image_or_none(page, allow_missing)

    def _image_or_none(self, page: Page, allow_missing: bool) -> Image.Image | None:
        try:
            return self.load_image(page)
        except DataSpecError:
            if allow_missing and page.image is None:
                return None
            raise

    def subset(self, positions: Sequence[int]) -> PageSource:
        return Subset(self, positions)

    # --- splits ---------------------------------------------------------------------------------
    @property
    def split_names(self) -> tuple[str, ...]:
        """The splits this source has (``train``, ``validation``, ``test``); () when it has none."""
        return tuple(self._splits())

    def split(self, name: str) -> PageSource:
        """The pages of split ``name`` (``val`` / ``dev`` accepted for ``validation``)."""
        wanted = split_name(name)
        splits = self._splits()
        if wanted not in splits:
            have = f"it has {', '.join(splits)}" if splits else "it has no splits"
            raise ValueError(f"split: {self.description} has no {wanted!r} split ({have})")
        return splits[wanted]()

    def _splits(self) -> dict[str, Callable[[], PageSource]]:
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}: {len(self)} pages>"


class RecordSource(PageSource):
    """DataSpec records held in memory; images are files under ``image_root`` (or in ``images``,
    decoded already, keyed by page_id)."""

    def __init__(
        self,
        pages: Sequence[Page],
        description: str,
        *,
        images: dict[str, Image.Image] | None = None,
        **kwargs: Any,
    ):
        super().__init__(description, **kwargs)
        for i, page in enumerate(pages):
            if not isinstance(page, Page):
                raise DataSpecError(f"{description}: row {i} is a {type(page).__name__}, not a DataSpec Page")
        self._pages = list(pages)
        self._images = images or {}

    def __len__(self) -> int:
        return len(self._pages)

    @cached_property
    def _ids(self) -> list[str]:
        return [p.page_id for p in self._pages]

    @property
    def page_ids(self) -> list[str]:
        return self._ids

    def page(self, i: int) -> Page:
        return self._pages[i]

    def pages(self) -> list[Page]:
        return list(self._pages)

    def book_ids(self) -> list[str]:
        return [p.book_id for p in self._pages]

    def load_image(self, page: Page) -> Image.Image:
        held = self._images.get(page.page_id)
        return open_image(held if held is not None else page.image, self.image_root, page)


class JsonlSource(PageSource):
    """DataSpec JSON Lines files (one per book) read lazily, for a single pass over many pages
    (``embed``): an index of page ids and where each record is; records are parsed when asked,
    one file at a time (the last file read is kept), so memory does not grow with the pages.
    Random access across books re-reads files: use :class:`RecordSource` for that."""

    def __init__(self, files: Sequence[str | Path], description: str, **kwargs: Any):
        super().__init__(description, **kwargs)
        self._files = [Path(f) for f in files]
        self._ids: list[str] = []
        self._file = array("i")  # per page: its file ...
        self._line = array("i")  # ... and its record number in that file
        for index, path in enumerate(self._files):
            with open(path, encoding="utf-8") as handle:
                k = 0
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        page_id = json.loads(line)["page_id"]
                    except (ValueError, KeyError, TypeError) as exc:
                        raise DataSpecError(
                            f"not a DataSpec record ({exc})", file=f"{path}:{number}"
                        ) from None
                    self._ids.append(page_id)
                    self._file.append(index)
                    self._line.append(k)
                    k += 1
        self._cached: tuple[int, list[Page]] = (-1, [])

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def page_ids(self) -> list[str]:
        return self._ids

    def page(self, i: int) -> Page:
        index = self._file[i]
        if self._cached[0] != index:
            self._cached = (index, read_jsonl(self._files[index]))
        return self._cached[1][self._line[i]]

    def load_image(self, page: Page) -> Image.Image:
        return open_image(page.image, self.image_root, page)


class DatasetSource(PageSource):
    """Rows of a ``datasets.Dataset`` with the DataSpec features (``dataspec.hf_features``), made
    on first use by ``load``; images from the ``image`` column (embedded bytes, else its path
    under ``image_root``)."""

    def __init__(
        self,
        load: Callable[[], Any],
        description: str,
        *,
        splits: dict[str, Callable[[], PageSource]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(description, **kwargs)
        self._load = load
        self._split_loaders = splits or {}

    @cached_property
    def dataset(self):
        import datasets

        data = self._load()
        missing = {"page_id", "book_id", "page_index", "panels"} - set(data.column_names)
        if missing:
            raise DataSpecError(
                f"{self.description} lacks the DataSpec column(s) {', '.join(sorted(missing))}"
            )
        if "image" in data.column_names and isinstance(data.features.get("image"), datasets.Image):
            data = data.cast_column("image", datasets.Image(decode=False))  # decoded by open_image
        return data

    def __len__(self) -> int:
        return len(self.dataset)

    @cached_property
    def _ids(self) -> list[str]:
        return [str(v) for v in self.dataset["page_id"]]

    @property
    def page_ids(self) -> list[str]:
        return self._ids

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {pid: i for i, pid in enumerate(self._ids)}

    def book_ids(self) -> list[str]:
        return [str(v) for v in self.dataset["book_id"]]

    def page(self, i: int) -> Page:
        try:
            return from_hf_row(self.dataset[int(i)])
        except DataSpecError as exc:
            raise exc.located(f"{self.description} row {i}") from None

    def load_image(self, page: Page) -> Image.Image:
        row = self._positions.get(page.page_id)
        if row is None or "image" not in self.dataset.column_names:
            return open_image(page.image, self.image_root, page)
        return open_image(self.dataset[row]["image"], self.image_root, page)

    def _splits(self) -> dict[str, Callable[[], PageSource]]:
        return self._split_loaders


class Subset(PageSource):
    """Positions of another source, in the order given."""

    def __init__(self, parent: PageSource, positions: Sequence[int]):
        super().__init__(
            parent.description,
            path=parent.path,
            image_root=parent.image_root,
            config=parent.config,
            split_name=parent.split_name,
        )
        self.parent = parent
        self.positions = [int(p) for p in positions]

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def page_ids(self) -> list[str]:
        ids = self.parent.page_ids
        return [ids[p] for p in self.positions]

    def book_ids(self) -> list[str]:
        books = self.parent.book_ids()
        return [books[p] for p in self.positions]

    def page(self, i: int) -> Page:
        return self.parent.page(self.positions[i])

    def load_image(self, page: Page) -> Image.Image:
        return self.parent.load_image(page)

    def subset(self, positions: Sequence[int]) -> PageSource:
        return Subset(self.parent, [self.positions[p] for p in positions])


class SyntheticSource(PageSource):
    """``n_books`` synthetic books (kinds cycling issue / anthology / manga; page types and story
    starts as labels), book ids ``synthetic-<seed>-<b>`` so seeds never collide. ``style="real"``:
    books closer to real ones (``synth.realistic``; ids ``synthetic-real-<seed>-<b>``, 530 x 800
    pages unless ``size`` is given, else 265 x 400). Books are drawn on demand: ``iter_images``
    keeps one book at a time, random access keeps the books it drew."""

    def __init__(
        self,
        n_books: int,
        seed: int = 0,
        size: tuple[int, int] | None = None,
        story_pages: tuple[int, int] = (6, 14),
        style: str = "plain",
    ):
        spec = f"synthetic:{n_books}:{seed}" + (":real" if style == "real" else "")
        super().__init__(f"{spec} ({n_books} synthetic books, seed {seed}, style {style})")
        if n_books < 1:
            raise ValueError(f"synthetic: the number of books must be >= 1, got {n_books}")
        # real books at twice the plain size: lettering keeps its proportions (fonts have floors)
        size = size or ((530, 800) if style == "real" else (265, 400))
        self.n_books, self.seed, self.size, self.story_pages = n_books, seed, size, tuple(story_pages)
        self.style = style
        self._drawn: dict[int, list[tuple[Page, Image.Image]]] = {}

    def _book(self, b: int) -> list[tuple[Page, Image.Image]]:

        kind = BOOK_KINDS[b % len(BOOK_KINDS)]
        book = make_book(
            (self.seed, b), kind=kind, number=b + 1, size=self.size, story_pages=self.story_pages,
            style=self.style,
        )  # fmt: skip
        book_id = f"synthetic-{'real-' if self.style == 'real' else ''}{self.seed}-{b:05d}"
        return [
            (
                page.record.model_copy(
                    update={"page_id": f"{book_id}/p{i:04d}", "book_id": book_id, "page_index": i}
                ),
                page.image,
            )
            for i, page in enumerate(book.pages)
        ]

    def _drawn_book(self, b: int) -> list[tuple[Page, Image.Image]]:
        if b not in self._drawn:
            self._drawn[b] = self._book(b)
        return self._drawn[b]

    @cached_property
    def _all(self) -> list[Page]:
        return [page for b in range(self.n_books) for page, _ in self._drawn_book(b)]

    def __len__(self) -> int:
        return len(self._all)

    @property
    def page_ids(self) -> list[str]:
        return [p.page_id for p in self._all]

    def page(self, i: int) -> Page:
        return self._all[i]

    def book_ids(self) -> list[str]:
        return [p.book_id for p in self._all]

    def load_image(self, page: Page) -> Image.Image:
        b = int(page.book_id.rsplit("-", 1)[1])
        for drawn, image in self._drawn_book(b):
            if drawn.page_id == page.page_id:
                return open_image(image, page=page)
        raise _located(page, f"not a page of {self.description}")

    def iter_images(self, allow_missing: bool = False) -> Iterator[tuple[Page, Image.Image | None]]:
        for b in range(self.n_books):
            book = self._drawn.get(b) or self._book(b)
            for page, image in book:
                yield page, open_image(image, page=page)
