"""Tilted scans: the page's tilt is measured from its edges, the page turned straight for the
classical detector, and the boxes turned back onto the page as scanned (detectors/skew.py)."""

import dataclasses

import numpy as np
import pytest
from PIL import Image

from comics_analysis.annotate import ClassicalConfig, detect_classical
from comics_analysis.annotate.detectors.skew import page_skew, straighten
from comics_analysis.dataspec.geometry import turned_box
from comics_analysis.metrics.panels import match_boxes
from comics_analysis.synth import LAYOUTS, make_page
from comics_analysis.synth.scan import tilt as turned
from hard_pages import manga_page, slanted_full_bleed, thin_gutter_borderless


def grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


@pytest.mark.parametrize("degrees", [0.7, -1.0, 2.2])
def test_the_tilt_of_a_scan_is_measured_from_its_edges(degrees):
    pages = [manga_page(seed=1)[0], make_page((3, 0), layout=LAYOUTS[0], gutter="white").image]
    pages.append(make_page((3, 1), layout=LAYOUTS[2], gutter="black").image)
    for page in pages:
        assert page_skew(grey(turned(page, [], degrees)[0])) == pytest.approx(degrees, abs=0.1)


def test_straight_pages_and_drawn_slants_are_left_alone():
    straight = [make_page((4, i), layout=layout, gutter="white").image for i, layout in enumerate(LAYOUTS)]
    straight.append(manga_page(seed=2, lean=0.05)[0])  # one leaning gutter: the layout's
    straight.append(slanted_full_bleed()[0])  # slanted drawn gutters across a full-bleed page
    assert [page_skew(grey(page)) for page in straight] == [0.0] * len(straight)
    assert page_skew(np.full((600, 400), 255, np.uint8)) == 0.0  # a blank page: nothing to measure


@pytest.mark.parametrize("degrees", [0.7, -1.0])
def test_a_tilted_scan_of_thin_gutters_is_cut_straight(degrees):
    # borderless panels 8 px apart: at 0.7 degrees a gutter drifts by ~20 px across the page, so
    # no row or column of it is paper: the code before saw one whole-page panel
    image, truth = thin_gutter_borderless(8)
    image, truth = turned(image, truth, degrees)
    pred = [d.bbox for d in detect_classical(image)]
    matches = match_boxes(truth, pred)
    assert len(pred) == 7 and len(matches) == 7 and min(m[2] for m in matches) > 0.9
    before = [d.bbox for d in detect_classical(image, dataclasses.replace(ClassicalConfig(), deskew=False))]
    assert len(match_boxes(truth, before)) <= 1


def test_a_box_of_the_straightened_page_lands_on_the_panel_as_scanned():
    page = np.zeros((500, 300), np.uint8)
    page[100:220, 60:200] = 255  # one white panel on black
    for degrees in (1.5, -2.5):
        scanned = np.asarray(Image.fromarray(page).rotate(degrees, resample=Image.Resampling.NEAREST))
        back = straighten(scanned, degrees)
        ys, xs = np.nonzero(back > 128)  # the panel, straight again
        x, y, w, h = turned_box(
            (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()), degrees, 300, 500
        )
        ys, xs = np.nonzero(scanned > 128)  # the panel where the scan has it
        assert (x, y, x + w, y + h) == pytest.approx((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), abs=3)
