"""The ``ray`` engine: a Ray Data dataset of units (one block each), ``map_batches`` with an actor
class per worker (``setup`` once, then one unit per call), results streamed back to the driver.

Failures: an exception in ``work`` is the unit's outcome (not retried: it would fail again). A
worker process that dies (killed, out of memory, a crash in native code) is restarted by Ray and
its unit retried up to ``max_retries`` times; a unit still without a result after that is
dropped from the stream (``max_errored_blocks`` is unlimited for the run, so the others go on)
and comes back as an outcome with the reason. Units write their files atomically, so a retried
unit leaves no partial file and writes the same bytes again.
"""

from __future__ import annotations

import logging
import os
import pickle
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from . import EngineOptions, UnitOutcome, require_ray

log = logging.getLogger(__name__)


class UnitWorker:
    """One Ray actor: ``setup()`` once, then ``work(state, unit)`` per unit of a batch."""

    def __init__(self, setup: Callable[[], Any] | None, work: Callable[[Any, Any], Any]):
        self.state = setup() if setup is not None else None
        self.work = work

    def __call__(self, batch: dict) -> dict:
        outcomes = []
        for key, blob in zip(batch["key"], batch["unit"]):
            try:
                outcome = UnitOutcome(str(key), result=self.work(self.state, pickle.loads(blob)))
            except Exception as exc:
                log.warning("%s: %s: %s", key, type(exc).__name__, exc)
                outcome = UnitOutcome(str(key), error=f"{type(exc).__name__}: {exc}")
            outcomes.append(pickle.dumps(outcome))
        return {"key": list(batch["key"]), "outcome": outcomes}


def _connect(ray, options: EngineOptions) -> bool:
    """Join ``options.address`` or start a local cluster; False when Ray was already initialised
    in this process (a caller's cluster: left running)."""
    if ray.is_initialized():
        return False
    settings: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
    if options.address:
        ray.init(address=options.address, **settings)
    else:
        cpus = options.num_cpus or os.cpu_count() or 1
        memory = options.object_store_mb << 20 if options.object_store_mb else None
        ray.init(num_cpus=cpus, object_store_memory=memory, **settings)
    return True


def _pool_size(ray, options: EngineOptions, units: int) -> int:
    cluster = ray.cluster_resources()
    fits = int(cluster.get("CPU", 1) // options.cpus_per_worker)
    if options.gpus_per_worker:
        fits = min(fits, int(cluster.get("GPU", 0) // options.gpus_per_worker))
    if fits < 1:
        raise RuntimeError(
            f"the Ray cluster ({cluster.get('CPU', 0):g} CPUs, {cluster.get('GPU', 0):g} GPUs) cannot fit "
            f"one worker of {options.cpus_per_worker:g} CPUs and {options.gpus_per_worker:g} GPUs"
        )
    return max(1, min(fits, options.workers or fits, units))


def _map(ray, dataset, setup, work, options: EngineOptions, size: int):
    return dataset.map_batches(
        UnitWorker,
        fn_constructor_args=(setup, work),
        batch_size=1,
        batch_format="numpy",
        # one unit at a time per worker: a worker that dies takes only its own unit with it
        compute=ray.data.ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=1),
        num_cpus=options.cpus_per_worker,
        num_gpus=options.gpus_per_worker or None,
        max_restarts=-1,  # a dead worker is restarted (its setup runs again) ...
        max_task_retries=options.max_retries,  # ... and its unit retried this many times
    )


def run_ray(
    units: Sequence[tuple[str, Any]],
    setup: Callable[[], Any] | None,
    work: Callable[[Any, Any], Any],
    options: EngineOptions,
    on_done: Callable[[UnitOutcome], None] | None = None,
) -> list[UnitOutcome]:
    ray = require_ray()  # ray and ray.data, or an error naming the extra

    if not units:
        return []
    started = _connect(ray, options)
    try:
        context = ray.data.DataContext.get_current()
        saved = (context.max_errored_blocks, context.enable_progress_bars)
        context.max_errored_blocks = -1  # a unit that keeps killing its worker must not stop the run
        context.enable_progress_bars = options.show_progress
        try:
            rows = [{"key": key, "unit": pickle.dumps(unit)} for key, unit in units]
            dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
            size = _pool_size(ray, options, len(rows))
            with warnings.catch_warnings():  # max_task_retries is a "ray_remote_args" until Ray 2.64
                warnings.simplefilter("ignore", DeprecationWarning)
                mapped = _map(ray, dataset, setup, work, options, size)
            got: dict[str, UnitOutcome] = {}
            for row in mapped.iter_rows():
                outcome = pickle.loads(row["outcome"])
                got[outcome.key] = outcome
                if on_done is not None:
                    on_done(outcome)
        finally:
            context.max_errored_blocks, context.enable_progress_bars = saved
    finally:
        if started:
            ray.shutdown()
    outcomes = []
    for key, _ in units:
        outcome = got.get(key)
        if outcome is None:
            outcome = UnitOutcome(
                key,
                error=f"worker_died: the Ray worker running it died {options.max_retries + 1} time(s) "
                "(killed, out of memory or crashed; see the Ray logs)",
            )
            if on_done is not None:
                on_done(outcome)
        outcomes.append(outcome)
    return outcomes
