"""Scanned copies of a page with their boxes carried along (synth/scan.py)."""

import numpy as np
import pytest
from PIL import Image

from comics_analysis.synth.scan import SCANS, darker, jpeg, rescale, tilt


def page_with_panel():
    image = Image.new("RGB", (300, 500), "black")
    image.paste((255, 255, 255), (60, 100, 200, 220))  # one white panel, x 60-200, y 100-220
    return image, [(60.0, 100.0, 140.0, 120.0)]


@pytest.mark.parametrize("degrees", [1.5, -2.5])
def test_a_turned_box_is_the_box_around_the_turned_panel(degrees):
    image, boxes = page_with_panel()
    turned, [(x, y, w, h)] = tilt(image, boxes, degrees)
    assert turned.size == image.size
    ys, xs = np.nonzero(np.asarray(turned.convert("L")) > 128)
    assert (x, y, x + w, y + h) == pytest.approx((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), abs=2)


def test_rescaled_compressed_and_darker_copies():
    image, boxes = page_with_panel()
    half, [box] = rescale(image, boxes, 0.5)
    assert half.size == (150, 250) and box == (30.0, 50.0, 70.0, 60.0)
    small, same = jpeg(image, boxes, 30)
    assert small.size == image.size and same == boxes
    dark, _ = darker(Image.new("RGB", (4, 4), (128, 128, 128)), boxes, 1.8)
    assert dark.getpixel((0, 0))[0] == round(255 * (128 / 255) ** 1.8) < 128


def test_every_scan_keeps_one_box_per_panel_inside_the_page():
    image, boxes = page_with_panel()
    rng = np.random.default_rng(0)
    for name, scan in SCANS.items():
        out, moved = scan(image, boxes, rng)
        assert len(moved) == 1, name
        x, y, w, h = moved[0]
        assert min(x, y) >= 0 and x + w <= out.width and y + h <= out.height and w > 0 and h > 0, name
    aged, _ = SCANS["Golden-Age paper"](Image.new("RGB", (200, 200), "white"), [], rng)
    assert 170 < np.median(np.asarray(aged.convert("L"))) < 200  # yellowed Golden-Age paper, grey ~184
