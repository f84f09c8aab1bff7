"""Prose lines on a page image (issue 17.4d): the pixel count behind the not-a-comic score.

What no comic page has is prose: many long lines of body text. :func:`prose_lines` counts them
from the pixels alone (no OCR, no language: horizontal lines of letters; vertical Japanese
lettering in balloons is not a long horizontal line). ``embed`` counts them on the page image it
already holds and stores them per page (the store's ``prose_lines`` array), so that ``analyze``
can rank text pages first without the images (:func:`comics_analysis.analysis.not_a_comic_scores`).

A prose line, on the grey page scaled to 1,000 pixels wide: the ink (darker than the paper, the
90th-percentile brightness, by more than 60 of 255 levels) is closed horizontally over gaps up
to 1.2 % of the page width (letters join into words, words into a line; lines stay apart); a
joined run is a line of body text when its height is 0.6-3 % of the page width (body type of
9-14 pt on a printed page: letters with ascenders and descenders) and its width at least 20 %
of the page (a line of a column, wider than a balloon's line), and ink covers 8-60 % of its box
(letters, not a rule or a filled shape). Round numbers from printed typography, none fitted to
a book. Measured (``docs/search.md``): 0 on every page of balloon_dream and tencho_isoro, 0 on
23 of Craphound's 24 pages, 26-95 on every document page drawn by ``synth/documents.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

WIDTH = 1000  # the page is measured at this width
_INK_STEP = 60  # grey levels darker than the paper
_GAP = 0.012  # horizontal gap closed, share of the width
_HEIGHT = (0.006, 0.03)  # line height, share of the width
_MIN_WIDTH = 0.2  # line width, share of the width
_FILL = (0.08, 0.6)  # ink share of a line's box
PROSE_PAGE_LINES = 10  # a page with this many prose lines is a text page (a comic page has 0-2)


@dataclass(frozen=True)
class ProseLines:
    lines: int  # prose lines on the page
    area: float  # their boxes' summed area / the page's area


def prose_lines(image: Image.Image) -> ProseLines:
    """The prose lines of a page image (module docstring)."""
    import cv2  # lazy: OpenCV is needed only where prose lines are counted

    grey = image.convert("L")
    height = max(1, round(grey.height * WIDTH / max(1, grey.width)))
    g = np.asarray(grey.resize((WIDTH, height), Image.BILINEAR), dtype=np.float32)
    ink = (g < float(np.percentile(g, 90)) - _INK_STEP).astype(np.uint8)
    gap = round(_GAP * WIDTH)
    # closing that treats the outside of the page as empty (no line is joined across the border)
    padded = cv2.copyMakeBorder(ink, 0, 0, gap, gap, cv2.BORDER_CONSTANT, value=0)
    joined = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, np.ones((1, gap), np.uint8))[:, gap:-gap]
    _, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    x, y, w, h = (stats[1:, i] for i in range(4))
    low, high = _HEIGHT[0] * WIDTH, _HEIGHT[1] * WIDTH
    keep = (h >= low) & (h <= high) & (w >= _MIN_WIDTH * WIDTH)
    summed = cv2.integral(ink)  # ink pixels in each kept line's box
    x, y, w, h = x[keep], y[keep], w[keep], h[keep]
    inside = summed[y + h, x + w] - summed[y, x + w] - summed[y + h, x] + summed[y, x]
    fill = inside / np.maximum(1, w * h)
    line = (fill >= _FILL[0]) & (fill <= _FILL[1])
    return ProseLines(int(line.sum()), float((w * h)[line].sum()) / (WIDTH * height))
