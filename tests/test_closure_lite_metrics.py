"""Closure Lite held-out metrics (metrics/closure_lite.py) on hand-computed cases."""

import math

import numpy as np
import pytest

from comics_analysis.metrics.closure_lite import (
    next_panel_accuracy,
    next_panel_targets,
    reading_order_scores,
    recall_at_k,
    true_order,
)

NEG = -1e9


def test_next_panel_targets_follow_the_ranks():
    order = np.array([[1, 0, 2, -100], [0, -100, -100, -100]])
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=bool)
    # page 0: panel 1 (rank 0) -> panel 0 (rank 1) -> panel 2 (rank 2, last: no next panel)
    assert next_panel_targets(order, mask).tolist() == [[2, 0, -1, -1], [-1, -1, -1, -1]]


def test_next_panel_accuracy_by_hand():
    # one page, three panels in input order 0, 1, 2 with ranks 0, 1, 2: targets 0 -> 1, 1 -> 2
    p = 3
    logits = np.full((1, p + 1, p + 1), NEG)
    logits[0, 0, [1, 2, 3]] = [5.0, 1.0, 0.0]  # panel 0: best is panel 1 (right)
    logits[0, 1, [0, 2, 3]] = [0.0, 1.0, 2.0]  # panel 1: best is END (wrong; panel 2 follows)
    logits[0, 1, 1] = 100.0  # its own column is not a candidate, however high
    order = np.array([[0, 1, 2]])
    mask = np.ones((1, p), dtype=bool)
    accuracy, scored = next_panel_accuracy(logits, order, mask)
    assert scored == 2 and accuracy == pytest.approx(0.5)


def test_next_panel_accuracy_ignores_padding_candidates():
    logits = np.full((1, 4, 4), NEG)
    logits[0, 0, [1, 2, 3]] = [1.0, 9.0, 0.0]  # column 2 is padding: never a candidate
    accuracy, scored = next_panel_accuracy(
        logits, np.array([[0, 1, -100]]), np.array([[1, 1, 0]], dtype=bool)
    )
    assert (accuracy, scored) == (1.0, 1)


def test_next_panel_accuracy_without_scorable_panels_is_nan():
    accuracy, scored = next_panel_accuracy(np.zeros((1, 2, 2)), np.array([[0]]), np.array([[True]]))
    assert scored == 0 and math.isnan(accuracy)


def test_true_order_sorts_by_rank_and_skips_padding():
    assert true_order([2, 0, 1, -100], [True, True, True, False]) == [1, 2, 0]


def test_reading_order_scores_by_hand():
    truth = [[0, 1, 2], [0, 1, 2, 3], [0]]
    predicted = [[0, 1, 2], [1, 0, 2, 3], [0]]
    scores = reading_order_scores(predicted, truth)
    # page 2 has one panel: not scored. Page 1 swaps one adjacent pair: 5 concordant, 1 discordant
    assert scores["pages"] == 2
    assert scores["exact"] == pytest.approx(0.5)
    assert scores["kendall_tau"] == pytest.approx((1.0 + 4 / 6) / 2)


def test_reading_order_scores_reversed_page_is_minus_one():
    assert reading_order_scores([[2, 1, 0]], [[0, 1, 2]])["kendall_tau"] == pytest.approx(-1.0)


def test_reading_order_scores_reject_a_non_permutation():
    with pytest.raises(ValueError, match=r"page 0: .* is not a permutation"):
        reading_order_scores([[0, 0]], [[0, 1]])


def test_recall_at_k_by_hand():
    scores = np.array(
        [
            [0.9, 0.1, 0.5],  # relevant key 0 ranked 1st
            [0.9, 0.1, 0.5],  # relevant key 2 ranked 2nd
            [0.9, 0.1, 0.5],  # relevant key 1 ranked 3rd
        ]
    )
    relevant = np.eye(3, dtype=bool)[[0, 2, 1]]
    assert recall_at_k(scores, relevant, (1, 2, 3)) == {
        1: pytest.approx(1 / 3),
        2: pytest.approx(2 / 3),
        3: 1.0,
    }


def test_recall_at_k_any_relevant_key_counts_and_ties_are_stable():
    scores = np.array([[0.5, 0.5, 0.2]])
    assert recall_at_k(scores, np.array([[False, True, True]]), (1,)) == {1: 0.0}  # tie: key 0 first
    assert recall_at_k(scores, np.array([[False, True, True]]), (2,)) == {2: 1.0}


def test_recall_at_k_needs_a_relevant_key_per_query():
    with pytest.raises(ValueError, match="1 queries have no relevant key"):
        recall_at_k(np.zeros((2, 2)), np.array([[True, False], [False, False]]))
