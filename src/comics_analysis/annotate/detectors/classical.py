"""The ``classical`` panel detector (default, CPU, no weights, OpenCV).

Estimate the gutter colour from the page border; the gutter is the paper connected to the page
border, everything else (ink, and paper enclosed by ink such as a panel's white interior) is
solid. Cut the solid mask recursively along gutters (rows or columns with almost no solid, or a
short thin dip between dense stretches where a balloon crosses), an X-Y cut on pixels; on light
paper a thick black band with light on both sides is a gutter too. A region is a panel when it
is framed (its four edges are solid), densely filled, or, unframed and less filled, when one
large connected shape holds most of its ink (borderless art); text blocks (many small glyphs)
and stray balloons are dropped. A region that is not framed itself but holds one long thin frame
line (the edge of a framed panel that an unframed neighbour's art touches) is cut along that
line, also a faint one (broken, wavering by a pixel) that spans the region; a gutter whose two
frame lines a balloon mostly hides is cut when the strip between the lines is paper. A straight
gutter that one balloon crosses over up to 80% of its length (the gutter shows in one or two
pieces at its ends, the obstruction is of the paper's colour) is cut last, on the axis where it
shows most. When nothing straight divides a region, a slanted gutter drawn as two thin frame lines
with paper between them (leaning by up to 8% of its length, 32 px at most; too thin to stay
open at the working scale) is cleared and the region's separate shapes become panels (when nothing
at all divides a region, one leaning by up to 16%, 64 px, is looked for last). Last,
panels that abut or overlap with no gutter at all (a pinwheel, a panel drawn over the corner of
the next: no straight cut divides them) are separated by their thin frame lines (:mod:`.frames`);
failing that, framed panels drawn over their neighbours are found as closed frames and the region
is cut again without them (:mod:`.layers`). Open panels (:mod:`.open_panels`): a caption box that
a cut parted from one rejoins it, and a tall panel open at the top is cut off its neighbours first.
On light paper, a gutter that art (a figure breaking out of its panel) crosses is cut when its
paper runs in straight from both ends of the region, however short the frame-line pieces there;
and each panel found on a page scaled down is looked at again at full size for gutters too thin
to stay open at the working scale (3-5 px between borderless panels), its parts cut anew. The
pieces dropped as lettering or specks are grouped again between the panels kept: a large group
drawn in long thin strokes is a borderless panel of sparse line art (:mod:`.sparse`). A page
with no paper around it (full bleed) is one panel, or the cells that its gutters drawn as two
frame lines leave, at any slant (:mod:`.bleed`).
Two columns abutting with no gutter between them, whose gutters do not line up, are cut where
their gutters stop, before two frame lines are looked for (:mod:`.pinwheel`).
The gutter finders live in :mod:`.gutters`. A second pass looks for framed insets (art inside a
rectangular frame of straight lines; faces and round outlines are not insets) inside each panel;
an inset of the layout sits in a corner of its panel (a framed picture in the middle of the art, a
television's screen, or a caption band across the panel's top is not one).
Scores rank frame and fill evidence, so precision-recall curves (AP) mean something.

Known limits: non-guillotine layouts whose frame lines are hidden (dark art on either side of
a frame is a step, not a thin line), slanted gutters
without two clear frame lines and gutters sealed by art merge panels; strips thinner than 8% of
the page's shorter side (4 times longer than wide) are dropped as slivers, true narrow panels
too; open-topped panels whose art bleeds into the paper may be split; on a dark gutter, balloons
crossing gutters are not looked for (white art looks like a balloon there).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ...dataspec.geometry import turned_box
from .base import Detection
from .bleed import bleed_panels
from .frames import _overlap, corner_frame, frame_parts, lettered, lined_insets, texty, thin_lines
from .gutters import (
    _band_split,
    _carve_leaning_crossed,
    _carve_slanted,
    _crossed_split,
    _line_split,
    _no_sliver,
    _split,
    gutter_bands,
    gutter_width,
    thin_cuts,
    wide_carve,
)
from .layers import layered
from .open_panels import join_lettering, tall_first
from .pinwheel import staggered_cut
from .skew import page_skew, straighten
from .sparse import line_art_panels

PAPER_SPREAD = 20  # grey levels either side of the dominant tone that still count as paper
NOISY_PAPER = 3.0  # paper noise (robust std, grey levels) above which the page is smoothed first
INSET_CORNER = 0.06  # an inset lies within this share of its panel's side from two adjacent sides
INSET_SPAN = 0.2  # ... and leaves at least this share free towards the two opposite sides


@dataclass(frozen=True)
class ClassicalConfig:
    work_height: int = 800  # pages are analysed at this height (boxes are scaled back)
    ink_threshold: int = 40  # grey-level distance from the gutter that counts as ink
    gutter_fill: float = 0.02  # a row/column is gutter when at most this share of it is ink
    bridge_fill: float = 0.4  # ... or this much, when the run is short and dense fill surrounds it
    dense_fill: float = 0.7
    crossed_fill: float = 0.8  # ... or this much, when a straight gutter shows past one obstruction
    crossed_drop: float = 0.15  # ... and the fill drops by this much from both sides
    crossed_paper: float = 0.6  # ... and the obstruction is this much paper-coloured or white (a balloon)
    min_gutter: int = 2  # pixels (at work size)
    min_area: float = 0.008  # share of the page area
    min_side: float = 0.04  # share of the page's shorter side
    sliver_side: float = 0.08  # ... and this share, for a strip over sliver_aspect times longer
    sliver_aspect: float = 4.0
    frame_edge: float = 0.75  # share of an edge that must be ink for a framed panel
    min_fill: float = 0.5  # share of ink for an unframed panel
    art_fill: float = 0.3  # ... or this share, when one connected shape holds most of it (art, not text)
    art_share: float = 0.5  # the largest shape's share of the ink for art
    max_depth: int = 8
    line_length: float = 0.3  # a frame line spans at least this share of the region
    line_cover: float = 0.5  # ... and covers this share of a row/column to count
    hidden_cover: float = 0.3  # ... or this share, when paper (balloons) fills the strip between
    hidden_paper: float = 0.7
    line_gap: float = 0.05  # two frame lines at most this share apart bound a gutter
    page_gutter: float = 1.5  # ... or this many times the page's own clean gutters' width
    gutter_span: float = 8.0  # ... in a region at least this many such gutters long
    line_gap_fill: float = 0.7  # ... when the strip between them is partly paper
    min_side_px: int = 30  # never cut off a sliver thinner than this (work pixels)
    blob_share: float = 0.2  # a separate shape this large (share of its region) is its own panel
    edge_cover: float = 0.6  # one frame line this long (share of an unframed region) is a panel edge
    line_wobble: int = 5  # a faint lone frame line: breaks (pixels) closed along it; 0: none
    edge_piece: float = 0.2  # ... and each side of a cut along it holds this share of the region
    faint_cover: float = 0.85  # ... and it spans this share of the region
    balloon_share: float = 0.4  # a region this much one convex balloon is lettering, not a panel
    slant: float = 0.08  # a slanted gutter leans by up to this share of its length (0: none)
    wide_slant: float = 0.16  # ... or this, when nothing else divides the region (0: none)
    staggered: bool = True  # two columns whose gutters do not line up, cut where their gutters stop
    band_cover: float = 0.97  # a black band this dark along a region (light paper only) is a gutter
    frame_line: float = 0.15  # a frame line between abutting panels: this share of the region's shorter side
    frame_rect: float = 0.75  # ... and each panel it leaves fills this share of its box
    frame_part: float = 0.03  # ... and is this share of the region at least
    frame_hold: float = 0.7  # ... and the panels hold this share of the region's solid (0: off)
    corner_low: float = 0.15  # a framed panel in a corner of an open one: at least this share of the region
    corner_high: float = 0.8  # ... and at most this share (0: off)
    inset_lines: bool = True  # look for insets by their straight frame lines when art runs into them
    gutter_px: float = 0.0  # measured per page: median width of its clean interior gutters (work px)
    gutter_reach: float = 0.06  # a crossed gutter may be this share of the page's shorter side wide
    page_side: int = 0  # set per page: the shorter side of the page (work px)
    scan_border: float = 0.04  # trim a scanner's dark border up to this share of a side (0: off)
    layers: bool = True  # find framed panels drawn over their neighbours by their closed frames
    open_panels: bool = True  # join a caption box that a cut parted from its open panel back to it
    thin_gutters: bool = True  # look again at full size for gutters too thin for the working scale
    bleed_cells: bool = True  # a full-bleed page: the cells its drawn (slanted) gutters leave
    bleed_cell: float = 0.05  # ... each cell this share of the page at least, two or more
    caption_depth: float = 0.12  # a caption box rejoining its open panel: this share of the page's side deep
    thin_caption: float = 0.15  # no thin-gutter cut leaves a caption band this share of its region deep
    sparse_area: float = 0.04  # dropped pieces of line art regrouped this large (share of the page) ...
    sparse_side: float = 0.15  # ... each side this share of the page's shorter side (0 area: off)
    stroke_reach: float = (
        0.25  # ... are a panel when strokes this long (share of its longer side) hold its ink
    )
    deskew: bool = True  # a tilted scan is turned straight first (boxes turned back: skew.py)


def _to_grey(image) -> np.ndarray:
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("L"))
    image = np.asarray(image)
    if image.ndim == 3:
        image = (image[..., :3] @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    return image


def _whitened(grey: np.ndarray, paper: float) -> np.ndarray:
    """``grey`` with its ``paper`` tone brought to white, every tone scaled alike (clipped): on
    yellowed or tinted paper the ink then stands as far from the paper as on white paper."""
    return np.minimum(grey.astype(np.float32) * (255.0 / paper), 255.0).astype(np.uint8)


def _border_strip(grey: np.ndarray) -> list[np.ndarray]:
    """The page's four outer bands (top, bottom, left, right), where the gutter shows."""
    h, w = grey.shape
    band = max(2, int(0.015 * min(h, w)))
    return [grey[:band].ravel(), grey[-band:].ravel(), grey[:, :band].ravel(), grey[:, -band:].ravel()]


def gutter_level(grey: np.ndarray) -> float | None:
    """Grey level of the gutter, from the page's outer strip; None when the art bleeds everywhere.

    White and black gutters first; otherwise tinted, yellowed or grey paper: the strip's dominant
    tone, when it is light or dark (not mid-tone art) and shows on at least two sides of the page.
    When the page's edges show no white or black paper (panels bleeding off the page on most
    sides), the gutters that cross its interior (:func:`.gutters.gutter_bands`) say what its paper
    is: their tone, unless the edges show that tone already (a light tone along the edges that no
    gutter has is bleeding art, not paper); a band of mixed tones (two frame lines around a thin
    gutter) says nothing, nor does one whose tone shows nowhere along the page's edges."""
    level = _border_level(grey)
    if level is None or 40 < level < 215:
        bands = gutter_bands(grey, 1) + gutter_bands(grey, 0)
        # a band of one tone: dark frame lines on both sides of a thin light gutter, each a flat
        # line of its own, average to a mid grey that is neither paper nor a black gutter
        bands = [b for b in bands if b >= 150 or b <= 70]
        # a gutter runs out to the page's edge somewhere (its tone shows there): a band whose tone
        # is nowhere on the edges is a divider inside the page (frame lines around a thin gutter)
        edges = np.concatenate(_border_strip(grey)).astype(np.int16)
        bands = [b for b in bands if np.mean(np.abs(edges - b) <= PAPER_SPREAD) >= 0.01]
        if bands and (level is None or all(abs(b - level) > PAPER_SPREAD for b in bands)):
            level = float(np.median(bands))
    return level


def _border_level(grey: np.ndarray) -> float | None:
    sides = _border_strip(grey)
    strip = np.concatenate(sides)
    white = np.mean(strip >= 215)
    black = np.mean(strip <= 40)
    if white >= 0.4 and white >= black:
        return float(np.median(strip[strip >= 215]))
    if black >= 0.4:
        return float(np.median(strip[strip <= 40]))
    window = np.convolve(np.bincount(strip, minlength=256), np.ones(2 * PAPER_SPREAD + 1), mode="same")
    peak = int(np.argmax(window))
    if window[peak] < 0.4 * strip.size or 70 < peak < 140:
        return None
    shares = [np.mean(np.abs(side.astype(np.int16) - peak) <= PAPER_SPREAD) for side in sides]
    if sum(share >= 0.5 for share in shares) < 2:
        return None  # one flat stretch of art along an edge, not paper around the page
    near = strip[np.abs(strip.astype(np.int16) - peak) <= PAPER_SPREAD]
    return float(np.median(near))


def paper_noise(grey: np.ndarray, level: float, threshold: int) -> float:
    """Robust standard deviation (grey levels) of the gutter pixels of the page's outer strip:
    scan noise and uneven tone; about 0 for clean digital pages."""
    strip = np.concatenate(_border_strip(grey)).astype(np.float32)
    near = strip[np.abs(strip - level) <= threshold]
    if near.size < 16:
        return 0.0
    return float(1.4826 * np.median(np.abs(near - np.median(near))))


def solid_mask(grey: np.ndarray, level: float, threshold: int) -> np.ndarray:
    """Everything that is not gutter: paper connected to the page border is gutter; paper
    enclosed by ink (a panel's white interior, a balloon) belongs to what encloses it."""
    import cv2

    ink = (np.abs(grey.astype(np.int16) - int(level)) > threshold).astype(np.uint8)
    ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))  # seal 1-px breaks in frames
    count, labels = cv2.connectedComponents(1 - ink, connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    gutter = np.isin(labels, border[border > 0]) if count > 1 else np.zeros_like(ink, bool)
    return ~gutter & ((ink > 0) | (labels > 0))


def _frame_score(ink: np.ndarray) -> float:
    """How much of each edge band (3 px deep) of a region is ink: the weakest edge counts."""
    depth = max(1, min(3, min(ink.shape) // 10))
    edges = [
        ink[:depth].any(axis=0).mean(),
        ink[-depth:].any(axis=0).mean(),
        ink[:, :depth].any(axis=1).mean(),
        ink[:, -depth:].any(axis=1).mean(),
    ]
    return float(min(edges))


def _straightness(ink: np.ndarray) -> float:
    """How straight the frame of a region is: per edge, the best single line of its edge band
    (3 px deep) that is ink along the edge; the weakest edge counts. A rectangle's frame is about
    1; a round outline that merely touches its bounding box on each side is low."""
    depth = max(1, min(3, min(ink.shape) // 10))
    edges = [
        ink[:depth].mean(axis=1).max(),
        ink[-depth:].mean(axis=1).max(),
        ink[:, :depth].mean(axis=0).max(),
        ink[:, -depth:].mean(axis=0).max(),
    ]
    return float(min(edges))


def _trim(ink: np.ndarray, box: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    x0, y0, x1, y1 = box
    region = ink[y0:y1, x0:x1]
    rows = np.flatnonzero(region.any(axis=1))
    cols = np.flatnonzero(region.any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return None
    return (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)


def _xy_cut(ink, dark, paper, light, thin, box, cfg: ClassicalConfig, depth: int, out: list) -> None:
    """Recursive cut of ``box``; ink is the solid mask, dark the frame-line candidates, paper the
    pixels of the gutter's colour (balloon interiors included), light those of the gutter's colour
    or white (balloon interiors on any gutter)."""
    box = _trim(ink, box)
    if box is None:
        return
    x0, y0, x1, y1 = box
    region = ink[y0:y1, x0:x1]
    if depth < cfg.max_depth:
        framed = _frame_score(region) >= cfg.frame_edge
        for splitter in ("fill", "band", "staggered", "lines", "edge", "faint edge"):
            if splitter.endswith("edge") and framed:
                continue  # a framed panel keeps its inner lines (art, insets)
            if splitter == "staggered":  # two columns abutting, their gutters not lined up
                pieces = staggered_cut(region, dark[y0:y1, x0:x1], cfg) if cfg.staggered else []
                for a, b, c, d in pieces:
                    _xy_cut(
                        ink, dark, paper, light, thin, (x0 + a, y0 + b, x0 + c, y0 + d), cfg, depth + 1, out
                    )
                if pieces:
                    return
                continue
            for axis in (1, 0):  # rows first (horizontal gutters), then columns
                if splitter == "fill":
                    segments = _split(region.mean(axis=axis), cfg, solid=region if axis == 1 else region.T)
                    if axis == 1 and len(segments) > 1 and cfg.open_panels:
                        segments = tall_first(segments, region, dark[y0:y1, x0:x1], cfg)
                elif splitter == "band":
                    segments = _band_split(dark[y0:y1, x0:x1], axis, cfg)
                else:
                    segments = _line_split(
                        dark[y0:y1, x0:x1],
                        region,
                        paper[y0:y1, x0:x1],
                        axis,
                        cfg,
                        splitter.endswith("edge"),
                        wobble=cfg.line_wobble if splitter == "faint edge" else 0,
                    )
                subs = [
                    (x0, y0 + a, x1, y0 + b) if axis == 1 else (x0 + a, y0, x0 + b, y1) for a, b in segments
                ]
                # a faint line (joined across breaks) leaves no sliver (a balloon spilling over a frame)
                if len(subs) > 1 and (splitter != "faint edge" or _no_sliver(segments, cfg)):
                    for sub in subs:
                        _xy_cut(ink, dark, paper, light, thin, sub, cfg, depth + 1, out)
                    return
        # a gutter that a balloon crosses: the axis whose gutter shows over more of its length
        crossed = [(*_crossed_split(region, light[y0:y1, x0:x1], axis, cfg), axis) for axis in (1, 0)]
        segments, share, axis = max(crossed, key=lambda c: c[1])
        if share > 0:
            for a, b in segments:
                sub = (x0, y0 + a, x1, y0 + b) if axis == 1 else (x0 + a, y0, x0 + b, y1)
                _xy_cut(ink, dark, paper, light, thin, sub, cfg, depth + 1, out)
            return
        parts = _blobs(region, cfg)
        if (
            len(parts) < 2
            and cfg.slant > 0
            and _carve_slanted(region, dark[y0:y1, x0:x1], light[y0:y1, x0:x1], cfg)
        ):
            parts = _blobs(region, cfg)  # the region is a view of ``ink``: the carved gutter is gutter
        if len(parts) < 2 and cfg.frame_hold > 0:  # panels abutting or overlapping: frame lines only
            parts = frame_parts(region, thin[:, y0:y1, x0:x1], cfg, framed)
        if (
            len(parts) < 2 and not framed and cfg.corner_high > 0 and thin is not None
        ):  # a framed panel beside an open one
            corner = corner_frame(region, thin[:, y0:y1, x0:x1], paper[y0:y1, x0:x1], cfg)
            rest = corner[1] if corner else None
            if rest and not texty(region[rest[1] : rest[3], rest[0] : rest[2]], cfg.art_share):
                out.extend((x0 + a, y0 + b, x0 + c, y0 + d) for a, b, c, d in corner)
                return
        if len(parts) < 2 and cfg.slant > 0 and _carve_leaning_crossed(region, light[y0:y1, x0:x1], cfg):
            parts = _blobs(region, cfg)  # a leaning gutter that a balloon crosses, cleared
        if len(parts) > 1:  # separate shapes no straight gutter divides: slanted gutters, frames
            for bx0, by0, bx1, by1 in parts:
                _xy_cut(
                    ink,
                    dark,
                    paper,
                    light,
                    thin,
                    (x0 + bx0, y0 + by0, x0 + bx1, y0 + by1),
                    cfg,
                    depth + 1,
                    out,
                )
            return
        masks = {"ink": ink, "dark": dark, "paper": paper, "light": light, "thin": thin}
        if cfg.layers and thin is not None and layered(masks, box, cfg, framed, _xy_cut, depth, out):
            return  # panels drawn over their neighbours
        wide = cfg.slant > 0 and cfg.wide_slant > 0  # last: a gutter leaning further, cleared
        if wide and wide_carve(region, dark[y0:y1, x0:x1], light[y0:y1, x0:x1], cfg, _blobs):
            for a, b, c, d in _blobs(region, cfg):
                _xy_cut(ink, dark, paper, light, thin, (x0 + a, y0 + b, x0 + c, y0 + d), cfg, depth + 1, out)
            return
    out.append(box)


def _blobs(solid: np.ndarray, cfg: ClassicalConfig) -> list[tuple[int, int, int, int]]:
    """Boxes of the large connected shapes of a region, when it holds more than one."""
    import cv2

    _, _, stats, _ = cv2.connectedComponentsWithStats(solid.astype(np.uint8), connectivity=4)
    h, w = solid.shape
    big = [s for s in stats[1:] if s[4] >= cfg.blob_share * h * w and min(s[2], s[3]) >= cfg.min_side_px]
    if len(big) < 2:
        return []
    return [(int(x), int(y), int(x + bw), int(y + bh)) for x, y, bw, bh, _ in big]


def _one_balloon(enclosed: np.ndarray, cfg: ClassicalConfig) -> bool:
    """Whether a region is mostly one balloon: a convex oval of enclosed paper (its outline holds
    at least 90% of its hull and under 85% of its box) that spans most of the region and covers
    ``balloon_share`` of it. A panel's white interior is enclosed paper too, but a rectangle, or
    art cuts into it (not convex)."""
    import cv2

    h, w = enclosed.shape
    contours, _ = cv2.findContours(enclosed.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < cfg.balloon_share * h * w:
            continue
        _, _, cw, ch = cv2.boundingRect(contour)
        hull = cv2.contourArea(cv2.convexHull(contour))
        round_ = area < 0.85 * cw * ch  # an oval, not a panel's rectangular white interior
        if hull > 0 and area >= 0.9 * hull and round_ and cw >= 0.6 * w and ch >= 0.6 * h:
            return True
    return False


def _insets(
    grey: np.ndarray, dark: np.ndarray, box, pale: float = 200.0
) -> list[tuple[tuple[int, int, int, int], float]]:
    """Framed rectangles well inside a panel that hold art: insets. Captions and balloons are
    framed too, but they hold paper (a pale, flat interior) and are dropped."""
    import cv2

    x0, y0, x1, y1 = box
    region = dark[y0:y1, x0:x1].astype(np.uint8)
    if region.size == 0:
        return []
    contours, _ = cv2.findContours(region, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    h, w = region.shape
    found = []
    for contour in contours:
        cx, cy, cw, ch = cv2.boundingRect(contour)
        area = cw * ch
        if not (0.05 * w * h <= area <= 0.6 * w * h) or min(cw, ch) < 0.18 * min(w, h):
            continue
        if cx < 0.02 * w or cy < 0.02 * h or cx + cw > 0.98 * w or cy + ch > 0.98 * h:
            continue
        frame = _frame_score(region[cy : cy + ch, cx : cx + cw].astype(bool))
        inside = grey[y0 + cy + 4 : y0 + cy + ch - 4, x0 + cx + 4 : x0 + cx + cw - 4]
        if frame < 0.9 or inside.size == 0:
            continue
        if np.mean(inside > pale) > 0.5 or np.mean(inside < 80) > 0.4:
            continue  # paper (caption, balloon) or a solid dark shape, not a framed picture
        if lettered(inside):
            continue  # lettering on a tinted box (a caption), not a picture
        if cv2.contourArea(contour) < 0.85 * area or _straightness(region[cy : cy + ch, cx : cx + cw]) < 0.8:
            continue  # a round or ragged outline (a face, hair), not a rectangle of four straight lines
        if not _in_corner((cx / w, cy / h, (w - cx - cw) / w, (h - cy - ch) / h)):
            continue  # a framed picture in the art (a screen, a window) or a caption band, not an inset
        found.append(((x0 + cx, y0 + cy, x0 + cx + cw, y0 + cy + ch), frame))
    # keep outermost frames only
    found.sort(key=lambda f: -(f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))
    kept: list = []
    for rect, frame in found:
        if not any(
            r[0] <= rect[0] and r[1] <= rect[1] and rect[2] <= r[2] and rect[3] <= r[3] for r, _ in kept
        ):
            kept.append((rect, frame))
    return kept


def _in_corner(gaps: tuple[float, float, float, float]) -> bool:
    """Whether a rectangle whose distances to its panel's left, top, right and bottom sides are
    ``gaps`` (shares of the panel's width and height) sits in a corner of it, as a layout's inset
    does: near one side of each axis, well away from the opposite one (a band across the panel
    is a caption)."""
    left, top, right, bottom = gaps
    return all(
        min(a, b) <= INSET_CORNER and max(a, b) >= INSET_SPAN for a, b in ((left, right), (top, bottom))
    )


def detect_classical(image, config: ClassicalConfig | None = None) -> list[Detection]:
    """Panels of one page (PIL image or array), in no particular order."""
    cfg = config or ClassicalConfig()
    grey_full = _to_grey(image)
    full_h, full_w = grey_full.shape
    skew = page_skew(grey_full) if cfg.deskew else 0.0
    if skew:  # a tilted scan: its panels are found on the page turned straight
        found = detect_classical(straighten(grey_full, skew), dataclasses.replace(cfg, deskew=False))
        return [Detection(turned_box(d.bbox, skew, full_w, full_h), d.score) for d in found]
    scale = min(1.0, cfg.work_height / full_h)
    if scale < 1.0:
        grey = np.asarray(
            Image.fromarray(grey_full).resize(
                (max(1, round(full_w * scale)), cfg.work_height), Image.Resampling.BOX
            )
        )
    else:
        grey = grey_full
    top, left = 0, 0
    if cfg.scan_border > 0:  # a scanner's dark border around light paper is not part of the page
        top, bottom, left, right = scan_border(grey, cfg.scan_border)
        grey = grey[top : grey.shape[0] - bottom, left : grey.shape[1] - right]
    h, w = grey.shape
    level = gutter_level(grey)
    if level is None:  # no gutter tone: one full-bleed panel, or the cells its drawn gutters leave
        inv = 1.0 / scale
        return [
            Detection(((x0 + left) * inv, (y0 + top) * inv, (x1 - x0) * inv, (y1 - y0) * inv), 0.5)
            for x0, y0, x1, y1 in (bleed_panels(grey, cfg.bleed_cell) if cfg.bleed_cells else [])
        ] or [Detection((0.0, 0.0, float(full_w), float(full_h)), 0.5)]
    if 128 < level < 254:  # tinted or yellowed paper: brought to white, the ink's contrast with it kept
        grey, grey_full, level = _whitened(grey, level), _whitened(grey_full, level), 255.0
    if paper_noise(grey, level, cfg.ink_threshold) > NOISY_PAPER:  # a scan: grain on the paper
        import cv2

        smooth = cv2.medianBlur(np.ascontiguousarray(grey), 5)
        # a thin frame line (2 px at work size) is under half of the 5x5 window: keep what is dark
        grey = np.where(grey < 80, np.minimum(grey, smooth), smooth)
    ink = solid_mask(grey, level, cfg.ink_threshold)
    cfg = dataclasses.replace(cfg, gutter_px=gutter_width(ink, cfg), page_side=min(h, w))
    if level <= 128:  # on a dark gutter, dark pixels are gutter as much as frame lines
        cfg = dataclasses.replace(cfg, line_wobble=0, band_cover=0.0, page_gutter=0.0)
    boxes: list = []
    dark = grey < 80  # frame lines are dark whatever the gutter
    paper = np.abs(grey.astype(np.int16) - int(level)) <= cfg.ink_threshold
    pale = min(200.0, level - cfg.ink_threshold) if level > 128 else 200.0  # balloon interiors
    # balloon interiors are of the paper's colour; on a dark gutter, dark art merges with the gutter
    # and white art looks like a balloon, so gutters crossed by balloons are only looked for on paper
    light = paper if level > 128 else np.zeros_like(paper)
    thin = thin_lines(grey) if cfg.frame_hold > 0 or cfg.corner_high > 0 else None
    _xy_cut(ink, dark, paper, light, thin, (0, 0, w, h), cfg, 0, boxes)
    if cfg.thin_gutters and scale < 1.0 and level > 128:  # gutters too thin to show at the working scale
        fine = (grey_full, level, scale, (top, left))
        boxes = thin_cuts(
            boxes, fine, cfg, lambda box, out: _xy_cut(ink, dark, paper, light, thin, box, cfg, 1, out)
        )
    if cfg.open_panels:
        boxes = join_lettering(boxes, ink, grey, cfg, _frame_score)  # a caption box cut off an open panel
    results: list[tuple[tuple[int, int, int, int], float]] = []
    for box in boxes:
        x0, y0, x1, y1 = box
        bw, bh = x1 - x0, y1 - y0
        if bw * bh < cfg.min_area * w * h or min(bw, bh) < cfg.min_side * min(w, h):
            continue
        if min(bw, bh) < cfg.sliver_side * min(w, h) and max(bw, bh) >= cfg.sliver_aspect * min(bw, bh):
            continue  # a thin strip a cut left over: a frame's edge, a balloon spilling over it
        region = ink[y0:y1, x0:x1]
        frame = _frame_score(region)
        fill = float(region.mean())
        if (
            frame < cfg.frame_edge
            and fill < cfg.min_fill
            and (fill < cfg.art_fill or texty(region, cfg.art_share))
        ):
            continue  # a text block, caption or stray balloon
        if frame < cfg.frame_edge and _one_balloon(region & paper[y0:y1, x0:x1], cfg):
            continue  # one balloon that a cut left on its own: lettering, not a panel
        size = min(1.0, (bw * bh) / (0.05 * w * h))
        score = (0.6 * max(frame, min(1.0, fill / 0.8)) + 0.4 * size) * (0.7 + 0.3 * min(frame, 1.0))
        results.append((box, min(1.0, score)))
        if frame >= cfg.frame_edge or fill >= cfg.min_fill:
            insets = _insets(grey, dark, box, pale)
            if not insets and thin is not None and cfg.inset_lines:
                crop = (slice(y0, y1), slice(x0, x1))
                lined = lined_insets(thin[:, y0:y1, x0:x1], grey[crop], pale, cfg)
                insets = [
                    ((x0 + a, y0 + b, x0 + c, y0 + d), 0.9)
                    for a, b, c, d in lined
                    if not any(_overlap((x0 + a, y0 + b, x0 + c, y0 + d), o) > 0.5 for o in boxes if o != box)
                ]  # a rectangle that is another panel already (overlapping framed panels) is no inset
            results.extend((rect, 0.5 * f) for rect, f in insets)
    kept = [box for box, _ in results]
    open_ = [b for b in kept if _frame_score(ink[b[1] : b[3], b[0] : b[2]]) < cfg.frame_edge]
    found, taken = line_art_panels(ink, [b for b in boxes if b not in kept], kept, cfg, open_, dark)
    results = [r for r in results if r[0] not in taken] + [(box, 0.4) for box in found]
    inv = 1.0 / scale
    return [
        Detection(
            ((x0 + left) * inv, (y0 + top) * inv, min(full_w, (x1 - x0) * inv), min(full_h, (y1 - y0) * inv)),
            round(s, 4),
        )
        for (x0, y0, x1, y1), s in results
    ]


def scan_border(grey: np.ndarray, most: float, dark: int = 60, light: int = 180) -> tuple[int, int, int, int]:
    """Pixels to trim from the top, bottom, left and right of a page: a scanner's dark border
    (lines at least 90% darker than ``dark`` running in from an edge, at most ``most`` of the
    page's side) with light paper just inside it (80% of the next 3 lines at least ``light``). A
    black gutter is no such border: panels' art, not paper, lies inside it. Only trimmed when two
    or more sides show it (one dark edge is a panel bleeding off the page)."""
    trims = []
    for side in (grey, grey[::-1], grey.T, grey.T[::-1]):
        limit = max(1, int(most * side.shape[0]))
        dark_lines = (side[: limit + 1] < dark).mean(axis=1) >= 0.9
        k = int(np.argmin(dark_lines)) if not dark_lines.all() else 0
        inside = side[k : k + 3]
        trims.append(k if k and inside.size and (inside >= light).mean() >= 0.8 else 0)
    if sum(t > 0 for t in trims) < 2:
        return 0, 0, 0, 0
    return trims[0], trims[1], trims[2], trims[3]


class ClassicalDetector:
    """``classical`` in the detector registry: :func:`detect_classical` with a fixed config."""

    name = "classical"

    def __init__(self, config: ClassicalConfig | None = None):
        self.config = config or ClassicalConfig()

    def __call__(self, image, source: str | None = None) -> list[Detection]:
        return detect_classical(image, self.config)
