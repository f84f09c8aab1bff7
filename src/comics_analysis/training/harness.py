"""One training harness for every model (issue 15): the Accelerator, the run folder, checkpoints
with exact resume, the metrics log, the best model, stop conditions, the progress bar and the
result. The model's own loop (batches, forward, backward, evaluation) stays with the model
(``training.closure_lite``, ``training.cosmo_pss``) and calls :class:`TrainingRun`.

Run folder (the same for every model)::

    OUT/train_config.json        the config dataclass of the run
    OUT/metrics.jsonl            one JSON line per logged train step and per evaluation
                                 ({"step", "split": "train" | "validation", ...})
    OUT/run_info.json            processes that really ran (rank, pid), device, model-specific facts
    OUT/checkpoints/step-NNNNNNN accelerate save_state (model, optimiser, scheduler, every RNG)
                                 + trainer_state.json (step, epoch, data position, best so far);
                                 the last ``keep_checkpoints`` are kept
    OUT/best/, OUT/final/        save_pretrained output + training_info.json; best by the
                                 model's validation metric, final at the end of training

A resumed run (``resume=True``: the latest finished checkpoint, or a checkpoint folder) restores
all of it, drops the log lines written after the checkpoint and continues with the same numbers
as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from .utils import CHECKPOINT_PREFIX, MetricsLog, checkpoint_dirs, resolve_mixed_precision

log = logging.getLogger(__name__)

TRAINER_STATE = "trainer_state.json"
TRAINING_INFO = "training_info.json"


@dataclass
class TrainResult:
    """What a training run returns (both models)."""

    out: Path
    step: int  # optimiser steps done
    final_dir: Path | None  # None while paused
    best_dir: Path | None
    metrics: dict[str, Any]  # the last evaluation ({} while paused)
    best: dict[str, Any] | None  # {"metric", "value", "step", "epoch"}
    wall_time_s: float
    paused: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)  # model-specific per-epoch records
    info: dict[str, Any] = field(default_factory=dict)  # model-specific facts (books, class weights...)

    def summary(self) -> list[str]:
        """Lines for a terminal."""
        if self.paused:
            return [f"paused at step {self.step}; continue with the same settings and resume"]
        lines = [f"trained {self.step} steps in {self.wall_time_s:.1f} s; final model: {self.final_dir}"]
        if self.best_dir is not None and self.best and self.best.get("value") is not None:
            best = self.best
            lines.append(
                f"best model ({best['metric']} = {best['value']:.4f} at step {best['step']}): {self.best_dir}"
            )
        lines += [
            f"  {key:<28}{value:.4f}" for key, value in self.metrics.items() if isinstance(value, float)
        ]
        lines += [f"  {key:<28}{value}" for key, value in self.info.items()]
        return lines


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def trackers(report_to: str) -> list[str] | None:
    """Accelerate tracker names: ``auto`` is tensorboard when installed, ``none`` nothing."""
    if report_to in ("none", ""):
        return None
    if report_to == "auto":
        from accelerate.utils import is_tensorboard_available

        return ["tensorboard"] if is_tensorboard_available() else None
    return [name.strip() for name in report_to.split(",") if name.strip()]


def better(metric: str, new: float | None, old: float | None) -> bool:
    """Is ``new`` better than ``old`` (lower for losses, higher otherwise; NaN never is)?"""
    if new is None or (isinstance(new, float) and math.isnan(new)):
        return False
    if old is None:
        return True
    return new < old if metric == "loss" else new > old


def find_checkpoint(out: Path, resume: str | Path | bool) -> Path:
    """The checkpoint to resume from: ``True`` / ``"latest"`` the last finished one in
    ``OUT/checkpoints``, else the folder given."""
    if resume is True or resume == "latest":
        found = checkpoint_dirs(out / "checkpoints")
        if not found:
            raise FileNotFoundError(f"resume: no finished checkpoint in {out / 'checkpoints'}")
        return found[-1]
    checkpoint = Path(resume)
    if not (checkpoint / TRAINER_STATE).is_file():
        raise FileNotFoundError(f"resume: {checkpoint} is not a finished checkpoint (no {TRAINER_STATE})")
    return checkpoint


class TrainingRun:
    """The Accelerator and the run folder of one training run.

    Order of use: create it (Accelerator; resume checks), build the model and optimiser,
    :meth:`prepare`, :meth:`begin` (restores a checkpoint, writes train_config.json and
    run_info.json), then per optimiser step :meth:`step_done` and as needed :meth:`log`,
    :meth:`update_best`, :meth:`save_checkpoint`, :meth:`should_stop`; last :meth:`finish`.
    ``state`` (step, epoch, best...; saved in every checkpoint) is the loop's to extend.

    The run settings come from the config: ``out``, ``mixed_precision``, ``report_to``,
    ``keep_checkpoints``, ``show_progress`` and, where the config has them, ``grad_accum``,
    ``max_time_s`` and ``stop_after``.
    """

    def __init__(
        self,
        config: Any,
        *,
        name: str,
        resume: str | Path | bool | None = None,
        resume_keys: tuple[str, ...] = (),
        best_metric: str = "loss",
    ):
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        self.config = config
        self.name = name
        self.out = Path(config.out)
        self.started = time.time()
        self.mixed_precision = resolve_mixed_precision(config.mixed_precision)
        self.trackers = trackers(config.report_to)
        self.keep_checkpoints = config.keep_checkpoints
        self.best_metric = best_metric
        self.show_progress = config.show_progress
        self.max_time_s = getattr(config, "max_time_s", None)
        self.stop_after = getattr(config, "stop_after", None)
        self.accelerator = Accelerator(
            mixed_precision=self.mixed_precision,
            gradient_accumulation_steps=getattr(config, "grad_accum", 1),
            log_with=self.trackers,
            project_dir=str(self.out),
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
        self.main = self.accelerator.is_main_process
        self.world = self.accelerator.num_processes
        self.rank = self.accelerator.process_index
        self.checkpoint = find_checkpoint(self.out, resume) if resume else None
        if self.checkpoint is not None:
            self._check_same_run(resume_keys)
        self.overwrite = bool(getattr(config, "overwrite", False))
        previous = [p for p in (self.out / "checkpoints", self.out / "train_config.json") if p.exists()]
        if self.checkpoint is None and previous and not self.overwrite:
            raise FileExistsError(
                f"{self.out} holds a previous run ({previous[0].name}); resume it (resume / --resume), "
                "start afresh over it (overwrite / --overwrite), or choose another run folder"
            )
        self.state: dict[str, Any] = {
            "step": 0,
            "epoch": 0,
            "best": None,
            "best_step": None,
            "best_epoch": None,
            "best_metrics": None,
        }
        self.metrics_log = MetricsLog(self.out / "metrics.jsonl", enabled=self.main)
        self.first_step = 0
        self.bar = None

    @property
    def device(self):
        return self.accelerator.device

    def _check_same_run(self, keys: tuple[str, ...]) -> None:
        path = self.out / "train_config.json"
        saved = json.loads(path.read_text()) if path.is_file() else {}
        for key in keys:
            now = getattr(self.config, key)
            if key in saved and saved[key] != (list(now) if isinstance(now, tuple) else now):
                raise ValueError(f"resume: {key} was {saved[key]!r} in {path}, now {now!r}")

    def prepare(self, *objects, checkpointed: tuple = ()):
        """``accelerator.prepare`` of the model, optimiser...; ``checkpointed``: further objects with
        ``state_dict`` (a scheduler stepped by hand) saved and restored with every checkpoint."""
        prepared = self.accelerator.prepare(*objects)
        for obj in checkpointed:
            self.accelerator.register_for_checkpointing(obj)
        return prepared

    def begin(self, state: dict[str, Any] | None = None, run_info: dict[str, Any] | None = None) -> dict:
        """Restore the checkpoint (when resuming), write train_config.json and run_info.json, start
        the trackers. ``state``: the loop's own keys with their initial values. Returns the state."""
        import torch

        self.state.update(state or {})
        if self.checkpoint is not None:
            self.accelerator.load_state(str(self.checkpoint))
            self.state.update(json.loads((self.checkpoint / TRAINER_STATE).read_text()))
            self.metrics_log.truncate_after(self.state["step"])
            log.info("resumed from %s at step %d", self.checkpoint, self.state["step"])
        elif self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            self.metrics_log.path.unlink(missing_ok=True)
            if self.overwrite:  # a fresh run: no checkpoint of the old one may be resumed later
                shutil.rmtree(self.out / "checkpoints", ignore_errors=True)
        self.first_step = self.state["step"]
        config = dataclasses.asdict(self.config)
        if self.main:
            write_json(self.out / "train_config.json", config)
        # proof of the processes that really ran: every rank contributes its (rank, pid)
        ids = self.accelerator.gather(torch.tensor([[self.rank, os.getpid()]], device=self.device))
        info = {
            "processes": [{"rank": int(r), "pid": int(p)} for r, p in ids.cpu().tolist()],
            "num_processes": self.world,
            "device": str(self.device),
            "mixed_precision": self.mixed_precision,
            "distributed_type": str(self.accelerator.distributed_type),
            **(run_info or {}),
            "torch_threads": torch.get_num_threads(),
        }
        if self.main:
            write_json(self.out / "run_info.json", info)
        if self.trackers:
            flat = {k: v for k, v in config.items() if isinstance(v, int | float | str | bool)}
            self.accelerator.init_trackers(self.name, config=flat)
        return self.state

    def progress(self, total: int, initial: int, unit: str = "step"):
        """The run's tqdm bar (main process, ``show_progress``)."""
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total,
            initial=initial,
            desc=self.name,
            unit=unit,
            disable=not (self.main and self.show_progress),
        )
        return self.bar

    def step_done(self, bar: bool = True) -> int:
        """Count one optimiser step (and advance the bar when it counts steps)."""
        self.state["step"] += 1
        if bar and self.bar is not None:
            self.bar.update(1)
        return self.state["step"]

    def mean_across_processes(self, values: dict[str, list[float]]) -> dict[str, float]:
        """The mean of each list, averaged over the processes."""
        import numpy as np
        import torch

        means = torch.tensor([np.mean(v) for v in values.values()], device=self.device)
        means = self.accelerator.reduce(means, reduction="mean").cpu().tolist()
        return dict(zip(values, means))

    def log(self, record: dict[str, Any]) -> None:
        """One line of OUT/metrics.jsonl (``step`` and ``split`` first) and the trackers."""
        record = {"step": self.state["step"], **record}
        self.metrics_log.write(record)
        if self.trackers:
            prefix = "val" if record.get("split") == "validation" else record.get("split", "train")
            scalars = {
                f"{prefix}/{k}": v
                for k, v in record.items()
                if k not in ("step", "split") and isinstance(v, int | float) and not isinstance(v, bool)
            }
            self.accelerator.log(scalars, step=self.state["step"])

    def training_info(self, metrics: dict[str, Any] | None, **extra) -> dict[str, Any]:
        """``training_info.json`` of an exported model folder."""
        return {
            "step": self.state["step"],
            "epoch": self.state["epoch"],
            "train_config": dataclasses.asdict(self.config),
            **extra,
            "metrics": metrics,
            "best_metric": self.best_metric,
            "num_processes": self.world,
            "mixed_precision": self.mixed_precision,
            "wall_time_s": round(time.time() - self.started, 1),
            "comics_analysis_version": __version__,
        }

    def export(self, name: str, save: Callable[[Path], None], info: dict[str, Any]) -> Path:
        """``OUT/name``: ``save(folder)`` (save_pretrained...) + training_info.json, written beside
        and swapped in (main process only)."""
        folder = self.out / name
        if self.main:
            tmp = folder.with_name(folder.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            save(tmp)
            write_json(tmp / TRAINING_INFO, info)
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        return folder

    def update_best(self, metrics: dict[str, Any], export: Callable[[dict[str, Any]], None]) -> bool:
        """Record ``metrics`` as the best so far when its ``best_metric`` is better, and call
        ``export(metrics)`` then (every process: it exports on the main one)."""
        value = metrics[self.best_metric]
        if not better(self.best_metric, value, self.state["best"]):
            return False
        self.state.update(
            best=value, best_step=self.state["step"], best_epoch=self.state["epoch"], best_metrics=metrics
        )
        export(metrics)
        return True

    def save_checkpoint(self) -> Path:
        """``OUT/checkpoints/step-NNNNNNN`` (accelerate state + trainer_state.json); older ones past
        ``keep_checkpoints`` are removed."""
        folder = self.out / "checkpoints" / f"{CHECKPOINT_PREFIX}{self.state['step']:07d}"
        self.accelerator.save_state(str(folder))
        self.accelerator.wait_for_everyone()
        if self.main:
            write_json(folder / TRAINER_STATE, self.state)  # last: marks the checkpoint finished
            for old in checkpoint_dirs(self.out / "checkpoints")[: -self.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        self.accelerator.wait_for_everyone()
        return folder

    def should_stop(self) -> tuple[bool, bool]:
        """(stop: ``max_time_s`` is reached on any process, paused: ``stop_after`` steps of this
        invocation are done)."""
        import torch

        stop = self.max_time_s is not None and time.time() - self.started > self.max_time_s
        if self.max_time_s is not None and self.world > 1:  # every process must agree to stop
            flag = torch.tensor(float(stop), device=self.device)
            stop = bool(self.accelerator.reduce(flag, "sum") > 0)
        paused = self.stop_after is not None and self.state["step"] - self.first_step >= self.stop_after
        if stop:
            log.warning("stopping at step %d: max_time_s=%s reached", self.state["step"], self.max_time_s)
        elif paused:
            log.warning(
                "pausing at step %d (stop_after=%d); resume to continue", self.state["step"], self.stop_after
            )
        return stop, paused

    def finish(
        self,
        metrics: dict[str, Any],
        *,
        paused: bool = False,
        history: list[dict[str, Any]] | None = None,
        info: dict[str, Any] | None = None,
    ) -> TrainResult:
        """Close the bar and the trackers; the result (``metrics``: the last evaluation)."""
        if self.bar is not None:
            self.bar.close()
        self.accelerator.wait_for_everyone()
        self.accelerator.end_training()
        state = self.state
        best_dir = self.out / "best" if state["best_step"] is not None and not paused else None
        return TrainResult(
            out=self.out,
            step=state["step"],
            final_dir=None if paused else self.out / "final",
            best_dir=best_dir,
            metrics={} if paused else metrics,
            best=None
            if paused
            else {
                "metric": self.best_metric,
                "value": state["best"],
                "step": state["best_step"],
                "epoch": state["best_epoch"],
            },
            wall_time_s=time.time() - self.started,
            paused=paused,
            history=list(history or []),
            info=dict(info or {}),
        )


def compact_run(out: str | Path, *, keep: str = "final", half: bool = False) -> int:
    """Shrink a finished run folder to one model: remove ``OUT/checkpoints`` and the model folder
    other than ``keep`` (``"final"`` or ``"best"``); with ``half``, store that model's float32
    weights as float16 (half the bytes; ``from_pretrained`` loads them back as the config's
    float32). The run can no longer be resumed. Returns the bytes freed."""
    import torch
    from safetensors.torch import load_file, save_file

    if keep not in ("final", "best"):
        raise ValueError(f"keep must be final or best, got {keep!r}")
    out = Path(out)
    if not (out / keep / "config.json").is_file():
        raise FileNotFoundError(f"{out / keep}: no model to keep (no config.json)")

    def size(path: Path) -> int:
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0

    before = size(out)
    for folder in (out / "checkpoints", out / ("best" if keep == "final" else "final")):
        shutil.rmtree(folder, ignore_errors=True)
    if half:
        for file in sorted((out / keep).glob("*.safetensors")):
            weights = load_file(file)
            halved = {k: v.half() if v.dtype == torch.float32 else v for k, v in weights.items()}
            save_file(halved, str(file) + ".tmp", metadata={"format": "pt"})
            os.replace(str(file) + ".tmp", file)
    return before - size(out)


__all__ = [
    "TRAINER_STATE",
    "TRAINING_INFO",
    "TrainResult",
    "TrainingRun",
    "better",
    "compact_run",
    "find_checkpoint",
    "trackers",
    "write_json",
]
