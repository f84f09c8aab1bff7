"""Honest confidence: flags a page's record gets when its annotations are doubtful.

:func:`page_flags` looks at the page image and what the detector and OCR found, whatever the
detector, and returns ``quality.flags`` entries:

- ``panels:none``: no panel at all;
- ``panels:whole_page_with_gutters``: one panel covering the page (or the only panel, covering
  half of it or more: the page's margins are no panel) although the page shows gutter-like strips
  (narrow uniform bands crossing the page between busy stretches);
- ``panels:whole_page_with_frames``: one panel covering the page although a panel's frame shows
  inside it (a long horizontal and a long vertical frame line meeting at a corner: panels that
  abut or overlap with no gutter between them);
- ``panels:whole_page_with_drawn_gutter``: one panel covering the page although a gutter drawn as
  two parallel frame lines with paper between them crosses part of it, at any slant (a full-bleed
  manga page parted by slanted frames: no paper around the page to read the gutter's tone from);
- ``panels:overlap``: two panels partly overlap (an inset wholly inside a panel is no overlap);
- ``panels:tiny``: a panel (not an inset inside another) holds under 1.5% of the page (a letter
  of a title or logo, a speck of art: real panels that small are rare);
- ``panels:gutter_inside``: a panel (not the whole page) holds a strip of the page's gutter, with
  solid on both sides of it, across a good part of it: two panels taken as one (interlocking
  panels, or a neighbour's frame hidden by art);
- ``panels:ink_outside``: art or lettering over ``OUTSIDE_SHARE`` of the page lies outside every
  panel (lettering closed into blocks, specks and stray balloons left out): panels missed, or a
  page of text (an article, an interview, a letters page) whose columns a reader or a ground
  truth may count as panels;
- ``paper:unusual_tone``: the paper around the panels is neither white nor black (tinted,
  yellowed, grey: the gutter colour was estimated, and may be wrong);
- ``scan:soft``: a soft scan (out of focus, or upscaled): its strong ink-paper steps take several
  pixels (:func:`softness` under ``SOFT``); frame lines spread over thin gutters there, and the
  classical detector loses panels (the real dev pages blurred by 1.5 px: F1 0.93 -> 0.73 on
  tencho_isoro);
- ``text:outside_panels``: lettered text outside every panel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from .detectors.bleed import drawn_gutters
from .detectors.classical import gutter_level, solid_mask
from .detectors.frames import frame_lines, thin_lines
from .detectors.gutters import gutter_bands

Box = Sequence[float]  # x, y, w, h

WORK_HEIGHT = 400  # gutter evidence is looked for at this height
WHOLE_PAGE = 0.9  # a panel covering this share of the page is "the whole page"
ONE_PANEL = 0.5  # ... or, for the whole_page_* flags, the only panel covering this share (margins)
TINY = 0.015  # a panel under this share of the page is tiny
FRAME_HEIGHT = 800  # frame lines are looked for at this height (the classical detector's)
FRAME_LENGTH = 0.3  # a frame line is at least this share of the page's shorter side long
FRAME_MARGIN = 0.1  # ... and lies this share of the page's side away from its edges
STRIP_LENGTH = 0.3  # a gutter strip inside a panel runs over this share of the panel's side
STRIP_PANEL = 0.1  # ... of a panel holding at least this share of the page
STRIP_WIDTH = 0.015  # ... and is this share of the page's height wide at least (a gutter, not a gap in art)
OUTSIDE_SHARE = 0.15  # ink (lettering closed into blocks) outside every panel over this share of the page
OUTSIDE_CLOSE = 0.012  # ... lettering closed across gaps this share of the page's height
OUTSIDE_PIECE = 0.01  # ... pieces under this share of the page (a balloon, a page number) left out
SOFT = 0.45  # a strong step crossed under this share in one pixel: a soft page (Gaussian blur ~0.8 px)
STRONG_STEP = 100  # grey levels over four pixels that make a strong step
ROW_STEP = 3  # every third row is enough to measure it
MIN_STEPS = 500  # ... with at least this many strong steps


def _grey(image, height: int = WORK_HEIGHT) -> np.ndarray:
    if not isinstance(image, Image.Image):
        image = Image.fromarray(np.asarray(image))
    image = image.convert("L")
    if image.height > height:
        width = max(1, round(image.width * height / image.height))
        image = image.resize((width, height), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float32)


def has_gutter_lines(image) -> bool:
    """Whether the page shows at least one gutter-like strip across its interior."""
    grey = _grey(image)
    return len(gutter_bands(grey, 1)) + len(gutter_bands(grey, 0)) > 0


def has_frame_lines(image) -> bool:
    """Whether a panel's frame shows inside the page: a long straight horizontal and a long
    vertical frame line (thin dark lines, or black ones that dark art runs into on one side:
    :mod:`.detectors.frames`) that meet at a corner, away from the page's edges, one of them
    running out to the page's margin, as where panels abut or overlap with no gutter between them.
    One straight line in the art (a horizon, a building's edge) is not a frame, nor is a framed
    picture standing free in the page (a product on an advertisement); a line that runs off the
    page is measured inside it only."""
    import cv2

    grey = _grey(image, FRAME_HEIGHT).astype(np.uint8)
    h, w = grey.shape
    length = max(8, int(FRAME_LENGTH * min(h, w)))
    thin = thin_lines(grey)
    found: list[list[tuple[int, int, int, int, bool]]] = [[], []]
    for axis in (0, 1):
        one = thin.copy()
        one[1 - axis] = 0
        lines = frame_lines(one, length).astype(np.uint8)
        _, _, stats, _ = cv2.connectedComponentsWithStats(lines)
        for x, y, bw, bh, _ in stats[1:]:
            along, at, side = (bw, y + bh / 2, h) if axis == 0 else (bh, x + bw / 2, w)
            if along >= length and FRAME_MARGIN * side <= at <= (1 - FRAME_MARGIN) * side:
                start, stop, extent = (x, x + bw, w) if axis == 0 else (y, y + bh, h)
                out = start <= FRAME_MARGIN * extent or stop >= (1 - FRAME_MARGIN) * extent
                found[axis].append((x - 3, y - 3, x + bw + 3, y + bh + 3, out))
    return any(
        (a[4] or b[4]) and a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
        for a in found[0]
        for b in found[1]
    )


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _gutter_strip(gutter: np.ndarray, length: float, thick: int) -> bool:
    """Whether ``gutter`` (a panel's inside: True where the page's gutter shows) holds a strip of
    rows, ``thick`` or more, that is gutter over one stretch at least ``length`` long, with solid
    along both sides of that stretch (80% of the row just above and just below it), running out
    to one side: a gutter between two panels, not paper around a figure of an open panel."""
    rows = [r for r, row in enumerate(gutter) if any(b - a >= length for a, b in _runs(row))]
    flags = np.zeros(len(gutter), bool)
    flags[rows] = True
    for r0, r1 in _runs(flags):
        if r1 - r0 < thick or r0 < 2 or r1 + 2 > len(gutter):
            continue
        for c0, c1 in _runs(gutter[r0:r1].all(axis=0)):
            sides = (~gutter[r0 - 2, c0:c1]).mean(), (~gutter[r1 + 1, c0:c1]).mean()
            out = c0 == 0 or c1 == gutter.shape[1]  # runs out of the panel, as a gutter between two does
            if c1 - c0 >= length and min(sides) >= 0.8 and out:
                return True
    return False


def has_inner_gutter(image, panels: Sequence[Box]) -> bool:
    """Whether a panel (holding ``STRIP_PANEL`` of the page at least, not the whole page) holds a
    strip of the page's gutter (paper connected to the page's border, as the classical detector
    sees it) ``STRIP_WIDTH`` of the page's height wide, across ``STRIP_LENGTH`` of its width or
    height, away from its edges (5%), with solid on both sides (:func:`_gutter_strip`)."""
    width, height = image.size if isinstance(image, Image.Image) else np.asarray(image).shape[1::-1]
    grey = _grey(image, FRAME_HEIGHT).astype(np.uint8)
    level = gutter_level(grey)
    if level is None:
        return False
    solid = solid_mask(grey, level, 40)
    scale = grey.shape[0] / height
    thick = max(2, int(STRIP_WIDTH * grey.shape[0]))
    for x, y, w, h in panels:
        if not STRIP_PANEL * width * height <= w * h < WHOLE_PAGE * width * height:
            continue
        x0, y0, x1, y1 = (int(v * scale) for v in (x, y, x + w, y + h))
        mx, my = int(0.05 * (x1 - x0)), int(0.05 * (y1 - y0))
        gutter = ~solid[y0 + my : y1 - my, x0 + mx : x1 - mx]
        if gutter.size == 0:
            continue
        if _gutter_strip(gutter, STRIP_LENGTH * (x1 - x0), thick):
            return True
        if _gutter_strip(gutter.T, STRIP_LENGTH * (y1 - y0), thick):
            return True
    return False


def has_drawn_gutter(image) -> bool:
    """Whether a gutter drawn as two parallel frame lines with paper between them crosses part of
    the page at any slant (:func:`.detectors.bleed.drawn_gutters`): on a full-bleed page (no paper
    around the panels: no gutter tone to read) what the panels' slanted frames look like."""
    return bool(drawn_gutters(_grey(image, FRAME_HEIGHT).astype(np.uint8)))


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / max(1e-9, min(a[2] * a[3], b[2] * b[3]))


def ink_outside(image, panels: Sequence[Box]) -> bool:
    """Whether the page's solid (what is not its gutter, :func:`.detectors.classical.solid_mask`),
    closed across gaps of ``OUTSIDE_CLOSE`` of the page's height so that lines of lettering make
    blocks, covers ``OUTSIDE_SHARE`` of the page outside every panel, counting pieces of
    ``OUTSIDE_PIECE`` of the page or more (a balloon over the margin, a page number, a signature
    are no such piece)."""
    import cv2

    height = image.height if isinstance(image, Image.Image) else np.asarray(image).shape[0]
    grey = _grey(image, FRAME_HEIGHT).astype(np.uint8)
    level = gutter_level(grey)
    if level is None:
        return False
    h, w = grey.shape
    k = max(3, round(OUTSIDE_CLOSE * h))
    solid = cv2.morphologyEx(
        solid_mask(grey, level, 40).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((k, k), np.uint8)
    )
    scale = h / height
    for x, y, bw, bh in panels:
        solid[
            int(y * scale) : int(np.ceil((y + bh) * scale)), int(x * scale) : int(np.ceil((x + bw) * scale))
        ] = 0
    _, _, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    pieces = [s[4] for s in stats[1:] if s[4] >= OUTSIDE_PIECE * h * w]
    return sum(pieces) >= OUTSIDE_SHARE * h * w


def softness(image) -> float | None:
    """The median share of a strong four-pixel step along the rows (over ``STRONG_STEP`` grey
    levels) that its largest one-pixel step makes, at the page's own resolution: near 1 for sharp
    lettering and frames (0.68-0.89 on the dev pages as published), lower the softer the scan (a
    Gaussian blur of 1 px: ~0.40, of 1.5 px: ~0.32); None with under ``MIN_STEPS`` strong steps."""
    grey = np.asarray(image.convert("L") if isinstance(image, Image.Image) else image)
    if grey.ndim == 3:
        grey = grey[..., :3].mean(axis=2)
    g = grey[::ROW_STEP].astype(np.int16)
    if g.shape[1] < 5:
        return None
    one = np.abs(np.diff(g, axis=1))
    four = np.abs(g[:, 4:] - g[:, :-4])
    largest = np.maximum.reduce([one[:, k : k + four.shape[1]] for k in range(4)])
    strong = four >= STRONG_STEP
    if strong.sum() < MIN_STEPS:
        return None
    return float(np.median(largest[strong] / four[strong]))


def paper_tone_unusual(image) -> bool:
    """Paper (the gutter colour) found, and neither white nor black."""
    level = gutter_level(_grey(image).astype(np.uint8))
    return level is not None and 40 < level < 215


def page_flags(image, panels: Sequence[Box], texts: Sequence[dict] = ()) -> list[str]:
    """``quality.flags`` for a page: ``panels`` are x, y, w, h boxes, ``texts`` DataSpec text
    boxes (their ``panel`` index, -1 when outside every panel)."""
    width, height = image.size if isinstance(image, Image.Image) else np.asarray(image).shape[1::-1]
    flags = []
    # the page's outer panels: insets (boxes lying inside a larger one) do not part a page
    outer = [
        a for a in panels if not any(b[2] * b[3] > a[2] * a[3] and _overlap(a, b) >= 0.9 for b in panels)
    ]
    page = width * height
    whole = len(outer) == 1 and outer[0][2] * outer[0][3] >= WHOLE_PAGE * page
    one = whole or (len(panels) == 1 and panels[0][2] * panels[0][3] >= ONE_PANEL * page)
    if not panels:
        flags.append("panels:none")
    elif one and has_gutter_lines(image):
        flags.append("panels:whole_page_with_gutters")
    elif one and has_frame_lines(image):
        flags.append("panels:whole_page_with_frames")
    elif one and has_drawn_gutter(image):
        flags.append("panels:whole_page_with_drawn_gutter")
    if any(0.1 < _overlap(a, b) < 0.9 for i, a in enumerate(panels) for b in panels[i + 1 :]):
        flags.append("panels:overlap")
    if any(a[2] * a[3] < TINY * page for a in outer):  # an inset inside a panel may be small
        flags.append("panels:tiny")
    if panels and not whole and has_inner_gutter(image, panels):
        flags.append("panels:gutter_inside")
    if panels and ink_outside(image, panels):
        flags.append("panels:ink_outside")
    if paper_tone_unusual(image):
        flags.append("paper:unusual_tone")
    soft = softness(image)
    if soft is not None and soft < SOFT:
        flags.append("scan:soft")
    if any(t.get("panel", -1) < 0 for t in texts):
        flags.append("text:outside_panels")
    return flags
