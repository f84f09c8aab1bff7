"""Reading order: X-Y cut with row grouping, both directions, stable under jitter."""

import json

import numpy as np
import pytest

from comics_analysis.annotate import reading_order
from comics_analysis.synth import LAYOUTS, make_layout


def test_hand_made_pages():
    grid = [(0, 0, 100, 100), (110, 0, 100, 100), (0, 110, 100, 100), (110, 110, 100, 100)]
    assert reading_order(grid, "ltr") == [0, 1, 2, 3]
    assert reading_order(grid, "rtl") == [1, 0, 3, 2]
    # a tall panel beside a stack of three: the tall one first, then the stack top to bottom
    nested = [(0, 0, 100, 330), (110, 0, 100, 100), (110, 115, 100, 100), (110, 230, 100, 100)]
    assert reading_order(nested, "ltr") == [0, 1, 2, 3]
    mirrored = [(110, 0, 100, 330), (0, 0, 100, 100), (0, 115, 100, 100), (0, 230, 100, 100)]
    assert reading_order(mirrored, "rtl") == [0, 1, 2, 3]
    # an inset inside a big panel is read right after it, whichever corner it sits in
    for inset in ((10, 10, 50, 50), (140, 240, 50, 50)):
        page = [(0, 0, 200, 300), inset, (0, 310, 200, 100)]
        assert reading_order(page, "ltr") == [0, 1, 2]
        assert reading_order(page, "rtl") == [0, 1, 2]
    # a diagonal gutter: projections overlap, rows still read in direction
    slanted = [(0, 0, 500, 200), (240, 210, 260, 300), (0, 205, 270, 300), (0, 520, 500, 200)]
    assert reading_order(slanted, "rtl") == [0, 1, 2, 3]
    assert reading_order(slanted, "ltr") == [0, 2, 1, 3]
    assert reading_order([], "ltr") == []
    assert reading_order([(5, 5, 10, 10)], "rtl") == [0]
    with pytest.raises(ValueError, match="direction"):
        reading_order(grid, "ttb")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("direction", ["ltr", "rtl"])
def test_recovers_synthetic_order_from_shuffled_jittered_boxes(layout, direction):
    for seed in range(25):
        rng = np.random.default_rng([seed, LAYOUTS.index(layout)])
        truth = [p.rect for p in make_layout(layout, rng, 1060, 1600, direction)]
        perm = rng.permutation(len(truth))
        for jitter in (0, 1):
            boxes = [tuple(float(v) + rng.integers(-jitter, jitter + 1) for v in truth[i]) for i in perm]
            order = reading_order(boxes, direction)
            assert [int(perm[i]) for i in order] == list(range(len(truth))), (seed, jitter)


def test_openmantra_annotated_order(shared_data):
    books = json.loads((shared_data / "open-mantra" / "annotation.json").read_text())
    pages = [
        [(f["x"], f["y"], f["w"], f["h"]) for f in page["frame"]] for book in books for page in book["pages"]
    ]
    multi = [boxes for boxes in pages if len(boxes) > 1]
    exact = sum(reading_order(boxes, "rtl") == list(range(len(boxes))) for boxes in multi)
    assert len(multi) == 76
    assert exact / len(multi) >= 0.9  # 71/76 at the time of writing; the misses overlap heavily
