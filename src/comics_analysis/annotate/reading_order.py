"""Reading order of panels: one function, used for DataSpec panel order and every training target.

Recursive X-Y cut: split the boxes into bands separated by horizontal gutters (read top to
bottom), else into columns separated by vertical gutters (left to right, or right to left for
manga), and recurse into each part. Gutters are found on box projections shrunk by a tolerance,
so a few pixels of overlap or jitter never change the answer. Boxes that no cut separates (an
inset on top of its panel, interlocking shapes) are read container first, then top to bottom.
"""

from __future__ import annotations

from collections.abc import Sequence

Box = Sequence[float]  # x, y, w, h


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


def _cut(boxes: Sequence[Box], indices: list[int], direction: str, tol: float) -> list[int]:
    if len(indices) <= 1:
        return list(indices)

    # a box's projection is shrunk by tol (never below a third of its size) before looking for gaps
    def span(start: float, size: float) -> tuple[float, float]:
        shrink = min(tol, size / 3)
        return start + shrink, start + size - shrink

    rows = _groups([(*span(boxes[i][1], boxes[i][3]), i) for i in indices])
    if len(rows) > 1:
        return [k for row in rows for k in _cut(boxes, row, direction, tol)]
    cols = _groups([(*span(boxes[i][0], boxes[i][2]), i) for i in indices])
    if len(cols) > 1:
        if direction == "rtl":
            cols.reverse()
        return [k for col in cols for k in _cut(boxes, col, direction, tol)]
    return _fallback(boxes, indices, direction, tol)


def reading_order(boxes: Sequence[Box], direction: str = "ltr", tolerance: float | None = None) -> list[int]:
    """Indices of ``boxes`` ([x, y, w, h]) in reading order for ``direction`` "ltr" or "rtl".

    ``tolerance`` (pixels of overlap ignored when looking for gutters) defaults to 10% of the
    median panel side, at least 4 pixels.
    """
    if direction not in ("ltr", "rtl"):
        raise ValueError(f"direction must be 'ltr' or 'rtl', got {direction!r}")
    if not boxes:
        return []
    if tolerance is None:
        sides = sorted(min(b[2], b[3]) for b in boxes)
        tolerance = max(4.0, 0.1 * sides[len(sides) // 2])
    return _cut(boxes, list(range(len(boxes))), direction, tolerance)
