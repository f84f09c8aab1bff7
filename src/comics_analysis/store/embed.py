"""``comics-analysis embed``: a Closure Lite model fills an embedding store.

:class:`ModelEmbedder` is the ``embed_fn`` of :func:`~.writer.write_store`: a batch of pages goes
through the model's processor (panel crops, text, layout), one forward pass under
``torch.no_grad`` gives the page embedding and one embedding per real panel (the panel mask).
Everything else (whole-chunk writes, the progress manifest, resume, shards) is ``write_store``'s.

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

import numpy as np

from ..sources import open_pages
from .layout import CHUNK_PAGES
from .model import LoadedModel, load_model
from .writer import WriteSummary, write_store

log = logging.getLogger(__name__)


class ModelEmbedder:
    """``embed_fn(items) -> (page [B, D], panel [B, P, D], panel_mask [B, P])`` with a model."""

    def __init__(self, loaded: LoadedModel, device: Any = None):
        import torch

        self.loaded = loaded
        self.model = loaded.model
        self.processor = loaded.processor
        self.device = torch.device(device) if device is not None else next(self.model.parameters()).device
        self.model.to(self.device)
        self.model.eval()
        self.pages = 0
        self.panels = 0

    def __call__(self, items) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import torch

        processed = [self.processor.process_page(item.load_image(), item.page) for item in items]
        batch = self.processor.collate(processed)
        batch.pop("order", None)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with torch.no_grad():
            out = self.model(**batch, return_loss=False)
        page = out.page_embeddings.float().cpu().numpy()
        panel = out.panel_embeddings.float().cpu().numpy()
        mask = out.panel_mask.cpu().numpy().astype(bool)
        # a page without panels is one whole-page panel for the model: it has no panel to store
        for r, item in enumerate(items):
            mask[r, len(item.page.panels) :] = False
        self.pages += len(items)
        self.panels += int(mask.sum())
        return page, panel, mask


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
        else load_model(model, revision=revision, model_id=model_id, device=device)
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
            from .reader import open_store

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
