"""Borderless panels of sparse line art: the classical detector's second look at what it dropped.

A panel drawn in a few open strokes on the paper (a landscape in outline, a figure in line art)
has clean rows and columns between its strokes, so the X-Y cut shreds it into pieces (a bird, a
tuft of grass, a stretch of the horizon), each too small or too empty to be a panel, and every
piece is dropped as lettering or a speck. Here the dropped pieces are grouped again: two groups
join when the box around both overlaps no panel that was kept, nor comes within half the page's
own gutter width of one (the paper between panels holds them, not an open panel's spill). A group
becomes a panel when it is large (``sparse_area`` of the page, each side at least ``sparse_side``
of the page's shorter side) and its ink is drawn, not lettered: most of it (``art_share``) lies
in long thin strokes, shapes at least ``stroke_reach`` of the group's longer side long that cover
under a third of their box (a balloon is one large filled shape). Letters, even large ones, are
each a small part of a line of lettering; a page number or a signature is small. Where strokes
close around paper (a hill over the horizon), a piece is solid enough to be kept as an unframed
panel on its own: unframed panels are pieces too, and a group that takes them in replaces them.
The same grouping drops big title letters on the paper (a chapter title, a logo), each a large
shape that a clean column parts from the next and so kept as a borderless panel: a group whose
ink is a line of letters (:func:`lettering`) takes its unframed panels away.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .classical import ClassicalConfig

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (working pixels)
THIN = 0.3  # a stroke's ink covers at most this share of its box (a balloon's fills most of it)
MOST_PIECES = 300  # a page shredded into more pieces than this is noise, not line art


def _hits(box: Box, others: list[Box], margin: int) -> bool:
    return any(
        box[0] < o[2] + margin
        and o[0] < box[2] + margin
        and box[1] < o[3] + margin
        and o[1] < box[3] + margin
        for o in others
    )


def _groups(pieces: list[Box], kept: list[Box], margin: int) -> list[Box]:
    """Boxes of the dropped ``pieces`` grouped while the box around a group overlaps no ``kept``
    panel (nor comes within ``margin`` of one)."""
    groups = [p for p in pieces if not _hits(p, kept, margin)]
    i = 0
    while i < len(groups):
        grew, j = False, i + 1
        while j < len(groups):
            a, b = groups[i], groups[j]
            union = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
            if _hits(union, kept, margin):
                j += 1
            else:
                groups[i] = union
                del groups[j]
                grew = True
        if not grew:
            i += 1  # a group that grew may now take pieces it could not before: look again
    return groups


def drawn(solid: np.ndarray, art_share: float, reach: float) -> bool:
    """Whether a region's ink is drawn in long strokes: shapes at least ``reach`` of the region's
    longer side long hold ``art_share`` of it (lettering is many glyphs, each a short shape)."""
    import cv2

    _, _, stats, _ = cv2.connectedComponentsWithStats(solid.astype(np.uint8), connectivity=8)
    stats = stats[1:]
    total = stats[:, cv2.CC_STAT_AREA].sum()
    if total == 0:
        return False
    width, height, area = (
        stats[:, cv2.CC_STAT_WIDTH],
        stats[:, cv2.CC_STAT_HEIGHT],
        stats[:, cv2.CC_STAT_AREA],
    )
    # long and thin: a balloon or a filled shape covers much of its box, a stroke little
    strokes = area[
        (np.maximum(width, height) >= reach * max(solid.shape)) & (area <= THIN * width * height)
    ].sum()
    return bool(strokes >= art_share * total)


def line_art_panels(
    solid: np.ndarray,
    dropped: list[Box],
    kept: list[Box],
    cfg: ClassicalConfig,
    open_: list[Box] = (),
    dark: np.ndarray | None = None,
) -> tuple[list[Box], list[Box]]:
    """Panels of sparse line art among the pieces the detector dropped (see the module docstring),
    and the panels kept that they take in: ``open_`` (unframed panels among ``kept``) may be pieces
    too, where strokes closing around paper (a hill over the horizon) made a piece solid enough to
    be kept on its own. With ``dark`` (the page's dark ink), unframed panels that a group shows to
    be big letters of a title (:func:`lettering`) are taken too, and nothing found in their place."""
    if not dropped or len(dropped) > MOST_PIECES or cfg.sparse_area <= 0:
        return [], []
    h, w = solid.shape
    found, taken = [], []
    walls = [k for k in kept if k not in open_]
    # a gutter parts it from every panel kept: about as wide as the page's own (an open panel's art
    # spills into the paper right beside the rest of that panel)
    margin = max(cfg.min_gutter, int(cfg.gutter_px / 2))
    for x0, y0, x1, y1 in _groups([*dropped, *open_], walls, margin):
        inside = [k for k in open_ if x0 <= k[0] and y0 <= k[1] and k[2] <= x1 and k[3] <= y1]
        if inside == [(x0, y0, x1, y1)]:
            continue  # a panel kept on its own already
        if inside and dark is not None and lettering(solid[y0:y1, x0:x1], dark[y0:y1, x0:x1]):
            taken.extend(inside)  # big letters of a title, each kept as a shape of its own
            continue
        small = min(x1 - x0, y1 - y0) < cfg.sparse_side * min(h, w)
        if small or (x1 - x0) * (y1 - y0) < cfg.sparse_area * h * w:
            continue
        if drawn(solid[y0:y1, x0:x1], cfg.art_share, cfg.stroke_reach):
            found.append((x0, y0, x1, y1))
            taken.extend(inside)
    return found, taken


def lettering(solid: np.ndarray, dark: np.ndarray, least: int = 3) -> bool:
    """Whether a region's ink is a line of big letters (a title, a logo): ``least`` or more shapes
    of one height (within 30% of their median) hold 80% of it, none a filled box (a letter covers
    under 85% of its box; a dense panel all of it), and its solid is mostly dark ink (letters are
    printed black; art has its tones)."""
    import cv2

    _, _, stats, _ = cv2.connectedComponentsWithStats(solid.astype(np.uint8), connectivity=8)
    stats = stats[1:]
    total = stats[:, cv2.CC_STAT_AREA].sum()
    if total == 0 or dark[solid].mean() < 0.6:
        return False
    big = stats[stats[:, cv2.CC_STAT_AREA] >= 0.03 * total]
    if len(big) < least:
        return False
    height = big[:, cv2.CC_STAT_HEIGHT]
    same = big[np.abs(height - np.median(height)) <= 0.3 * np.median(height)]
    boxes = same[:, cv2.CC_STAT_WIDTH] * same[:, cv2.CC_STAT_HEIGHT]
    return bool(
        len(same) >= least
        and same[:, cv2.CC_STAT_AREA].sum() >= 0.8 * total
        and np.median(same[:, cv2.CC_STAT_AREA] / boxes) < 0.85
    )
