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

Shards (``pss features --num-shards K --shard-index I``, e.g. a Slurm array; either engine): the
batches are numbered over the pages missing from ``OUT``, and shard ``I`` computes batches
``I, I + K, I + 2K, ...`` into its own feature store ``OUT.shards/III-of-KKK`` (resumable as
``OUT``; ``OUT`` itself is not touched, so the shards run at once). Batches, not books: every
page is encoded in the same batch as in one process, so its vectors are the same bits. The same
command without the shard flags is the merge: it appends the batches in order to ``OUT``, copying
each batch found whole in the shards' stores and computing any other, so ``OUT`` has the files of
a one-process run; after a run with nothing left missing it removes ``OUT.shards``.
"""

from __future__ import annotations

import shutil
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
SHARDS_SUFFIX = ".shards"  # OUT.shards/III-of-KKK: the shards' feature stores


@dataclass(frozen=True)
class _Job:
    dataset: Any
    image_root: str | None
    vision: str
    text: str
    device: str
    threads: int | None  # torch threads of a worker (None: as they are, the local engine)
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

    if job.threads:
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


def shard_folder(out: str | Path, num_shards: int, shard_index: int) -> Path:
    """The feature store of shard ``shard_index`` of ``num_shards`` of the store ``out``."""
    return Path(f"{out}{SHARDS_SUFFIX}") / f"{shard_index:03d}-of-{num_shards:03d}"


def _stored(path: Path) -> tuple[Any, np.ndarray]:
    """A feature store's group (read only) and its page ids up to ``row_count`` (not its vectors)."""
    import zarr  # lazy: as the feature store

    group = zarr.open_group(str(path), mode="r", use_consolidated=False)
    rows = int(group.attrs["row_count"])
    return group, np.array([str(v) for v in np.asarray(group["page_id"][:rows]).tolist()], dtype=object)


class _Shards:
    """The shards' feature stores of ``out`` (``OUT.shards/*``) for the merge: where each page is,
    and a batch's arrays read from them."""

    def __init__(self, out: Path, attrs: dict[str, Any]):
        self.folder = Path(f"{out}{SHARDS_SUFFIX}")
        self.groups: list[Any] = []
        self.where: dict[str, tuple[int, int]] = {}  # page id -> (shard store, row)
        for part in sorted(self.folder.glob("*-of-*")) if self.folder.is_dir() else []:
            if not (part / "zarr.json").is_file():
                continue
            group, ids = _stored(part)
            theirs = {k: v for k, v in group.attrs.items() if k != "row_count"}
            mine = {k: v for k, v in attrs.items() if k != "row_count"}
            if theirs != mine:
                changed = sorted(k for k in {*theirs, *mine} if theirs.get(k) != mine.get(k))
                raise ValueError(
                    f"{part}: a shard's feature store made with other settings ({', '.join(changed)}: "
                    f"{[theirs.get(k) for k in changed]}, this run: {[mine.get(k) for k in changed]}); "
                    f"run the shards again with this command's settings, or remove {self.folder}"
                )
            self.where.update((pid, (len(self.groups), row)) for row, pid in enumerate(ids.tolist()))
            self.groups.append(group)

    def has(self, page_ids: list[str]) -> bool:
        return bool(self.groups) and all(pid in self.where for pid in page_ids)

    def values(self, page_ids: list[str], names: list[str]) -> dict[str, np.ndarray]:
        """The arrays of these pages (all in the shards' stores), in this order."""
        spots = [self.where[pid] for pid in page_ids]
        pieces: dict[str, list[np.ndarray]] = {n: [] for n in names}
        taken: list[int] = []
        for g in sorted({g for g, _ in spots}):  # one contiguous read per shard store
            picks = [k for k, (gg, _) in enumerate(spots) if gg == g]
            rows = np.array([spots[k][1] for k in picks])
            first, last = int(rows.min()), int(rows.max()) + 1
            for n in names:
                pieces[n].append(np.asarray(self.groups[g][n][first:last])[rows - first])
            taken += picks
        back = np.argsort(taken)  # the pages' order again
        return {n: np.concatenate(pieces[n])[back] for n in names}


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
    num_shards: int = 1,
    shard_index: int = 0,
) -> dict[str, Any]:
    """:func:`~.features.extract_features` of ``dataset`` (anything ``sources.open_pages``
    takes) on ``engine`` (module docstring); the same summary (+ ``copied``: pages taken from the
    shards' stores). ``page_store``: for ``vision="store:PATH"``, a picklable callable that opens
    that embedding store (each worker opens its own). ``num_shards``, ``shard_index``: compute
    only this shard's batches, into ``OUT.shards/III-of-KKK`` (module docstring)."""
    if engine.is_ray:
        require_ray()  # at once, naming the extra
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index {shard_index} is not in [0, num_shards={num_shards})")
    start = time.perf_counter()
    out = Path(out)
    target = shard_folder(out, num_shards, shard_index) if num_shards > 1 else out
    job = _Job(
        dataset=str(dataset) if isinstance(dataset, Path) else dataset,
        image_root=str(image_root) if image_root is not None else None,
        vision=vision,
        text=text,
        device=device,
        threads=max(1, int(engine.cpus_per_worker)) if engine.is_ray else None,
        with_page_stats=with_page_stats,
        page_store=page_store,
    )
    source = _open(job)

    def encoders():
        store = page_store() if page_store is not None else None
        return VisionEncoder(vision, device=device, page_store=store), TextEncoder(text, device=device)

    # the pages missing from OUT fix the batches (a shard reads OUT, never writes it)
    skip = None  # the pages not to do: OUT's (a shard), else those of the store written
    if num_shards > 1:
        skip = set(_stored(out)[1].tolist()) if (out / "zarr.json").is_file() else set()
    target.parent.mkdir(parents=True, exist_ok=True)
    group, existing, with_stats, _ = open_feature_store(target, vision, text, with_page_stats, encoders)
    job = _Job(**{**job.__dict__, "with_page_stats": with_stats})
    shards = _Shards(out, dict(group.attrs)) if num_shards == 1 else None
    page_ids = source.page_ids
    seen: set[str] = set()
    todo: list[int] = []
    for position, page_id in enumerate(page_ids):
        if page_id in (existing if skip is None else skip):
            continue
        if page_id in seen:
            raise ValueError(f"page {page_id} appears twice in the input (dataset {dataset})")
        seen.add(page_id)
        todo.append(position)
    units, copied = [], []
    for number, first in enumerate(range(0, len(todo), batch_pages)):
        positions = todo[first : first + batch_pages]
        ids = [page_ids[p] for p in positions]
        if number % num_shards != shard_index or (skip is not None and all(i in existing for i in ids)):
            continue  # another shard's batch, or one this shard's store has
        (copied if shards is not None and shards.has(ids) else units).append(
            (str(number), (number, positions, ids))
        )
    order = sorted(int(key) for key, _ in units + copied)  # the batches to append, in order
    copy = {int(key): unit[2] for key, unit in copied}
    names = list(group.array_keys())
    state = {"next": 0, "failed": None, "written": 0, "rows": int(group.attrs["row_count"])}
    ready: dict[int, dict[str, np.ndarray]] = {}

    def advance() -> None:
        while state["next"] < len(order):
            number = order[state["next"]]
            if state["failed"] is not None and number >= state["failed"][0]:
                return
            if number in copy:
                values = shards.values(copy.pop(number), names)
            elif number in ready:
                values = ready.pop(number)
            else:
                return
            state["rows"] = append_values(group, values)  # the driver alone writes the store
            state["written"] += len(values["page_id"])
            state["next"] += 1

    def done(outcome) -> None:
        number = int(outcome.key)
        if not outcome.ok:
            if state["failed"] is None or number < state["failed"][0]:
                state["failed"] = (number, outcome.error)
            return
        ready[number] = outcome.result[1]
        advance()

    advance()  # the copied batches before the first computed one
    if units:
        run_units(units, partial(_setup, job), _batch, engine, on_done=done)
    advance()
    consolidate(target)
    errors = []
    if state["failed"] is not None:
        failed, reason = state["failed"]
        left = set(order[state["next"] :])
        for number, _positions, ids in (unit for _, unit in sorted(units + copied, key=lambda u: int(u[0]))):
            if number not in left:
                continue
            kind = "failed" if number == failed else "not_written"
            why = reason if number == failed else f"after the failed unit {failed}"
            errors += [{"page_id": i, "unit": number, "kind": kind, "reason": why} for i in ids]
    _write_errors(target, errors)
    if errors:
        raise RuntimeError(
            f"pss features: batch {state['failed'][0]} failed ({state['failed'][1]}); {len(errors)} pages "
            f"not written, listed in {target / ERRORS_FILE}; run the same command again to resume"
        )
    n_copied = sum(len(unit[2]) for _, unit in copied)
    if shards is not None and shards.groups:
        shutil.rmtree(shards.folder)  # every page of the source is in OUT now
    seconds = time.perf_counter() - start
    return {
        "store": str(target),
        "written": state["written"],
        "copied": n_copied,
        "skipped": len(page_ids) - len(todo),
        "rows": state["rows"],
        "encode_seconds": round(seconds, 3),
        "pages_per_second": round(state["written"] / seconds, 1) if seconds else None,
    }


__all__ = ["ERRORS_FILE", "SHARDS_SUFFIX", "extract_features_engine", "shard_folder"]
