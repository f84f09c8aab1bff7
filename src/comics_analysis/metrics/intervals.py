"""Confidence intervals of accuracies: a percentile bootstrap over outcomes (fixed seed)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bootstrap_interval(
    correct: Sequence[bool] | np.ndarray, n_resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of 0/1 outcomes (rows resampled with replacement;
    ``scipy.stats.bootstrap``, percentile method, seeded with ``seed``)."""
    from scipy.stats import bootstrap

    values = np.asarray(correct, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no outcomes to bootstrap")
    if values.size == 1:  # scipy needs two observations; every resample of one is that one
        return float(values[0]), float(values[0])
    result = bootstrap(
        (values,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def accuracy_with_interval(
    predictions: Sequence[int], references: Sequence[int], n_resamples: int = 1000, seed: int = 0
) -> dict:
    """``{"accuracy", "ci_low", "ci_high", "n"}`` (accuracy as a fraction)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    correct = np.asarray(predictions) == np.asarray(references)
    low, high = bootstrap_interval(correct, n_resamples=n_resamples, seed=seed)
    return {"accuracy": float(correct.mean()), "ci_low": low, "ci_high": high, "n": int(correct.size)}
