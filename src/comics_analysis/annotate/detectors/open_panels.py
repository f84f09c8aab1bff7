"""Open panels that a cut parted from their own lettering: the classical detector's last pass over
the regions it found.

An open panel (no frame on one or more sides: a television on a table drawn on the bare page, a
figure standing on the paper) lets the X-Y cut find a "gutter" wherever only thin strokes cross
the paper (the table's legs), and a caption box drawn between those strokes is left as a region
of its own: a framed box of lettering, which the detector would report as a panel. A region that
is one caption box (a few lines deep, a flat tint inside its frame holding lettering)
joins the larger region beside it (twice its area at least) when the two face each other over at
least half of the box's side and the larger one's art runs across the paper between them (a
column, or a row, of solid pixels within its extent bridges the whole gap; regions that touch are
left apart); the joined box is the open panel. A caption box with no such region beside it is left as it was.

A tall panel open at the top (or with paper inside it, its art sparse line work) beside two
stacked panels shows paper across its width where its neighbours' gutter runs, so the rows of
that gutter look clean across the whole region and the cut divides the tall panel. Its side
frame lines run straight through that gutter (:func:`frame_through`): then the region is cut into
columns first, when a clean column gutter divides it (the tall panel's own).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .frames import lettered
from .gutters import _split

if TYPE_CHECKING:
    from .classical import ClassicalConfig

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (work pixels)
FACING = 0.5  # the open panel faces this share of the lettering box's side
FLAT, TINT = 0.6, 20  # a caption box's inside: this share within this many grey levels of its tint
THIN = 6  # a frame line through a gutter is at most this many pixels wide (work scale)


def join_lettering(
    boxes: list[Box], ink: np.ndarray, grey: np.ndarray, cfg: ClassicalConfig, frame_score: Callable
) -> list[Box]:
    """``boxes`` with each lone box of lettering joined to the open panel that art links it to;
    ``frame_score`` says how framed a region's solid is (framed from ``cfg.frame_edge``)."""
    frames = [frame_score(ink[y0:y1, x0:x1]) for x0, y0, x1, y1 in boxes]
    depth = cfg.caption_depth
    letters = [f >= cfg.frame_edge and _lettering(grey, b, depth) for b, f in zip(boxes, frames, strict=True)]
    out = list(boxes)
    gone: set[int] = set()
    for i, box in enumerate(boxes):
        if not letters[i]:
            continue
        near = [
            (gap, j)
            for j, other in enumerate(out)
            if j != i and j not in gone and not letters[j] and _area(other) >= 2 * _area(box)
            for gap in [_bridged(ink, box, other)]
            if gap is not None
        ]
        if near:
            j = min(near)[1]
            o = out[j]
            out[j] = (min(o[0], box[0]), min(o[1], box[1]), max(o[2], box[2]), max(o[3], box[3]))
            gone.add(i)
    return [b for k, b in enumerate(out) if k not in gone]


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _lettering(grey: np.ndarray, box: Box, depth: float, margin: int = 4) -> bool:
    """Whether a region is a caption box: a few lines of lettering deep (its shorter side at most
    ``depth``, ``cfg.caption_depth``, of the page's shorter side), inside its frame a flat tint
    (``FLAT`` of it within ``TINT`` grey levels of its median) holding lettering
    (:func:`.frames.lettered`)."""
    x0, y0, x1, y1 = box
    if min(x1 - x0, y1 - y0) > depth * min(grey.shape):
        return False  # a panel (a narrow one of a balloon and little art), not a caption box
    inside = grey[y0 + margin : y1 - margin, x0 + margin : x1 - margin]
    if inside.size == 0:
        return False
    flat = np.mean(np.abs(inside.astype(np.int16) - int(np.median(inside))) <= TINT)
    return bool(flat >= FLAT and lettered(inside))


def _bridged(ink: np.ndarray, box: Box, other: Box) -> int | None:
    """The gap (pixels) between a lettering box and another region that faces it over ``FACING``
    of the box's side, when art within the other's extent runs across the whole gap; else None."""
    for lo, hi in ((0, 2), (1, 3)):  # side by side (columns), then one above the other (rows)
        a, b = (lo + 1) % 2, (lo + 1) % 2 + 2  # the other axis: where they face each other
        start, stop = max(box[a], other[a]), min(box[b], other[b])
        if stop - start < FACING * (box[b] - box[a]):
            continue
        first, second = (other, box) if other[lo] < box[lo] else (box, other)
        g0, g1 = first[hi], second[lo]
        if g1 <= g0:
            continue  # touching or overlapping: no gap that a cut found
        across = slice(other[a], other[b])  # the open panel's art (legs) anywhere along its side
        strip = ink[g0:g1, across] if lo == 1 else ink[across, g0:g1].T
        if strip.all(axis=0).any():
            return g1 - g0
    return None


def frame_through(dark: np.ndarray, segments: list[tuple[int, int]], cfg: ClassicalConfig) -> bool:
    """Whether a thin vertical frame line (dark columns at most ``THIN`` pixels wide) runs through
    one of the row gutters between ``segments`` of a region (``dark``: its frame-line candidates),
    from as far above it to as far below as the gutter is wide (``cfg.min_side_px`` at least):
    the side of a tall panel that the gutter only seems to cross."""
    h = dark.shape[0]
    for (_, g0), (g1, _) in itertools.pairwise(segments):
        reach = max(cfg.min_side_px, g1 - g0)
        if g0 - reach < 0 or g1 + reach > h:
            continue
        through = dark[g0 - reach : g1 + reach].all(axis=0)
        widths = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], through.astype(np.int8), [0]]))))[::2]
        if widths.size and widths.min() <= THIN:
            return True
    return False


def tall_first(segments: list, region: np.ndarray, dark: np.ndarray, cfg: ClassicalConfig) -> list:
    """Row segments of a region (its solid; ``dark`` its frame-line candidates), or one segment,
    the whole region, when a tall panel's side frame runs through one of their gutters
    (:func:`frame_through`) and a column gutter divides the region: the columns are cut first."""
    if frame_through(dark, segments, cfg) and len(_split(region.mean(axis=0), cfg, solid=region.T)) > 1:
        return [(0, region.shape[0])]
    return segments
