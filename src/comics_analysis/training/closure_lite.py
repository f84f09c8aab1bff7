"""Training Closure Lite with Accelerate (issue 7; DESIGN 4.1).

A readable loop over an ``Accelerator``: mixed precision when the device has it, gradient
accumulation, gradient clipping, a warm-up + cosine schedule stepped once per optimiser step,
AdamW parameter groups (backbone towers at ``lr * backbone_lr_mult``), frozen towers or PEFT
LoRA adapters on the towers, evaluation on held-out pages every ``eval_every`` steps with the
metrics of DESIGN 4.1, checkpoints with exact resume (model, optimiser, scheduler, every RNG,
step and data position), the best model by a named metric, a tqdm bar and a JSON-lines log.

Held-out evaluation lives in ``closure_lite_eval`` and the LoRA helpers in ``closure_lite_lora``
(both re-exported here).

Output folder::

    OUT/train_config.json        the TrainConfig of the run
    OUT/metrics.jsonl            one line per logged train step and per evaluation
    OUT/run_info.json            processes that really ran (rank, pid), device, parameter counts
    OUT/checkpoints/step-NNNNNNN accelerate state + trainer_state.json (the last `keep_checkpoints`)
    OUT/best/, OUT/final/        save_pretrained model + processor + training_info.json
    OUT/lora/{base,adapter}/     with LoRA: the un-merged base model and the PEFT adapter

Batches are formed here, not by a DataLoader: the pages of epoch ``e`` are visited in a
permutation drawn from ``seed + e``, and each optimiser micro-step takes the next
``batch_size * num_processes`` of them (rank ``r`` takes its slice). The data position is
therefore two integers, which a checkpoint stores, and a resumed run reads exactly the batches
the uninterrupted run would have read.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..modeling.closure_lite import (
    PRESETS,
    VARIANTS,
    ClosureLiteConfig,
    ClosureLiteModel,
    ClosureLiteProcessor,
)
from .closure_lite_eval import epoch_order, evaluate, process
from .closure_lite_lora import (
    TOWERS,
    _core,
    _tower_of,
    apply_lora,
    load_lora,
    lora_towers,
    merged_copy,
    parameter_counts,
    save_lora,
)
from .data import load_page_splits
from .utils import MetricsLog, checkpoint_dirs, parameter_groups, resolve_mixed_precision, warmup_cosine

log = logging.getLogger(__name__)

METRICS = (
    "next_panel_accuracy",
    "reading_order_exact",
    "reading_order_kendall_tau",
    "panel_page_recall@1",
    "panel_page_recall@10",
    "text_panel_recall@10",
    "image_panel_recall@10",
    "loss",
)
TRAINING_INFO = "training_info.json"


@dataclass
class TrainConfig:
    """Everything a Closure Lite run depends on (saved as ``OUT/train_config.json``)."""

    out: str = "runs/closure-lite"
    dataset: str = "synthetic"  # 'synthetic' or a path (see training.data)
    data_config: str | None = None  # comic_pages config (aligned / all / perfect_match)
    image_root: str | None = None
    variant: str = "base"
    model_config: str = "tiny"  # preset name or a config.json / model folder
    model_overrides: dict[str, Any] = field(default_factory=dict)  # ClosureLiteConfig fields
    use_layout: bool = True
    steps: int = 1000  # optimiser steps
    batch_size: int = 16  # pages per process per micro-step
    grad_accum: int = 1
    lr: float = 5e-4
    backbone_lr_mult: float = 0.1
    weight_decay: float = 0.01
    warmup_steps: int = 50
    min_lr_ratio: float = 0.0
    max_grad_norm: float = 1.0
    mixed_precision: str = "auto"  # auto / no / fp16 / bf16
    seed: int = 0
    freeze_backbones: str = "none"  # none / vision / text / both
    lora: str | None = None  # None / auto / vision / text / both
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    eval_every: int = 200
    eval_batch_size: int = 32
    max_eval_pages: int | None = None
    save_every: int | None = None  # default: eval_every
    keep_checkpoints: int = 2
    best_metric: str = "next_panel_accuracy"
    log_every: int = 10
    max_time_s: float | None = None  # stop early (after an optimiser step) past this wall time
    stop_after: int | None = None  # leave after this many optimiser steps of this invocation (time slices)
    val_fraction: float = 0.1
    synthetic_pages: int = 800
    synthetic_val_pages: int = 100
    synthetic_size: tuple[int, int] = (530, 800)
    max_text_length: int | None = None
    report_to: str = "auto"  # auto (tensorboard when installed) / none / tracker names, comma list
    progress: bool = True

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"--variant: expected one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.freeze_backbones not in ("none", "vision", "text", "both"):
            raise ValueError(
                f"--freeze-backbones: expected vision, text or both, got {self.freeze_backbones!r}"
            )
        if self.lora not in (None, "auto", "vision", "text", "both"):
            raise ValueError(f"--lora: expected auto, vision, text or both, got {self.lora!r}")
        for name in ("steps", "batch_size", "grad_accum", "eval_every", "eval_batch_size", "log_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.best_metric not in METRICS:
            raise ValueError(f"--best-metric: expected one of {', '.join(METRICS)}, got {self.best_metric!r}")
        self.synthetic_size = tuple(self.synthetic_size)

    @property
    def checkpoint_every(self) -> int:
        return self.save_every or self.eval_every


@dataclass
class TrainResult:
    out: Path
    step: int
    final_dir: Path
    best_dir: Path | None
    metrics: dict[str, float]  # final evaluation
    best: dict[str, Any] | None
    wall_time_s: float


# --- model ---------------------------------------------------------------------------------------
def resolve_model_config(name_or_path: str, variant: str, use_layout: bool, **overrides) -> ClosureLiteConfig:
    """A preset (tiny / lite / base) or a config.json file / model folder, with the variant and
    layout switch applied."""
    kwargs = {"variant": variant, "use_layout": use_layout, **overrides}
    if variant in VARIANTS:  # the variant decides these unless overridden explicitly
        kwargs = {**VARIANTS[variant], **kwargs}
    if name_or_path in PRESETS:
        return ClosureLiteConfig.from_preset(name_or_path, **kwargs)
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"--model-config: {name_or_path!r} is neither a preset ({', '.join(PRESETS)}) nor a config file"
        )
    data = json.loads(path.read_text())
    for key in ("auto_map", "architectures", "transformers_version", "model_type"):
        data.pop(key, None)
    return ClosureLiteConfig.with_backbones(**{**data, **kwargs})


def _better(metric: str, new: float, old: float | None) -> bool:
    if new is None or (isinstance(new, float) and math.isnan(new)):
        return False
    if old is None:
        return True
    return new < old if metric == "loss" else new > old


# --- the loop ------------------------------------------------------------------------------------
def _trackers(report_to: str) -> list[str] | None:
    if report_to in ("none", ""):
        return None
    if report_to == "auto":
        from accelerate.utils import is_tensorboard_available

        return ["tensorboard"] if is_tensorboard_available() else None
    return [name.strip() for name in report_to.split(",") if name.strip()]


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _export(model, processor, folder: Path, info: dict[str, Any]) -> None:
    """save_pretrained of the (merged) model + processor + training_info.json, replacing ``folder``."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged_copy(model).save_pretrained(tmp)
    processor.save_pretrained(tmp)
    _write_json(tmp / TRAINING_INFO, info)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def train_closure_lite(cfg: TrainConfig, resume: str | bool | None = None) -> TrainResult:
    """Train per ``cfg``; ``resume``: True (the latest checkpoint in ``OUT/checkpoints``) or a
    checkpoint folder. Returns where the models went and the final metrics."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, set_seed
    from tqdm.auto import tqdm

    out = Path(cfg.out)
    started = time.time()
    mixed = resolve_mixed_precision(cfg.mixed_precision)
    trackers = _trackers(cfg.report_to)
    accelerator = Accelerator(
        mixed_precision=mixed,
        gradient_accumulation_steps=cfg.grad_accum,
        log_with=trackers,
        project_dir=str(out),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    main = accelerator.is_main_process
    world, rank = accelerator.num_processes, accelerator.process_index

    checkpoint = None
    if resume:
        if resume is True or resume == "latest":
            found = checkpoint_dirs(out / "checkpoints")
            if not found:
                raise FileNotFoundError(f"--resume: no finished checkpoint in {out / 'checkpoints'}")
            checkpoint = found[-1]
        else:
            checkpoint = Path(resume)
            if not (checkpoint / "trainer_state.json").is_file():
                raise FileNotFoundError(f"--resume: {checkpoint} is not a finished checkpoint")
        saved = (
            json.loads((out / "train_config.json").read_text())
            if (out / "train_config.json").is_file()
            else {}
        )
        for key in (
            "batch_size",
            "grad_accum",
            "seed",
            "dataset",
            "model_config",
            "variant",
            "use_layout",
            "lora",
        ):
            if key in saved and saved[key] != getattr(cfg, key):
                raise ValueError(
                    f"--resume: {key} was {saved[key]!r} in {out / 'train_config.json'}, "
                    f"now {getattr(cfg, key)!r}"
                )

    set_seed(cfg.seed)
    config = resolve_model_config(cfg.model_config, cfg.variant, cfg.use_layout, **cfg.model_overrides)
    splits = load_page_splits(
        cfg.dataset,
        config=cfg.data_config,
        image_root=cfg.image_root,
        val_fraction=cfg.val_fraction,
        synthetic_pages=cfg.synthetic_pages,
        synthetic_val_pages=cfg.synthetic_val_pages,
        synthetic_size=cfg.synthetic_size,
        seed=cfg.seed,
    )
    global_batch = cfg.batch_size * world
    if len(splits.train) < global_batch:
        raise ValueError(
            f"{len(splits.train)} training pages are fewer than one batch "
            f"({cfg.batch_size} x {world} processes)"
        )
    model = ClosureLiteModel.from_backbones(config)
    processor_kwargs = {} if cfg.max_text_length is None else {"max_text_length": cfg.max_text_length}
    processor = ClosureLiteProcessor.from_config(config, **processor_kwargs)
    frozen = (
        TOWERS
        if cfg.freeze_backbones == "both"
        else ()
        if cfg.freeze_backbones == "none"
        else (cfg.freeze_backbones,)
    )
    for name, param in model.named_parameters():
        if _tower_of(name) in frozen:
            param.requires_grad_(False)
    if cfg.lora:
        towers = tuple(t for t in lora_towers(config, cfg.lora) if t not in frozen)
        if not towers:
            raise ValueError("--lora: every tower it would adapt is frozen (--freeze-backbones)")
        model = apply_lora(model, towers, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout)
    counts = parameter_counts(model)
    groups = parameter_groups(
        model.named_parameters(),
        cfg.lr,
        cfg.weight_decay,
        lambda n: _tower_of(n) is not None,
        cfg.backbone_lr_mult,
    )
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr)
    # stepped by hand once per optimiser step (an accelerate-prepared scheduler steps once per process)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    core = _core(accelerator.unwrap_model(model))

    state = {"step": 0, "epoch": 0, "cursor": 0, "best": None, "best_step": None, "best_metrics": None}
    metrics_log = MetricsLog(out / "metrics.jsonl", enabled=main)
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        state.update(json.loads((checkpoint / "trainer_state.json").read_text()))
        metrics_log.truncate_after(state["step"])
        log.info("resumed from %s at step %d", checkpoint, state["step"])
    elif main:
        out.mkdir(parents=True, exist_ok=True)
        metrics_log.path.unlink(missing_ok=True)
    if main:
        _write_json(out / "train_config.json", dataclasses.asdict(cfg))
    # proof of the processes that really ran: every rank contributes its (rank, pid)
    ids = accelerator.gather(torch.tensor([[rank, os.getpid()]], device=accelerator.device)).cpu().tolist()
    run_info = {
        "processes": [{"rank": int(r), "pid": int(p)} for r, p in ids],
        "num_processes": world,
        "device": str(accelerator.device),
        "mixed_precision": mixed,
        "distributed_type": str(accelerator.distributed_type),
        "parameters": counts,
        "data": splits.info,
        "torch_threads": torch.get_num_threads(),
    }
    if main:
        _write_json(out / "run_info.json", run_info)
    if trackers:
        flat = {k: v for k, v in dataclasses.asdict(cfg).items() if isinstance(v, int | float | str | bool)}
        accelerator.init_trackers("closure-lite", config=flat)

    def info_for(metrics: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "step": state["step"],
            "train_config": dataclasses.asdict(cfg),
            "model_config": {
                "preset": cfg.model_config,
                "variant": cfg.variant,
                "use_layout": cfg.use_layout,
                "embed_dim": config.embed_dim,
                "vision_backbone": config.vision_backbone or "small ViT from scratch",
                "text_backbone": config.text_backbone or "small BERT from scratch (character vocabulary)",
                "enabled_losses": list(config.enabled_losses),
            },
            "data": splits.info,
            "metrics": metrics,
            "best_metric": cfg.best_metric,
            "parameters": counts,
            "num_processes": world,
            "mixed_precision": mixed,
            "wall_time_s": round(time.time() - started, 1),
            "comics_analysis_version": __version__,
        }

    def run_eval() -> dict[str, Any]:
        metrics = evaluate(
            core, processor, splits.validation, cfg.eval_batch_size, cfg.max_eval_pages, cfg.seed
        )
        record = {"step": state["step"], "split": "validation", **metrics}
        metrics_log.write(record)
        if trackers:
            accelerator.log(
                {f"val/{k}": v for k, v in metrics.items() if isinstance(v, float)}, step=state["step"]
            )
        if _better(cfg.best_metric, metrics[cfg.best_metric], state["best"]):
            state.update(best=metrics[cfg.best_metric], best_step=state["step"], best_metrics=metrics)
            if main:
                _export(accelerator.unwrap_model(model), processor, out / "best", info_for(metrics))
        return metrics

    def save_checkpoint() -> None:
        folder = out / "checkpoints" / f"step-{state['step']:07d}"
        accelerator.save_state(str(folder))
        accelerator.wait_for_everyone()
        if main:
            _write_json(folder / "trainer_state.json", state)
            for old in checkpoint_dirs(out / "checkpoints")[: -cfg.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        accelerator.wait_for_everyone()

    order = epoch_order(len(splits.train), cfg.seed, state["epoch"])

    def next_batch():
        nonlocal order
        if state["cursor"] + global_batch > len(order):  # drop the remainder; new permutation
            state["epoch"] += 1
            state["cursor"] = 0
            order = epoch_order(len(splits.train), cfg.seed, state["epoch"])
        start = state["cursor"] + rank * cfg.batch_size
        state["cursor"] += global_batch
        batch, _ = process(processor, splits.train, order[start : start + cfg.batch_size])
        return {k: v.to(accelerator.device) for k, v in batch.items()}

    bar = tqdm(
        total=cfg.steps, initial=state["step"], disable=not (main and cfg.progress), desc="closure-lite"
    )
    model.train()
    running: dict[str, list[float]] = {}
    last_metrics = None
    step_time = time.time()
    first_step = state["step"]
    while state["step"] < cfg.steps:
        with accelerator.accumulate(model):
            out_ = model(**next_batch())
            accelerator.backward(out_.loss)
            grad_norm = None
            if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                grad_norm = accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        running.setdefault("loss", []).append(float(out_.loss.detach()))
        for name, value in out_.losses.items():
            running.setdefault(name, []).append(float(value))
        if not accelerator.sync_gradients:
            continue
        lr_used = scheduler.get_last_lr()[0]  # the head group's LR of this optimiser step
        if not accelerator.optimizer_step_was_skipped:
            scheduler.step()
        state["step"] += 1
        bar.update(1)
        if state["step"] % cfg.log_every == 0 or state["step"] == cfg.steps:
            means = torch.tensor([np.mean(v) for v in running.values()], device=accelerator.device)
            means = accelerator.reduce(means, reduction="mean").cpu().tolist()
            record = {"step": state["step"], "split": "train", **dict(zip(running, means))}
            record["lr"] = lr_used
            if grad_norm is not None:
                record["grad_norm"] = float(grad_norm)
            record["steps_per_s"] = cfg.log_every / max(1e-9, time.time() - step_time)
            step_time = time.time()
            metrics_log.write(record)
            if trackers:
                accelerator.log(
                    {f"train/{k}": v for k, v in record.items() if k != "split"}, step=state["step"]
                )
            bar.set_postfix(loss=f"{record['loss']:.3f}")
        running = {}
        stop = cfg.max_time_s is not None and time.time() - started > cfg.max_time_s
        if cfg.max_time_s is not None and world > 1:  # every process must agree to stop
            stop = bool(accelerator.reduce(torch.tensor(float(stop), device=accelerator.device), "sum") > 0)
        paused = cfg.stop_after is not None and state["step"] - first_step >= cfg.stop_after
        if state["step"] % cfg.eval_every == 0 or state["step"] == cfg.steps or stop:
            last_metrics = run_eval()
        if state["step"] % cfg.checkpoint_every == 0 or state["step"] == cfg.steps or stop or paused:
            save_checkpoint()
        if stop:
            log.warning("stopping at step %d: max_time_s=%s reached", state["step"], cfg.max_time_s)
            break
        if paused:
            log.warning(
                "pausing at step %d (stop_after=%d); continue with --resume", state["step"], cfg.stop_after
            )
            bar.close()
            accelerator.end_training()
            return TrainResult(out, state["step"], out / "final", None, {}, None, time.time() - started)
    bar.close()
    if last_metrics is None:  # resumed after the last step: evaluate the restored model
        last_metrics = run_eval()
    final_dir = out / "final"
    if main:
        unwrapped = accelerator.unwrap_model(model)
        _export(unwrapped, processor, final_dir, info_for(last_metrics))
        if cfg.lora:
            save_lora(unwrapped, out / "lora", processor)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    best_dir = out / "best" if state["best_step"] is not None else None
    return TrainResult(
        out=out,
        step=state["step"],
        final_dir=final_dir,
        best_dir=best_dir,
        metrics=last_metrics,
        best={"metric": cfg.best_metric, "value": state["best"], "step": state["best_step"]},
        wall_time_s=time.time() - started,
    )


__all__ = [
    "METRICS",
    "TrainConfig",
    "TrainResult",
    "apply_lora",
    "evaluate",
    "load_lora",
    "merged_copy",
    "parameter_counts",
    "resolve_model_config",
    "save_lora",
    "train_closure_lite",
]
