"""Our own pages as a ``datasets`` builder: a DataSpec folder (``annotate`` output) + its images.

Input: an ``annotate`` output folder (``OUT/dataspec/<book_id>.jsonl``; a plain folder of
DataSpec JSON Lines files works too) and the root the records' ``image`` paths are relative to:
``image_dir`` when given, else the ingest folder ``annotate`` recorded in
``OUT/images-root.txt``.

Rows are DataSpec v1 pages, :data:`FEATURES` = ``dataspec.hf_features()`` (DESIGN 3.2): the page
image as an ``Image`` (bytes embedded exactly as stored, never re-encoded; ``path`` kept
relative to the images root) and ``datasets.List`` of structs for panels, texts and characters.
``dataspec.from_hf_row`` turns a row back into a :class:`~comics_analysis.dataspec.Page`.

Configs (DESIGN 3.3, the rules of :mod:`comics_analysis.annotate.align`, applied to the stored
``quality`` struct, so thresholds change without re-running anything):

- ``all``: every page;
- ``aligned``: pages whose detector and VLM panels are matched one to one
  (:func:`~comics_analysis.annotate.align.is_aligned` at ``min_iou``, default 0.5; a panel the
  VLM skipped keeps its OCR lettering, text items with source "ocr");
- ``perfect_match``: as many detector panels (score >= 0.5) as VLM panels (the earlier rule).

Splits are by book: each book goes to ``train``, ``validation`` or ``test`` by a hash of its
``book_id`` (:func:`split_of_book`), so the same book lands in the same split in every config,
every build and every version of the collection (adding books never moves another one), and no
page of a book is in two splits. ``split_ratios`` (default 0.8 / 0.1 / 0.1) set the hash
ranges. A collection so small that no book hashes into ``train`` gets its lowest-hashing book
moved there, so ``train`` is never empty; empty splits are left out.

:func:`export_comic_pages` writes the Parquet shards, the ``books`` config (one row per book,
:mod:`.books`), ``stats.json`` and the card (``README.md``, :mod:`.cards`) that
``datasets.load_dataset(folder)`` and the Hub read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import datasets
from tqdm.auto import tqdm

from .. import __version__
from ..annotate.align import SUBSETS
from ..annotate.pipeline import recorded_images_root
from ..dataspec import DataSpecError, Page, Provenance, read_jsonl, to_hf_row
from ..dataspec.hf import encode_hf_row, hf_features
from ..dataspec.io import resolve_image
from ._common import build
from .books import books_stats, find_books, write_books_config
from .cards import render_dataset_card

log = logging.getLogger(__name__)

FEATURES = hf_features()
CONFIGS: tuple[str, ...] = tuple(SUBSETS)  # all, aligned, perfect_match
SPLITS: tuple[str, ...] = ("train", "validation", "test")
DEFAULT_RATIOS: tuple[float, float, float] = (0.8, 0.1, 0.1)
DEFAULT_MIN_IOU = 0.5
DEFAULT_SHARD_BYTES = 500 * 2**20
ROW_GROUP_ROWS = 100  # rows per Parquet row group: what datasets uses for image columns
STATS_FILE = "stats.json"

_DESCRIPTIONS = {
    "all": "every page",
    "aligned": "pages whose detector and VLM panels are matched one to one (annotate.align.is_aligned)",
    "perfect_match": "pages with as many detector panels (score >= 0.5) as VLM panels (the earlier rule)",
}

# provenance fields with one value per page (paths, hashes, times): not counted in the card
PER_PAGE_PROVENANCE = ("source_path", "source_entry", "image_sha256", "created_utc")


# --- inputs --------------------------------------------------------------------------------------
def annotation_files(data_dir: str | Path) -> list[Path]:
    """The DataSpec JSON Lines files of an ``annotate`` output (or of a folder of them)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"comic_pages: DataSpec folder not found: {data_dir}")
    folder = data_dir / "dataspec" if (data_dir / "dataspec").is_dir() else data_dir
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"comic_pages: no DataSpec .jsonl files in {folder}")
    return files


def read_collection(data_dir: str | Path) -> list[Page]:
    """Every page of the folder, books in file order, pages in file order; page ids are unique."""
    pages: list[Page] = []
    seen: dict[str, str] = {}
    for path in annotation_files(data_dir):
        for number, page in enumerate(read_jsonl(path), start=1):
            if page.page_id in seen:
                raise DataSpecError(
                    f"duplicate page (also in {seen[page.page_id]})",
                    page_id=page.page_id,
                    field="page_id",
                    file=str(path),
                    line=number,
                )
            seen[page.page_id] = f"{path.name}:{number}"
            pages.append(page)
    return pages


def images_root(data_dir: str | Path, image_dir: str | Path | None = None) -> Path:
    """``image_dir`` if given, else the ingest folder recorded by ``annotate``."""
    if image_dir is not None:
        root = Path(image_dir)
        if not root.is_dir():
            raise FileNotFoundError(f"comic_pages: images folder not found: {root}")
        return root
    root = recorded_images_root(data_dir)
    if root is None:
        raise FileNotFoundError(
            f"comic_pages: {data_dir} records no images root (no images-root.txt from annotate); "
            "pass the ingest folder the image paths are relative to (image_dir)"
        )
    if not root.is_dir():
        raise FileNotFoundError(
            f"comic_pages: the images root recorded in {data_dir} does not exist: {root}; pass image_dir"
        )
    return root


def image_path(page: Page, root: Path) -> Path:
    """The page's image file; a page without one or a missing file raises naming page and field."""
    if page.image is None:
        raise DataSpecError(
            "the page has no image path; comic_pages rows need one", page_id=page.page_id, field="image"
        )
    path = resolve_image(root, page.image, page.page_id)
    if not path.is_file():
        raise DataSpecError(
            f"image file not found: {path} (images root {root}; pass image_dir if it moved)",
            page_id=page.page_id,
            field="image",
        )
    return path


# --- configs and splits --------------------------------------------------------------------------
def parse_ratios(value: str | Sequence[float]) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` or three numbers -> train, validation, test shares (normalised to 1)."""
    try:
        parts = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        raise ValueError(f"split ratios must be three numbers train,validation,test, got {value!r}") from None
    if len(parts) != 3 or any(not p >= 0 for p in parts) or parts[0] <= 0:
        raise ValueError(
            f"split ratios must be three numbers >= 0 (train > 0) for train,validation,test, got {value!r}"
        )
    total = sum(parts)
    return (parts[0] / total, parts[1] / total, parts[2] / total)


def parse_configs(value: str | Sequence[str] | None) -> list[str] | None:
    """``"all,aligned"`` or a list of config names -> the names, in order, once each; ``None`` or
    ``""``: ``None`` (every config that has pages)."""
    if value is None or value == "":
        return None
    names = [c.strip() for c in value.split(",") if c.strip()] if isinstance(value, str) else list(value)
    if not names:
        raise ValueError(f"configs: expected a comma list of {', '.join(CONFIGS)}, got {value!r}")
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        raise ValueError(f"unknown comic_pages config {unknown[0]!r}; expected one of {', '.join(CONFIGS)}")
    return list(dict.fromkeys(names))


def book_hash(book_id: str) -> float:
    """A uniform number in [0, 1) from the book id alone (SHA-256), the same on every machine."""
    return int.from_bytes(hashlib.sha256(book_id.encode("utf-8")).digest()[:8], "big") / 2**64


def split_of_book(book_id: str, ratios: Sequence[float] = DEFAULT_RATIOS) -> str:
    """The split of a book: where its hash falls in the cumulative ratios."""
    u, edge = book_hash(book_id), 0.0
    for split, ratio in zip(SPLITS, ratios):
        edge += ratio
        if u < edge:
            return split
    return next(s for s, r in zip(reversed(SPLITS), reversed(ratios)) if r > 0)


def assign_splits(book_ids: Iterable[str], ratios: Sequence[float] = DEFAULT_RATIOS) -> dict[str, str]:
    """Book id -> split for a collection; ``train`` is never empty (see the module docstring)."""
    books = sorted(set(book_ids))
    splits = {book: split_of_book(book, ratios) for book in books}
    if books and "train" not in splits.values():
        splits[min(books, key=book_hash)] = "train"
    return splits


def in_config(page: Page, config: str, min_iou: float = DEFAULT_MIN_IOU, ocr_fallback: bool = True) -> bool:
    if config not in SUBSETS:
        raise ValueError(f"unknown comic_pages config {config!r}; expected one of {', '.join(CONFIGS)}")
    return SUBSETS[config](page, min_iou=min_iou, ocr_fallback=ocr_fallback)


def plan_splits(
    pages: Sequence[Page],
    config: str,
    ratios: Sequence[float] = DEFAULT_RATIOS,
    min_iou: float = DEFAULT_MIN_IOU,
    book_splits: dict[str, str] | None = None,
    ocr_fallback: bool = True,
) -> dict[str, list[Page]]:
    """The pages of ``config`` by split (non-empty splits only, in train/validation/test order).
    Books are assigned over the whole collection, so every config agrees on each book's split."""
    book_splits = book_splits or assign_splits((p.book_id for p in pages), ratios)
    planned: dict[str, list[Page]] = {split: [] for split in SPLITS}
    for page in pages:
        if in_config(page, config, min_iou, ocr_fallback):
            planned[book_splits[page.book_id]].append(page)
    return {split: rows for split, rows in planned.items() if rows}


def page_row(page: Page, root: Path) -> dict[str, Any]:
    """The ``datasets`` row of a page, image bytes read from disk as stored."""
    image_path(page, root)
    return to_hf_row(page, image_root=root, embed_image=True)


# --- the builder ---------------------------------------------------------------------------------
@dataclass
class ComicPagesConfig(datasets.BuilderConfig):
    """``image_dir``: root of the records' image paths (default: recorded by ``annotate``);
    ``min_iou``, ``ocr_fallback``: settings of the ``aligned`` rule; ``split_ratios``:
    train/validation/test."""

    image_dir: str | None = None
    min_iou: float = DEFAULT_MIN_IOU
    ocr_fallback: bool = True
    split_ratios: tuple[float, float, float] = DEFAULT_RATIOS
    license: str | None = None


class ComicPages(datasets.GeneratorBasedBuilder):
    """DataSpec pages (annotate output) + page images -> DataSpec v1 rows, split by book."""

    BUILDER_CONFIG_CLASS = ComicPagesConfig
    BUILDER_CONFIGS: ClassVar[list] = [
        ComicPagesConfig(name=name, description=_DESCRIPTIONS[name]) for name in CONFIGS
    ]
    DEFAULT_CONFIG_NAME = "all"

    @classmethod
    def input_files(cls, data_dir: Path, config: str, image_dir: str | None = None, **_options) -> list[Path]:
        files = annotation_files(data_dir)
        root = images_root(data_dir, image_dir)
        pages = read_collection(data_dir)
        return [*files, *(image_path(p, root) for p in pages)]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=FEATURES,
            homepage="https://github.com/comics-analysis/comics-analysis",
            license=self.config.license or "",
        )

    def _split_generators(self, dl_manager):
        ratios = parse_ratios(self.config.split_ratios)
        pages = read_collection(self.config.data_dir)
        planned = plan_splits(
            pages, self.config.name, ratios, self.config.min_iou, ocr_fallback=self.config.ocr_fallback
        )
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"page_ids": [p.page_id for p in rows]})
            for split, rows in planned.items()
        ]

    def _generate_examples(self, page_ids: list[str]):
        root = images_root(self.config.data_dir, self.config.image_dir)
        wanted = set(page_ids)
        for page in read_collection(self.config.data_dir):
            if page.page_id in wanted:
                yield page.page_id, page_row(page, root)


def load_comic_pages(
    data_dir: str | Path,
    config: str = "all",
    image_dir: str | Path | None = None,
    min_iou: float = DEFAULT_MIN_IOU,
    split_ratios: str | Sequence[float] = DEFAULT_RATIOS,
    split: str | None = None,
    cache_dir=None,
    ocr_fallback: bool = True,
) -> datasets.DatasetDict | datasets.Dataset:
    """The pages of ``config`` (all / aligned / perfect_match) as a ``DatasetDict`` by split."""
    if config not in CONFIGS:
        raise ValueError(f"unknown comic_pages config {config!r}; expected one of {', '.join(CONFIGS)}")
    options = {
        "image_dir": None if image_dir is None else str(image_dir),
        "min_iou": float(min_iou),
        "ocr_fallback": bool(ocr_fallback),
        "split_ratios": parse_ratios(split_ratios),
    }
    return build(ComicPages, config, data_dir, cache_dir=cache_dir, split=split, **options)


# --- statistics ----------------------------------------------------------------------------------
def _lettered(strings: Iterable[str]) -> bool:
    return any(s.strip() for s in strings)


def panels_with_text(page: Page) -> list[bool]:
    """Per panel: lettered text in its ``text`` struct or in a text box assigned to it."""
    boxed = {t.panel for t in page.texts if t.panel >= 0 and t.text.strip()}
    return [k in boxed or _lettered(p.text.all()) for k, p in enumerate(page.panels)]


def page_has_text(page: Page) -> bool:
    return any(t.text.strip() for t in page.texts) or any(panels_with_text(page))


def _counter(values: Iterable[Any]) -> dict[str, int]:
    counts = Counter("(none)" if v is None else str(v) for v in values)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def page_stats(pages: Sequence[Page]) -> dict[str, Any]:
    """Counts over pages for the dataset card: sizes, panels/page histogram, text coverage,
    page types, reading directions and provenance."""
    panel_counts = Counter(len(p.panels) for p in pages)
    panel_text = [has for p in pages for has in panels_with_text(p)]
    texted = sum(page_has_text(p) for p in pages)
    created = sorted(p.provenance.created_utc for p in pages if p.provenance.created_utc)
    return {
        "pages": len(pages),
        "books": len({p.book_id for p in pages}),
        "panels": sum(panel_counts[n] * n for n in panel_counts),
        "text_boxes": sum(len(p.texts) for p in pages),
        "characters": sum(len(p.characters) for p in pages),
        "panels_per_page": {str(n): panel_counts[n] for n in sorted(panel_counts)},
        "pages_with_text": texted,
        "panels_with_text": sum(panel_text),
        "page_text_coverage": round(texted / len(pages), 4) if pages else 0.0,
        "panel_text_coverage": round(sum(panel_text) / len(panel_text), 4) if panel_text else 0.0,
        "text_boxes_by_kind": _counter(t.kind for p in pages for t in p.texts),
        "text_boxes_by_source": _counter(t.source for p in pages for t in p.texts),
        "page_types": _counter(p.page_type for p in pages),
        "reading_direction": _counter(p.reading_direction for p in pages),
        "provenance": {
            name: _counter(getattr(p.provenance, name) for p in pages)
            for name in Provenance.model_fields
            if name not in PER_PAGE_PROVENANCE
        },
        "source_containers": len({p.provenance.source_path for p in pages if p.provenance.source_path}),
        "created_utc": [created[0], created[-1]] if created else None,
    }


def collection_stats(
    pages: Sequence[Page],
    ratios: Sequence[float] = DEFAULT_RATIOS,
    min_iou: float = DEFAULT_MIN_IOU,
    ocr_fallback: bool = True,
) -> dict[str, Any]:
    """The whole collection's :func:`page_stats` plus each config's pages and books per split."""
    book_splits = assign_splits((p.book_id for p in pages), ratios)
    configs = {}
    for config in CONFIGS:
        planned = plan_splits(pages, config, ratios, min_iou, book_splits, ocr_fallback)
        chosen = [p for rows in planned.values() for p in rows]
        configs[config] = {
            "description": _DESCRIPTIONS[config],
            "pages": len(chosen),
            "books": len({p.book_id for p in chosen}),
            "panels": sum(len(p.panels) for p in chosen),
            "splits": {
                split: {"pages": len(rows), "books": len({p.book_id for p in rows})}
                for split, rows in planned.items()
            },
        }
    return {
        "schema_version": pages[0].schema_version if pages else "1.0",
        "split_ratios": [round(r, 6) for r in ratios],
        "min_iou": min_iou,
        "ocr_fallback": ocr_fallback,
        "collection": page_stats(pages),
        "configs": configs,
    }


# --- export --------------------------------------------------------------------------------------
@dataclass
class ExportResult:
    folder: Path
    files: dict[str, dict[str, list[str]]]  # config -> split -> shard paths relative to the folder
    stats: dict[str, Any]
    image_bytes: dict[str, int] = field(default_factory=dict)  # config -> summed image file bytes
    parquet_bytes: dict[str, int] = field(default_factory=dict)  # config -> summed shard bytes
    seconds: float = 0.0  # time the export took

    @property
    def shards(self) -> int:
        return sum(len(f) for splits in self.files.values() for f in splits.values())

    def summary_text(self) -> str:
        """Pages, books, split sizes, shards and MB per config, then the totals."""
        lines = [
            f"{'config':<15}{'pages':>8}{'books':>7}{'train':>8}{'val':>6}{'test':>6}{'shards':>8}{'MB':>9}"
        ]
        for name, info in self.stats["configs"].items():
            splits = info["splits"]
            shards = sum(len(f) for f in self.files.get(name, {}).values())
            mb = f"{self.parquet_bytes[name] / 1e6:.1f}" if name in self.parquet_bytes else "-"
            lines.append(
                f"{name:<15}{info['pages']:>8}{info['books']:>7}"
                + "".join(
                    f"{splits.get(s, {}).get('pages', 0):>{w}}"
                    for s, w in (("train", 8), ("validation", 6), ("test", 6))
                )
                + f"{shards or '-':>8}{mb:>9}"
            )
        images, parquet = sum(self.image_bytes.values()), sum(self.parquet_bytes.values())
        lines.append(
            f"wrote {self.shards} Parquet shards ({parquet / 1e6:.1f} MB for {images / 1e6:.1f} MB of "
            f"images, {parquet / max(images, 1):.3f}x), stats.json and README.md to {self.folder} in "
            f"{self.seconds:.1f} s"
        )
        return "\n".join(lines)


def plan_shards(sizes: Sequence[int], max_rows: int | None, max_bytes: int | None) -> list[range]:
    """Consecutive row ranges, each at most ``max_rows`` rows and (unless one row alone is
    larger) ``max_bytes`` bytes."""
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"shard rows must be >= 1, got {max_rows}")
    if max_bytes is not None and max_bytes < 1:
        raise ValueError(f"shard bytes must be >= 1, got {max_bytes}")
    shards, start, used = [], 0, 0
    for i, size in enumerate(sizes):
        full_rows = max_rows is not None and i - start >= max_rows
        full_bytes = max_bytes is not None and i > start and used + size > max_bytes
        if full_rows or full_bytes:
            shards.append(range(start, i))
            start, used = i, 0
        used += size
    if len(sizes) > start or not shards:
        shards.append(range(start, len(sizes)))
    return shards


def _write_shard(path: Path, pages: Sequence[Page], root: Path, bar) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = FEATURES.arrow_schema  # carries the datasets features in its "huggingface" metadata
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for start in range(0, len(pages), ROW_GROUP_ROWS):
            batch = pages[start : start + ROW_GROUP_ROWS]
            rows = [encode_hf_row(FEATURES, p, root, embed_image=True) for p in batch]
            writer.write_table(pa.Table.from_pylist(rows, schema=schema), row_group_size=ROW_GROUP_ROWS)
            bar.update(len(batch))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_builds(out: Path) -> None:
    """Temporary folders of builds into ``out`` that were killed (their process is gone on this
    machine): a killed build used to leave its whole temporary copy forever."""
    for tmp in out.parent.glob(f".{out.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            log.info("removing %s, left by a build that was stopped", tmp)
            shutil.rmtree(tmp, ignore_errors=True)


def _replace_folder(tmp: Path, out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"comic_pages: {out} exists and is not a folder")
        if any(out.iterdir()) and not (out / STATS_FILE).is_file():
            raise FileExistsError(
                f"comic_pages: {out} is not empty and is not a comic_pages export (no {STATS_FILE}); "
                "refusing to replace it"
            )
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def export_comic_pages(
    data_dir: str | Path,
    out_dir: str | Path,
    configs: str | Sequence[str] | None = None,
    image_dir: str | Path | None = None,
    min_iou: float = DEFAULT_MIN_IOU,
    split_ratios: str | Sequence[float] = DEFAULT_RATIOS,
    shard_rows: int | None = None,
    max_shard_bytes: int | None = DEFAULT_SHARD_BYTES,
    license: str = "unknown",
    pretty_name: str = "Comic pages (DataSpec v1)",
    show_progress: bool = True,
    ocr_fallback: bool = True,
) -> ExportResult:
    """Write ``configs`` (names or a comma list; default: every non-empty one) of the DataSpec
    folder ``data_dir`` as a dataset folder ``out_dir``: ``<config>/<split>-NNNNN-of-NNNNN.parquet``
    (images embedded as stored), ``stats.json`` and ``README.md`` (the card, front matter listing
    configs and data files). Built in a temporary sibling folder and swapped in at the end, so a failed build
    leaves an earlier export untouched. Reload with ``datasets.load_dataset(out_dir, name=...)``."""

    start = time.perf_counter()
    ratios = parse_ratios(split_ratios)
    configs = parse_configs(configs)
    pages = read_collection(data_dir)
    if not pages:
        raise DataSpecError("no pages", file=str(data_dir))
    root = images_root(data_dir, image_dir)
    sizes = {p.page_id: image_path(p, root).stat().st_size for p in pages}  # fail before writing
    stats = collection_stats(pages, ratios, min_iou, ocr_fallback)
    empty = [c for c in (configs or CONFIGS) if stats["configs"][c]["pages"] == 0]
    if configs is not None and empty:
        raise ValueError(
            f"comic_pages: no page qualifies for config {', '.join(empty)} (pages need VLM readings "
            "merged by `annotate --vlm` for aligned / perfect_match)"
        )
    if configs is None:
        for config in empty:
            log.warning("comic_pages: config %s has no pages; not written", config)
        configs = [c for c in CONFIGS if c not in empty]

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    result = ExportResult(out, {}, stats)
    book_splits = assign_splits((p.book_id for p in pages), ratios)
    try:
        for config in configs:
            planned = plan_splits(pages, config, ratios, min_iou, book_splits, ocr_fallback)
            total = sum(len(rows) for rows in planned.values())
            bar = tqdm(total=total, desc=f"comic_pages {config}", unit="page", disable=not show_progress)
            result.files[config] = {}
            with bar:
                for split, rows in planned.items():
                    estimate = [sizes[p.page_id] + len(p.to_json()) for p in rows]
                    shards = plan_shards(estimate, shard_rows, max_shard_bytes)
                    names = []
                    for i, shard in enumerate(shards):
                        name = f"{config}/{split}-{i:05d}-of-{len(shards):05d}.parquet"
                        (tmp / config).mkdir(exist_ok=True)
                        _write_shard(tmp / name, rows[shard.start : shard.stop], root, bar)
                        names.append(name)
                    result.files[config][split] = names
            result.image_bytes[config] = sum(sizes[p.page_id] for rows in planned.values() for p in rows)
            result.parquet_bytes[config] = sum(
                (tmp / name).stat().st_size for names in result.files[config].values() for name in names
            )
        books = find_books(data_dir, root)  # the books config: one row per book (.books)
        stats["books"] = books_stats(books, book_splits)
        stats["build"] = {
            "books_files": write_books_config(tmp, books, book_splits),
            "tool": f"comics-analysis {__version__}",
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "license": license,
            "configs_written": configs,
            "files": result.files,
            "image_bytes": result.image_bytes,
            "parquet_bytes": result.parquet_bytes,
        }
        (tmp / STATS_FILE).write_text(
            json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        card = render_dataset_card(stats, license=license, pretty_name=pretty_name)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        _replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.seconds = time.perf_counter() - start
    return result
