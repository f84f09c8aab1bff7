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


def frame_lines(thin: np.ndarray, length: int, gap: int = 8, axes: tuple[int, ...] = (0, 1)) -> np.ndarray:
    """Straight horizontal and vertical lines at least ``length`` long in ``thin``
    (:func:`thin_lines` of a region): short breaks closed, pieces half that long kept (letters and
    hatching go), widened by a pixel each way (a line wavers), pieces bridged across breaks of up
    to half the length (art drawn over the frame), long lines kept and extended by ``gap`` pixels
    at each end (over the corner where another line meets it, where neither is thin)."""
    import cv2

    out = np.zeros(thin.shape[1:], np.uint8)
    for axis in axes:
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


class _LineGrid:
    """The long straight horizontal and vertical frame lines of a region (:func:`frame_lines` of
    its :func:`thin_lines`, each axis on its own): the rows and columns they run along, and how much
    of any rectangle's four sides they cover."""

    band = 3  # a side counts as lined where a line runs within this many pixels of it

    def __init__(self, thin: np.ndarray, length: int):
        import cv2

        h, w = thin.shape[1:]
        horiz = frame_lines(thin, length, axes=(0,))
        vert = frame_lines(thin, length, axes=(1,))
        k = 2 * self.band + 1
        hb = cv2.dilate(horiz.astype(np.uint8), np.ones((k, 1), np.uint8))
        vb = cv2.dilate(vert.astype(np.uint8), np.ones((1, k), np.uint8))
        self.hcum = np.concatenate(
            [np.zeros((h, 1), np.int32), np.cumsum(hb, axis=1, dtype=np.int32)], axis=1
        )
        self.vcum = np.concatenate(
            [np.zeros((1, w), np.int32), np.cumsum(vb, axis=0, dtype=np.int32)], axis=0
        )
        self.rows = self._positions(horiz, 0, length)
        self.cols = self._positions(vert, 1, length)

    @staticmethod
    def _positions(mask: np.ndarray, axis: int, length: int) -> list[int]:
        strong = np.flatnonzero(mask.sum(axis=1 - axis) >= length)
        if strong.size == 0:
            return []
        runs = np.split(strong, np.flatnonzero(np.diff(strong) > 1) + 1)
        return [int(r[len(r) // 2]) for r in runs]

    def lined(self, left: int, top: int, right: int, bottom: int) -> tuple[float, float, float, float]:
        """Shares of the top, bottom, left and right sides of a rectangle that frame lines cover."""
        hcum, vcum = self.hcum, self.vcum
        return (
            (hcum[top, right] - hcum[top, left]) / (right - left),
            (hcum[bottom, right] - hcum[bottom, left]) / (right - left),
            (vcum[bottom, left] - vcum[top, left]) / (bottom - top),
            (vcum[bottom, right] - vcum[top, right]) / (bottom - top),
        )


def texty(solid: np.ndarray, art_share: float) -> bool:
    """Whether a region's ink is lettering (many small glyphs) rather than art: no connected shape
    holds ``art_share`` of it. A borderless panel's figures are a few large shapes."""
    import cv2

    _, _, stats, _ = cv2.connectedComponentsWithStats(solid.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return areas.size == 0 or areas.max() < art_share * areas.sum()


def lettered(inside: np.ndarray, ink: float = 0.005, dot: int = 5, letters: int = 10) -> bool:
    """Whether a framed box's interior (grey) is lettering on a tint, as a caption box is: at least
    ``letters`` dark glyphs (below 80; dots of under ``dot`` pixels are a screentone), holding at
    least ``ink`` of it, none of them a large shape (:func:`texty`) as a drawing has."""
    import cv2

    _, _, stats, _ = cv2.connectedComponentsWithStats((inside < 80).astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    glyphs = areas[areas >= dot]
    if glyphs.size < letters or glyphs.sum() < ink * inside.size:
        return False
    return bool(glyphs.max() < 0.5 * glyphs.sum())


def lined_insets(
    thin: np.ndarray,
    grey: np.ndarray,
    pale: float,
    cfg: ClassicalConfig,
    corner: float = 0.1,
    span: float = 0.2,
    side: float = 0.8,
    small: float = 0.25,
) -> list[tuple[int, int, int, int]]:
    """Insets of a framed panel that the contour search misses because the panel's art runs into
    their frame (a tree trunk drawn up to it): rectangles of long straight frame lines, every side
    at least ``side`` lined, inside the panel (not along its own frame), in a corner of it (within
    ``corner`` of two adjacent sides, at least ``span`` from one opposite side: a corner, or a band
    across one end at least half as deep as it is long), each side at least ``small`` of the
    panel's shorter side (straight lines meet by chance around small patches of art), holding
    between 5% and 60% of it, and holding art: not paper (lighter than ``pale``: a balloon), not
    a solid dark mass, not :func:`lettered` (a caption box); and it is drawn over its panel's art
    (what lies just around it is not mostly paper)."""
    h, w = thin.shape[1:]
    grid = _LineGrid(thin, max(cfg.min_side_px, int(cfg.frame_line * min(h, w))))
    edge = 2 * grid.band + 2
    rows = [y for y in grid.rows if edge <= y <= h - 1 - edge]  # not the panel's own frame
    cols = [x for x in grid.cols if edge <= x <= w - 1 - edge]

    def _pairs(positions: list[int], size: int) -> list[tuple[int, int, bool]]:
        """(low, high, free) pairs of lines near one end of the panel's side; free: well away from
        the other end."""
        out = []
        for lo, hi in itertools.combinations(positions, 2):
            a, c = lo / size, (size - hi) / size
            if min(a, c) <= corner and hi - lo >= max(cfg.min_side_px, small * min(h, w)):
                out.append((lo, hi, max(a, c) >= span))
        return out

    found = []
    for t, b, free_y in _pairs(rows, h):
        for left, r, free_x in _pairs(cols, w):
            if not (free_x or free_y):
                continue  # in a corner, or a band across one end of the panel
            if not (free_x and free_y) and 2 * min(r - left, b - t) < max(r - left, b - t):
                continue  # a band across the panel thinner than half its length: a caption strip
            if not 0.05 <= (r - left) * (b - t) / (h * w) <= 0.6:
                continue
            if min(grid.lined(left, t, r, b)) < side:
                continue
            m = 2 * grid.band
            inside = grey[t + m : b - m, left + m : r - m]
            if np.mean(inside > pale) > 0.5 or np.mean(inside < 80) > 0.4:
                continue  # paper (a caption box, a balloon) or a solid dark shape
            if lettered(inside):
                continue  # its ink is lettering: a caption box, not a picture
            ring = np.zeros(grey.shape, bool)
            ring[
                max(edge, t - 4 * m) : min(h - edge, b + 4 * m),
                max(edge, left - 4 * m) : min(w - edge, r + 4 * m),
            ] = True
            ring[max(0, t - m) : b + m, max(0, left - m) : r + m] = False
            if not ring.any() or np.mean(grey[ring] > pale) > 0.5:
                continue  # paper around it: a picture framed on the page, not drawn over its panel's art
            found.append((left, t, r, b))
    return largest_apart(found)


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
    grid = _LineGrid(thin, max(cfg.min_side_px, int(cfg.frame_line * min(h, w))))
    rows, cols, band = grid.rows, grid.cols, grid.band
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
            sides = grid.lined(left, t, r, b)
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
    lined = grid.lined(int(x0), int(y0), int(x1), int(y1))
    beside = (
        min(x1, r + 2 * band) - max(x0, left - 2 * band) <= 0
        or min(y1, b + 2 * band) - max(y0, t - 2 * band) <= 0
    )
    if sum(c >= side for c in lined) > 2 and beside:
        return []  # the rest is framed too and abuts the frame: a line across one panel's art (a clock hand)
    return [(left, t, r, b), (int(x0), int(y0), int(x1), int(y1))]


def largest_apart(rects: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """``rects`` (x0, y0, x1, y1) largest first, less each one that lies mostly (``NESTED``) in a
    larger one kept."""
    kept: list[tuple[int, int, int, int]] = []
    for rect in sorted(rects, key=lambda f: -(f[2] - f[0]) * (f[3] - f[1])):
        if not any(_overlap(rect, k) > NESTED for k in kept):
            kept.append(rect)
    return kept
