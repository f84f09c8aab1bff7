"""``comics-analysis embed``: a Closure Lite model fills an embedding store.

The model is loaded and run by :mod:`comics_analysis.inference.closure_lite`
(``load_closure_lite``; ``ModelEmbedder`` is the ``embed_fn`` of :func:`~.writer.write_store`: a
batch of pages through the processor and one forward pass gives the page embedding and one
embedding per real panel). Everything else (whole-chunk writes, the progress manifest, resume,
shards) is ``write_store``'s.

Multi-process inference: :func:`embed_store` asks Accelerate (``PartialState``) how many
processes run and which one this is; process ``r`` of ``n`` in CLI shard ``I`` of ``K`` writes
the chunks of writer shard ``I * n + r`` of ``K * n``, so processes and machines write disjoint
chunks of the same store. Launch it like any Accelerate script::

    accelerate launch --num_processes 2 -m comics_analysis embed DATA --model DIR --out STORE
    # on CPU: ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 -m comics_analysis ...
    # (``--cpu --num_processes 2`` silently runs one process; DESIGN 6)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from ..engine import EngineOptions, require_ray, run_units
from ..inference.closure_lite import LoadedModel, ModelEmbedder, load_closure_lite
from ..sources import open_pages
from .errors import chunk_errors_path, write_chunk_errors
from .layout import CHUNK_PAGES, EMBED_PANELS, plan_hash
from .reader import open_store
from .writer import (
    StorePlan,
    WriteSummary,
    finish_chunk,
    finish_store,
    open_for_writing,
    plan_store,
    write_chunk,
    write_store,
)

log = logging.getLogger(__name__)


@dataclass
class EmbedResult:
    summary: WriteSummary
    process_index: int
    num_processes: int
    shard_index: int  # the writer shard this process wrote (of num_shards * num_processes)
    num_shards: int
    pages: int  # pages this process embedded
    panels: int  # real panels this process embedded
    seconds: float

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0


def _distributed_state():
    """(process index, process count, device, state) from Accelerate; one process without it."""
    try:
        from accelerate import PartialState
    except ImportError:  # pragma: no cover - accelerate is part of the ml extra
        return 0, 1, None, None
    import torch

    # PartialState() alone treats a CPU-only multi-process launch as one process: ask for CPU
    # distribution when the launcher says so (ACCELERATE_USE_CPU) or when there is no CUDA device
    cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    state = PartialState(cpu=cpu or (launched and not torch.cuda.is_available()))
    return state.process_index, state.num_processes, state.device, state


def embed_store(
    dataset: Any,
    model: str | Path | LoadedModel,
    out: str | Path,
    *,
    config: str | None = None,
    image_root: str | Path | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    batch_size: int = 16,
    chunk_pages: int = CHUNK_PAGES,
    dtype: str = "float16",
    model_id: str | None = None,
    revision: str | None = None,
    threads: int | None = None,
    show_progress: bool = True,
    use_accelerate: bool = True,
    engine: EngineOptions | None = None,
    max_panels: int | None = None,
) -> EmbedResult:
    """Embed ``dataset`` (anything :func:`comics_analysis.sources.open_pages` accepts; ``config``:
    the comic_pages config of an export, default ``all``) with a Closure Lite model into the store
    ``out``. Resumable (finished chunks are skipped); ``num_shards`` / ``shard_index`` split the
    chunks between runs, and under ``accelerate launch`` between processes too. ``engine`` may
    run the chunks on Ray instead (:func:`embed_store_ray`). ``max_panels``: the store's panel
    axis, the most panels kept per page (default: an existing store's, else ``EMBED_PANELS``,
    32); the model reads that many (it has no panel positions, its training cap does not
    apply); a page with more is logged by page id and counted in ``summary.panels_truncated``."""
    import time

    import torch

    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard index {shard_index} is not in [0, {num_shards})")
    if engine is not None and engine.is_ray:
        return embed_store_ray(
            dataset,
            model,
            out,
            engine,
            config=config,
            image_root=image_root,
            num_shards=num_shards,
            shard_index=shard_index,
            batch_size=batch_size,
            chunk_pages=chunk_pages,
            dtype=dtype,
            model_id=model_id,
            revision=revision,
            threads=threads,
            show_progress=show_progress,
            max_panels=max_panels,
        )
    rank, world, device, state = _distributed_state() if use_accelerate else (0, 1, None, None)
    if threads is None and world > 1 and (device is None or device.type == "cpu"):
        # processes share the cores: give each its part instead of oversubscribing them
        threads = max(1, (os.cpu_count() or 1) // world)
    if threads:
        torch.set_num_threads(threads)
    loaded = (
        model
        if isinstance(model, LoadedModel)
        else load_closure_lite(model, revision=revision, model_id=model_id, device=device)
    )
    source = open_pages(dataset, config=config, image_root=image_root, argument="dataset", lazy=True)
    description = source.description
    panels = store_panels(out, max_panels)
    columns = store_page_columns(out)
    embedder = ModelEmbedder(
        loaded, device=device, image_vectors=True, max_panels=panels, prose_lines="prose_lines" in columns
    )
    writer_shards = num_shards * world
    writer_index = shard_index * world + rank
    log.info(
        "embedding %s with %s (revision %s) on %s: writer shard %d of %d",
        description,
        loaded.model_id,
        loaded.revision,
        embedder.device,
        writer_index,
        writer_shards,
    )
    start = time.perf_counter()
    summary = write_store(
        source,
        out,
        embedder,
        **_store_args(source, out, loaded, dtype, panels, chunk_pages, batch_size, columns),
        num_shards=writer_shards,
        shard_index=writer_index,
        show_progress=show_progress and rank == 0,
    )
    seconds = time.perf_counter() - start
    if state is not None and world > 1:
        state.wait_for_everyone()
        if not summary.complete:  # another process may have finished the last chunk
            summary.complete = open_store(out).complete
    return EmbedResult(
        summary=summary,
        process_index=rank,
        num_processes=world,
        shard_index=writer_index,
        num_shards=writer_shards,
        pages=embedder.pages,
        panels=embedder.panels,
        seconds=seconds,
    )


def store_panels(out: str | Path, max_panels: int | None = None) -> int:
    """The panel axis of a store a model embeds: ``max_panels``, else the existing store's at
    ``out`` (a resumed run keeps it), else ``EMBED_PANELS``."""
    if max_panels is not None:
        if not 1 <= int(max_panels) <= 127:  # reading_order is int8
            raise ValueError(f"max_panels must be in [1, 127], got {max_panels}")
        return int(max_panels)
    if (Path(out) / "zarr.json").is_file():
        return int(open_store(out).attrs["panels"])
    return EMBED_PANELS


def store_page_columns(out: str | Path) -> tuple[str, ...]:
    """The per-page values a model's embedding run stores: ``prose_lines`` (lines of body text on
    the page image: analyze's not-a-comic score) and ``panel_description`` (the records' VLM
    scene descriptions of the panels: description search), or, when ``out`` is an existing
    store, the columns it keeps (a store written before them is resumed without them, logged)."""
    if not (Path(out) / "zarr.json").is_file():
        return ("prose_lines", "panel_description")
    columns = tuple(open_store(out).attrs.get("page_columns", ()))
    if "prose_lines" not in columns:
        log.info(
            "%s keeps no prose line counts (written before stores kept them): resuming it without "
            "them; analyze uses the image outlier score alone",
            out,
        )
    return columns


def _store_args(
    source, out: str | Path, loaded, dtype: str, panels: int, chunk_pages: int, batch_size: int, columns
) -> dict[str, Any]:
    """The store's layout and provenance arguments, the same for the local and the Ray engine
    (``writer.write_store`` / ``writer.plan_store``): the model's id, revision, config and width,
    the image vectors and page columns, where the pages came from."""
    return {
        "model_id": loaded.model_id,
        "model_revision": loaded.revision,
        "config": loaded.config,
        "dtype": dtype,
        "panels": panels,
        "dim": loaded.dim,
        "chunk_pages": chunk_pages,
        "batch_size": batch_size,
        "extra_attrs": _extra_attrs(source, out),
        "image_vectors": True,
        "page_columns": columns,
    }


def _extra_attrs(source, out: str | Path) -> dict[str, Any]:
    """Where the pages came from: ``source`` and ``image_root`` relative to the store folder, so
    store and pages can move together (DESIGN 3.1), and the source's description with those two
    folders written the same way (no absolute path of the machine that embedded)."""
    extra = {"embedded_with": "comics_analysis.store.embed"}
    description = source.description
    for key, value in (("source", source.path), ("image_root", source.image_root)):
        if value is not None:
            extra[key] = os.path.relpath(Path(value).resolve(), Path(out).resolve())
            forms = {str(Path(value).resolve())} | ({str(value)} if Path(value).is_absolute() else set())
            for form in sorted(forms, key=len, reverse=True):
                description = description.replace(form, extra[key])
    extra["source_description"] = description
    return extra


@dataclass(frozen=True)
class _RayJob:
    """What an engine worker needs to write chunks: it opens the pages and loads the model itself."""

    plan: StorePlan  # without its source
    dataset: Any
    config: str | None
    image_root: str | None
    model: Any  # a folder or Hub id, or a LoadedModel (shipped to the workers)
    revision: str | None
    model_id: str | None
    threads: int
    gpu: bool


@dataclass
class _Worker:
    job: _RayJob
    source: Any
    embedder: ModelEmbedder
    group: Any


def _ray_setup(job: _RayJob) -> _Worker:
    """Once per engine worker: the model, the pages and the store's group."""
    import torch

    torch.set_num_threads(job.threads)
    device = "cuda" if job.gpu and torch.cuda.is_available() else None
    source = open_pages(
        job.dataset, config=job.config, image_root=job.image_root, argument="dataset", lazy=True
    )
    if plan_hash(source.page_ids) != job.plan.attrs["plan_hash"]:
        raise ValueError(f"{source.description}: its pages differ from the store's plan on this worker")
    loaded = (
        job.model
        if isinstance(job.model, LoadedModel)
        else load_closure_lite(job.model, revision=job.revision, model_id=job.model_id, device=device)
    )
    embedder = ModelEmbedder(
        loaded,
        device=device,
        image_vectors=True,
        max_panels=job.plan.panels,
        prose_lines="prose_lines" in job.plan.page_columns,
    )
    return _Worker(job, source, embedder, open_for_writing(job.plan.out))


def _ray_chunk(worker: _Worker, chunk: int) -> tuple[int, int, int, int]:
    """One whole chunk on an engine worker: (chunk, pages, pages with too many panels, panels)."""
    before = worker.embedder.panels
    pages, truncated = write_chunk(worker.job.plan, worker.group, chunk, worker.embedder, src=worker.source)
    return chunk, pages, truncated, worker.embedder.panels - before


def embed_store_ray(
    dataset: Any,
    model: str | Path | LoadedModel,
    out: str | Path,
    engine: EngineOptions,
    *,
    config: str | None = None,
    image_root: str | Path | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    batch_size: int = 16,
    chunk_pages: int = CHUNK_PAGES,
    dtype: str = "float16",
    model_id: str | None = None,
    revision: str | None = None,
    threads: int | None = None,
    show_progress: bool = True,
    max_panels: int | None = None,
) -> EmbedResult:
    """:func:`embed_store` on Ray: the unit is a store chunk (rows in the source's order: books by
    name, pages by index), embedded and written whole by one worker (an actor that loads the model
    once); the driver creates the store and records each finished chunk in the same progress
    file as a local run of this shard, so the store is the same, file for file, and resumes the
    same way. Chunks whose worker died more often than the engine retries are listed in
    ``STORE/progress/errors-shard-I-of-K.parquet`` and the run ends with a RuntimeError."""
    import time

    from tqdm.auto import tqdm

    require_ray()
    start = time.perf_counter()
    loaded = (
        model
        if isinstance(model, LoadedModel)
        else load_closure_lite(model, revision=revision, model_id=model_id)
    )
    source = open_pages(dataset, config=config, image_root=image_root, argument="dataset", lazy=True)
    panels = store_panels(out, max_panels)
    plan = plan_store(
        source,
        out,
        **_store_args(source, out, loaded, dtype, panels, chunk_pages, batch_size, store_page_columns(out)),
        num_shards=num_shards,
        shard_index=shard_index,
    )
    job = _RayJob(
        plan=replace(plan, source=None),
        dataset=str(dataset) if isinstance(dataset, Path) else dataset,
        config=config,
        image_root=str(image_root) if image_root is not None else None,
        model=model if isinstance(model, LoadedModel) else str(model),
        revision=revision,
        model_id=model_id,
        threads=threads or max(1, int(engine.cpus_per_worker)),
        gpu=engine.gpus_per_worker > 0,
    )
    summary = WriteSummary(
        str(plan.out), plan.rows, plan.num_chunks, skipped_chunks=plan.num_chunks - len(plan.todo)
    )
    failed: dict[int, str] = {}
    totals = {"pages": 0, "panels": 0}
    bar = tqdm(
        total=sum(plan.chunk_rows(c) for c in plan.todo),
        desc=f"embed {plan.out.name}",
        unit="page",
        disable=not show_progress,
    )

    def done(outcome):
        chunk = int(outcome.key)
        bar.update(plan.chunk_rows(chunk))
        if not outcome.ok:
            failed[chunk] = outcome.error
            return
        _, pages, truncated, panels = outcome.result
        finish_chunk(plan, chunk)  # the driver alone writes the progress file
        summary.written_chunks.append(chunk)
        summary.panels_truncated += truncated
        totals["pages"] += pages
        totals["panels"] += panels

    try:
        units = [(str(c), c) for c in plan.todo]
        run_units(units, partial(_ray_setup, job), _ray_chunk, engine, on_done=done)
    finally:
        bar.close()
    summary.written_chunks.sort()
    finish_store(plan, summary)
    summary.seconds = time.perf_counter() - start
    errors = chunk_errors_path(plan.out, shard_index, num_shards)
    write_chunk_errors(plan, failed, errors)
    if failed:
        raise RuntimeError(
            f"{len(failed)} chunk(s) failed ({sorted(failed)[:5]}); their pages are in {errors}; run the "
            "same command again to retry them"
        )
    return EmbedResult(
        summary=summary,
        process_index=0,
        num_processes=1,
        shard_index=shard_index,
        num_shards=num_shards,
        pages=totals["pages"],
        panels=totals["panels"],
        seconds=summary.seconds,
    )
