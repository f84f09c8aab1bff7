"""``write_store``: pages -> embedding store (DESIGN 3.4), resumable and shardable.

The embedding function is a parameter, so any model (Closure Lite later, a test embedder in the
tests) can fill a store::

    embed_fn(items: list[PageItem]) -> (page_vecs [B, D], panel_vecs [B, P', D], panel_mask [B, P'])
                                        (+ panel_image_vecs [B, P', D] for a store with image_vectors)
                                        (+ {name: values [B]} for a store with page_columns)

with ``P' <= P``; slot ``j`` of a page is stored when ``panel_mask[b, j]`` and the page has a
``j``-th panel. Vectors are L2-normalised here; a non-finite or zero vector is an error naming
the page. ``page_columns`` (names in ``layout.PAGE_COLUMNS``, e.g. ``prose_lines``): per-page
values the embed_fn measures on the page image, returned as a dict after the arrays.

Rows follow the source order. The store is created once (in a temporary folder renamed into
place, so concurrent shards cannot create two), with every array pre-sized to the plan; then
chunks of ``chunk_pages`` rows are written whole and recorded in the shard's progress file.
Sharding: ``--num-shards K --shard-index I`` makes a writer take chunks ``c`` with
``c % K == I``; all shards write disjoint chunk regions of the same store, each with its own
progress file, so no merge step is needed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..dataspec import DataSpecError
from .inputs import PageItem, page_source
from .layout import (
    CHUNK_PAGES,
    DIM,
    EMBEDDING_DTYPES,
    PAGE_COLUMNS,
    PANELS,
    SCHEMA_VERSION,
    TEXT_COLUMNS,
    TEXT_DIR,
    all_arrays,
    compressor,
    config_hash,
    plan_hash,
)
from .lettering import write_text_table
from .progress import finished_chunks, progress_path, record_chunk
from .quantize import l2_normalise, quantize_int8

log = logging.getLogger(__name__)

EmbedFn = Callable[[list[PageItem]], tuple[Any, Any, Any]]


@dataclass
class WriteSummary:
    store: str
    rows: int
    chunks: int
    written_chunks: list[int] = field(default_factory=list)
    skipped_chunks: int = 0  # finished before (resume) or owned by another shard
    complete: bool = False
    panels_truncated: int = 0  # pages with more than P panels (the first P are stored)
    seconds: float = 0.0


def _zarr():
    import zarr

    return zarr


def _consolidate(path: Path) -> None:
    """Consolidated metadata (what xarray reads first); quiet about our text/ and progress/ folders."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _zarr().consolidate_metadata(str(path))


def _create(
    out: Path,
    rows: int,
    dtype: str,
    panels: int,
    dim: int,
    chunk_pages: int,
    attrs: dict[str, Any],
    image_vectors: bool = False,
    page_columns: tuple[str, ...] = (),
) -> None:
    """Create the group and pre-sized arrays in a temp folder, then rename it to ``out``."""
    zarr = _zarr()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".creating", dir=out.parent))
    try:
        group = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        sizes = {"page": rows, "panel": panels, "dim": dim, "coord": 4}
        for name, (dims, kind, fill) in all_arrays(dtype, image_vectors, page_columns).items():
            shape = tuple(sizes[d] for d in dims)
            chunks = tuple(max(1, min(chunk_pages, rows)) if d == "page" else sizes[d] for d in dims)
            group.create_array(
                name,
                shape=shape,
                chunks=chunks,
                dtype=str if kind == "str" else kind,
                fill_value=fill,
                dimension_names=dims,
                compressors=compressor(kind),
            )
        group.attrs.update(attrs)
        _consolidate(tmp)
        (tmp / TEXT_DIR).mkdir()
        try:
            os.rename(tmp, out)
        except OSError:
            if not (out / "zarr.json").is_file():
                raise
            log.info("%s was created by another shard meanwhile", out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _check_existing(out: Path, expected: dict[str, Any]) -> dict[str, Any]:
    zarr = _zarr()
    attrs = dict(zarr.open_group(str(out), mode="r").attrs)
    if "panel_image_vectors" in expected and "panel_image_vectors" not in attrs:
        raise ValueError(
            f"{out}: existing store has no image-only panel vectors (panel_image_embedding, what crop "
            "queries search: it was written before stores kept them, or by an embed_fn without them) and "
            "cannot gain them on resume; embed into a new folder (or delete this one) to re-embed"
        )
    if list(attrs.get("page_columns", [])) != list(expected.get("page_columns", [])):
        raise ValueError(
            f"{out}: existing store keeps page columns {attrs.get('page_columns', [])} but this run "
            f"writes {expected.get('page_columns', [])}; embed into a new folder (or delete this one)"
        )
    for key in ("panels", "dim"):  # the usual cause of a config_hash change, named
        if key in attrs and attrs[key] != expected[key]:
            raise ValueError(
                f"{out}: existing store has {key}={attrs[key]!r} but this run needs {expected[key]!r}"
                + (" (max_panels)" if key == "panels" else "")
                + "; write to a new folder (or delete it) to start over"
            )
    for key in ("schema_version", "config_hash", "plan_hash", "row_count", "embedding_dtype"):
        if attrs.get(key) != expected[key]:
            raise ValueError(
                f"{out}: existing store has {key}={attrs.get(key)!r} but this run needs {expected[key]!r}; "
                "write to a new folder (or delete it) to start over"
            )
    return attrs


def _page_type(value: str | None) -> str:
    return value or ""


def _numpy_kind(kind: str):
    return object if kind == "str" else kind


def _descriptions(batch: list[PageItem], panels: int) -> list[list[str]]:
    """The panels' VLM descriptions of each page, "" where none, padded to the panel axis."""
    return [
        [p.description or "" for p in it.page.panels[:panels]] + [""] * max(0, panels - len(it.page.panels))
        for it in batch
    ]


def _embed_chunk(
    items: list[PageItem],
    embed_fn: EmbedFn,
    batch_size: int,
    panels: int,
    dim: int,
    image_vectors: bool = False,
    page_columns: tuple[str, ...] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, dict[str, np.ndarray], int]:
    n = len(items)
    columns = {
        c: np.full(
            (n, panels)[: len(PAGE_COLUMNS[c][0])], PAGE_COLUMNS[c][2], _numpy_kind(PAGE_COLUMNS[c][1])
        )
        for c in page_columns
    }
    page_vecs = np.zeros((n, dim), np.float32)
    panel_vecs = np.zeros((n, panels, dim), np.float32)
    image_vecs = np.zeros((n, panels, dim), np.float32) if image_vectors else None
    mask = np.zeros((n, panels), bool)
    truncated = 0
    for start in range(0, n, batch_size):
        batch = items[start : start + batch_size]
        ids = [it.page.page_id for it in batch]
        returned = list(embed_fn(batch))
        measured = returned.pop() if returned and isinstance(returned[-1], dict) else {}
        if "panel_description" in page_columns:  # from the records, not the embed_fn
            measured = {**measured, "panel_description": _descriptions(batch, panels)}
        returned = [np.asarray(a) for a in returned]
        for name in page_columns:
            values = np.asarray(measured.get(name, ()), _numpy_kind(PAGE_COLUMNS[name][1]))
            if values.shape != (len(batch), *columns[name].shape[1:]):
                raise ValueError(
                    f"embed_fn returned no {name} per page (a dict after the arrays, {name}: "
                    f"[{len(batch)}]); this store keeps them (page_columns); got shape {values.shape}"
                )
            columns[name][start : start + len(batch)] = values
        if image_vectors and len(returned) < 4:
            raise ValueError(
                "embed_fn returned no image-only panel vectors (a 4th array); this store keeps them "
                "(image_vectors)"
            )
        pv, qv, qm = returned[:3]
        iv = returned[3] if image_vectors else None
        b = len(batch)
        if pv.shape != (b, dim):
            raise ValueError(f"embed_fn returned page vectors of shape {pv.shape}, expected {(b, dim)}")
        if qv.ndim != 3 or qv.shape[0] != b or qv.shape[2] != dim or qv.shape[1] > panels:
            raise ValueError(
                f"embed_fn returned panel vectors of shape {qv.shape}, expected ({b}, <= {panels}, {dim})"
            )
        if qm.shape != qv.shape[:2]:
            raise ValueError(f"embed_fn returned a panel mask of shape {qm.shape}, expected {qv.shape[:2]}")
        if iv is not None and iv.shape != qv.shape:
            raise ValueError(
                f"embed_fn returned image panel vectors of shape {iv.shape}, expected {qv.shape}"
            )
        width = qv.shape[1]
        for r, it in enumerate(batch):
            real = min(len(it.page.panels), panels)
            if len(it.page.panels) > panels:
                truncated += 1
                log.warning(
                    "%s: %d panels; the store keeps the first %d (its panel axis: max_panels)",
                    ids[r],
                    len(it.page.panels),
                    panels,
                )
            valid = qm[r].astype(bool) & (np.arange(width) < real)
            if not np.isfinite(pv[r]).all():
                raise DataSpecError(
                    "embed_fn returned a non-finite page vector", page_id=ids[r], field="page"
                )
            if not np.isfinite(qv[r][valid]).all():
                raise DataSpecError(
                    "embed_fn returned a non-finite panel vector", page_id=ids[r], field="panels"
                )
            unit, ok = l2_normalise(pv[r][None])
            if not ok[0]:
                raise DataSpecError("embed_fn returned a zero page vector", page_id=ids[r], field="page")
            page_vecs[start + r] = unit[0]
            units, ok = l2_normalise(qv[r])
            valid &= ok
            if iv is not None:
                image_units, image_ok = l2_normalise(iv[r])
                valid &= image_ok
                image_vecs[start + r, :width][valid] = image_units[valid]
            panel_vecs[start + r, :width][valid] = units[valid]
            mask[start + r, :width] = valid
    return page_vecs, panel_vecs, mask, image_vecs, columns, truncated


class _AllChunks:
    """The store's arrays, each writing its chunk file even when the chunk holds only the fill
    value (zarr skips those by default), so that `store verify` can require every file."""

    def __init__(self, group):
        self.group = group

    def __getitem__(self, name: str):
        return self.group[name].with_config({"write_empty_chunks": True})


def _write_chunk(group, chunk: int, start: int, items: list[PageItem], vectors, dtype: str) -> None:
    group = _AllChunks(group)
    page_vecs, panel_vecs, mask, image_vecs, columns = vectors
    n = len(items)
    panels = mask.shape[1]
    stop = start + n
    panel_arrays = [("panel_embedding", "panel_scale", panel_vecs)]
    if image_vecs is not None:
        panel_arrays.append(("panel_image_embedding", "panel_image_scale", image_vecs))
    if dtype == "int8":
        codes, scale = quantize_int8(page_vecs)
        group["page_embedding"][start:stop] = codes
        group["page_scale"][start:stop] = scale
        for name, scale_name, vecs in panel_arrays:
            codes, scale = quantize_int8(vecs)
            group[name][start:stop] = codes
            group[scale_name][start:stop] = np.where(mask, scale, 0.0)
    else:
        group["page_embedding"][start:stop] = page_vecs.astype(np.float16)
        for name, _scale, vecs in panel_arrays:
            group[name][start:stop] = vecs.astype(np.float16)
    bbox = np.zeros((n, panels, 4), np.float32)
    order = np.full((n, panels), -1, np.int8)
    for r, item in enumerate(items):
        page = item.page
        for j, panel in enumerate(page.panels[:panels]):
            if mask[r, j]:
                x, y, w, h = panel.bbox
                bbox[r, j] = (x / page.width, y / page.height, w / page.width, h / page.height)
                order[r, j] = panel.order
    group["panel_mask"][start:stop] = mask
    group["panel_bbox"][start:stop] = bbox
    group["reading_order"][start:stop] = order
    group["page_id"][start:stop] = np.array([it.page.page_id for it in items], dtype=object)
    group["book_id"][start:stop] = np.array([it.page.book_id for it in items], dtype=object)
    group["page_index"][start:stop] = np.array([it.page.page_index for it in items], np.int32)
    group["page_type"][start:stop] = np.array([_page_type(it.page.page_type) for it in items], dtype=object)
    for name, values in columns.items():
        group[name][start:stop] = values


@dataclass
class StorePlan:
    """A store created (or found) for a run, and the chunks this writer shard still has to write."""

    out: Path
    source: Any  # the PageSource
    attrs: dict[str, Any]
    rows: int
    num_chunks: int
    todo: list[int]
    progress: Path
    dtype: str
    panels: int
    dim: int
    chunk_pages: int
    batch_size: int
    num_shards: int
    shard_index: int
    image_vectors: bool = False
    page_columns: tuple[str, ...] = ()

    def chunk_rows(self, chunk: int) -> int:
        return min(self.chunk_pages, self.rows - chunk * self.chunk_pages)


def plan_store(
    source: Any,
    out: str | Path,
    *,
    model_id: str,
    model_revision: str | None = None,
    config: dict[str, Any] | None = None,
    dtype: str = "float16",
    panels: int = PANELS,
    dim: int = DIM,
    chunk_pages: int = CHUNK_PAGES,
    batch_size: int = 32,
    image_root: str | Path | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    extra_attrs: dict[str, Any] | None = None,
    image_vectors: bool = False,
    page_columns: tuple[str, ...] = (),
) -> StorePlan:
    """Check the settings and the source, create the store (pre-sized, atomically) or check that
    the existing one was written with the same settings and plan; the chunks left to write."""
    if dtype not in EMBEDDING_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(EMBEDDING_DTYPES)}, got {dtype!r}")
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard index {shard_index} is not in [0, {num_shards})")
    if chunk_pages < 1 or batch_size < 1:
        raise ValueError("chunk_pages and batch_size must be >= 1")
    src = page_source(source, image_root)
    if len(src) == 0:
        raise ValueError(f"{src.name}: no pages to write")
    seen: set[str] = set()
    for page_id in src.page_ids:
        if page_id in seen:
            raise DataSpecError("appears twice in the input; a store holds each page once", page_id=page_id)
        seen.add(page_id)
    out = Path(out)
    settings = {
        "model_id": model_id,
        "model_revision": model_revision,
        "config": config or {},
        "embedding_dtype": dtype,
        "panels": panels,
        "dim": dim,
        "chunk_pages": chunk_pages,
        "schema_version": SCHEMA_VERSION,
    }
    if image_vectors:  # only then, so the hash of a store without them is what it was
        settings["panel_image_vectors"] = True
    page_columns = tuple(page_columns)
    all_arrays(dtype, image_vectors, page_columns)  # unknown names are an error here
    if page_columns:  # likewise
        settings["page_columns"] = list(page_columns)
    rows = len(src)
    num_chunks = (rows + chunk_pages - 1) // chunk_pages
    attrs = {
        "schema_version": SCHEMA_VERSION,
        "model_id": model_id,
        "model_revision": model_revision,
        "config_hash": config_hash(settings),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "row_count": rows,
        "chunk_pages": chunk_pages,
        "num_chunks": num_chunks,
        "panels": panels,
        "dim": dim,
        "embedding_dtype": dtype,
        "plan_hash": plan_hash(src.page_ids),
        "every_chunk_written": True,  # fill-only chunks are files too: `store verify` requires each
        "normalised": "l2",
        "bbox": "x, y, w, h as fractions of the page width and height",
        "text_table": f"{TEXT_DIR}/chunk-*.parquet ({', '.join(TEXT_COLUMNS)})",
        "complete": False,
    }
    for key, value in (extra_attrs or {}).items():
        attrs.setdefault(key, value)
    if image_vectors:
        attrs["panel_image_vectors"] = (
            "panel_image_embedding: image-only panel vectors (the crop through the vision tower and its "
            "projection; no text, layout or page context), what crop queries are compared with"
        )
    if page_columns:
        attrs["page_columns"] = list(page_columns)
    if dtype == "int8":
        attrs["quantization"] = "int8 codes = round(127 x / max|x|); vector = codes * scale (unit length)"
    if (out / "zarr.json").is_file():
        _check_existing(out, attrs)
    elif out.exists() and any(out.iterdir()):
        raise ValueError(f"{out}: exists and is not an embedding store; choose an empty or new folder")
    else:
        if out.exists():
            out.rmdir()
        _create(out, rows, dtype, panels, dim, chunk_pages, attrs, image_vectors, page_columns)
        _check_existing(out, attrs)
    done = finished_chunks(out)
    mine = [c for c in range(num_chunks) if c % num_shards == shard_index]
    return StorePlan(
        out=out,
        source=src,
        attrs=attrs,
        rows=rows,
        num_chunks=num_chunks,
        todo=[c for c in mine if c not in done],
        progress=progress_path(out, shard_index, num_shards),
        dtype=dtype,
        panels=panels,
        dim=dim,
        chunk_pages=chunk_pages,
        batch_size=batch_size,
        num_shards=num_shards,
        shard_index=shard_index,
        image_vectors=image_vectors,
        page_columns=page_columns,
    )


def open_for_writing(out: str | Path):
    """The store's Zarr group, opened to write chunks."""
    return _zarr().open_group(str(out), mode="r+", use_consolidated=False)


def write_chunk(plan: StorePlan, group, chunk: int, embed_fn: EmbedFn, src: Any = None) -> tuple[int, int]:
    """Embed and write one whole chunk (arrays, then its text table); returns (pages, pages with
    more than P panels). Not yet finished: :func:`finish_chunk` records it. ``src``: the page
    source when it is not ``plan.source`` (the same pages, opened again in another process)."""
    src = plan.source if src is None else src
    start = chunk * plan.chunk_pages
    items = src.items(start, start + plan.chunk_rows(chunk))
    got = [it.page.page_id for it in items]
    if got != src.page_ids[start : start + len(items)]:
        raise ValueError(f"{src.name}: rows {start}.. changed while writing; page ids differ")
    *vectors, truncated = _embed_chunk(
        items, embed_fn, plan.batch_size, plan.panels, plan.dim, plan.image_vectors, plan.page_columns
    )
    _write_chunk(group, chunk, start, items, vectors, plan.dtype)
    write_text_table(plan.out, chunk, items)
    return len(items), truncated


def finish_chunk(plan: StorePlan, chunk: int) -> None:
    """Record a written chunk in the shard's progress file: from now on readers count its rows."""
    record_chunk(plan.progress, chunk, plan.shard_index, plan.num_shards, plan.attrs["plan_hash"])


def finish_store(plan: StorePlan, summary: WriteSummary) -> WriteSummary:
    """Mark the store complete when every chunk of every shard is finished."""
    if summary.panels_truncated:
        log.warning(
            "%d pages have more than %d panels; their first %d are stored (a larger max_panels keeps "
            "them all)",
            summary.panels_truncated,
            plan.panels,
            plan.panels,
        )
    if len(finished_chunks(plan.out)) == plan.num_chunks:
        group = open_for_writing(plan.out)
        if not group.attrs.get("complete"):
            group.attrs.update(
                {"complete": True, "completed_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            )
            _consolidate(plan.out)
        summary.complete = True
    return summary


def write_store(
    source: Any,
    out: str | Path,
    embed_fn: EmbedFn,
    *,
    model_id: str,
    model_revision: str | None = None,
    config: dict[str, Any] | None = None,
    dtype: str = "float16",
    panels: int = PANELS,
    dim: int = DIM,
    chunk_pages: int = CHUNK_PAGES,
    batch_size: int = 32,
    image_root: str | Path | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    show_progress: bool = True,
    extra_attrs: dict[str, Any] | None = None,
    image_vectors: bool = False,
    page_columns: tuple[str, ...] = (),
) -> WriteSummary:
    """Embed ``source`` (DataSpec folder/file, ``datasets.Dataset`` or list of pages) into ``out``.

    Resumable: re-running with the same source and settings skips finished chunks. ``config``
    (the model's config, any JSON-able dict) goes into the config hash: a store is never
    extended with vectors of another model or setting. ``image_vectors``: ``embed_fn`` also returns
    image-only panel vectors, stored as ``panel_image_embedding``; ``page_columns``: per-page
    values it measures (module doc). ``extra_attrs`` (JSON-able) are added to
    the store's attributes when it is created (e.g. where its pages came from).
    """
    import time

    begin = time.perf_counter()
    plan = plan_store(
        source,
        out,
        model_id=model_id,
        model_revision=model_revision,
        config=config,
        dtype=dtype,
        panels=panels,
        dim=dim,
        chunk_pages=chunk_pages,
        batch_size=batch_size,
        image_root=image_root,
        num_shards=num_shards,
        shard_index=shard_index,
        extra_attrs=extra_attrs,
        image_vectors=image_vectors,
        page_columns=page_columns,
    )
    group = open_for_writing(plan.out)
    summary = WriteSummary(
        str(plan.out), plan.rows, plan.num_chunks, skipped_chunks=plan.num_chunks - len(plan.todo)
    )
    bar = tqdm(
        total=sum(plan.chunk_rows(c) for c in plan.todo),
        desc=f"embed {plan.out.name}",
        unit="page",
        disable=not show_progress,
    )
    try:
        for chunk in plan.todo:
            pages, truncated = write_chunk(plan, group, chunk, embed_fn)
            finish_chunk(plan, chunk)
            summary.written_chunks.append(chunk)
            summary.panels_truncated += truncated
            bar.update(pages)
    finally:
        bar.close()
    finish_store(plan, summary)
    summary.seconds = time.perf_counter() - begin
    return summary
