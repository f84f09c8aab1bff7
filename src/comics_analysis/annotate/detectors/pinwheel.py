"""Staggered gutters of the ``classical`` panel detector: two gutters that enter a region from
opposite sides at different heights and stop where they meet the other column's panel.

Two columns of panels whose horizontal gutters do not line up, the columns abutting along frame
lines with no gutter between them (a pinwheel, or a panel drawn over its neighbour's edge): no
straight gutter crosses the region, but each column's gutter runs in from the region's outer side
(a bay of paper) and stops at the other column's frame. Where the two bays stop within a few
pixels of each other and a frame line runs down the region there, that place is the columns'
common edge: the region is cut there, and each column along its own bay. Rows and columns alike
(a region turned on its side).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .classical import ClassicalConfig

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 within the region

BAY_REACH = 0.3  # a bay runs in from its side over this share of the region at least
EDGE_LINE = 0.4  # ... and a frame line runs down this share of the region where they meet
BAY_MEET = 0.03  # ... and the two bays stop this share of the region's width apart at most (4 px at least)


def _lead(gutter: np.ndarray) -> np.ndarray:
    """Per row, how many pixels of gutter run in from the row's start."""
    solid = ~gutter
    first = np.argmax(solid, axis=1)
    return np.where(solid.any(axis=1), first, gutter.shape[1])


def _bays(reach: np.ndarray, least: int, thick: int, side: int) -> list[tuple[int, int, int]]:
    """Runs of rows (start, stop, depth: the shortest reach over them) whose gutter runs in at
    least ``least`` pixels, ``thick`` rows or more, with ``side`` rows of the region above and
    below them."""
    rows = np.flatnonzero(np.diff(np.concatenate([[0], (reach >= least).astype(np.int8), [0]])))
    out = []
    for a, b in zip(rows[::2].tolist(), rows[1::2].tolist(), strict=True):
        if b - a >= thick and a >= side and len(reach) - b >= side:
            out.append((a, b, int(reach[a:b].min())))
    return out


def _edge_line(dark: np.ndarray, c: int, tol: int) -> float:
    """The share of the rows that the best straight column of ``dark`` within ``tol`` of ``c``
    covers (a frame line drawn a pixel either way counts)."""
    band = dark[:, max(0, c - tol - 1) : c + tol + 2].astype(np.uint8)
    if band.shape[1] < 3:
        return 0.0
    joined = band[:, :-2] | band[:, 1:-1] | band[:, 2:]
    return float(joined.mean(axis=0).max())


def staggered_cut(solid: np.ndarray, dark: np.ndarray, cfg: ClassicalConfig) -> list[Box]:
    """The four pieces of a region that two staggered bays part (:mod:`.pinwheel`), or [] when it
    has no such pair."""
    for axis in (1, 0):  # horizontal bays (two columns), then vertical ones (two rows)
        view, lines = (solid, dark) if axis == 1 else (solid.T, dark.T)
        h, w = view.shape
        if w < 4 * cfg.min_side_px or h < 4 * cfg.min_side_px:
            continue
        gutter = ~view
        lead = _lead(gutter)
        if (lead >= w).any():
            continue  # a straight gutter crosses the region: the other splitters' job
        least, thick = int(BAY_REACH * w), max(cfg.min_gutter, 2)
        lefts = _bays(lead, least, thick, cfg.min_side_px)
        rights = _bays(_lead(gutter[:, ::-1]), least, thick, cfg.min_side_px)
        for la, lb, ldepth in lefts:
            for ra, rb, rdepth in rights:
                c_left, c_right = ldepth, w - rdepth  # where each bay stops
                tol = max(4, int(BAY_MEET * w))
                if abs(c_left - c_right) > tol or min(lb, rb) > max(la, ra):
                    continue  # stopping apart, or level with each other (one straight gutter)
                c = (c_left + c_right) // 2
                if min(c, w - c) < 2 * cfg.min_side_px or _edge_line(lines, c, tol) < EDGE_LINE:
                    continue  # no frame line where the columns meet: art around open paper
                pieces = [(0, 0, c, la), (0, lb, c, h), (c, 0, w, ra), (c, rb, w, h)]
                return [p if axis == 1 else (p[1], p[0], p[3], p[2]) for p in pieces]
    return []
