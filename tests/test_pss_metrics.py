"""PSS metrics (DESIGN 5) on hand-computed cases, and the baselines on the real CoSMo test labels."""

import pytest

from comics_analysis.metrics.pss import (
    BookLabels,
    Segment,
    baseline_all_story,
    baseline_cover_first_back_last,
    evaluate,
    evaluate_with_baselines,
    match_boundaries,
    mndd,
    segments,
    summary_markdown,
)

# cover | story(start) story story | story(start) story | advertisement | back_cover
TRUTH = BookLabels(
    "b1",
    ["cover", "story", "story", "story", "story", "story", "advertisement", "back_cover"],
    [False, True, False, False, True, False, False, False],
)
LABELS = ["cover", "story", "advertisement", "back_cover"]


def test_segments_split_at_story_starts():
    segs = segments([s or "" for s in TRUTH.page_types], TRUTH.story_start)
    assert segs == [
        Segment("cover", 0, 0),
        Segment("story", 1, 3),
        Segment("story", 4, 5),
        Segment("advertisement", 6, 6),
        Segment("back_cover", 7, 7),
    ]


def test_all_story_hand_computed():
    pred = baseline_all_story(TRUTH)
    m = evaluate([TRUTH], [pred], labels=LABELS)
    assert m["accuracy"] == pytest.approx(5 / 8)
    story_f1 = 2 * (5 / 8) * 1 / (5 / 8 + 1)
    assert m["per_class"]["story"]["f1"] == pytest.approx(story_f1)
    assert m["per_class"]["cover"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
        "predicted": 0,
    }
    assert m["macro_f1"] == pytest.approx(story_f1 / 4)
    # one predicted segment [0-7]: IoU with story[1-3] is 3/8, with story[4-5] 2/8 -> no match
    assert (m["pq"], m["segments_true"], m["segments_pred"]) == (0.0, 5, 1)
    assert m["boundary_f1_0"] == 0.0 and m["boundary_f1_1"] == 0.0
    # one-to-one: the single segment keeps the 3 pages of story[1-3]; 5 pages must move
    assert m["mndd"] == 5 > 0
    assert m["mndd_per_page"] == pytest.approx(5 / 8)
    assert m["confusion"]["matrix"] == [[0, 1, 0, 0], [0, 5, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]]


def test_cover_first_back_last_hand_computed():
    pred = baseline_cover_first_back_last(TRUTH)
    assert pred.page_types == ["cover", *["story"] * 6, "back_cover"]
    m = evaluate([TRUTH], [pred], labels=LABELS)
    assert m["accuracy"] == pytest.approx(7 / 8)
    # boundaries: true {1, 4, 6, 7}, predicted {1, 7}
    assert m["boundary_f1_0"] == pytest.approx(2 * 2 / (2 + 4))
    assert m["boundary_f1_1"] == pytest.approx(2 * 2 / (2 + 4))
    # cover and back_cover match with IoU 1; story[1-6] has IoU exactly 0.5 with story[1-3] (not > 0.5)
    assert m["pq"] == pytest.approx(2 / (2 + 0.5 * 1 + 0.5 * 3))
    assert m["pq_per_class"] == {"advertisement": 0.0, "back_cover": 1.0, "cover": 1.0, "story": 0.0}
    assert m["mndd"] == 8 - (1 + 3 + 1)
    assert m["story_start_f1"] == pytest.approx(2 * 1 / (1 + 2))


def test_two_adjacent_stories_split_only_by_story_start_are_two_segments():
    truth = BookLabels("b", ["story"] * 6, [True, False, False, True, False, False])
    one = BookLabels("b", ["story"] * 6, [True] + [False] * 5)
    m = evaluate([truth], [one], labels=["story"])
    assert m["segments_true"] == 2 and m["segments_pred"] == 1
    assert m["accuracy"] == 1.0 and m["macro_f1"] == 1.0  # page labels are right ...
    assert m["pq"] == 0.0 and m["boundary_f1_0"] == 0.0 and m["mndd"] == 3  # ... the segmentation is not
    m = evaluate([truth], [truth], labels=["story"])
    assert (m["pq"], m["boundary_f1_0"], m["mndd"]) == (1.0, 1.0, 0)


def test_class_confused_segment_is_not_a_pq_match():
    truth = BookLabels("b", ["cover", "story", "story", "story"], [False, True, False, False])
    pred = BookLabels("b", ["cover", "advertisement", "advertisement", "advertisement"], [False] * 4)
    m = evaluate([truth], [pred])
    assert m["pq_per_class"] == {"advertisement": 0.0, "cover": 1.0, "story": 0.0}
    assert m["pq"] == pytest.approx(1 / (1 + 0.5 + 0.5))
    # class-blind measures see a perfect segmentation
    assert m["boundary_f1_0"] == 1.0 and m["mndd"] == 0


def test_boundary_tolerance_and_one_to_one_matching():
    assert match_boundaries([4], [3], 0) == 0
    assert match_boundaries([4], [3], 1) == 1
    # one prediction cannot match two true boundaries
    assert match_boundaries([4], [3, 5], 1) == 1
    assert match_boundaries([2, 4], [3, 5], 1) == 2
    truth = BookLabels("b", ["cover", "cover", "story", "story"], [False, False, True, False])
    pred = BookLabels("b", ["cover", "story", "story", "story"], [False, True, False, False])
    m = evaluate([truth], [pred], labels=["cover", "story"])
    assert (m["boundary_f1_0"], m["boundary_f1_1"]) == (0.0, 1.0)


def test_mndd_one_to_one_when_prediction_over_segments():
    true = [Segment("story", 0, 5)]
    pred = [Segment("story", 0, 2), Segment("story", 3, 5)]
    assert mndd(pred, true) == 3
    assert mndd([], true) == 6


def test_zero_support_classes_excluded_and_listed_and_unlabelled_pages_dropped():
    truth = BookLabels("b", ["cover", None, "story", "story"], [False, False, True, False])
    pred = BookLabels("b", ["cover", "preview", "story", "preview"], [False, False, True, False])
    m = evaluate([truth], [pred], labels=["cover", "story", "preview"])
    assert m["pages"] == 3  # the unlabelled page is not evaluated
    assert m["zero_support"] == ["preview"] and m["macro_f1_labels"] == ["cover", "story"]
    story_f1 = 2 * 1 * 0.5 / 1.5
    assert m["macro_f1"] == pytest.approx((1.0 + story_f1) / 2)
    assert m["per_class"]["preview"]["predicted"] == 1


def test_cosmo5_scheme_reads_story_start_as_first_page():
    truth = BookLabels("b", ["cover", "story", "story", "back_cover"], [False, True, False, False])
    pred = BookLabels("b", ["cover", "story", "story", "credits_indicia"], [False, False, False, False])
    m = evaluate([truth], [pred], scheme="cosmo5")
    assert m["labels"] == ["advertisement", "cover", "story", "textstory", "first-page"]
    # first-page -> story (wrong), back_cover -> cover vs credits (no cosmo5 counterpart: <none>)
    assert m["accuracy"] == pytest.approx(2 / 4)
    assert m["confusion"]["cols_pred"][-1] == "<none>"
    assert m["zero_support"] == ["advertisement", "textstory"]


def test_errors_name_the_book_and_page():
    with pytest.raises(ValueError, match="book b, page 1: unknown page_type 'splash'"):
        BookLabels("b", ["cover", "splash"], [False, False])
    with pytest.raises(ValueError, match="book b: prediction has 1 pages, truth 2"):
        evaluate([BookLabels("b", ["cover", "story"], [False, True])], [BookLabels("b", ["cover"], [False])])
    with pytest.raises(ValueError, match="not in the stated label list"):
        evaluate([TRUTH], [TRUTH], labels=["story"])


def test_baselines_on_real_cosmo_test_labels(shared_data):
    from comics_analysis.dataset_builders.cosmo_pss import book_labels, read_split

    books = read_split(shared_data / "cosmo-pss-splits" / "comics_test.json")
    assert len(books) == 87
    truth = [BookLabels(b["hash_code"], **_labels(book_labels(b))) for b in books]
    results = evaluate_with_baselines(truth, scheme="cosmo5")
    assert set(results) == {"all_story", "cover_first_back_last"}
    all_story, cover = results["all_story"], results["cover_first_back_last"]
    assert all_story["mndd"] > 0  # the degenerate MnDD scored all-story as perfect
    assert all_story["pq"] < cover["pq"]
    assert 0 < all_story["macro_f1"] < cover["macro_f1"] < 0.8
    assert "| all_story |" in summary_markdown(results)


def _labels(labels):
    return {"page_types": labels["page_types"], "story_start": labels["story_start"]}
