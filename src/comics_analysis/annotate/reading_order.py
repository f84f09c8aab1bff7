"""Reading order of panels: one function, used for DataSpec panel order and every training target.

Recursive X-Y cut: split the boxes into bands separated by horizontal gutters (read top to
bottom), else into columns separated by vertical gutters (left to right, or right to left for
manga), and recurse into each part. Gutters are found on box projections shrunk by a tolerance,
so a few pixels of overlap or jitter never change the answer; horizontal gutters get only
``ROW_TOLERANCE`` of it, so that the gutters of staggered columns are not joined into a cut.
Columns are read one after the other (a tall panel beside a stack: the stack is read down), except:

- staggered columns stacking as many panels each (gutters that do not line up) are read as rows
  in Western order, as readers follow the Z path; in manga only when their gutters are off by at
  most twice the tolerance (a leaning gutter), else down each column;
- of two columns whose boxes overlap across a slanted gutter, the one that starts clearly higher
  and ends no lower is read first (where they overlap, it sits above the other).

Boxes that no cut separates (an inset on top of its panel, interlocking shapes) are read
container first, then top to bottom.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

Box = Sequence[float]  # x, y, w, h

ROW_TOLERANCE = 0.4  # share of the tolerance ignored across horizontal gutters


def _groups(intervals: list[tuple[float, float, int]]) -> list[list[int]]:
    """Indices grouped by overlap of their (start, end) intervals, in increasing position."""
    groups: list[list[int]] = []
    end = float("-inf")
    for start, stop, index in sorted(intervals):
        if not groups or start >= end:
            groups.append([index])
            end = stop
        else:
            groups[-1].append(index)
            end = max(end, stop)
    return groups


def _contains(outer: Box, inner: Box, slack: float) -> bool:
    return (
        outer[0] - slack <= inner[0]
        and outer[1] - slack <= inner[1]
        and inner[0] + inner[2] <= outer[0] + outer[2] + slack
        and inner[1] + inner[3] <= outer[1] + outer[3] + slack
    )


def _rows(boxes: Sequence[Box], indices: list[int], direction: str) -> list[int]:
    """Group boxes into rows by vertical overlap (at least half the smaller height), then read
    rows top to bottom and each row in ``direction``."""
    rows: list[list[int]] = []
    for i in sorted(indices, key=lambda k: (boxes[k][1], boxes[k][0])):
        top, bottom = boxes[i][1], boxes[i][1] + boxes[i][3]
        if rows:
            row = rows[-1]
            row_top = min(boxes[k][1] for k in row)
            row_bottom = max(boxes[k][1] + boxes[k][3] for k in row)
            overlap = min(bottom, row_bottom) - max(top, row_top)
            if overlap >= 0.5 * min(boxes[i][3], row_bottom - row_top):
                row.append(i)
                continue
        rows.append([i])
    sign = -1 if direction == "rtl" else 1
    return [i for row in rows for i in sorted(row, key=lambda k: sign * (boxes[k][0] + boxes[k][2] / 2))]


def _fallback(boxes: Sequence[Box], indices: list[int], direction: str, slack: float) -> list[int]:
    """No gutter separates these boxes: read them by rows; an inset right after its panel."""

    def container(i: int) -> int | None:
        holders = [j for j in indices if j != i and _contains(boxes[j], boxes[i], slack)]
        return min(holders, key=lambda j: boxes[j][2] * boxes[j][3]) if holders else None

    holder = {i: container(i) for i in indices}
    ordered = _rows(boxes, [i for i in indices if holder[i] is None], direction)
    for i in sorted((i for i in indices if holder[i] is not None), key=lambda k: (boxes[k][1], boxes[k][0])):
        at = ordered.index(holder[i]) if holder[i] in ordered else len(ordered) - 1
        while at + 1 < len(ordered) and holder.get(ordered[at + 1]) == holder[i]:
            at += 1
        ordered.insert(at + 1, i)
    return ordered


def _span(start: float, size: float, tol: float) -> tuple[float, float]:
    """A box's projection shrunk by ``tol`` (never below a third of its size) before looking for gaps."""
    shrink = min(tol, size / 3)
    return start + shrink, start + size - shrink


def _bands(boxes: Sequence[Box], indices: list[int], tol: float) -> list[list[int]]:
    """``indices`` grouped into bands separated by horizontal gutters, top to bottom. Only
    ``ROW_TOLERANCE`` of ``tol`` is ignored here: a wider one merges the gutters of staggered
    columns into a cut that no reader sees."""
    return _groups([(*_span(boxes[i][1], boxes[i][3], ROW_TOLERANCE * tol), i) for i in indices])


def _extent(boxes: Sequence[Box], indices: list[int], axis: int) -> tuple[float, float]:
    return min(boxes[i][axis] for i in indices), max(boxes[i][axis] + boxes[i][axis + 2] for i in indices)


def _slant_swaps(boxes: Sequence[Box], cols: list[list[int]], tol: float) -> list[list[int]]:
    """Columns in reading order, except that of two neighbours whose boxes overlap across their
    (slanted) gutter, one that starts higher by more than twice ``tol`` and ends no lower (by more
    than ``tol``) is read first: where they overlap, it sits above the other."""
    cols = list(cols)
    for k in range(len(cols) - 1):
        first, then = cols[k], cols[k + 1]
        (a0, a1), (b0, b1) = _extent(boxes, first, 0), _extent(boxes, then, 0)
        (a_top, a_bottom), (b_top, b_bottom) = _extent(boxes, first, 1), _extent(boxes, then, 1)
        overlap = min(a1, b1) - max(a0, b0)
        if overlap > 0.02 * min(a1 - a0, b1 - b0) and b_top < a_top - 2 * tol and b_bottom <= a_bottom + tol:
            cols[k], cols[k + 1] = then, first
    return cols


def _staggered_rows(
    boxes: Sequence[Box], cols: list[list[int]], tol: float, max_step: float
) -> list[list[int]] | None:
    """Columns that each stack the same number (2+) of bands, band k of every column beside band k
    of its neighbour (sharing at least half the shorter height) but with gutters that do not line
    up (by at most ``max_step`` pixels), read as rows: band 1 of every column, then band 2, ...
    None when they are not."""
    bands = [_bands(boxes, col, tol) for col in cols]
    count = len(bands[0])
    if count < 2 or any(len(b) != count for b in bands):
        return None
    for left, right in pairwise(bands):
        spans = [(_extent(boxes, a, 1), _extent(boxes, b, 1)) for a, b in zip(left, right, strict=True)]
        for (a0, a1), (b0, b1) in spans:
            if min(a1, b1) - max(a0, b0) < 0.5 * min(a1 - a0, b1 - b0):
                return None
        # the gutter under band k: where each column's band k ends and its band k + 1 starts
        for ((_, a1), (_, b1)), ((a0, _), (b0, _)) in pairwise(spans):
            if max(abs(a1 - b1), abs(a0 - b0)) > max_step:
                return None
    return [band[k] for k in range(count) for band in bands]


def _cut(boxes: Sequence[Box], indices: list[int], direction: str, tol: float) -> list[int]:
    if len(indices) <= 1:
        return list(indices)
    rows = _bands(boxes, indices, tol)
    if len(rows) > 1:
        return [k for row in rows for k in _cut(boxes, row, direction, tol)]
    cols = _groups([(*_span(boxes[i][0], boxes[i][2], tol), i) for i in indices])
    if len(cols) > 1:
        if direction == "rtl":
            cols.reverse()
        # stacks of as many panels whose gutters do not line up: rows, as Western readers follow
        # them (Craphound pages 11-13); manga readers read down each column unless its gutters
        # are off by at most twice the tolerance (a leaning gutter; balloon_dream page 18)
        max_step = float("inf") if direction == "ltr" else 2 * tol
        parts = _staggered_rows(boxes, cols, tol, max_step) or _slant_swaps(boxes, cols, tol)
        return [k for part in parts for k in _cut(boxes, part, direction, tol)]
    return _fallback(boxes, indices, direction, tol)


def reading_order(boxes: Sequence[Box], direction: str = "ltr", tolerance: float | None = None) -> list[int]:
    """Indices of ``boxes`` ([x, y, w, h]) in reading order for ``direction`` "ltr" or "rtl".

    ``tolerance`` (pixels of overlap ignored when looking for vertical gutters; ``ROW_TOLERANCE``
    of it for horizontal ones) defaults to 10% of the median panel side, at least 4 pixels.
    """
    if direction not in ("ltr", "rtl"):
        raise ValueError(f"direction must be 'ltr' or 'rtl', got {direction!r}")
    if not boxes:
        return []
    if tolerance is None:
        sides = sorted(min(b[2], b[3]) for b in boxes)
        tolerance = max(4.0, 0.1 * sides[len(sides) // 2])
    return _cut(boxes, list(range(len(boxes))), direction, tolerance)
