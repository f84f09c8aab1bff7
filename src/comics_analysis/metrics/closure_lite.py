"""Held-out metrics of Closure Lite (DESIGN 4.1): plain functions over numpy arrays and lists.

- :func:`next_panel_accuracy`: for every panel that is followed by another panel, is that panel
  the argmax of its row of ``reading_order_logits`` (candidates: the other panels and END)?
- :func:`reading_order_scores`: exact-match rate of decoded orders and mean Kendall tau (tau-a),
  over pages with at least two panels (one panel is always "right" and would inflate both).
- :func:`recall_at_k`: share of queries with a relevant key among the ``k`` best-scoring keys
  (panel -> page retrieval, text -> panel, image -> panel).

Ties in scores are broken by key index (a stable sort), so every result is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .panels import kendall_tau


def next_panel_targets(order: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[B, P] index of the panel ranked right after each panel; -1 where there is none (the last
    panel, padding, unknown order)."""
    order, mask = np.asarray(order), np.asarray(mask, dtype=bool)
    known = mask & (order >= 0)
    targets = np.full(order.shape, -1, dtype=np.int64)
    for b in range(order.shape[0]):
        by_rank = {int(order[b, j]): j for j in np.flatnonzero(known[b])}
        for i in np.flatnonzero(known[b]):
            nxt = by_rank.get(int(order[b, i]) + 1)
            if nxt is not None:
                targets[b, i] = nxt
    return targets


def next_panel_accuracy(logits: np.ndarray, order: np.ndarray, mask: np.ndarray) -> tuple[float, int]:
    """(accuracy, number of panels scored). ``logits`` [B, P + 1, P + 1] as the model returns them
    (row i < P: panel that follows panel i, column P: END; masked entries very negative); ``order``
    [B, P] reading-order rank (-100 / negative = unknown); ``mask`` [B, P] real panels."""
    logits = np.asarray(logits, dtype=np.float64)
    targets = next_panel_targets(order, mask)
    rows = np.argwhere(targets >= 0)
    if len(rows) == 0:
        return float("nan"), 0
    p = targets.shape[1]
    correct = 0
    for b, i in rows:
        candidates = [j for j in range(p) if mask[b][j] and j != i] + [p]  # other panels + END
        best = candidates[int(np.argmax(logits[b, i, candidates]))]
        correct += best == targets[b, i]
    return correct / len(rows), len(rows)


def true_order(order: Sequence[int], mask: Sequence[bool]) -> list[int]:
    """Panel indices of one page in ground-truth reading order (real panels with a known rank)."""
    ranked = [(int(r), j) for j, (r, m) in enumerate(zip(order, mask)) if m and int(r) >= 0]
    return [j for _, j in sorted(ranked)]


def reading_order_scores(
    predicted: Sequence[Sequence[int]], truth: Sequence[Sequence[int]]
) -> dict[str, float | int]:
    """Exact-match rate and mean Kendall tau of predicted panel sequences against the true ones
    (both lists of panel indices per page), over pages with >= 2 panels whose predicted sequence
    is a permutation of the true one. Returns ``exact``, ``kendall_tau`` and ``pages`` (scored)."""
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predicted orders for {len(truth)} pages")
    exact, taus = [], []
    for page, (pred, true) in enumerate(zip(predicted, truth)):
        if len(true) < 2:
            continue
        if sorted(pred) != sorted(true):
            raise ValueError(
                f"page {page}: predicted order {list(pred)} is not a permutation of {list(true)}"
            )
        rank = {panel: r for r, panel in enumerate(true)}
        exact.append(list(pred) == list(true))
        taus.append(kendall_tau([rank[panel] for panel in pred]))
    if not exact:
        return {"exact": float("nan"), "kendall_tau": float("nan"), "pages": 0}
    return {"exact": float(np.mean(exact)), "kendall_tau": float(np.mean(taus)), "pages": len(exact)}


def recall_at_k(scores: np.ndarray, relevant: np.ndarray, ks: Sequence[int] = (1, 10)) -> dict[int, float]:
    """``scores`` [Q, K] (higher = better), ``relevant`` [Q, K] bool (at least one per query).
    Returns {k: share of queries with a relevant key among their top k}."""
    scores, relevant = np.asarray(scores, dtype=np.float64), np.asarray(relevant, dtype=bool)
    if scores.shape != relevant.shape:
        raise ValueError(f"scores {scores.shape} and relevant {relevant.shape} differ in shape")
    if scores.shape[0] == 0:
        return {k: float("nan") for k in ks}
    if not relevant.any(1).all():
        raise ValueError(f"{int((~relevant.any(1)).sum())} queries have no relevant key")
    ranking = np.argsort(-scores, axis=1, kind="stable")
    hits = np.take_along_axis(relevant, ranking, axis=1)
    first = hits.argmax(1)  # rank of the best-placed relevant key
    return {k: float(np.mean(first < k)) for k in ks}


__all__ = [
    "next_panel_accuracy",
    "next_panel_targets",
    "reading_order_scores",
    "recall_at_k",
    "true_order",
]
