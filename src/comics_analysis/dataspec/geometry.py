"""Box geometry shared by every stage (boxes are [x, y, w, h])."""

from __future__ import annotations

import math
from collections.abc import Sequence

Box = Sequence[float]


def intersection(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy


def iou(a: Box, b: Box) -> float:
    inter = intersection(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def assign_panel(box: Box, panels: Sequence[Box], min_share: float = 0.5) -> int:
    """Index of the panel holding most of ``box``'s area (at least ``min_share`` of it), else -1.

    Ties go to the smaller panel, so text on an inset belongs to the inset."""
    area = box[2] * box[3]
    best, best_key = -1, None
    for i, panel in enumerate(panels):
        inter = intersection(box, panel)
        if area > 0 and inter >= min_share * area:
            key = (round(inter, 6), -panel[2] * panel[3])
            if best_key is None or key > best_key:
                best, best_key = i, key
    return best


def turned_box(box: Box, degrees: float, width: float, height: float) -> tuple[float, float, float, float]:
    """The page-axis box around ``box`` once the ``width`` x ``height`` page is turned
    counter-clockwise (as displayed) by ``degrees`` about its centre, clipped to the page."""
    x, y, w, h = box
    cx, cy, a = width / 2, height / 2, math.radians(degrees)
    cos, sin = math.cos(a), math.sin(a)
    xs, ys = [], []
    for px, py in ((x, y), (x + w, y), (x, y + h), (x + w, y + h)):
        dx, dy = px - cx, py - cy
        xs.append(cx + dx * cos + dy * sin)  # y points down
        ys.append(cy - dx * sin + dy * cos)
    x0, y0 = max(0.0, min(xs)), max(0.0, min(ys))
    x1, y1 = min(float(width), max(xs)), min(float(height), max(ys))
    return (x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0))
