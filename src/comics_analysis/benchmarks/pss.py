"""Page stream segmentation benchmark: a CoSMo PSS model (or, without one, the zero-shot segmenter)
against both trivial baselines (all-story and cover-first/back-last) on the labelled books of a
feature store (``pss features``; ``--page-stats`` for the zero-shot segmenter).

Metrics (:mod:`comics_analysis.metrics.pss`): accuracy, macro-F1, segment PQ, boundary F1 at
+-0 / +-1 and MnDD, under the label ``scheme`` (ours, cosmo5 or cosmo_v4).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..dataspec import format_table
from ..inference.features import FeatureStore
from ..metrics.pss import SUMMARY_KEYS, evaluate_with_baselines, per_class_text
from .report import run_info


@dataclass
class PssRun:
    """What :func:`run_pss` scored: ``results`` maps each system (the model, the baselines) to its
    metrics."""

    features: Path
    model: str
    window: int | None
    stride: int
    scheme: str
    results: dict[str, dict[str, Any]]

    def summary_text(self) -> str:
        """Books, pages and labels scored, one row of metrics per system, then each system's
        per-class F1."""
        first = next(iter(self.results.values()))
        head = (
            f"{first['books']} books, {first['pages']} labelled pages, scheme {self.scheme} "
            f"(macro-F1 over {', '.join(first['macro_f1_labels'])})"
        )
        rows = [[name, *(f"{r[k]:.3f}" for k in SUMMARY_KEYS)] for name, r in self.results.items()]
        per_class = [f"per-class F1, {name}: {per_class_text(r)}" for name, r in self.results.items()]
        return "\n".join([head, format_table(["system", *SUMMARY_KEYS], rows), *per_class])

    def payload(self) -> dict:
        """The results for the benchmark report (with date, machine, commit)."""
        return {
            "benchmark": "pss",
            "features": str(self.features),
            "model": self.model,
            "window": self.window,
            "stride": self.stride,
            **run_info(),
            **self.results,
        }


def run_pss(
    features: str | Path,
    model: str | Path | None,
    books: Sequence[str] = ("all",),
    *,
    window: int | None = 32,
    stride: int = 16,
    scheme: str = "ours",
) -> PssRun:
    """Score the CoSMo PSS model ``model`` (a folder or a Hub id; ``None`` or ``"zero-shot"``: the
    zero-shot segmenter) and both baselines on ``books``
    of the feature store ``features`` (``["all"]``: every book; each must have page-type labels).
    ``window`` pages per window with ``stride`` (``None`` or <= 0: the whole book at once)."""
    # lazy: inference.pss imports torch
    from ..inference.pss import (
        ZERO_SHOT,
        book_arrays,
        check_features_fit,
        evaluate_books,
        is_zero_shot,
        load_pss_model,
        zero_shot_predictions,
    )

    store = FeatureStore(features)
    loaded = book_arrays(store, store.select_books(list(books)))
    unlabelled = [b["book_id"] for b in loaded if not any(t for t in b["page_types"])]
    if unlabelled:
        raise ValueError(
            f"{features}: book(s) without page-type labels, nothing to score: {', '.join(unlabelled[:5])}"
        )
    window = None if window is None or window <= 0 else window
    if is_zero_shot(model):
        model = ZERO_SHOT
        truth = [
            {"book_id": b["book_id"], "page_types": b["page_types"], "story_start": b["story_start"]}
            for b in loaded
        ]
        results = evaluate_with_baselines(truth, zero_shot_predictions(store, loaded), scheme=scheme)
    else:
        pss = load_pss_model(model)
        check_features_fit(pss, store, model)
        results = evaluate_books(pss, loaded, window, stride, scheme=scheme)
    return PssRun(Path(features), str(model), window, stride, scheme, results)


def real_labels(labels: str | Path, pages: Sequence[Any]) -> dict[str, tuple[str, bool]]:
    """``{page_id: (page_type, story_start)}`` for the DataSpec ``pages`` of the books listed in a
    labels JSON (``tests/data/pss_real_labels.json``: per book its ``source_path``, page count,
    first and last entry, inclusive ``ranges`` of page types and ``story_starts``). A book whose
    pages do not match its entry (count, first or last entry) is an error naming it; books of
    ``pages`` not in the file are left out."""
    spec = json.loads(Path(labels).read_text(encoding="utf-8"))
    by_source: dict[str, list[Any]] = {}
    for page in pages:
        by_source.setdefault(page.provenance.source_path or "", []).append(page)
    result: dict[str, tuple[str, bool]] = {}
    for book in spec["books"]:
        found = sorted(by_source.get(book["source_path"], []), key=lambda p: p.page_index)
        if not found:
            continue
        entries = (found[0].provenance.source_entry, found[-1].provenance.source_entry)
        if len(found) != book["pages"] or entries != (book["first_entry"], book["last_entry"]):
            raise ValueError(
                f"{labels}: book {book['name']!r} expects {book['pages']} pages {book['first_entry']} .. "
                f"{book['last_entry']}, the records hold {len(found)} pages {entries[0]} .. {entries[1]}"
            )
        types: list[str | None] = [None] * len(found)
        for first, last, page_type in book["ranges"]:
            types[first : last + 1] = [page_type] * (last - first + 1)
        for page, page_type in zip(found, types, strict=True):
            if page_type is not None:
                result[page.page_id] = (page_type, page.page_index in book["story_starts"])
    return result
