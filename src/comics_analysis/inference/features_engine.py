"""PSS page features on an engine (``pss features --engine ray``, docs/scale.md).

The unit is a batch of ``batch_pages`` consecutive pages still missing from the store, in the
source's order: the batches a local run appends. A worker (a Ray actor) opens the pages and the
encoders once, then turns each batch into the store's arrays; the driver alone writes the store,
appending each batch's arrays in the batches' order as they arrive (a batch that comes early waits
for those before it). So the store has the same rows in the same order, and the same files, as
a local run's (vectors bit for bit when the torch thread counts are equal: a worker uses
``cpus_per_worker`` threads), and a rerun resumes either engine's store.

A batch whose worker raised or died more often than the engine retries stops the writing there:
the batches after it are not appended (the store stays in the source's order), their pages are
listed in ``OUT/errors.parquet`` (``page_id, unit, kind, reason``; kind ``failed`` for the
failed batch, ``not_written`` for those after it) and the run ends with a RuntimeError; the same
command resumes from the first missing page. A clean run removes that file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..dataspec import DataSpecError, atomic_write
from ..engine import EngineOptions, require_ray, run_units
from ..sources import open_pages
from .features import (
    PageInput,
    append_values,
    batch_values,
    consolidate,
    open_feature_store,
)
from .text import TextEncoder
from .vision import VisionEncoder

ERRORS_FILE = "errors.parquet"


@dataclass(frozen=True)
class _Job:
    dataset: Any
    image_root: str | None
    vision: str
    text: str
    device: str
    threads: int
    with_page_stats: bool
    page_store: Any  # None, or a picklable callable that opens the embedding store of store:PATH


@dataclass
class _Worker:
    job: _Job
    source: Any
    vision: VisionEncoder
    text: TextEncoder


def _open(job: _Job):
    return open_pages(job.dataset, image_root=job.image_root, argument="dataset", lazy=True)


def _setup(job: _Job) -> _Worker:
    """Once per engine worker: the pages and the encoders."""
    import torch  # lazy: on the worker, as the encoders load it

    torch.set_num_threads(job.threads)
    store = job.page_store() if job.page_store is not None else None
    return _Worker(
        job,
        _open(job),
        VisionEncoder(job.vision, device=job.device, page_store=store),
        TextEncoder(job.text, device=job.device),
    )


def _page_input(source: Any, position: int) -> PageInput:
    page = source.page(position)
    try:
        image = source.load_image(page)
    except DataSpecError:
        if page.image is not None:
            raise
        image = None  # a page without an image (as ``source_pages``)
    return PageInput.of(page, image)


def _batch(worker: _Worker, unit: tuple[int, list[int], list[str]]) -> tuple[int, dict[str, np.ndarray]]:
    """One batch on a worker: (unit number, the store's arrays of its pages)."""
    number, positions, page_ids = unit
    batch = [_page_input(worker.source, p) for p in positions]
    got = [p.page_id for p in batch]
    if got != page_ids:
        raise ValueError(
            f"the pages differ on this worker (position {positions[0]}: {got[0]} != {page_ids[0]}); "
            "the dataset must be the same files on every node"
        )
    return number, batch_values(batch, worker.vision, worker.text, worker.job.with_page_stats)


def _write_errors(out: Path, rows: list[dict]) -> None:
    import pyarrow as pa  # lazy: only a run with failed batches writes the table
    import pyarrow.parquet as pq  # lazy: as above

    path = out / ERRORS_FILE
    if not rows:
        path.unlink(missing_ok=True)
        return
    with atomic_write(path, "wb") as handle:
        pq.write_table(pa.Table.from_pylist(rows), handle)


def extract_features_engine(
    dataset: Any,
    out: str | Path,
    engine: EngineOptions,
    *,
    vision: str = "pixels",
    text: str = "minilm",
    device: str = "cpu",
    image_root: str | Path | None = None,
    batch_pages: int = 256,
    page_store: Any = None,
    with_page_stats: bool = False,
) -> dict[str, Any]:
    """:func:`~.features.extract_features` of ``dataset`` (anything ``sources.open_pages``
    takes) on ``engine`` (module docstring); the same summary. ``page_store``: for
    ``vision="store:PATH"``, a picklable callable that opens that embedding store (each worker
    opens its own)."""
    if engine.is_ray:
        require_ray()  # at once, naming the extra
    start = time.perf_counter()
    out = Path(out)
    job = _Job(
        dataset=str(dataset) if isinstance(dataset, Path) else dataset,
        image_root=str(image_root) if image_root is not None else None,
        vision=vision,
        text=text,
        device=device,
        threads=max(1, int(engine.cpus_per_worker)),
        with_page_stats=with_page_stats,
        page_store=page_store,
    )
    source = _open(job)

    def encoders():
        store = page_store() if page_store is not None else None
        return VisionEncoder(vision, device=device, page_store=store), TextEncoder(text, device=device)

    group, existing, with_stats, _ = open_feature_store(out, vision, text, with_page_stats, encoders)
    job = _Job(**{**job.__dict__, "with_page_stats": with_stats})
    page_ids = source.page_ids
    seen: set[str] = set()
    todo: list[int] = []
    for position, page_id in enumerate(page_ids):
        if page_id in existing:
            continue
        if page_id in seen:
            raise ValueError(f"page {page_id} appears twice in the input (dataset {dataset})")
        seen.add(page_id)
        todo.append(position)
    units = []
    for number, first in enumerate(range(0, len(todo), batch_pages)):
        positions = todo[first : first + batch_pages]
        units.append((str(number), (number, positions, [page_ids[p] for p in positions])))
    state = {"next": 0, "failed": None, "written": 0, "rows": int(group.attrs["row_count"])}
    ready: dict[int, dict[str, np.ndarray]] = {}

    def done(outcome) -> None:
        number = int(outcome.key)
        if not outcome.ok:
            if state["failed"] is None or number < state["failed"][0]:
                state["failed"] = (number, outcome.error)
            return
        ready[number] = outcome.result[1]
        while state["next"] in ready and (state["failed"] is None or state["next"] < state["failed"][0]):
            values = ready.pop(state["next"])
            state["rows"] = append_values(group, values)  # the driver alone writes the store
            state["written"] += len(values["page_id"])
            state["next"] += 1

    run_units(units, partial(_setup, job), _batch, engine, on_done=done)
    consolidate(out)
    errors = []
    if state["failed"] is not None:
        failed, reason = state["failed"]
        for number, _positions, ids in (unit for _, unit in units[state["next"] :]):
            kind = "failed" if number == failed else "not_written"
            why = reason if number == failed else f"after the failed unit {failed}"
            errors += [{"page_id": i, "unit": number, "kind": kind, "reason": why} for i in ids]
    _write_errors(out, errors)
    if errors:
        raise RuntimeError(
            f"pss features: batch {state['failed'][0]} failed ({state['failed'][1]}); {len(errors)} pages "
            f"not written, listed in {out / ERRORS_FILE}; run the same command again to resume"
        )
    seconds = time.perf_counter() - start
    return {
        "store": str(out),
        "written": state["written"],
        "skipped": len(page_ids) - len(todo),
        "rows": state["rows"],
        "encode_seconds": round(seconds, 3),
        "pages_per_second": round(state["written"] / seconds, 1) if seconds else None,
    }


__all__ = ["ERRORS_FILE", "extract_features_engine"]
