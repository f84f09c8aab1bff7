"""Pieces every training loop shares: learning-rate schedule, parameter groups, the JSON-lines
metrics log, checkpoint folders and the mixed-precision choice."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "step-"


def warmup_cosine(warmup_steps: int, total_steps: int, min_ratio: float = 0.0):
    """LR multiplier of optimiser step ``s``: linear warm-up from 0 to 1 over ``warmup_steps``, then
    a cosine from 1 down to ``min_ratio`` at ``total_steps``.

    Kept instead of ``transformers.get_cosine_with_min_lr_schedule_with_warmup``: that warm-up
    gives ``s / warmup_steps`` (LR 0 at the first optimiser step), this one ``(s + 1) /
    warmup_steps``, so every warm-up learning rate, and the trained figures, would change."""

    def factor(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def parameter_groups(
    named_parameters: Iterable[tuple[str, Any]],
    lr: float,
    weight_decay: float,
    is_backbone: Callable[[str], bool] | None = None,
    backbone_lr_mult: float = 1.0,
) -> list[dict[str, Any]]:
    """AdamW groups: backbone (``is_backbone(name)``) at ``lr * backbone_lr_mult`` and the
    rest at ``lr``; biases, norms and other 1-d tensors without weight decay. Frozen parameters
    are left out; empty groups are dropped. Each group has a ``name`` for logging."""
    groups: dict[tuple[bool, bool], list] = {}
    for name, param in named_parameters:
        if not param.requires_grad:
            continue
        backbone = bool(is_backbone and is_backbone(name))
        decay = param.ndim >= 2 and "norm" not in name.lower()
        groups.setdefault((backbone, decay), []).append(param)
    out = []
    for (backbone, decay), params in sorted(groups.items()):
        out.append(
            {
                "name": f"{'backbone' if backbone else 'head'}{'' if decay else '_no_decay'}",
                "params": params,
                "lr": lr * (backbone_lr_mult if backbone else 1.0),
                "weight_decay": weight_decay if decay else 0.0,
            }
        )
    return out


def resolve_mixed_precision(value: str) -> str:
    """``auto``: bf16 on a GPU that supports it, else fp16 on a GPU, else ``no`` (CPU)."""
    if value != "auto":
        if value not in ("no", "fp16", "bf16"):
            raise ValueError(f"mixed precision must be auto, no, fp16 or bf16, got {value!r}")
        return value
    import torch

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"


def checkpoint_dirs(folder: str | Path) -> list[Path]:
    """``step-NNNNNNN`` checkpoint folders under ``folder``, oldest first (finished ones only:
    a checkpoint is finished when its ``trainer_state.json`` exists)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = re.fullmatch(rf"{CHECKPOINT_PREFIX}(\d+)", path.name)
        if match and (path / "trainer_state.json").is_file():
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


class MetricsLog:
    """Appends one JSON object per line to ``path`` (main process only); on resume, lines of steps
    after the resumed step (written by the interrupted run) are dropped first."""

    def __init__(self, path: str | Path, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled
        self.start = time.time()

    def truncate_after(self, step: int) -> None:
        if not self.enabled or not self.path.is_file():
            return
        kept = [
            line
            for line in self.path.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step
        ]
        self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {**record, "time_s": round(time.time() - self.start, 3)}
        with self.path.open("a") as handle:
            handle.write(json.dumps(record, sort_keys=False) + "\n")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics log."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


__all__ = [
    "MetricsLog",
    "checkpoint_dirs",
    "parameter_groups",
    "read_metrics",
    "resolve_mixed_precision",
    "warmup_cosine",
]
