"""Training of CoSMo PSS (DESIGN 4.2) from a feature store.

Training (:func:`train_pss`): an Accelerate loop over random windows of whole books (length
drawn from ``window_range`` pages, start uniform in the book), sqrt-inverse-frequency class
weights, optional label smoothing, random position offsets (config ``position_mode``),
validation macro-F1 after every epoch with early stopping, and exact resume: at the end of
every epoch ``OUT/checkpoint.pt`` holds model, optimiser, torch RNG and loop state, and an
epoch's windows come from a generator seeded by (seed, epoch), so a resumed run continues with
the same numbers as an uninterrupted one. The best model (by validation macro-F1) is written
with ``save_pretrained`` to ``OUT/model`` (remote code included).

Validation uses the inference of :mod:`comics_analysis.inference.pss` (``evaluate_books``:
per-book prediction with overlapping windows, metrics of :mod:`comics_analysis.metrics.pss`),
which also holds prediction, segments and the ``segment`` job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..dataspec.records import PAGE_TYPES
from ..inference.features import FeatureStore
from ..inference.pss import book_arrays, evaluate_books
from ..modeling.cosmo_pss import CosmoPssConfig, CosmoPssForPageClassification, page_scalars

log = logging.getLogger(__name__)


@dataclass
class PssTrainConfig:
    """Settings of :func:`train_pss` (all stored in ``OUT/train_config.json``)."""

    features: str
    out: str
    val_features: str | None = None  # default: ``val_fraction`` of the books of ``features``
    val_fraction: float = 0.2
    seed: int = 0
    epochs: int = 30
    windows_per_book: int = 4
    window_range: tuple[int, int] = (8, 48)
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.0
    patience: int = 5
    eval_window: int = 32
    eval_stride: int = 16
    hidden_size: int = 128
    layers: int = 2
    heads: int = 4
    transitions: str = "counted"
    max_offset: int = 64  # random position offset range (tokens), position_mode random_offset
    threads: int | None = None
    model_overrides: dict[str, Any] = field(default_factory=dict)


def split_books(book_ids: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic train/val split by a hash of (seed, book_id): the same book always lands in
    the same split whatever other books are present."""

    def score(book: str) -> float:
        return int(hashlib.sha256(f"{seed}:{book}".encode()).hexdigest()[:8], 16) / 2**32

    val = [b for b in book_ids if score(b) < val_fraction]
    train = [b for b in book_ids if score(b) >= val_fraction]
    if not train or (val_fraction > 0 and not val):
        raise ValueError(
            f"split of {len(book_ids)} books with val_fraction={val_fraction} left a split empty"
        )
    return train, val


def sqrt_inverse_weights(counts: Counter, labels: tuple[str, ...] = PAGE_TYPES) -> list[float]:
    """w_c = sqrt(N / (K * n_c)) for the K classes present, normalised to mean 1 over them;
    absent classes get 1.0 (they never appear as a target)."""
    present = [label for label in labels if counts.get(label, 0) > 0]
    total = sum(counts[label] for label in present)
    raw = {label: math.sqrt(total / (len(present) * counts[label])) for label in present}
    mean = sum(raw.values()) / len(raw)
    return [raw[label] / mean if label in raw else 1.0 for label in labels]


def sample_windows(
    books: list[dict[str, Any]], rng: np.random.Generator, per_book: int, window_range: tuple[int, int]
) -> list[tuple[int, int, int]]:
    """(book, start, length) windows, ``per_book`` per book, shuffled; length uniform in the range
    (capped at the book's length), start uniform in the book."""
    lo, hi = window_range
    windows = []
    for b, book in enumerate(books):
        n = len(book["page_ids"])
        for _ in range(per_book):
            length = min(n, int(rng.integers(lo, hi + 1)))
            start = int(rng.integers(0, n - length + 1))
            windows.append((b, start, length))
    order = rng.permutation(len(windows))
    return [windows[i] for i in order]


def collate(
    books: list[dict[str, Any]], windows: list[tuple[int, int, int]], offsets: list[int]
) -> dict[str, torch.Tensor]:
    """Padded batch of windows (scalars from each page's index in its whole book)."""
    size = max(length for _, _, length in windows)
    first = books[windows[0][0]]
    dv, dt = first["vision"].shape[1], first["text"].shape[1]
    batch = {
        "vision_features": torch.zeros(len(windows), size, dv),
        "text_features": torch.zeros(len(windows), size, dt),
        "text_mask": torch.zeros(len(windows), size, dtype=torch.bool),
        "page_mask": torch.zeros(len(windows), size, dtype=torch.bool),
        "scalars": torch.zeros(len(windows), size, 4),
        "labels": torch.full((len(windows), size), -100, dtype=torch.long),
        "story_start_labels": torch.full((len(windows), size), -1.0),
        "position_offset": torch.tensor(offsets, dtype=torch.long),
    }
    for row, (b, start, length) in enumerate(windows):
        book = books[b]
        n = len(book["page_ids"])
        sl = slice(start, start + length)
        batch["vision_features"][row, :length] = torch.from_numpy(book["vision"][sl])
        batch["text_features"][row, :length] = torch.from_numpy(book["text"][sl])
        batch["text_mask"][row, :length] = torch.from_numpy(book["text_mask"][sl].astype(bool))
        batch["page_mask"][row, :length] = True
        batch["scalars"][row, :length] = page_scalars(torch.arange(start, start + length), n)
        batch["labels"][row, :length] = torch.from_numpy(book["label_ids"][sl])
        batch["story_start_labels"][row, :length] = torch.from_numpy(book["starts"][sl])
    return batch


def _save_checkpoint(path: Path, model, optimizer, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "state": state,
        },
        tmp,
    )
    tmp.replace(path)


def train_pss(cfg: PssTrainConfig, resume: bool = False, show_progress: bool = True) -> dict[str, Any]:
    """Train on ``cfg.features``; returns the history, the best validation metrics and paths."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    store = FeatureStore(cfg.features)
    if cfg.val_features:
        train_ids = list(store.books())
        val_store = FeatureStore(cfg.val_features)
        val_books = book_arrays(val_store, list(val_store.books()))
    else:
        train_ids, val_ids = split_books(list(store.books()), cfg.val_fraction, cfg.seed)
        val_books = book_arrays(store, val_ids)
    train_books = book_arrays(store, train_ids)
    counts = Counter(t for b in train_books for t in b["page_types"] if t)
    weights = sqrt_inverse_weights(counts)
    set_seed(cfg.seed)
    config = CosmoPssConfig(
        vision_dim=int(store.vision.shape[1]),
        text_dim=int(store.text.shape[1]),
        bert_config={
            "hidden_size": cfg.hidden_size,
            "num_hidden_layers": cfg.layers,
            "num_attention_heads": cfg.heads,
            "intermediate_size": 4 * cfg.hidden_size,
        },
        class_weights=weights,
        label_smoothing=cfg.label_smoothing,
        transitions=cfg.transitions,
        **cfg.model_overrides,
    )
    model = CosmoPssForPageClassification(config)
    if cfg.transitions == "counted":
        model.set_counted_transitions([[i for i in b["label_ids"].tolist() if i >= 0] for b in train_books])
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
    )
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    model, optimizer = accelerator.prepare(model, optimizer)
    state = {"epoch": 0, "best_macro_f1": -1.0, "best_epoch": -1, "bad_epochs": 0, "history": []}
    checkpoint = out / "checkpoint.pt"
    if resume:
        if not checkpoint.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint}")
        saved = torch.load(checkpoint, weights_only=False)
        accelerator.unwrap_model(model).load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
        state = saved["state"]
        log.info("resumed from %s at epoch %d", checkpoint, state["epoch"])
    (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    started = time.perf_counter()
    while state["epoch"] < cfg.epochs and state["bad_epochs"] < cfg.patience:
        epoch = state["epoch"]
        rng = np.random.default_rng([cfg.seed, epoch])
        windows = sample_windows(train_books, rng, cfg.windows_per_book, cfg.window_range)
        model.train()
        losses = []
        for s in range(0, len(windows), cfg.batch_size):
            chunk = windows[s : s + cfg.batch_size]
            size = max(length for _, _, length in chunk)
            room = max(0, config.max_pages - size) * 2
            offsets = (
                rng.integers(0, min(cfg.max_offset, room) + 1, len(chunk)).tolist()
                if config.position_mode == "random_offset"
                else [0] * len(chunk)
            )
            batch = {k: v.to(accelerator.device) for k, v in collate(train_books, chunk, offsets).items()}
            output = model(**batch)
            accelerator.backward(output.loss)
            optimizer.step()
            optimizer.zero_grad()
            losses.append(float(output.loss.detach()))
        unwrapped = accelerator.unwrap_model(model)
        metrics = evaluate_books(unwrapped, val_books, cfg.eval_window, cfg.eval_stride)["model"]
        record = {
            "epoch": epoch,
            "loss": float(np.mean(losses)),
            "val_macro_f1": metrics["macro_f1"],
            "val_boundary_f1_1": metrics["boundary_f1_1"],
            "val_pq": metrics["pq"],
        }
        state["history"].append(record)
        log.info("epoch %d: %s", epoch, record)
        if show_progress:
            print(json.dumps(record))
        if metrics["macro_f1"] > state["best_macro_f1"]:
            state.update(best_macro_f1=metrics["macro_f1"], best_epoch=epoch, bad_epochs=0)
            unwrapped.save_pretrained(out / "model")
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch + 1
        if accelerator.is_main_process:
            _save_checkpoint(checkpoint, unwrapped, optimizer, state)
    return {
        "out": str(out),
        "model": str(out / "model"),
        "epochs_run": state["epoch"],
        "best_epoch": state["best_epoch"],
        "best_val_macro_f1": state["best_macro_f1"],
        "stopped_early": state["bad_epochs"] >= cfg.patience,
        "seconds": round(time.perf_counter() - started, 1),
        "train_books": len(train_books),
        "val_books": len(val_books),
        "class_weights": dict(zip(PAGE_TYPES, weights, strict=True)),
        "history": state["history"],
    }
