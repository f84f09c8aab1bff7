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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..inference.closure_lite import LoadedModel, ModelEmbedder, load_closure_lite
from ..sources import open_pages
from .layout import CHUNK_PAGES
from .reader import open_store
from .writer import WriteSummary, write_store

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
) -> EmbedResult:
    """Embed ``dataset`` (anything :func:`comics_analysis.sources.open_pages` accepts; ``config``:
    the comic_pages config of an export, default ``all``) with a Closure Lite model into the store
    ``out``. Resumable (finished chunks are skipped); ``num_shards`` / ``shard_index`` split the
    chunks between runs, and under ``accelerate launch`` between processes too."""
    import time

    import torch

    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard index {shard_index} is not in [0, {num_shards})")
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
    source = open_pages(dataset, config=config, image_root=image_root, argument="dataset")
    description = source.description
    embedder = ModelEmbedder(loaded, device=device)
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
    extra = {"embedded_with": "comics_analysis.store.embed", "source_description": description}
    for key, value in (("source", source.path), ("image_root", source.image_root)):
        if value is not None:
            # relative to the store folder, so store and pages can move together (DESIGN 3.1)
            extra[key] = os.path.relpath(Path(value).resolve(), Path(out).resolve())
    summary = write_store(
        source,
        out,
        embedder,
        model_id=loaded.model_id,
        model_revision=loaded.revision,
        config=loaded.config,
        dtype=dtype,
        panels=loaded.max_panels,
        dim=loaded.dim,
        chunk_pages=chunk_pages,
        batch_size=batch_size,
        num_shards=writer_shards,
        shard_index=writer_index,
        show_progress=show_progress and rank == 0,
        extra_attrs=extra,
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
