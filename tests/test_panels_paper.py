"""Panels on yellowed Golden-Age paper: the page's paper tone is measured and brought to white
before the cuts, so ink keeps the contrast with the paper that white paper gives it."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from comics_analysis.annotate import detect_classical
from comics_analysis.metrics.panels import match_boxes
from comics_analysis.synth import make_page
from comics_analysis.synth.draw import age_paper
from hard_pages import manga_page, thin_gutter_borderless


def aged(image, seed=0):
    """Printed on Golden-Age stock (white -> grey ~184, the tone drifting across the page) and
    scanned with grain."""
    return age_paper(image, np.random.default_rng(seed), "golden_age", noise=3.0)


@pytest.mark.parametrize("layout", ["grid", "borderless", "nested", "bleed"])
def test_synthetic_layouts_on_golden_age_paper(layout):
    page = make_page((9, 0), layout=layout, gutter="white", crossing=2)
    truth = [p.bbox for p in page.record.panels]
    image = aged(page.image)
    if layout != "bleed":  # art runs off the page there
        assert 170 < np.median(np.asarray(image.convert("L"))[:12, :12]) < 200  # the margin's paper
    matches = match_boxes(truth, [d.bbox for d in detect_classical(image)])
    assert len(matches) == len(truth) and min(m[2] for m in matches) > 0.85


def test_manga_and_thin_gutters_on_golden_age_paper():
    for image, truth in (manga_page(seed=1), thin_gutter_borderless(4)):
        pred = [d.bbox for d in detect_classical(aged(image, 1))]
        assert len(pred) == len(truth) and len(match_boxes(truth, pred)) == len(truth)


def light_art_page(seed: int, tone: int = 200, gutter: int = 30, size=(1700, 2400)):
    """Six borderless panels of light flat colour (``tone``: a pale sky, a light screentone)
    with a few dark strokes, on white paper; the truth boxes."""
    rng = np.random.default_rng(seed)
    (w, h), margin = size, 90
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    cw, rh = (w - 2 * margin - gutter) // 2, (h - 2 * margin - 2 * gutter) // 3
    truth = []
    for r in range(3):
        for c in range(2):
            x0, y0 = margin + c * (cw + gutter), margin + r * (rh + gutter)
            draw.rectangle([x0, y0, x0 + cw - 1, y0 + rh - 1], fill=(tone,) * 3)
            for _ in range(25):
                x, y = int(rng.integers(x0 + 20, x0 + cw - 20)), int(rng.integers(y0 + 20, y0 + rh - 20))
                end = (
                    min(x0 + cw - 1, x + int(rng.integers(-80, 80))),
                    min(y0 + rh - 1, y + int(rng.integers(-80, 80))),
                )
                draw.line([(x, y), end], fill=(40,) * 3, width=3)
            truth.append((x0, y0, cw, rh))
    return image, truth


@pytest.mark.parametrize("paper", ["golden_age", "yellowed"])
def test_light_coloured_panels_on_aged_paper_stay_panels(paper):
    # a tone of 200 sits 55 levels under white paper but only ~40 under Golden-Age paper's ~184,
    # where the ink threshold read it as paper: 1, 2 and 4 of the 6 panels were found before
    for seed in range(3):
        image, truth = light_art_page(seed)
        pred = [
            d.bbox for d in detect_classical(age_paper(image, np.random.default_rng(seed), paper, noise=3.0))
        ]
        assert len(pred) == 6 and len(match_boxes(truth, pred)) == 6, seed
