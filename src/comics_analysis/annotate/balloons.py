"""Balloons and captions from the page image: which OCR lines share a closed region.

OCR lines alone say only how far apart lines are; two balloons lettered side by side sit closer
than a line height and were read as one unit. Here the page itself decides: a balloon or a caption
box is a *closed* region of paper-coloured (or one flat tinted) pixels, bounded by its outline or
by a panel border, that holds lettering. Lines in two different closed regions never join one
unit (:func:`..ocr.group_lines` ``regions``).

- paper level: the lightness of the paper (:func:`paper_level`), so yellowed paper (grey ~185)
  works the same as white; every threshold is relative to it, to the median line height or to
  the page size;
- regions (:func:`find_regions`): the light mask (within ``PAPER_TOLERANCE`` of the paper level),
  then one mask per tone of the tinted boxes other lines sit on; each with its lines' boxes
  filled (letters would otherwise cut a balloon's inside into strips), eroded by a fraction of a
  line height (a thin neck between two balloons, a gap in an outline, JPEG noise), labelled
  (``scipy.ndimage``);
- background, not a balloon: a region that touches the page border (the gutter, a bleed), or
  floods a large share of the page or of its panel (a white panel background); nor is an island
  (little more than the filled line boxes: lettering on art of a similar tone);
- each line gets the region under most of its box, or None (text on art, on the background),
  and the lobe of that region it lies in (a balloon of two lobes joined by a neck is two units:
  :func:`_lobes`, :func:`_hills`).

Also here: the outline of a unit (the convex hull of its region, a few points), page numbers
(short text with a digit in the top or bottom margin outside every panel), signatures (a short
line in the art holding a year or a copyright mark, standing alone), the median tone of a region
(the ground a unit's lettering sits on: its kind) and the reading order of units on a page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

Box = tuple[float, float, float, float]

# How lines become units: bumped when the same OCR lines give other units (resumed annotate runs
# redo books grouped the older way). 1: closed regions and lobes, page numbers; 2: signatures;
# 3: vertical columns top-aligned, horizontal and vertical lines never joined (ocr.group_lines);
# 4: a closed tinted region is a caption wherever it sits, a closed region within 7% of the paper a balloon.
UNITS_REVISION = 4
PAPER_TOLERANCE = 0.15  # light = within this share of the paper level below it
ERODE = 0.15  # of the median line height: necks and outline gaps narrower than twice this break
MAX_PAGE_SHARE = 0.12  # a region larger than this share of the page is background
MAX_PANEL_SHARE = 0.5  # ... or than this share of the panel holding its lines
ISLAND = 1.0  # ... and so is one with under this many squared line heights of pixels beyond its lines
NECK = 0.8  # a region narrower than this share of its lobes on both sides is cut in two
HILL_LEVELS = 32  # levels of the distance map at which lobes' saddles are looked for
MARGIN = 0.08  # of the page height: a page number sits this close to the top or bottom edge
POLYGON_POINTS = 16  # at most this many points in a unit's outline


@dataclass
class Regions:
    """Closed light regions of a page: ``labels`` (0 = none) and the erosion radius used."""

    labels: np.ndarray
    radius: int
    paper: float
    _slices: list | None = field(default=None, repr=False)

    def tones(self, grey: np.ndarray, labels: Sequence[int]) -> dict[int, float]:
        """The median grey of each region in ``labels`` (the ground its lettering sits on)."""
        from scipy import ndimage

        labels = sorted(set(labels))
        if not labels:
            return {}
        return dict(zip(labels, (float(v) for v in ndimage.median(grey, self.labels, labels))))

    def outline(self, label: int, max_points: int = POLYGON_POINTS) -> list[list[float]] | None:
        """The convex hull of region ``label`` (grown back by the erosion radius), as at most
        ``max_points`` ``[x, y]`` points in hull order (evenly picked when more); None if degenerate."""
        from scipy import ndimage
        from scipy.spatial import ConvexHull, QhullError

        if self._slices is None:
            self._slices = ndimage.find_objects(self.labels)
        if not 0 < label <= len(self._slices) or self._slices[label - 1] is None:
            return None
        rows, cols = self._slices[label - 1]
        mask = self.labels[rows, cols] == label
        present = np.nonzero(mask.any(axis=1))[0]
        if len(present) == 0:
            return None
        # a row's two end pixels hold the hull; grown back by the erosion radius
        first = mask[present].argmax(axis=1)
        last = mask.shape[1] - 1 - mask[present, ::-1].argmax(axis=1)
        r = self.radius
        xs = np.concatenate([first - r, last + 1 + r, first - r, last + 1 + r]) + cols.start
        ys = np.concatenate([present - r, present - r, present + 1 + r, present + 1 + r]) + rows.start
        points = np.unique(np.stack([xs, ys], axis=1), axis=0)
        if len(points) < 3:
            return None
        try:
            hull = ConvexHull(points)
        except QhullError:
            return None
        ring = points[hull.vertices].astype(float)
        if len(ring) > max_points:
            ring = ring[np.linspace(0, len(ring), max_points, endpoint=False).astype(int)]
        height, width = self.labels.shape
        ring[:, 0] = ring[:, 0].clip(0, width)
        ring[:, 1] = ring[:, 1].clip(0, height)
        return [[round(float(x), 1), round(float(y), 1)] for x, y in ring]


def _clip(box: Box, width: int, height: int, inset: float = 0.0) -> tuple[int, int, int, int]:
    x, y, w, h = box
    x0, y0 = int(max(0, round(x + inset))), int(max(0, round(y + inset)))
    x1, y1 = int(min(width, round(x + w - inset))), int(min(height, round(y + h - inset)))
    return x0, y0, max(x0, x1), max(y0, y1)


def paper_level(grey: np.ndarray, boxes: Sequence[Box]) -> float:
    """Lightness of the paper: the lighter of the page's 99th percentile and the tone behind the
    lettering (per line box, the 75th percentile: letters are thin dark strokes on paper; the
    median over lines). Yellowed paper gives ~185, white 255; lettering that is all on art does
    not pull the level down to the art's."""
    height, width = grey.shape
    levels = []
    for box in boxes:
        x0, y0, x1, y1 = _clip(box, width, height)
        patch = grey[y0:y1, x0:x1]
        if patch.size:
            levels.append(float(np.percentile(patch, 75)))
    page = float(np.percentile(grey[:: max(1, height // 512), :: max(1, width // 512)], 99))
    return max([page, *([float(np.median(levels))] if levels else [])])


def find_regions(
    grey: np.ndarray, boxes: Sequence[Box], line_height: float, paper: float | None = None
) -> Regions:
    """Closed regions of the page, lettering filled in (see the module docstring): one pass for
    the lines on paper (light: within ``PAPER_TOLERANCE`` of the paper level), then one per tone of
    the tinted boxes the other lines sit on (a caption's flat colour: within the same tolerance of
    the tone, for lines whose box is mostly that tone)."""
    if paper is None:
        paper = paper_level(grey, boxes)
    height, width = grey.shape
    tolerance = PAPER_TOLERANCE * paper
    passes: list[tuple[np.ndarray, list[Box]]] = []
    on_paper, tinted = [], []
    for box in boxes:
        x0, y0, x1, y1 = _clip(box, width, height)
        patch = grey[y0:y1, x0:x1]
        if not patch.size:
            continue
        level = float(np.percentile(patch, 75))
        if level >= paper - tolerance:
            on_paper.append(box)
        elif np.mean(np.abs(patch - level) <= tolerance) >= 0.5:  # mostly one tone: on a tinted box?
            tinted.append((level, box))
    passes.append((grey >= paper - tolerance, on_paper))
    tinted.sort(key=lambda item: item[0])
    tones: list[list[tuple[float, Box]]] = []
    for level, box in tinted:
        if tones and level - tones[-1][-1][0] <= tolerance:
            tones[-1].append((level, box))
        else:
            tones.append([(level, box)])
    for tone in tones:
        level = float(np.median([lv for lv, _ in tone]))
        passes.append((np.abs(grey.astype(np.float32) - level) <= tolerance, [box for _, box in tone]))
    radius = max(1, round(ERODE * line_height))
    labels = np.zeros(grey.shape, dtype=np.int32)
    for mask, members in passes:
        if members:
            found = _closed_regions(mask, members, line_height, radius)
            free = (found > 0) & (labels == 0)
            labels[free] = found[free] + labels.max()
    return Regions(labels, radius, paper)


def _closed_regions(mask: np.ndarray, boxes: Sequence[Box], line_height: float, radius: int) -> np.ndarray:
    """Labelled regions of ``mask`` with ``boxes`` filled in, eroded by ``radius``, less the
    background (touching the page border, or over ``MAX_PAGE_SHARE`` of the page)."""
    from scipy import ndimage

    height, width = mask.shape
    mask = mask.copy()
    filled = np.zeros_like(mask)
    inset = 0.1 * line_height  # a loose OCR box must not open the outline around it
    for box in boxes:
        x0, y0, x1, y1 = _clip(box, width, height, inset)
        filled[y0:y1, x0:x1] = True
    mask |= filled
    structure = ndimage.generate_binary_structure(2, 1)
    eroded = ndimage.binary_erosion(mask, structure, iterations=radius, border_value=1)
    labels, count = ndimage.label(eroded)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    background = set(border.tolist()) | set(np.nonzero(sizes > MAX_PAGE_SHARE * height * width)[0].tolist())
    # an island: little more than the filled line boxes (lettering on art of a similar tone)
    beyond = np.bincount(labels[~filled].ravel(), minlength=count + 1)
    background |= set(np.nonzero(beyond < ISLAND * line_height**2)[0].tolist())
    background.discard(0)
    if background:
        labels[np.isin(labels, list(background))] = 0
    return labels


def line_regions(
    regions: Regions,
    boxes: Sequence[Box],
    panels: Sequence[Box] = (),
    panel_of: Sequence[int] = (),
    vertical: bool = False,
) -> list[tuple[int, int] | None]:
    """The region under most of each line box, as (label, lobe), or None (no closed region).

    A region that floods more than ``MAX_PANEL_SHARE`` of the panel its line lies in is that
    panel's background. A region narrowing to a neck between two of its lines (a balloon of two
    lobes) is cut there: its lines get the lobe they lie in, a neck across the stacking axis
    (:func:`_lobes`) or in any direction (:func:`_hills`).
    """
    labels = regions.labels
    height, width = labels.shape
    sizes = np.bincount(labels.ravel())
    found: list[int | None] = []
    for i, box in enumerate(boxes):
        x0, y0, x1, y1 = _clip(box, width, height)
        patch = labels[y0:y1, x0:x1].ravel()
        label = None
        if patch.size:
            counts = np.bincount(patch)
            counts[0] = 0
            best = int(counts.argmax())
            if counts[best] >= 0.5 * patch.size:
                label = best
        if label is not None and i < len(panel_of) and panel_of[i] >= 0:
            _, _, pw, ph = panels[panel_of[i]]
            if sizes[label] > MAX_PANEL_SHARE * pw * ph:
                label = None
        found.append(label)
    from scipy import ndimage

    ids: list[tuple[int, int] | None] = [None] * len(boxes)
    slices = ndimage.find_objects(labels)
    for label in {f for f in found if f is not None}:
        members = [i for i, f in enumerate(found) if f == label]
        if len(members) == 1:
            ids[members[0]] = (label, 0)
            continue
        rows, cols = slices[label - 1]
        mask = labels[rows, cols] == label  # the region, cropped; its lines' boxes shifted to match
        shifted = [(b[0] - cols.start, b[1] - rows.start, b[2], b[3]) for b in (boxes[i] for i in members)]
        by_rows, by_hills = _lobes(mask, shifted, vertical), _hills(mask, shifted)
        keys: dict[tuple[int, int], int] = {}
        for i, key in zip(members, zip(by_rows, by_hills)):
            ids[i] = (label, keys.setdefault(key, len(keys)))
    return ids


def _lobes(mask: np.ndarray, boxes: Sequence[Box], vertical: bool) -> list[int]:
    """Lobe of each line box in one region (``mask``: the page-sized region): the region's extent
    across the stacking axis, row by row (columns, right to left, for vertical text); between two
    successive lines, the narrowest row is a neck when it is under ``NECK`` times the widest row of
    each of the two lines (a balloon that only tapers has no row narrower than both)."""
    if vertical:
        mask = mask.T[::-1]  # columns right to left as rows
        spans = [(mask.shape[0] - (b[0] + b[2]), mask.shape[0] - b[0]) for b in boxes]
    else:
        spans = [(b[1], b[1] + b[3]) for b in boxes]
    last_row = mask.shape[0] - 1
    spans = [(int(min(max(a, 0), last_row)), int(min(max(b, 0), last_row))) for a, b in spans]
    # extent, not count, of each row: letters left unfilled are holes, not a narrowing
    filled = mask.any(axis=1)
    first = mask.argmax(axis=1)
    last = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
    widths = np.where(filled, last - first + 1, 0)
    order = sorted(range(len(boxes)), key=lambda i: sum(spans[i]))
    lobes, lobe = [0] * len(boxes), 0
    for prev, nxt in pairwise(order):
        a, b = (spans[prev][0] + spans[prev][1]) // 2, (spans[nxt][0] + spans[nxt][1]) // 2
        if b - a >= 2:
            neck = a + int(np.argmin(widths[a:b]))
            before = widths[spans[prev][0] : spans[prev][1] + 1].max()
            after = widths[spans[nxt][0] : spans[nxt][1] + 1].max()
            if widths[neck] < NECK * min(before, after):
                lobe += 1
        lobes[nxt] = lobe
    return lobes


def _hills(mask: np.ndarray, boxes: Sequence[Box]) -> list[int]:
    """Lobe of each line box in one region, in any direction (two lobes side by side or on a
    diagonal): each line climbs the region's distance-to-edge map (holes filled) from its deepest
    point to a top; two tops stay apart when the deepest path between them (their saddle) is under
    ``NECK`` times the lower top."""
    from scipy import ndimage

    # a frame of background first: the distance is to the region's edge, not to the crop's
    dist = ndimage.distance_transform_edt(ndimage.binary_fill_holes(np.pad(mask, 1)))[1:-1, 1:-1]
    height, width = dist.shape
    tops: list[tuple[int, int] | None] = []
    for box in boxes:
        x0, y0, x1, y1 = _clip(box, width, height)
        patch = dist[y0:y1, x0:x1]
        if patch.size == 0 or patch.max() <= 0:
            tops.append(None)
            continue
        r, c = np.unravel_index(int(patch.argmax()), patch.shape)
        r, c = int(r) + y0, int(c) + x0
        while True:  # steepest ascent to a top
            r0, c0 = max(0, r - 1), max(0, c - 1)
            window = dist[r0 : r + 2, c0 : c + 2]
            nr, nc = np.unravel_index(int(window.argmax()), window.shape)
            if window[nr, nc] <= dist[r, c]:
                break
            r, c = int(nr) + r0, int(nc) + c0
        tops.append((r, c))
    distinct = sorted({t for t in tops if t is not None})
    saddle: dict[tuple, float] = {}  # highest level at which two tops share a component
    if len(distinct) > 1:
        for level in np.linspace(max(dist[t] for t in distinct), 0, HILL_LEVELS, endpoint=False):
            components, _ = ndimage.label(dist >= level)
            for k, a in enumerate(distinct):
                for b in distinct[k + 1 :]:
                    if (a, b) not in saddle and components[a] and components[a] == components[b]:
                        saddle[(a, b)] = float(level)
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i] = parent[parent[i]]
        return i

    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = tops[i], tops[j]
            if a is not None and b is not None and a != b:
                a, b = min(a, b), max(a, b)
                if saddle.get((a, b), 0.0) < NECK * min(dist[a], dist[b]):
                    continue  # a neck between their lobes
            parent[root(j)] = root(i)
    roots: dict[int, int] = {}
    return [roots.setdefault(root(i), len(roots)) for i in range(len(boxes))]


def is_page_number(
    box: Box, text: str, panels: Sequence[Box], width: int, height: int, line_height: float
) -> bool:
    """Short text with a digit (a folio, OCR'd as e.g. ``[53]``) in the page's top or bottom
    ``MARGIN`` and not inside a panel (panels shrunk by a line height: detected frames are loose)."""
    alnum = [c for c in text if c.isalnum()]
    if not alnum or len(alnum) > 5 or not any(c.isdigit() for c in alnum):
        return False
    _x, y, w, h = box
    if MARGIN * height < y + h / 2 < (1 - MARGIN) * height:
        return False
    d = line_height
    inner = [(px + d, py + d, pw - 2 * d, ph - 2 * d) for px, py, pw, ph in panels if min(pw, ph) > 2 * d]
    return all(_overlap(box, p) < 0.5 * w * h for p in inner)


_YEAR = re.compile(r"(?:^|\D)(1[89]\d\d|20\d\d)(?:\D|$)")
_COPYRIGHT = re.compile(r"©|\(c\)|\bcopyright\b", re.IGNORECASE)


def is_signature(box: Box, text: str, others: Sequence[Box], line_height: float) -> bool:
    """An artist's signature or a copyright line drawn into the art, not lettering: a short text
    (at most 3 words, 30 characters) outside every balloon and caption, holding a year
    (1800-2099) or a copyright mark, with no other text line within 3 line heights of it (a
    signature stands alone; a year in dialogue sits among its balloon's lines)."""
    words = text.split()
    if not words or len(words) > 3 or len(text) > 30:
        return False
    if not (_YEAR.search(text) or _COPYRIGHT.search(text)):
        return False
    x, y, w, h = box
    d = 3 * line_height
    near = (x - d, y - d, w + 2 * d, h + 2 * d)
    return all(_overlap(near, o) <= 0 for o in others if tuple(o) != tuple(box))


def _overlap(a: Box, b: Box) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


def unit_order(boxes: Sequence[Box], panel_of: Sequence[int], n_panels: int, direction: str) -> list[int]:
    """Reading order of text units: by panel (units outside every panel last), then in rows
    (units whose vertical extents overlap by half the shorter one read side by side, in
    ``direction``), rows top to bottom."""
    sign = -1 if direction == "rtl" else 1
    order: list[int] = []
    by_panel: dict[int, list[int]] = {}
    for i, p in enumerate(panel_of):
        by_panel.setdefault(p if p >= 0 else n_panels, []).append(i)
    for p in sorted(by_panel):
        rows: list[list[int]] = []
        for i in sorted(by_panel[p], key=lambda i: boxes[i][1]):
            b = boxes[i]
            for row in rows:
                a = boxes[row[0]]
                overlap = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
                if overlap >= 0.5 * min(a[3], b[3]):
                    row.append(i)
                    break
            else:
                rows.append([i])
        for row in rows:
            order += sorted(row, key=lambda i: sign * (boxes[i][0] + boxes[i][2] / 2))
    return order
