"""Panels separated by their frame lines alone: the classical detector's last resort for a
region that no gutter divides, straight or slanted.

Panels that overlap or abut their neighbours (a pinwheel of four panels, a panel drawn over the
side or corner of the next) leave no gutter that runs across the region, but each panel is
outlined by a thin dark frame line (darker than both sides, or black with dark art running into
one side). The long, straight horizontal and vertical lines of the region (bridged across breaks,
extended over the corners where they meet) are erased; when the solid that is left falls into two
or more large, nearly rectangular shapes that hold most of it and do not nest (boxes sharing a
quarter of the smaller: an inset, a rectangle in the art), those shapes are the panels. In a
framed region, shapes that one straight line across it divides are a line in its art (a door's
edge), not two panels.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .classical import ClassicalConfig

NESTED = 0.25  # two parts whose boxes share this much of the smaller one nest: not a tiling


def thin_lines(grey: np.ndarray, contrast: int = 40, thick: int = 4, black: int = 60) -> np.ndarray:
    """Per axis (0: horizontal, 1: vertical), the pixels of a page that may be a frame line along
    it: at least ``contrast`` grey levels darker than the lighter of their surroundings within
    ``thick`` pixels across that axis (a thin line, not a dark mass), or black (at most ``black``)
    and twice that darker than a pixel within 2 pixels on one side (a black frame that dark art
    runs into on its other side). Computed once per page."""
    import cv2

    g = np.ascontiguousarray(grey)
    gi = g.astype(np.int16)
    out = np.zeros((2, *g.shape), np.uint8)
    for axis, across in ((0, (2 * thick + 1, 1)), (1, (1, 2 * thick + 1))):
        two = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, np.ones(across, np.uint8)) >= contrast
        pad = np.pad(gi, [(2, 2) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        n = gi.shape[axis]
        near = np.max([pad.take(range(k, k + n), axis=axis) for k in (0, 1, 3, 4)], axis=0)
        one = (gi <= black) & (near - gi >= 2 * contrast)
        out[axis] = two | one
    return out


def frame_lines(thin: np.ndarray, length: int, gap: int = 8) -> np.ndarray:
    """Straight horizontal and vertical lines at least ``length`` long in ``thin``
    (:func:`thin_lines` of a region): short breaks closed, pieces half that long kept (letters and
    hatching go), widened by a pixel each way (a line wavers), pieces bridged across breaks of up
    to half the length (art drawn over the frame), long lines kept and extended by ``gap`` pixels
    at each end (over the corner where another line meets it, where neither is thin)."""
    import cv2

    out = np.zeros(thin.shape[1:], np.uint8)
    for axis in (0, 1):
        line = thin[axis]
        for op, n in (
            ("close", 3),
            ("open", length // 2),
            ("widen", 3),
            ("close", max(gap, length // 2) + 1),
            ("open", length),
            ("extend", 2 * gap + 1),
        ):
            kernel = np.ones((1, n) if (axis == 0) != (op == "widen") else (n, 1), np.uint8)
            if op in ("widen", "extend"):
                line = cv2.dilate(line, kernel)
            else:
                line = cv2.morphologyEx(line, cv2.MORPH_CLOSE if op == "close" else cv2.MORPH_OPEN, kernel)
        out |= line
    return out.astype(bool)


def frame_parts(
    solid: np.ndarray, thin: np.ndarray, cfg: ClassicalConfig, framed: bool = True
) -> list[tuple[int, int, int, int]]:
    """Boxes of the panels a region's frame lines separate, or [] (see the module docstring)."""
    import cv2

    h, w = solid.shape
    length = max(cfg.min_side_px, int(cfg.frame_line * min(h, w)))
    lines = frame_lines(thin, length)
    if not lines.any():
        return []
    lines = cv2.dilate(lines.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    rest = (solid & ~lines).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(rest, connectivity=4)
    big = [
        s
        for s in stats[1:]
        if s[4] >= cfg.frame_part * h * w
        and min(s[2], s[3]) >= cfg.min_side_px
        and s[4] >= cfg.frame_rect * s[2] * s[3]
    ]
    if len(big) < 2 or sum(s[4] for s in big) < cfg.frame_hold * solid.sum():
        return []
    boxes = [
        (max(0, x - 2), max(0, y - 2), min(w, x + bw + 2), min(h, y + bh + 2)) for x, y, bw, bh, _ in big
    ]
    if any(_overlap(a, b) > NESTED for a, b in itertools.combinations(boxes, 2)):
        return []  # one shape inside another (an inset, a drawn rectangle in the art), not a tiling
    if framed and _guillotine(boxes):
        return []  # a framed region that one straight line divides: a line in its art (a door)
    return boxes


def _guillotine(boxes: list[tuple[int, int, int, int]], tol: int = 8) -> bool:
    """Whether one straight horizontal or vertical line across the region puts every box on one
    side of it (within ``tol`` pixels) and some on each side: a layout that X-Y cuts describe."""
    for lo, hi in ((0, 2), (1, 3)):
        for cut in {b[hi] for b in boxes}:
            before = [b[hi] <= cut + tol for b in boxes]
            after = [b[lo] >= cut - tol for b in boxes]
            if all(p or q for p, q in zip(before, after)) and any(before) and not all(before):
                return True
    return False


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection of two boxes as a share of the smaller."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def corner_frame(
    solid: np.ndarray,
    thin: np.ndarray,
    paper: np.ndarray,
    cfg: ClassicalConfig,
    tol: float = 0.04,
    side: float = 0.5,
    cover: float = 0.85,
) -> list[tuple[int, int, int, int]]:
    """A framed panel in a corner of an unframed region and the open (borderless) panel beside it,
    whose art runs into the frame so that no gutter parts them: [frame box, box of the rest], or [].

    The frame is a rectangle of long straight frame lines (each side at least ``side`` lined, all
    four ``cover`` on average: the open panel's art may be drawn over one side) that sits in a
    corner of the region (within ``tol`` of two adjacent sides), holds a share of it between
    ``corner_low`` and ``corner_high`` and holds art (a frame around paper is a caption box); the
    rest of the region's solid, outside the frame, must be as large (a panel, not a balloon
    spilling over the frame)."""
    import cv2

    h, w = solid.shape
    length = max(cfg.min_side_px, int(cfg.frame_line * min(h, w)))
    empty = np.zeros_like(thin[0])
    horiz = frame_lines(np.stack([thin[0], empty]), length)
    vert = frame_lines(np.stack([empty, thin[1]]), length)
    band = 3
    hb = cv2.dilate(horiz.astype(np.uint8), np.ones((2 * band + 1, 1), np.uint8))
    vb = cv2.dilate(vert.astype(np.uint8), np.ones((1, 2 * band + 1), np.uint8))
    hcum = np.concatenate([np.zeros((h, 1), np.int32), np.cumsum(hb, axis=1, dtype=np.int32)], axis=1)
    vcum = np.concatenate([np.zeros((1, w), np.int32), np.cumsum(vb, axis=0, dtype=np.int32)], axis=0)

    def _positions(mask: np.ndarray, axis: int) -> list[int]:
        strong = np.flatnonzero(mask.sum(axis=1 - axis) >= length)
        if strong.size == 0:
            return []
        runs = np.split(strong, np.flatnonzero(np.diff(strong) > 1) + 1)
        return [int(r[len(r) // 2]) for r in runs]

    rows, cols = _positions(horiz, 0), _positions(vert, 1)
    ty, tx = tol * h, tol * w
    best = None
    for t, b in itertools.combinations(rows, 2):
        if b - t < cfg.min_side_px or not (t <= ty or b >= h - ty):
            continue
        for left, r in itertools.combinations(cols, 2):
            if r - left < cfg.min_side_px or not (left <= tx or r >= w - tx):
                continue
            share = (r - left) * (b - t) / (h * w)
            if not cfg.corner_low <= share <= cfg.corner_high or (best and share <= best[0]):
                continue
            sides = (
                (hcum[t, r] - hcum[t, left]) / (r - left),
                (hcum[b, r] - hcum[b, left]) / (r - left),
                (vcum[b, left] - vcum[t, left]) / (b - t),
                (vcum[b, r] - vcum[t, r]) / (b - t),
            )
            if min(sides) < side or sum(sides) < 4 * cover:
                continue
            inside = paper[t + 2 * band : b - 2 * band, left + 2 * band : r - 2 * band]
            if inside.size and inside.mean() <= 0.5:
                best = (share, (left, t, r, b))
    if best is None:
        return []
    left, t, r, b = best[1]
    rest = solid.copy()
    rest[max(0, t - 2 * band) : b + 2 * band, max(0, left - 2 * band) : r + 2 * band] = False
    _, _, stats, _ = cv2.connectedComponentsWithStats(rest.astype(np.uint8), connectivity=8)
    keep = [s for s in stats[1:] if s[4] >= 0.01 * h * w]
    if not keep:
        return []
    x0 = min(s[0] for s in keep)
    y0 = min(s[1] for s in keep)
    x1 = max(s[0] + s[2] for s in keep)
    y1 = max(s[1] + s[3] for s in keep)
    rest_area = (x1 - x0) * (y1 - y0)
    if (
        rest_area < max(cfg.corner_low * h * w, 0.25 * (r - left) * (b - t))
        or min(x1 - x0, y1 - y0) < cfg.min_side_px
    ):
        return []
    if _overlap((left, t, r, b), (x0, y0, x1, y1)) > 0.5:
        return []  # the rest surrounds the frame: a framed shape in the art (a window), no panel beside it
    x1, y1 = min(x1, w - 1), min(y1, h - 1)
    lined = (
        (hcum[y0, x1] - hcum[y0, x0]) / (x1 - x0),
        (hcum[y1, x1] - hcum[y1, x0]) / (x1 - x0),
        (vcum[y1, x0] - vcum[y0, x0]) / (y1 - y0),
        (vcum[y1, x1] - vcum[y0, x1]) / (y1 - y0),
    )
    beside = (
        min(x1, r + 2 * band) - max(x0, left - 2 * band) <= 0
        or min(y1, b + 2 * band) - max(y0, t - 2 * band) <= 0
    )
    if sum(c >= side for c in lined) > 2 and beside:
        return []  # the rest is framed too and abuts the frame: a line across one panel's art (a clock hand)
    return [(left, t, r, b), (int(x0), int(y0), int(x1), int(y1))]
