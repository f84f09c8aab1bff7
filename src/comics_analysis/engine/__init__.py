"""Where the per-page stages run: ``local`` (this process, or a process pool: the stage's own
code) or ``ray`` (Ray Data on an existing cluster, ``address``, or a local one).

A stage hands the engine its *units* (a book for ``annotate``, a store chunk for ``embed``: a
unit keeps its pages in order and is written whole by one worker), a ``setup`` run once per
worker (load the model or the OCR engine) and a ``work(state, unit)`` that writes the unit's
files atomically and returns a small, picklable result. :func:`run_units` returns one
:class:`UnitOutcome` per unit, in the units' order: its result, or the reason it failed (an
exception in ``work``, or a worker that died more often than ``max_retries``), so the stage can
record failed pages in its errors table and leave them for a rerun to resume.

Ray is the ``ray`` extra (``pip install "comics-analysis[ray]"``); without it the local engine
runs as before and asking for ``ray`` fails at once, naming the extra.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

ENGINES = ("local", "ray")
RAY_MISSING = (
    'the ray engine needs Ray Data: install the ray extra (pip install "comics-analysis[ray]", '
    'or pip install -e ".[ray]" in a checkout)'
)


@dataclass(frozen=True)
class EngineOptions:
    """How a stage runs. ``address``: an existing Ray cluster (``auto``, ``ray://head:10001``);
    None starts a local cluster of ``num_cpus`` CPUs (default: all) for the run and stops it
    after. Each worker (a Ray actor: one ``setup``, then unit after unit) holds
    ``cpus_per_worker`` CPUs and ``gpus_per_worker`` GPUs; ``workers`` caps how many run at once
    (default: as many as the cluster fits; for API-bound stages, the concurrency limit). A unit
    whose worker died is retried ``max_retries`` times, on a restarted worker."""

    engine: str = "local"
    address: str | None = None
    num_cpus: int | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    workers: int | None = None
    max_retries: int = 3
    object_store_mb: int | None = 512  # a local cluster's object store (units and results are small)
    show_progress: bool = False

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.cpus_per_worker <= 0 or self.gpus_per_worker < 0:
            raise ValueError("cpus_per_worker must be > 0 and gpus_per_worker >= 0")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    @property
    def is_ray(self) -> bool:
        return self.engine == "ray"


@dataclass
class UnitOutcome:
    key: str
    result: Any = None
    error: str | None = None  # why the unit has no result; None when it has one

    @property
    def ok(self) -> bool:
        return self.error is None


def require_ray():
    """The ``ray`` module, or a RuntimeError naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise RuntimeError(RAY_MISSING) from None
    return ray


def run_units(
    units: Sequence[tuple[str, Any]],
    setup: Callable[[], Any] | None,
    work: Callable[[Any, Any], Any],
    options: EngineOptions,
    *,
    on_done: Callable[[UnitOutcome], None] | None = None,
) -> list[UnitOutcome]:
    """Run ``work(setup(), unit)`` for every ``(key, unit)`` of ``units`` (keys unique) and
    return their outcomes in the order of ``units``; ``on_done`` sees each outcome as it comes
    (in completion order; in the driver process, so it may write the stage's progress files).
    ``setup``, ``work`` and the units must pickle (module-level functions, ``functools.partial``)."""
    keys = [key for key, _ in units]
    if len(set(keys)) != len(keys):
        raise ValueError("unit keys must be unique")
    if options.is_ray:
        from .ray_data import run_ray  # lazy: ray is an optional extra, imported only for this engine

        return run_ray(units, setup, work, options, on_done)
    state = setup() if setup is not None else None
    outcomes = []
    for key, unit in units:
        try:
            outcome = UnitOutcome(key, result=work(state, unit))
        except Exception as exc:
            outcome = UnitOutcome(key, error=f"{type(exc).__name__}: {exc}")
        if on_done is not None:
            on_done(outcome)
        outcomes.append(outcome)
    return outcomes


__all__ = ["ENGINES", "RAY_MISSING", "EngineOptions", "UnitOutcome", "require_ray", "run_units"]
