"""Hand-computed cases: reading order over all true panels (merges, splits) and balloon-level text."""

import pytest

from comics_analysis.dataspec import Page, TextBox
from comics_analysis.metrics.panels import cover_assignment, merged_count, order_all, score_page, summarise
from comics_analysis.metrics.text import common_words, evaluate_text, held_units, words

A, B = (0, 0, 100, 100), (110, 0, 100, 100)


def test_merge_of_consecutive_panels_keeps_the_order_but_lowers_tau():
    C = (0, 110, 210, 100)
    truth, pred = [A, B, C], [(0, 0, 210, 100), C]  # A and B merged into one box
    assert cover_assignment(truth, pred) == [0, 0, 1]
    assert order_all([0, 0, 1]) == (True, pytest.approx(2 / 3))  # (A,B) tie 0, (A,C) +1, (B,C) +1
    assert merged_count([0, 0, 1]) == 1
    r = score_page("p", "book", truth, pred)
    # the matched-only figures cannot see it: A's IoU with the merged box is 10000/21000 < 0.5
    assert (r.tp, r.all_found, r.order_exact, r.tau) == (1, False, None, None)
    assert (r.order_all, r.tau_all, r.merged, r.unassigned) == (True, pytest.approx(2 / 3), 1, 0)


def test_merge_across_the_reading_order_is_an_order_error():
    C = (0, 110, 100, 100)  # below A: the true order is A, B, C
    truth, pred = [A, B, C], [(0, 0, 100, 210), B]  # the left column A+C merged, read first
    assert cover_assignment(truth, pred) == [0, 1, 0]
    # (A,B) 0<1 concordant, (A,C) tie, (B,C) 1>0 discordant: (1 - 1) / 3
    assert order_all([0, 1, 0]) == (False, 0.0)


def test_split_panels():
    # A split into thirds: no piece covers half of it, so it is unassigned (and unmatched)
    truth = [(0, 0, 90, 100), B]
    pred = [(0, 0, 30, 100), B, (30, 0, 30, 100), (60, 0, 30, 100)]
    r = score_page("p", "book", truth, pred)
    assert cover_assignment(truth, pred) == [-1, 1]
    assert (r.all_found, r.order_exact, r.tau) == (False, None, None)
    assert (r.order_all, r.tau_all, r.merged, r.unassigned) == (False, 0.0, 0, 1)
    # A split in two pieces 40/60, B read between them: A goes to its larger piece, read after B
    truth, pred = [A, (0, 110, 100, 100)], [(0, 0, 40, 100), (0, 110, 100, 100), (40, 0, 60, 100)]
    assert cover_assignment(truth, pred) == [2, 1]
    assert order_all([2, 1]) == (False, -1.0)


def test_cover_assignment_ties_and_short_pages():
    assert cover_assignment([A], [(0, 0, 50, 100), (50, 0, 50, 100)]) == [0]  # 0.5 each: the earlier
    assert cover_assignment([A], [(0, 0, 49, 100)]) == [-1]
    assert cover_assignment([A], [(0, 0, 49, 100)], min_cover=0.4) == [0]
    assert order_all([3]) == (None, None) and order_all([]) == (None, None)
    assert order_all([0, 1, 2]) == (True, 1.0) and order_all([2, 1, 0]) == (False, -1.0)


def test_summary_over_all_true_panels():
    C = (0, 110, 210, 100)
    merged = score_page("a", "book", [A, B, C], [(0, 0, 210, 100), C])
    split = score_page(
        "b", "book", [(0, 0, 90, 100), B], [(0, 0, 30, 100), B, (30, 0, 30, 100), (60, 0, 30, 100)]
    )
    single = score_page("c", "book", [A], [A])
    s = summarise([merged, split, single])
    assert (s.order_all_pages, s.order_all, s.merged_panels, s.unassigned_panels) == (2, 0.5, 1, 1)
    assert s.kendall_tau_all == pytest.approx((2 / 3 + 0.0) / 2)
    assert s.order_exact is None and s.order_pages == 0  # no page had all its panels matched


def test_words_and_bags():
    assert words("Don't STOP-me, 2 times!\nYARD-\nSALE") == [
        "don't",
        "stop",
        "me",
        "2",
        "times",
        "yard",
        "sale",
    ]
    assert words("it\u2019s") == ["it's"]
    assert common_words(["a", "a", "b"], ["a", "b", "b", "c"]) == 2


def test_held_units():
    truth = [(0, 0, 10, 10), (20, 0, 10, 10), (0, 50, 10, 10)]
    pred = [(0, 0, 30, 10), (0, 50, 4, 10), (100, 100, 5, 5)]  # the second holds 40% of the third truth
    assert held_units(truth, pred) == [[0, 1], [], []]
    assert held_units(truth, pred, min_share=0.4) == [[0, 1], [2], []]


def _page(texts) -> Page:
    boxes = [TextBox(bbox=box, text=text, kind=kind) for box, text, kind in texts]
    return Page(page_id="book/p0000", book_id="book", page_index=0, width=100, height=100, texts=boxes)


def test_balloon_level_text_metrics_by_hand():
    truth = _page(
        [
            ((0, 0, 20, 10), "HELLO THERE", "dialogue"),
            ((30, 0, 20, 10), "How are you", "dialogue"),
            ((0, 50, 20, 10), "FINE", "narration"),
        ]
    )
    pred = _page(
        [
            ((0, 0, 50, 10), "HELLO THERE HOW ARE YOU", "dialogue"),  # the first two units merged
            ((0, 50, 20, 10), "FIME", "narration"),
            ((60, 60, 10, 10), "NOISE", "sfx"),
        ]
    )
    s = evaluate_text([truth], [pred])["overall"]
    assert (s.truth, s.pred, s.matched) == (3, 3, 2)  # IoU 0.4 pairs one of the merged two at 0.3
    assert s.cer == pytest.approx(13 / 15)  # 12 insertions + 1 substitution over 11 + 4 characters
    assert (s.units_exact, s.unit_precision, s.unit_recall) == (1, 1 / 3, 1 / 3)  # only FINE at IoU 0.5
    assert (s.merged_units, s.holding_units, s.merged_unit_rate) == (1, 2, 0.5)
    assert (s.true_words, s.pred_words, s.matched_words) == (6, 7, 5)
    assert (s.word_recall, s.word_precision) == (5 / 6, 5 / 7)
    dialogue = evaluate_text([truth], [pred], kinds=("dialogue",))["overall"]
    assert (dialogue.truth, dialogue.units_exact, dialogue.merged_unit_rate) == (2, 0, 1.0)
    assert (dialogue.true_words, dialogue.matched_words, dialogue.word_recall) == (5, 5, 1.0)
    strict = evaluate_text([truth], [pred], unit_iou=0.3)["overall"]
    assert strict.units_exact == 2 and strict.unit_iou == 0.3
