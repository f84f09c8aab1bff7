"""Gutter finders of the ``classical`` panel detector: where to cut a region of a page.

Each works on one region's masks (solid: not gutter; dark: frame-line candidates; paper: the
gutter's colour) and returns the segments between the gutters it finds along one axis (rows
when ``axis`` is 1, columns when it is 0), one segment when it finds none. See
:mod:`.classical` for the order in which they are tried.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import TYPE_CHECKING

import numpy as np

from .frames import lettered

if TYPE_CHECKING:
    from .classical import ClassicalConfig

UNIFORM_STD = 10.0  # a row/column this flat (grey-level std over its middle) is a strip candidate
MAX_STRIP = 0.06  # a gutter is at most this share of the page's side
MIN_BLOCK = 0.12  # ... and cuts the page into blocks at least this share of its side
EDGE_CONTRAST = 40  # grey levels from the strip's tone that count as an edge pixel
EDGE_COVER = 0.6  # ... and the share of a row beside the strip they must cover


def _runs(mask_1d: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of runs of True."""
    padded = np.concatenate([[False], mask_1d, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2], edges[1::2]))


def _crossed(
    solid: np.ndarray, light: np.ndarray, axis: int, start: int, stop: int, cfg: ClassicalConfig
) -> float:
    """How much of columns (axis 0) or rows (axis 1) ``start:stop`` of a region is a straight
    gutter that one balloon crosses; 0 when they are not such a gutter. The gutter (non-solid)
    pixels common to every line of the run form at most two stretches, each reaching an end of the
    region and together at least 1 - crossed_fill of its length (the gutter runs straight past one
    obstruction), and the obstruction is mostly light: of the paper's colour or white (a balloon's
    interior), not art."""
    band = solid[:, start:stop] if axis == 0 else solid[start:stop, :].T
    pale = light[:, start:stop] if axis == 0 else light[start:stop, :].T
    open_all = ~band.any(axis=1)  # along the gutter: free on every line of the run
    stretches = _runs(open_all)
    n = len(open_all)
    share = float(open_all.mean())
    if not stretches or len(stretches) > 2 or share < 1 - cfg.crossed_fill:
        return 0.0
    if not all(a == 0 or b == n for a, b in stretches):
        return 0.0
    blocked = band[~open_all]
    if not blocked.any() or float(pale[~open_all][blocked].mean()) < cfg.crossed_paper:
        return 0.0
    return share


def _pierced(
    solid: np.ndarray, axis: int, start: int, stop: int, cfg: ClassicalConfig, piece: float = 0.05
) -> float:
    """How much of lines ``start:stop`` of a region is a straight gutter that art crosses (a figure
    breaking out of its panel over the gutter, whatever its tone); 0 when they are not such a
    gutter. The gutter shows at both ends of the region only, each piece at least ``piece`` of its
    length (however short: the frame lines there may each be far under ``line_length``): the paper
    of the page (not solid) runs in from both ends along every line of the run, and its edges on
    both sides are straight (solid just before and after the run along both pieces: frame lines
    or the straight edges of two panels' art). Inside a panel, paper is enclosed and solid."""
    band = solid[:, start:stop] if axis == 0 else solid[start:stop, :].T
    n = band.shape[0]
    if start == 0 or stop >= solid.shape[1 - axis]:
        return 0.0
    stretches = _runs(~band.any(axis=1))
    if len(stretches) != 2 or stretches[0][0] != 0 or stretches[1][1] != n:
        return 0.0
    if min(b - a for a, b in stretches) < piece * n:
        return 0.0
    edges = (solid[:, start - 1], solid[:, stop]) if axis == 0 else (solid[start - 1], solid[stop])
    if min(edge[a:b].mean() for edge in edges for a, b in stretches) < 0.9:
        return 0.0
    return float(sum(b - a for a, b in stretches) / n)


def _reach(n: int, cfg: ClassicalConfig) -> int:
    """How wide a gutter that something crosses may be in a region ``n`` pixels long: 5% of the
    region, or ``gutter_reach`` of the page's shorter side (a wide gutter in a small region)."""
    return max(3, n // 20, int(cfg.gutter_reach * cfg.page_side))


def _crossed_split(
    solid: np.ndarray, light: np.ndarray, axis: int, cfg: ClassicalConfig
) -> tuple[list[tuple[int, int]], float]:
    """Segments between gutters that one balloon crosses (:func:`_crossed`): a short run of lines
    with some fill between dense stretches, where the fill drops by ``crossed_drop`` from both
    sides. Returns the segments and the open share of the clearest such gutter (0 when none)."""
    profile = solid.mean(axis=axis)
    n = len(profile)
    reach = _reach(n, cfg)
    cuts, best = [], 0.0
    for start, stop in _runs(profile <= cfg.crossed_fill):
        if stop - start > reach or stop - start < cfg.min_gutter or start == 0 or stop == n:
            continue
        level = profile[start:stop].max() + cfg.crossed_drop
        before = profile[max(0, start - reach) : start]
        after = profile[stop : stop + reach]
        if min(before.mean(), after.mean()) < max(level, cfg.dense_fill):
            continue
        share = _crossed(solid, light, axis, start, stop, cfg)
        if share == 0 and light.any():  # light paper (on dark paper ``light`` is empty): art may cross
            share = _pierced(solid, axis, start, stop, cfg)
        if share > 0:
            cuts.append((start, stop))
            best = max(best, share)
    segments, pos = [], 0
    for start, stop in cuts:
        if start - pos >= cfg.min_side_px and n - stop >= cfg.min_side_px:
            segments.append((pos, start))
            pos = stop
    segments.append((pos, n))
    return segments, best if len(segments) > 1 else 0.0


def _split(
    profile: np.ndarray, cfg: ClassicalConfig, clean: bool = False, solid: np.ndarray | None = None
) -> list[tuple[int, int]]:
    """Segments between gutters of a 1-D fill profile; one segment when there is no gutter.
    ``clean``: only gutters with (almost) no fill, none that something crosses. With ``solid``
    (the region, rows when ``profile`` is its mean along axis 1), a crossed gutter is not one when
    the stretch it divides (between clean gutters) has a clean gutter the other way: that is a
    neighbour's gutter running into a tall panel, which crosses it."""
    n = len(profile)
    gutter = profile <= cfg.gutter_fill
    clean_runs = _runs(gutter)
    # a short run with a little fill between dense stretches is a gutter crossed by a balloon or
    # a figure breaking the frame; a long one is a narrow panel and stays
    reach = _reach(n, cfg)
    for start, stop in [] if clean else _runs((profile <= cfg.bridge_fill) & ~gutter):
        if stop - start > reach:
            continue
        before = profile[max(0, start - reach) : start]
        after = profile[stop : stop + reach]
        if (before.size == 0 or before.mean() >= cfg.dense_fill) and (
            after.size == 0 or after.mean() >= cfg.dense_fill
        ):
            if solid is not None:
                lo = max([b for a, b in clean_runs if b <= start], default=0)
                hi = min([a for a, b in clean_runs if a >= stop], default=n)
                if len(_split(solid[lo:hi].mean(axis=0), cfg, clean=True)) > 1:
                    continue
            gutter[start:stop] = True
    segments, pos = [], 0
    for start, stop in _runs(gutter):
        if stop - start >= cfg.min_gutter or start == 0 or stop == n:
            if start > pos:
                segments.append((pos, start))
            pos = stop
    if pos < n:
        segments.append((pos, n))
    return segments


def _line_split(
    dark: np.ndarray,
    solid: np.ndarray,
    paper: np.ndarray,
    axis: int,
    cfg: ClassicalConfig,
    single: bool = False,
    wobble: int = 0,
) -> list[tuple[int, int]]:
    """Segments between pairs of long parallel frame lines close together: the two borders of a
    gutter that art or a balloon crosses, so that the fill profile shows no clean gap. With
    ``single``, a lone thin frame line is enough (for regions that are not framed themselves);
    ``wobble`` joins a faint line across one pixel and along breaks of up to that many pixels."""
    import cv2

    h, w = dark.shape
    along = w if axis == 1 else h
    if along < 40:
        return [(0, h if axis == 1 else w)]
    length = max(20, int(cfg.line_length * along))
    kernel = np.ones((1, length) if axis == 1 else (length, 1), np.uint8)
    strokes = dark.astype(np.uint8)
    if wobble:
        # a thin frame line scaled down wavers between two neighbouring lines of pixels and fades
        # here and there: join it across one pixel and along short breaks before measuring it
        across = np.ones((2, 1) if axis == 1 else (1, 2), np.uint8)
        gaps = np.ones((1, wobble) if axis == 1 else (wobble, 1), np.uint8)
        strokes = cv2.morphologyEx(cv2.dilate(strokes, across), cv2.MORPH_CLOSE, gaps)
    lines = cv2.morphologyEx(strokes, cv2.MORPH_OPEN, kernel)
    cover = lines.mean(axis=axis)
    n = len(cover)
    if single:
        # the edge of a framed panel that art of an unframed neighbour touches: cut along it. A
        # frame is a thin stroke with something not dark on one side; hair and shadows are masses.
        near = dark.astype(np.float32).mean(axis=axis)
        cuts = []
        for a, b in _runs(cover >= (cfg.faint_cover if wobble else cfg.edge_cover)):
            sides = [near[max(0, a - 6) : max(0, a - 2)], near[b + 2 : b + 6]]
            if b - a <= 4 and min(side.mean() if side.size else 1.0 for side in sides) <= 0.3:
                cuts.append(((a + b) // 2, (a + b) // 2))
    else:
        fill, pale = solid.mean(axis=axis), paper.mean(axis=axis)
        cuts = []
        for (a0, a1), (b0, b1) in itertools.pairwise(_runs(cover >= cfg.hidden_cover)):
            # or as far apart as the page's own gutters are wide, in a region many gutters long (in a
            # small one, two lines that far apart are more likely its art: a window, a door)
            widest = max(8, cfg.line_gap * n)
            if n >= cfg.gutter_span * cfg.gutter_px:
                widest = max(widest, cfg.page_gutter * cfg.gutter_px)
            if not 2 <= b0 - a1 <= widest or fill[a1:b0].mean() > cfg.line_gap_fill:
                continue
            # lines mostly hidden: only balloons (paper) may hide them, not art of other panels
            hidden = min(cover[a0:a1].max(), cover[b0:b1].max()) >= cfg.line_cover or (
                pale[a1:b0].mean() >= cfg.hidden_paper
            )
            if hidden and _ends_shown(lines, solid, (a0, a1), (b0, b1), axis):
                cuts.append((a1, b0))
    segments, pos = [], 0
    for start, stop in cuts:
        if start - pos >= cfg.min_side_px and n - stop >= cfg.min_side_px:
            segments.append((pos, start))
            pos = stop
    segments.append((pos, n))
    return segments


def _ends_shown(
    lines: np.ndarray, solid: np.ndarray, first: tuple[int, int], second: tuple[int, int], axis: int
) -> bool:
    """Whether two long parallel lines (runs ``first`` and ``second`` of rows or columns of
    ``lines``) bound a gutter, by their ends (the first and last tenth of the region): a gutter
    opens into paper at an end where its frame lines show (the page's margin, another gutter). Two
    upright walls of buildings standing in open art do not: where they show (on the ground) the
    strip between them is closed, and it opens only at the end that neither reaches (the sky). A
    figure or a balloon over one end of a true gutter leaves its open end with lines."""
    strokes, body = (lines, solid) if axis == 1 else (lines.T, solid.T)  # one row per line along the region
    n = strokes.shape[1]
    end = max(3, n // 10)
    ends = []
    for part in (slice(0, end), slice(n - end, n)):
        shown = strokes[first[0] : first[1], part].any() or strokes[second[0] : second[1], part].any()
        ends.append((shown, body[first[1] : second[0], part].mean() < 0.5))
    dangling = any(open_ and not shown for shown, open_ in ends)
    return not dangling or any(open_ and shown for shown, open_ in ends)


def _band_split(dark: np.ndarray, axis: int, cfg: ClassicalConfig) -> list[tuple[int, int]]:
    """Segments between black bands: 3 to 8 (or 4% of the region) lines of pixels dark over
    ``band_cover`` of the region with light lines on both sides (a black gutter or a thick black
    divider between two panels on light paper)."""
    share = dark.mean(axis=axis)
    n = len(share)
    width = max(8, int(0.04 * n))
    segments, pos = [], 0
    if cfg.band_cover > 0:
        for start, stop in _runs(share >= cfg.band_cover):
            before, after = share[max(0, start - 3) : start], share[stop : stop + 3]
            if not 3 <= stop - start <= width or before.size == 0 or after.size == 0:
                continue
            if max(before.mean(), after.mean()) > 0.2 or min(start - pos, n - stop) < cfg.min_side_px:
                continue  # dark on one side: the edge of a dark area of art, not a gutter
            segments.append((pos, start))
            pos = stop
    segments.append((pos, n))
    return segments


def _no_sliver(segments: list[tuple[int, int]], cfg: ClassicalConfig) -> bool:
    """Whether every segment of a cut holds at least ``edge_piece`` of the region's extent."""
    n = segments[-1][1] - segments[0][0]
    return all(b - a >= cfg.edge_piece * n for a, b in segments)


def _sheared_cover(cum: np.ndarray, d: int) -> np.ndarray:
    """Per column x, the share of rows y with ``mask[y, x + round(d * y / (h - 1))]`` set: how much
    of a line leaning by ``d`` pixels over the region's height, starting at x, is set. ``cum`` is
    the mask's cumulative sum down the rows, with a zero row on top."""
    h, w = cum.shape[0] - 1, cum.shape[1]
    shift = np.round(d * np.arange(h) / max(1, h - 1)).astype(int)
    edges = np.flatnonzero(np.diff(shift)) + 1
    starts, stops = np.concatenate([[0], edges]), np.concatenate([edges, [h]])
    bands = cum[stops] - cum[starts]  # one row of column counts per run of rows with one shift
    cols = np.arange(w)[None, :] + shift[starts][:, None]
    inside = (cols >= 0) & (cols < w)
    picked = np.take_along_axis(bands, np.clip(cols, 0, w - 1), axis=1)
    return (picked * inside).sum(axis=0) / h


def gap_at_ends(light: np.ndarray, margin: int, depth: float = 0.05, widest: int = 8) -> bool:
    """Whether a thin strip of paper between two lines of something else (1 to ``widest``
    pixels, ``margin`` in from the sides) shows in the first and in the last ``depth`` of a
    region's rows (3 at least): where a gutter crossing it from top to bottom, at any slant,
    meets its ends (a framed panel's ends are its frame, not paper, all along)."""
    h, w = light.shape
    rows = max(3, int(depth * h))

    def shows(band: range) -> bool:
        for y in band:
            for a, b in _runs(light[y]):
                if 1 <= b - a <= widest and margin <= a and b <= w - margin:
                    return True  # a run inside the row has something else on both sides
        return False

    return h > 2 * rows and shows(range(rows)) and shows(range(h - rows, h))


def _carve_slanted(
    solid: np.ndarray,
    dark: np.ndarray,
    paper: np.ndarray,
    cfg: ClassicalConfig,
    beyond: float = 0.0,
    axes: tuple[int, ...] = (0, 1),
) -> bool:
    """Find a slanted gutter drawn as two thin frame lines with a strip of paper between them
    (a line leaning by up to ``slant`` of the region's height, either way), running the whole
    height or width of the region; clear it (lines and strip) in ``solid`` and return True. With
    ``beyond``, only leans past that share (searched already) are tried; ``axes``: 0 for
    near-vertical gutters, 1 for near-horizontal ones."""
    import cv2

    for axis in axes:  # near-vertical gutters, then near-horizontal ones
        sol, drk, pap = (solid, dark, paper) if axis == 0 else (solid.T, dark.T, paper.T)
        h, w = sol.shape
        if h < 40 or w < 2 * cfg.min_side_px:
            continue
        best = None
        reach = max(2, min(int(cfg.slant * h), int(cfg.slant * 400)))  # 32 px at 8% (4% of the page)
        skip = min(int(beyond * h), int(beyond * 400))
        thick = cv2.dilate(drk.astype(np.uint8), np.ones((1, 2), np.uint8))
        lines_cum = np.vstack([np.zeros((1, w)), np.cumsum(thick, axis=0)])
        paper_cum = np.vstack([np.zeros((1, w)), np.cumsum(pap, axis=0)])
        for d in range(-reach, reach + 1, 2):  # lines thickened by a pixel: every other slant
            if d == 0 or abs(d) <= skip:
                continue  # straight lines are the other splitters' job (and leans searched already)
            cover = _sheared_cover(lines_cum, d)
            strip = _sheared_cover(paper_cum, d)
            for (a0, a1), (b0, b1) in itertools.pairwise(_runs(cover >= cfg.line_cover)):
                if not 1 <= b0 - a1 <= 6 or min(a0, w - b1) < cfg.min_side_px:
                    continue
                score = min(cover[a0:a1].max(), cover[b0:b1].max())
                if strip[a1:b0].max() >= cfg.hidden_paper and (best is None or score > best[0]):
                    best = (score, d, a0, b1)
        if best is not None:
            _, d, a0, b1 = best
            view = solid if axis == 0 else solid.T
            shift = np.round(d * np.arange(h) / max(1, h - 1)).astype(int)
            for y in range(h):
                view[y, max(0, a0 + shift[y]) : min(w, b1 + shift[y])] = False
            return True
    return False


def wide_carve(region: np.ndarray, dark: np.ndarray, light: np.ndarray, cfg: ClassicalConfig, blobs) -> bool:
    """Whether clearing a slanted gutter leaning past ``slant``, by up to ``wide_slant``, leaves
    separate shapes (``blobs(region, cfg)``) in ``region``: cleared then; left as it was otherwise.
    Only looked for along an axis where a thin strip of paper shows at both ends of the region."""
    axes = tuple(a for a, view in enumerate((light, light.T)) if gap_at_ends(view, cfg.min_side_px))
    if not axes:
        return False
    saved = region.copy()
    wide = dataclasses.replace(cfg, slant=cfg.wide_slant)
    if _carve_slanted(region, dark, light, wide, beyond=cfg.slant, axes=axes) and blobs(region, cfg):
        return True
    region[:] = saved
    return False


def gutter_bands(grey: np.ndarray, axis: int) -> list[float]:
    """Narrow flat bands of paper or black crossing the page's interior (rows for axis 1, columns
    for axis 0) that cut it into large blocks: what gutters look like, whatever the paper's colour;
    their grey levels, [] when there is none. Gaps between lines of text or the edge of a banner
    are not: the blocks they cut are small or the band is mid-tone."""
    grey = (grey if axis == 1 else grey.T).astype(np.float32)
    n, m = grey.shape
    if n < 20 or m < 20:
        return []
    middle = grey[:, m // 10 : m - m // 10]
    tone = middle.mean(axis=1)
    flat = (middle.std(axis=1) < UNIFORM_STD) & ((tone >= 150) | (tone <= 70))
    padded = np.concatenate([[False], flat, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    margin, widest = max(2, n // 20), max(2, int(MAX_STRIP * n))
    cuts = [
        (start, stop)
        for start, stop in zip(edges[::2], edges[1::2])
        if start >= margin and stop <= n - margin and stop - start <= widest
    ]
    bounds = [0, *(v for cut in cuts for v in cut), n]
    blocks = list(zip(bounds[::2], bounds[1::2]))
    if not cuts or min(b - a for a, b in blocks) < MIN_BLOCK * n:
        return []
    for start, stop in cuts:  # a frame or art edge on both sides, not sparse letters
        level = tone[start:stop].mean()
        for side in (middle[max(0, start - 3) : start], middle[stop : stop + 3]):
            if (np.abs(side - level) > EDGE_CONTRAST).mean(axis=1).max() < EDGE_COVER:
                return []
    return [float(tone[start:stop].mean()) for start, stop in cuts]


def gutter_width(solid: np.ndarray, cfg: ClassicalConfig) -> float:
    """Median width (pixels) of a page's clean gutters: runs of rows or columns with (almost) no
    solid that cross its interior between solid stretches (not its outer margins), measured
    between the first and last solid row or column; 0 when there is none. Gutter widths vary
    from book to book, so this is the page's own scale for how far apart the two frame lines of a
    gutter that art crosses may be."""
    widths = []
    for axis in (1, 0):
        profile = solid.mean(axis=axis)
        filled = np.flatnonzero(profile > cfg.gutter_fill)
        if filled.size == 0:
            continue
        inner = profile[filled[0] : filled[-1] + 1] <= cfg.gutter_fill
        widths.extend(b - a for a, b in _runs(inner) if b - a >= cfg.min_gutter)
    return float(np.median(widths)) if widths else 0.0


def thin_gutter_split(
    paper: np.ndarray, axis: int, cfg: ClassicalConfig, scale: float
) -> list[tuple[int, int]]:
    """Segments of a region seen at full resolution (``paper``: its pixels of the gutter's colour;
    ``scale``: working size over full size) between gutters too thin to stay open at the working
    scale (3-5 px at full size between borderless panels: under 2 px once scaled, sealed). A
    gutter is a run of lines with almost no ink (``gutter_fill``) whose neighbouring lines on both
    sides hold ink (``art_fill``, ``min_fill`` on one: the straight edges of two panels' art),
    standing alone: no other clean line within ``min_side_px`` (working pixels) on either side
    (ruled speed lines, hatching) and each segment at least that long; open at both ends (paper
    there: a light line of the art inside a framed panel crosses the frame)."""
    profile = 1.0 - paper.mean(axis=axis)
    n = len(profile)
    least = max(2, int(cfg.min_side_px / scale))
    near = max(2, round(1.0 / scale) + 1)  # a working pixel's worth of lines, blurred edges
    runs = [(a, b) for a, b in _runs(profile <= cfg.gutter_fill) if a > 0 and b < n]
    segments, pos = [], 0
    for i, (a, b) in enumerate(runs):
        if (i > 0 and a - runs[i - 1][1] < least) or (i + 1 < len(runs) and runs[i + 1][0] - b < least):
            continue
        sides = sorted([profile[max(0, a - near) : a].max(), profile[b : b + near].max()])
        if sides[0] < cfg.art_fill or sides[1] < cfg.min_fill:
            continue  # no straight edge of inked art on both sides (a light patch may touch one)
        lines = paper[a:b] if axis == 1 else paper[:, a:b].T
        if min(lines[:, :near].mean(), lines[:, -near:].mean()) < 0.9:
            continue  # closed at an end (a frame line crossing it): a light line in the art
        if a - pos >= least and n - b >= least:
            segments.append((pos, a))
            pos = b
    segments.append((pos, n))
    return segments


def _carve_leaning_crossed(solid: np.ndarray, light: np.ndarray, cfg: ClassicalConfig) -> bool:
    """Find a leaning gutter (a diagonal between two panels of a row, at up to 45 degrees) that a
    balloon crosses, so that the region's panels stay joined: the paper opens into the region at
    both ends (top and bottom for a near-vertical gutter, left and right for a near-horizontal one),
    and the straight band joining the two openings is open along every line of it from both ends
    over at least 1 - ``crossed_fill`` of its length, what blocks it being mostly light (a
    balloon's interior), as :func:`_crossed` asks of a straight gutter. Clear the band in ``solid``
    (through the balloon) and return True; False when there is none."""
    for axis in (0, 1):
        sol, pale = (solid, light) if axis == 0 else (solid.T, light.T)
        h, w = sol.shape
        if h < 40 or w < 2 * cfg.min_side_px:
            continue

        def openings(line: np.ndarray, w: int = w) -> list[tuple[int, int]]:
            return [(a, b) for a, b in _runs(~line) if a > 0 and b < w and b - a >= cfg.min_gutter]

        for (a0, a1), (b0, b1) in itertools.product(openings(sol[0]), openings(sol[-1])):
            d = round((b0 + b1 - a0 - a1) / 2)
            width = max(1, min(a1 - a0, b1 - b0) // 2)  # the core of the gutter: its edges waver
            if d == 0 or abs(d) > h:
                continue  # straight gutters are the other finders' job
            shift = np.round(d * np.arange(h) / (h - 1)).astype(int)
            cols = (a0 + a1 - width) // 2 + shift[:, None] + np.arange(width)[None, :]
            if cols.min() < cfg.min_side_px or cols.max() >= w - cfg.min_side_px:
                continue
            rows = np.arange(h)[:, None]
            band = sol[rows, cols]
            open_all = ~band.any(axis=1)
            stretches = _runs(open_all)
            if len(stretches) != 2 or stretches[0][0] != 0 or stretches[1][1] != h:
                continue
            blocked = band[~open_all]
            if open_all.mean() < 1 - cfg.crossed_fill or not blocked.any():
                continue
            if float(pale[rows, cols][~open_all][blocked].mean()) < cfg.crossed_paper:
                continue  # art crosses it, not a balloon
            sol[rows, cols] = False  # a view of ``solid``: the band is gutter now
            return True
    return False


def _caption(piece: np.ndarray, flat: float = 25.0) -> bool:
    """Whether a piece of a page (grey) is a caption box: lettering (:func:`.frames.lettered`) on a
    flat tint (the middle half of its pixels lighter than 80 within ``flat`` grey levels; art
    has many tones)."""
    light = piece[piece >= 80]
    if light.size == 0 or np.subtract(*np.percentile(light, [75, 25])) > flat:
        return False
    return lettered(piece)


def thin_cuts(boxes: list, fine: tuple, cfg: ClassicalConfig, cut) -> list:
    """Panels cut again along gutters that only show at full resolution (:func:`thin_gutter_split`),
    each part cut anew at the working scale by ``cut(box, out)`` (the X-Y cut, which appends the
    panels it finds to ``out``); not where a part is a caption box (:func:`_caption`, a band at
    most ``cfg.thin_caption`` of the region deep) under an open panel's art. ``fine`` is the
    full-size grey page, its paper's level, the working scale and the scan border trimmed (top,
    left)."""
    grey_full, level, scale, (top, left) = fine
    out: list = []
    queue = list(boxes)
    while queue:
        box = queue.pop()
        fx0, fy0 = int((box[0] + left) / scale), int((box[1] + top) / scale)
        fx1, fy1 = int(np.ceil((box[2] + left) / scale)), int(np.ceil((box[3] + top) / scale))
        region = np.abs(grey_full[fy0:fy1, fx0:fx1].astype(np.int16) - int(level)) <= cfg.ink_threshold
        for axis in (1, 0):
            segments = thin_gutter_split(region, axis, cfg, scale) if region.size else []
            crop = grey_full[fy0:fy1, fx0:fx1]
            pieces = [crop[a:b] if axis == 1 else crop[:, a:b] for a, b in segments]
            band = [b - a <= cfg.thin_caption * (segments[-1][1] - segments[0][0]) for a, b in segments]
            if len(segments) < 2 or any(x and _caption(p) for x, p in zip(band, pieces, strict=True)):
                continue  # a caption box under an open panel's art belongs to it
            base, shift = (fy0, top) if axis == 1 else (fx0, left)
            for a, b in segments:
                lo, hi = int(np.ceil((base + a) * scale)) - shift, int((base + b) * scale) - shift
                cut((box[0], lo, box[2], hi) if axis == 1 else (lo, box[1], hi, box[3]), queue)
            break
        else:
            out.append(box)
    return out
