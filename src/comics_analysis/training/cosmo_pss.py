"""Training of CoSMo PSS (DESIGN 4.2) from a feature store.

Training (:func:`train_pss`): a loop in the shared harness (:mod:`comics_analysis.training.harness`:
Accelerator, run folder, checkpoints, metrics log, best model) over random windows of whole books
(length drawn from ``window_range`` pages, start uniform in the book) plus class-balanced
windows (config ``balanced_windows``: each holds a page of a class drawn uniformly, so a class
with a handful of pages is not left to a few gradient steps), sqrt-inverse-frequency class
weights, the page statistics through their own projection (config ``stats_projection``),
optional label smoothing, random position offsets (config ``position_mode``), validation
after every epoch with early stopping (config ``select_by``: macro-F1, ties broken by the
validation negative log-likelihood of the true page types, since macro-F1 on a few synthetic
books reaches 1.0 within a few epochs and would keep the first, least trained, such epoch),
and exact resume: at the end of every epoch ``OUT/checkpoints/step-NNNNNNN`` holds the
accelerate state (model, optimiser, every RNG) and the loop state, and an epoch's windows come
from a generator seeded by (seed, epoch), so a resumed run continues with the same numbers as
an uninterrupted one. The best model (by ``select_by``) is written with ``save_pretrained`` to
``OUT/best`` (remote code included), the model at the end of training to ``OUT/final``.

Validation uses the inference of :mod:`comics_analysis.inference.pss` (``evaluate_books``:
per-book prediction with overlapping windows, metrics of :mod:`comics_analysis.metrics.pss`),
which also holds prediction, segments and the ``segment`` job.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from typing import Any

import numpy as np
import torch

from ..dataspec.records import PAGE_TYPES
from ..inference.features import FeatureStore
from ..inference.pss import book_arrays, evaluate_books, model_vision
from ..metrics.pss import SUMMARY_KEYS
from ..modeling.cosmo_pss import CosmoPssConfig, CosmoPssForPageClassification, page_scalars
from .configs import PssTrainConfig
from .harness import TrainingRun, TrainResult

log = logging.getLogger(__name__)


RESUME_KEYS = (
    "features",
    "val_features",
    "val_fraction",
    "extra_features",
    "extra_repeat",
    "exclude_books",
    "page_stats",
    "seed",
    "windows_per_book",
    "balanced_windows",
    "stats_projection",
    "window_range",
    "batch_size",
    "hidden_size",
    "layers",
    "heads",
    "transitions",
    "select_by",
)

# select_by "macro_f1_nll": the selection score macro_f1 - NLL_TIE_BREAK x nll orders epochs by
# macro-F1 first (one page changes macro-F1 by far more than 1e-6 x a log-loss of a few units)
# and by the lower log-loss among epochs of equal macro-F1
NLL_TIE_BREAK = 1e-6


def selection_score(macro_f1: float, nll: float) -> float:
    """The score ``select_by`` "macro_f1_nll" maximises: macro-F1, ties broken by the lower NLL."""
    return macro_f1 - NLL_TIE_BREAK * (nll if math.isfinite(nll) else 0.0)


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
    books: list[dict[str, Any]],
    rng: np.random.Generator,
    per_book: int,
    window_range: tuple[int, int],
    balanced: float = 0.0,
) -> list[tuple[int, int, int]]:
    """(book, start, length) windows, ``per_book`` per book, shuffled; length uniform in the range
    (capped at the book's length), start uniform in the book. ``balanced`` > 0 adds
    ``round(balanced x`` that many``)`` class-balanced windows: each draws a class uniformly among
    the labelled classes, a page of that class uniformly, and a window that holds the page, so a
    class seen on 6 pages of 28 books (a pin-up) is trained on about as often as story pages."""
    lo, hi = window_range
    windows = []
    for b, book in enumerate(books):
        n = len(book["page_ids"])
        for _ in range(per_book):
            length = min(n, int(rng.integers(lo, hi + 1)))
            start = int(rng.integers(0, n - length + 1))
            windows.append((b, start, length))
    extra = round(balanced * len(windows))
    if extra:
        pages: dict[int, list[tuple[int, int]]] = {}
        for b, book in enumerate(books):
            for i, label in enumerate(book["label_ids"].tolist()):
                if label >= 0:
                    pages.setdefault(label, []).append((b, i))
        classes = sorted(pages)
        for _ in range(extra if classes else 0):
            anchors = pages[classes[int(rng.integers(len(classes)))]]
            b, i = anchors[int(rng.integers(len(anchors)))]
            n = len(books[b]["page_ids"])
            length = min(n, int(rng.integers(lo, hi + 1)))
            start = int(rng.integers(max(0, i - length + 1), min(i, n - length) + 1))
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


def training_stat_names(cfg: PssTrainConfig, stores: list[FeatureStore]) -> list[str]:
    """The page statistics the model reads: the first store's ``stat_names`` when ``cfg.page_stats``
    and every store has statistics (else none). The stores must hold vectors of the same encoders
    and the same statistics; a mismatch is an error naming both stores."""
    first = stores[0]
    for other in stores[1:]:
        both = first.has_stats and other.has_stats
        for key in ("vision_encoder", "text_encoder", *(("page_stats",) if both else ())):
            if first.attrs.get(key) != other.attrs.get(key):
                raise ValueError(
                    f"feature stores {first.path} and {other.path} differ in {key} "
                    f"({first.attrs.get(key)!r} vs {other.attrs.get(key)!r}): extract both with the "
                    "same `pss features` options"
                )
    if not cfg.page_stats or not all(s.has_stats for s in stores):
        return []
    return list(first.stat_names)


def train_pss(cfg: PssTrainConfig, resume: str | bool | None = None) -> TrainResult:
    """Train on ``cfg.features`` in the harness's run folder (``OUT/best`` by validation macro-F1,
    ``OUT/final``, ``OUT/checkpoints``, ``OUT/metrics.jsonl``); ``resume``: True (the latest
    checkpoint) or a checkpoint folder. ``history``: one record per epoch."""
    from accelerate.utils import set_seed

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    best_metric = "macro_f1" if cfg.select_by == "macro_f1" else "selection"
    run = TrainingRun(cfg, name="pss", resume=resume, resume_keys=RESUME_KEYS, best_metric=best_metric)
    accelerator = run.accelerator
    store = FeatureStore(cfg.features)
    excluded = set(cfg.exclude_books)
    if cfg.val_features:
        train_ids = [b for b in store.books() if b not in excluded]
        val_store = FeatureStore(cfg.val_features)
        val_books = book_arrays(val_store, [b for b in val_store.books() if b not in excluded])
    else:
        train_ids, val_ids = split_books(
            [b for b in store.books() if b not in excluded], cfg.val_fraction, cfg.seed
        )
        val_store = store
        val_books = book_arrays(store, val_ids)
    extra_stores = [FeatureStore(path) for path in cfg.extra_features]
    stat_names = training_stat_names(cfg, [store, val_store, *extra_stores])
    train_books = [{**b, "vision": model_vision(b, stat_names)} for b in book_arrays(store, train_ids)]
    extra_books = []
    for extra in extra_stores:
        ids = [b for b in extra.books() if b not in excluded]
        extra_books += [
            {**b, "vision": model_vision(b, stat_names, str(extra.path))}
            for b in book_arrays(extra, ids)
            if (b["label_ids"] >= 0).any()
        ]
    if cfg.extra_features and not extra_books:
        raise ValueError(
            f"extra_features: no labelled book left in {', '.join(cfg.extra_features)} "
            f"(exclude_books: {', '.join(cfg.exclude_books) or 'none'})"
        )
    train_books = train_books + extra_books * cfg.extra_repeat
    counts = Counter(t for b in train_books for t in b["page_types"] if t)
    weights = sqrt_inverse_weights(counts)
    set_seed(cfg.seed)
    config = CosmoPssConfig(
        labels=list(PAGE_TYPES),
        vision_dim=int(store.vision.shape[1]) + len(stat_names),
        text_dim=int(store.text.shape[1]),
        page_stats=stat_names,
        bert_config={
            "hidden_size": cfg.hidden_size,
            "num_hidden_layers": cfg.layers,
            "num_attention_heads": cfg.heads,
            "intermediate_size": 4 * cfg.hidden_size,
        },
        class_weights=weights,
        label_smoothing=cfg.label_smoothing,
        transitions=cfg.transitions,
        stats_projection=bool(cfg.stats_projection and stat_names),
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
    model, optimizer = run.prepare(model, optimizer)
    data = {
        "train_books": len(train_ids),
        "extra_books": [b["book_id"] for b in extra_books],
        "extra_repeat": cfg.extra_repeat if extra_books else 0,
        "excluded_books": sorted(excluded),
        "page_stats": stat_names,
        "val_books": len(val_books),
        "class_weights": dict(zip(PAGE_TYPES, weights, strict=True)),
    }
    state = run.begin({"bad_epochs": 0, "history": []}, run_info={"data": data})

    def export(name: str, metrics: dict[str, Any]) -> None:
        run.export(
            name, accelerator.unwrap_model(model).save_pretrained, run.training_info(metrics, data=data)
        )

    def validate() -> dict[str, float]:
        result = evaluate_books(
            accelerator.unwrap_model(model), val_books, cfg.eval_window, cfg.eval_stride, nll=True
        )["model"]
        metrics = {k: float(v) for k, v in result.items() if k in SUMMARY_KEYS}
        return {
            **metrics,
            "nll": result["nll"],
            "selection": selection_score(metrics["macro_f1"], result["nll"]),
        }

    bar = run.progress(cfg.epochs, initial=state["epoch"], unit="epoch")
    last_metrics = None
    while state["epoch"] < cfg.epochs and state["bad_epochs"] < cfg.patience:
        epoch = state["epoch"]
        rng = np.random.default_rng([cfg.seed, epoch])
        windows = sample_windows(
            train_books, rng, cfg.windows_per_book, cfg.window_range, cfg.balanced_windows
        )
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
            run.step_done(bar=False)
        last_metrics = validate()
        record = {
            "epoch": epoch,
            "loss": float(np.mean(losses)),
            "val_macro_f1": last_metrics["macro_f1"],
            "val_boundary_f1_1": last_metrics["boundary_f1_1"],
            "val_pq": last_metrics["pq"],
            "val_nll": last_metrics["nll"],
        }
        state["history"].append(record)
        log.info("epoch %d: %s", epoch, record)
        run.log({"epoch": epoch, "split": "train", "loss": record["loss"]})
        run.log({"epoch": epoch, "split": "validation", **last_metrics})
        if run.update_best(last_metrics, lambda m: export("best", m)):
            state["bad_epochs"] = 0
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch + 1
        run.save_checkpoint()
        bar.update(1)
        bar.set_postfix(
            loss=f"{record['loss']:.3f}",
            macro_f1=f"{record['val_macro_f1']:.3f}",
            nll=f"{record['val_nll']:.3f}",
        )
    if last_metrics is None:  # resumed after the last epoch: evaluate the restored model
        last_metrics = validate()
    export("final", last_metrics)
    info = {"epochs_run": state["epoch"], "stopped_early": state["bad_epochs"] >= cfg.patience, **data}
    return run.finish(last_metrics, history=state["history"], info=info)
