"""Panels drawn over their neighbours: the classical detector's pass for a region that nothing
else divides because framed panels lie on top of the panels beside them.

A Western layout often lays a framed panel over the corner or the side of the next one (an
interlocking page): the panel on top shows its whole frame, the one beneath shows its frame only
where the top one does not cover it, and no gutter runs across the region. The panels on top are
found as closed rectangles of long straight frame lines (:class:`.frames._LineGrid`: each side
lined over ``CLOSED`` of its length) that hold art (not paper: a caption box or a balloon; not
lettering on a tint), are panel-sized against the page (each side at least ``frame_line`` of the
page's shorter side, the area at least ``LAYER_AREA`` of the page's) and belong to the page's
layout: paper that reaches the page's border (the gutter) lies just outside at least one of their
sides (a framed picture drawn in a panel's art, a window, a screen, has art all around it). The
panels beneath are what is left of the region once the panels on top are erased: the caller cuts
that again (their visible parts span their own boxes, the hidden corner included). Nested
rectangles keep the outer one (an inset is the inset passes' job). The frame lines are looked for
at half the length the other frame passes use (a frame that art runs into shows in short pieces);
a closed rectangle that shares a whole side with a box beneath it (:func:`twins`) is half of one
panel that a straight line in its art parts, and the region is left whole.

Known limit: a panel on top whose frame is hidden on one side (where it abuts its neighbour with
dark art on both sides, or is drawn over grey art) is not closed, and the region stays merged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .frames import _guillotine, _LineGrid, largest_apart, lettered

if TYPE_CHECKING:
    from .classical import ClassicalConfig

CLOSED = 0.85  # each side of a panel on top is lined over this share of its length
LAYER_AREA = 0.04  # ... and it holds at least this share of the page's area
OUTSIDE = 0.5  # ... and this share of a strip outside one of its sides is gutter


def top_frames(
    ink: np.ndarray,
    dark: np.ndarray,
    paper: np.ndarray,
    thin: np.ndarray,
    box: tuple[int, int, int, int],
    cfg: ClassicalConfig,
) -> list[tuple[int, int, int, int]]:
    """Boxes (page coordinates) of the framed panels lying on top of their neighbours in region
    ``box`` of the page, or []: see the module docstring. ``ink`` (solid), ``dark`` (frame-line
    candidates), ``paper`` (the gutter's colour) are page masks, ``thin`` the page's
    :func:`.frames.thin_lines`."""
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    page_h, page_w = ink.shape
    side = max(cfg.min_side_px, int(cfg.frame_line * cfg.page_side))
    if min(h, w) < side:
        return []
    grid = _LineGrid(thin[:, y0:y1, x0:x1], max(cfg.min_side_px, int(cfg.frame_line * min(h, w) / 2)))
    band = grid.band
    found = []
    for left, t, r, b in _closed(grid, side):
        area = (r - left) * (b - t)
        if area < LAYER_AREA * page_h * page_w or area > cfg.corner_high * h * w:
            continue  # too small for a panel, or (nearly) the region itself
        m = 2 * band
        inner = (slice(y0 + t + m, y0 + b - m), slice(x0 + left + m, x0 + r - m))
        if paper[inner].mean() > 0.5:
            continue  # paper inside: a caption box, a balloon, an empty frame
        if lettered(np.where(dark[inner], 0, 255).astype(np.uint8)):
            continue  # lettering on a tint: a caption box
        rect = (x0 + left, y0 + t, x0 + r, y0 + b)
        if _on_gutter(ink, rect, band, max(3, int(cfg.gutter_px) // 2)):
            found.append(rect)
    return largest_apart(found)


def _closed(grid: _LineGrid, side: int) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of the rectangles of ``grid``'s lines, each side at least
    ``side`` long and lined over ``CLOSED`` of its length (the columns first, for each pair of rows)."""
    cols = np.asarray(grid.cols, dtype=np.int64)
    out = []
    for t, b in itertools.combinations(grid.rows, 2):
        if b - t < side or cols.size < 2:
            continue
        good = cols[(grid.vcum[b, cols] - grid.vcum[t, cols]) >= CLOSED * (b - t)]
        for i, left in enumerate(good[:-1]):
            right = good[i + 1 :]
            right = right[right - left >= side]
            if right.size == 0:
                continue
            span = right - left
            top = grid.hcum[t, right] - grid.hcum[t, left]
            bottom = grid.hcum[b, right] - grid.hcum[b, left]
            for r in right[(top >= CLOSED * span) & (bottom >= CLOSED * span)]:
                out.append((int(left), t, int(r), b))
    return out


def layered(
    masks: dict[str, np.ndarray],
    box: tuple[int, int, int, int],
    cfg: ClassicalConfig,
    framed: bool,
    cut: Callable,
    depth: int,
    out: list,
) -> bool:
    """Framed panels lying on top of their neighbours in region ``box`` (:func:`top_frames`) and
    the panels beneath them (the region cut again by ``cut``, the classical X-Y cut, with the top
    ones erased), appended to ``out``; False when there are none or :func:`layered_ok` says no.
    ``masks``: the page's ink, dark, paper, light and thin masks."""
    tops = top_frames(masks["ink"], masks["dark"], masks["paper"], masks["thin"], box, cfg)
    if not tops:
        return False
    rest = erase(masks, tops, 2)
    under: list = []
    cut(rest["ink"], rest["dark"], rest["paper"], rest["light"], rest["thin"], box, cfg, depth + 1, under)
    if not layered_ok(tops, under, framed, max(4, int(cfg.gutter_px))):
        return False
    out.extend(tops)
    out.extend(under)
    return True


def layered_ok(
    tops: list[tuple[int, int, int, int]], under: list[tuple[int, int, int, int]], framed: bool, tol: int
) -> bool:
    """Whether the panels on top and the boxes cut beneath them (page coordinates) make a layered
    layout: something beneath, no box beneath wrapping a top frame (a framed picture in the art),
    no half of one panel parted by a line in its art (:func:`twins`; in a framed region, any
    straight line that parts the boxes)."""
    if not under or any(_inside(t, u) > 0.5 for t in tops for u in under):
        return False
    return not ((framed and _guillotine([*tops, *under])) or twins(tops, under, tol))


def _inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Share of box ``a`` that lies inside box ``b``."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    return max(0, iw) * max(0, ih) / max(1, (a[2] - a[0]) * (a[3] - a[1]))


def twins(tops: list[tuple[int, int, int, int]], under: list[tuple[int, int, int, int]], tol: int) -> bool:
    """Whether a top frame and a box beneath it share a whole side (within ``tol`` pixels): the
    two halves of one panel that a straight line in its art parts, not a panel drawn over another."""
    for a, b in itertools.product(tops, under):
        for lo, hi in ((0, 2), (1, 3)):
            across = (1, 3) if lo == 0 else (0, 2)
            level = abs(a[across[0]] - b[across[0]]) <= tol and abs(a[across[1]] - b[across[1]]) <= tol
            if level and (abs(a[hi] - b[lo]) <= tol or abs(b[hi] - a[lo]) <= tol):
                return True
    return False


def _on_gutter(ink: np.ndarray, rect: tuple[int, int, int, int], band: int, depth: int) -> bool:
    """Whether the strip just outside one side of ``rect`` (past its frame line, ``depth`` pixels
    deep, inside the page) is mostly gutter: not solid."""
    x0, y0, x1, y1 = rect
    page_h, page_w = ink.shape
    near, far = band + 2, band + 2 + depth
    strips = [
        ink[max(0, y0 - far) : max(0, y0 - near), x0:x1],
        ink[min(page_h, y1 + near) : min(page_h, y1 + far), x0:x1],
        ink[y0:y1, max(0, x0 - far) : max(0, x0 - near)],
        ink[y0:y1, min(page_w, x1 + near) : min(page_w, x1 + far)],
    ]
    return any(s.size and 1.0 - s.mean() >= OUTSIDE for s in strips)


def erase(masks: dict[str, np.ndarray], rects: list[tuple[int, int, int, int]], band: int) -> dict:
    """Copies of the page masks with ``rects`` (and ``band`` pixels around them) made gutter: no
    solid, no dark or thin line, paper-coloured; what is left is the panels beneath."""
    out = {name: mask.copy() for name, mask in masks.items()}
    for x0, y0, x1, y1 in rects:
        area = (slice(max(0, y0 - band), y1 + band), slice(max(0, x0 - band), x1 + band))
        out["ink"][area] = False
        out["dark"][area] = False
        out["thin"][(slice(None), *area)] = 0
        out["paper"][area] = True
        if out["light"].any():
            out["light"][area] = True
    return out
