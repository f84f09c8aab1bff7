"""A scanned page's tilt, and panels found on the page turned straight.

Printed pages scanned on a flatbed or photographed come back tilted by a fraction of a degree to
a few degrees. Every cut of the classical detector runs along rows and columns, so at 1 degree a
gutter drifts by ~17 px across a 1000 px wide page and is no longer one clean run of paper: on
the real dev pages turned by 1 degree, F1 fell from 0.93 to 0.76 (tencho_isoro) and from 0.91 to
0.82 (Craphound).

The tilt is the angle that makes the page's straight edges line up best with rows and columns:
horizontal edges (a large grey step between a pixel and the one below it) projected onto rows
and vertical edges projected onto columns, after shearing them by the candidate angle; the sum of
the squared profiles is largest when frame lines, gutter sides and balloon tops each fall into
one row or column (a projection-profile search, coarse then fine), measured for the horizontal
and the vertical edges apart. A page is turned only when both agree and each beats the page as
it is by a clear margin, so digital pages (all edges already straight) and pages whose slanted
gutters are a drawn layout (they lean one way, not both) are left alone.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

SKEW_SIDE = 800  # the page's longer side is brought to this many pixels to measure its tilt
EDGE_STEP = 60  # grey levels between neighbouring pixels that make an edge
MAX_SKEW = 3.0  # degrees: a scan's tilt; beyond it, a slant is the layout's
COARSE = 0.2  # degrees between the angles first tried
FINE = 0.02  # ... then around the best of them
MIN_SKEW = 0.2  # degrees: a smaller tilt moves a gutter by under a pixel per 300 px of page
MIN_GAIN = 1.01  # the best angle's edge profile beats the page's own by this factor at least
MIN_EDGES = 500  # edge pixels needed to measure anything
AGREE = 0.3  # degrees: the tilts of the horizontal and of the vertical edges agree this well


def _sharpness(bins: np.ndarray, size: int) -> float:
    profile = np.bincount(bins, minlength=size).astype(np.float64)
    return float(profile @ profile)


def page_skew(grey: np.ndarray) -> float:
    """The page's tilt in degrees (positive: its content is turned counter-clockwise, as
    displayed), or 0.0 when the page is straight or its tilt cannot be told from its edges."""
    height, width = grey.shape
    scale = min(1.0, SKEW_SIDE / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = np.asarray(Image.fromarray(np.ascontiguousarray(grey)).resize(size, Image.Resampling.BOX))
    g = grey.astype(np.int16)
    hy, hx = np.nonzero(np.abs(g[1:] - g[:-1]) > EDGE_STEP)  # horizontal edges: rows
    vy, vx = np.nonzero(np.abs(g[:, 1:] - g[:, :-1]) > EDGE_STEP)  # vertical edges: columns
    if len(hy) + len(vy) < MIN_EDGES:
        return 0.0
    h, w = g.shape
    rows, cols = h + 2 * w + 2, w + 2 * h + 2

    def row_score(angle: float, step: int = 1) -> float:
        shear = hy[::step] - hx[::step] * math.tan(math.radians(angle))
        return _sharpness(np.round(shear).astype(np.int64) + w, rows)

    def col_score(angle: float, step: int = 1) -> float:
        shear = vx[::step] + vy[::step] * math.tan(math.radians(angle))
        return _sharpness(np.round(shear).astype(np.int64) + h, cols)

    def best(score) -> tuple[float, float]:
        coarse = np.arange(-MAX_SKEW, MAX_SKEW + 1e-9, COARSE)  # on every 4th edge pixel
        top = float(coarse[int(np.argmax([score(a, 4) for a in coarse]))])
        if abs(top) > MAX_SKEW - COARSE:  # no peak inside the range: the slant is the layout's
            return top, 0.0
        fine = top + np.arange(-COARSE, COARSE + 1e-9, FINE)
        scores = [score(a) for a in fine]
        return float(fine[int(np.argmax(scores))]), max(scores) / max(score(0.0), 1.0)

    (by_rows, row_gain), (by_cols, col_gain) = best(row_score), best(col_score)
    # a turned page turns its horizontal and its vertical edges alike; a layout's slanted
    # gutters lean one way only (or the two ways by different angles)
    if abs(by_rows - by_cols) > AGREE or min(row_gain, col_gain) < MIN_GAIN:
        return 0.0
    angle = (by_rows + by_cols) / 2
    if abs(angle) < MIN_SKEW:
        return 0.0
    return -angle  # the shear that straightens the edges undoes the page's own turn


def straighten(grey: np.ndarray, skew: float) -> np.ndarray:
    """The page turned back by ``skew`` degrees about its centre, same size; the corners the turn
    uncovers take the tone of the page's outer edge (its margin paper or bleed)."""
    import cv2  # lazy: OpenCV loads only for a tilted page

    height, width = grey.shape
    edge = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), -skew, 1.0)
    return cv2.warpAffine(
        np.ascontiguousarray(grey),
        turn,
        (width, height),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=int(np.median(edge)),
    )
