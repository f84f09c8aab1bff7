"""CoSMo PSS inference (DESIGN 4.2): the model loader, per-book prediction, segments, evaluation
against the baselines, and the ``segment`` job (:func:`segment_books`).

Books come from a PSS feature store (:mod:`.features`) as arrays (:func:`load_books`); the model
classifies whole books with overlapping windows and averaged logits, never mixing books
(``CosmoPssForPageClassification.classify_books``). Metrics come from
:mod:`comics_analysis.metrics.pss`.

Without a model (``model=None`` or ``"zero-shot"``) the zero-shot segmenter of :mod:`.zeroshot`
classifies the books from their page statistics and text (a feature store made with
``pss features --page-stats``); no training data is needed.

Writing predicted page types into an embedding store is ``store.set_page_types`` (the store layer
comes after this one); :meth:`Segmentation.page_types` gives its input.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..dataspec import write_page_types
from ..dataspec.records import PAGE_TYPES
from ..metrics.pss import evaluate_with_baselines, segments
from ..modeling.cosmo_pss import CosmoPssForPageClassification
from .features import FeatureStore
from .text import TextEncoder
from .zeroshot import MODEL_NAME as ZERO_SHOT
from .zeroshot import ZeroShotSegmenter

log = logging.getLogger(__name__)

__all__ = [
    "Segmentation",
    "book_arrays",
    "book_segments",
    "check_features_fit",
    "evaluate_books",
    "load_books",
    "load_pss_model",
    "model_stat_names",
    "model_vision",
    "predict_books",
    "segment_books",
    "segments_table",
    "zero_shot_predictions",
]


def is_zero_shot(model: str | Path | None) -> bool:
    """True for no model or the name ``zero-shot``."""
    return model is None or str(model) == ZERO_SHOT


def zero_shot_predictions(store: FeatureStore, books: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Predictions of the zero-shot segmenter for ``books`` (:func:`book_arrays` of ``store``);
    the class descriptions are embedded with the store's own text encoder."""
    if not store.has_stats:
        raise ValueError(
            f"{store.path}: no page statistics for the zero-shot segmenter; run "
            "`comics-analysis pss features ... --page-stats --out NEW_FOLDER` (or give --model)"
        )
    segmenter = ZeroShotSegmenter.from_encoder(TextEncoder(str(store.attrs["text_encoder"])))
    return segmenter.predict_books(books, store.stat_names)


def book_arrays(store: FeatureStore, book_ids: list[str]) -> list[dict[str, Any]]:
    """Books of an open feature store as arrays, with ``label_ids`` (index in ``PAGE_TYPES``,
    -100 unlabelled) and ``starts`` (story-start targets, -1 unlabelled)."""
    books = []
    index = {label: i for i, label in enumerate(PAGE_TYPES)}
    for book_id in book_ids:
        b = store.book(book_id)
        b["label_ids"] = np.array([index[t] if t else -100 for t in b["page_types"]], dtype=np.int64)
        b["starts"] = np.array(
            [float(s) if t else -1.0 for t, s in zip(b["page_types"], b["story_start"], strict=True)],
            dtype=np.float32,
        )
        books.append(b)
    return books


def load_books(features: str | Path, book_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Books of a feature store as arrays (all books, or ``book_ids`` in that order)."""
    store = FeatureStore(features)
    return book_arrays(store, book_ids or list(store.books()))


def load_pss_model(model: str | Path, device: Any = None):
    """A ``CosmoPssForPageClassification`` in eval mode from a folder written by
    ``save_pretrained`` (or converted from cosmo-v4) or a Hub repository id."""
    path = Path(model)
    if path.is_dir() and not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: not a CoSMo PSS model folder (no config.json)")
    loaded = CosmoPssForPageClassification.from_pretrained(str(model)).eval()
    return loaded if device is None else loaded.to(device)


def model_stat_names(config: Any) -> list[str]:
    """The page statistics a trained model reads beside the vision vector (config ``page_stats``,
    written by ``train pss``; none for models trained without them or converted from cosmo-v4)."""
    return list(getattr(config, "page_stats", None) or [])


def model_vision(book: dict[str, Any], stat_names: list[str], where: str = "the feature store") -> np.ndarray:
    """The vision input of a model that reads page statistics: the book's vision vectors with the
    statistics ``stat_names`` appended (each already in about [0, 1]; NaN, unknown, reads 0). No
    names: the vision vectors as they are."""
    if not stat_names:
        return book["vision"]
    if "stats" not in book:
        raise ValueError(
            f"book {book['book_id']}: the PSS model reads page statistics ({', '.join(stat_names)}) and "
            f"{where} has none; make the features with `pss features ... --page-stats`"
        )
    known = list(book["stat_names"])
    missing = [n for n in stat_names if n not in known]
    if missing:
        raise ValueError(
            f"book {book['book_id']}: {where} lacks the page statistics {', '.join(missing)} the model "
            "reads (another page_stats version); re-extract with `pss features --page-stats`"
        )
    stats = np.nan_to_num(book["stats"][:, [known.index(n) for n in stat_names]], nan=0.0)
    return np.concatenate([book["vision"], stats.astype(np.float32)], axis=1)


def check_features_fit(model: Any, store: FeatureStore, model_name: str | Path) -> None:
    """The model ``model_name`` reads vectors of the sizes it was trained on; a feature store made
    with other encoders is an error that names both sizes and where each comes from (instead of
    a matrix-shape error deep in the forward pass)."""
    names = model_stat_names(model.config)
    if names and not store.has_stats:
        raise ValueError(
            f"the PSS model {model_name} reads page statistics and the feature store {store.path} has "
            "none: make the features with `pss features ... --page-stats`"
        )
    wanted = {"vision": int(model.config.vision_dim) - len(names), "text": int(model.config.text_dim)}
    held = {"vision": int(store.vision.shape[1]), "text": int(store.text.shape[1])}
    wrong = [k for k in wanted if wanted[k] != held[k]]
    if wrong:
        what = "; ".join(
            f"{k}: the model {model_name} takes {wanted[k]}-d vectors, the feature store {store.path} "
            f"holds {held[k]}-d ones (encoder {store.attrs.get(f'{k}_encoder')!r})"
            for k in wrong
        )
        raise ValueError(
            f"the PSS model and the page features do not fit ({what}): extract the features with the "
            "encoders the model was trained on (`pss features --vision ... --text ...`)"
        )


def predict_books(
    model: CosmoPssForPageClassification,
    books: list[dict[str, Any]],
    window: int | None,
    stride: int | None,
    probabilities: bool = False,
) -> list[dict[str, Any]]:
    """Per book: page types (our taxonomy), story starts, confidences. ``window=None``: full book;
    ``probabilities``: also every page's class probabilities (``probabilities`` [n, C], the
    model's label order)."""
    model.eval()
    labels = model.config.labels
    names = model_stat_names(model.config)
    results = []
    outputs = model.classify_books(
        [
            (
                torch.from_numpy(model_vision(book, names)),
                torch.from_numpy(book["text"]),
                torch.from_numpy(np.asarray(book["text_mask"], dtype=bool)),
            )
            for book in books
        ],
        window=window,
        stride=stride,
    )
    for book, out in zip(books, outputs, strict=True):
        types = [labels[i] for i in out["labels"]]
        chosen = out["probabilities"].gather(1, torch.tensor(out["labels"]).unsqueeze(1)).squeeze(1)
        results.append(
            {
                "book_id": book["book_id"],
                "page_ids": book["page_ids"],
                "page_types": types,
                "story_start": [
                    bool(t == "story" and p > 0.5)
                    for t, p in zip(types, out["story_start"].tolist(), strict=True)
                ],
                "confidence": chosen.tolist(),
                "story_start_probability": out["story_start"].tolist(),
                **({"probabilities": out["probabilities"].numpy()} if probabilities else {}),
            }
        )
    return results


def evaluate_books(
    model: CosmoPssForPageClassification,
    books: list[dict[str, Any]],
    window: int | None,
    stride: int | None,
    scheme: str = "ours",
    nll: bool = False,
) -> dict[str, dict[str, Any]]:
    """Model and both baselines on ``books`` (metrics of metrics.pss). ``nll``: the model's results
    also hold ``nll``, the mean negative log-probability of the true page type over the labelled
    pages (a smooth measure where macro-F1 saturates: model selection in training)."""
    preds = predict_books(model, books, window, stride, probabilities=nll)
    truth = [
        {"book_id": b["book_id"], "page_types": b["page_types"], "story_start": b["story_start"]}
        for b in books
    ]
    results = evaluate_with_baselines(truth, preds, scheme=scheme)
    if nll:
        index = {label: i for i, label in enumerate(model.config.labels)}
        losses = [
            -math.log(max(float(pred["probabilities"][page, index[label]]), 1e-12))
            for book, pred in zip(books, preds, strict=True)
            for page, label in enumerate(book["page_types"])
            if label in index
        ]
        results["model"]["nll"] = float(np.mean(losses)) if losses else math.nan
    return results


def book_segments(prediction: dict[str, Any]) -> list[dict[str, Any]]:
    """Segments of one predicted book: type, first page, last page (0-based, inclusive), mean
    confidence; a story segment also starts at every predicted story start."""
    segs = segments(prediction["page_types"], prediction["story_start"])
    conf = prediction["confidence"]
    return [
        {
            "type": s.label,
            "first_page": s.first,
            "last_page": s.last,
            "confidence": float(np.mean(conf[s.first : s.last + 1])),
        }
        for s in segs
    ]


def segments_table(book_id: str, segs: list[dict[str, Any]]) -> str:
    """A plain-text table of a book's segments."""
    lines = [book_id, f"  {'type':<16} {'first':>5} {'last':>5} {'conf':>6}"]
    for s in segs:
        lines.append(f"  {s['type']:<16} {s['first_page']:>5} {s['last_page']:>5} {s['confidence']:>6.3f}")
    return "\n".join(lines)


@dataclass
class Segmentation:
    """What :func:`segment_books` found: per book the prediction of :func:`predict_books` plus its
    ``segments`` (:func:`book_segments`)."""

    model: str
    books: list[dict[str, Any]] = field(default_factory=list)
    json_path: Path | None = None  # where the JSON was written, if asked
    dataspec_updated: int | None = None  # DataSpec records updated, if asked

    def page_types(self) -> dict[str, str]:
        """``{page_id: predicted page type}`` of every page (for ``store.set_page_types``)."""
        return {pid: t for b in self.books for pid, t in zip(b["page_ids"], b["page_types"], strict=True)}

    def tables(self) -> str:
        """The segments of every book as plain-text tables (:func:`segments_table`)."""
        return "\n".join(segments_table(b["book_id"], b["segments"]) for b in self.books)


def segment_books(
    model: str | Path | None,
    features: str | Path,
    books: list[str] | tuple[str, ...] = ("all",),
    *,
    window: int | None = 32,
    stride: int | None = 16,
    json_path: str | Path | None = None,
    dataspec: str | Path | None = None,
) -> Segmentation:
    """Page types and segments of ``books`` (ids in the feature store ``features``, or
    ``["all"]``) with the CoSMo PSS model ``model`` (a folder or a Hub id; ``None`` or
    ``"zero-shot"``: the zero-shot segmenter, which needs ``--page-stats`` features). ``window`` pages per
    window with ``stride`` (``None`` or <= 0: the whole book at once). Optionally writes
    ``{"model", "books"}`` as JSON to ``json_path`` and the predicted ``page_type`` /
    ``story_start`` into the DataSpec records under the folder ``dataspec``."""
    store = FeatureStore(features)
    wanted = store.select_books(list(books))
    window = None if window is None or window <= 0 else window
    if is_zero_shot(model):
        model = ZERO_SHOT
        predictions = zero_shot_predictions(store, book_arrays(store, wanted))
    else:
        pss = load_pss_model(model)
        check_features_fit(pss, store, model)
        predictions = predict_books(pss, book_arrays(store, wanted), window, stride)
    result = Segmentation(model=str(model))
    result.books = [{**p, "segments": book_segments(p)} for p in predictions]
    if json_path is not None:
        result.json_path = Path(json_path)
        result.json_path.parent.mkdir(parents=True, exist_ok=True)
        result.json_path.write_text(
            json.dumps({"model": result.model, "books": result.books}, indent=2) + "\n"
        )
    if dataspec is not None:
        result.dataspec_updated = write_page_types(
            dataspec,
            {
                pid: (t, s)
                for p in predictions
                for pid, t, s in zip(p["page_ids"], p["page_types"], p["story_start"], strict=True)
            },
            source=f"pss:{model}",
        )
        log.info("page_type written to %d DataSpec records", result.dataspec_updated)
    return result
