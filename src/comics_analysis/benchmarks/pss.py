"""Page stream segmentation benchmark: a CoSMo PSS model against both trivial baselines (all-story
and cover-first/back-last) on the labelled books of a feature store (``pss features``).

Metrics (:mod:`comics_analysis.metrics.pss`): accuracy, macro-F1, segment PQ, boundary F1 at
+-0 / +-1 and MnDD, under the label ``scheme`` (ours, cosmo5 or cosmo_v4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..dataspec import format_table
from ..inference.features import FeatureStore
from ..metrics.pss import SUMMARY_KEYS
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
        """Books, pages and labels scored, then one row of metrics per system."""
        first = next(iter(self.results.values()))
        head = (
            f"{first['books']} books, {first['pages']} labelled pages, scheme {self.scheme} "
            f"(macro-F1 over {', '.join(first['macro_f1_labels'])})"
        )
        rows = [[name, *(f"{r[k]:.3f}" for k in SUMMARY_KEYS)] for name, r in self.results.items()]
        return f"{head}\n{format_table(['system', *SUMMARY_KEYS], rows)}"

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
    model: str | Path,
    books: Sequence[str] = ("all",),
    *,
    window: int | None = 32,
    stride: int = 16,
    scheme: str = "ours",
) -> PssRun:
    """Score the CoSMo PSS model ``model`` (a folder or a Hub id) and both baselines on ``books``
    of the feature store ``features`` (``["all"]``: every book; each must have page-type labels).
    ``window`` pages per window with ``stride`` (``None`` or <= 0: the whole book at once)."""
    # lazy: inference.pss imports torch
    from ..inference.pss import book_arrays, check_features_fit, evaluate_books, load_pss_model

    store = FeatureStore(features)
    pss = load_pss_model(model)
    check_features_fit(pss, store, model)
    loaded = book_arrays(store, store.select_books(list(books)))
    unlabelled = [b["book_id"] for b in loaded if not any(t for t in b["page_types"])]
    if unlabelled:
        raise ValueError(
            f"{features}: book(s) without page-type labels, nothing to score: {', '.join(unlabelled[:5])}"
        )
    window = None if window is None or window <= 0 else window
    results = evaluate_books(pss, loaded, window, stride, scheme=scheme)
    return PssRun(Path(features), str(model), window, stride, scheme, results)
