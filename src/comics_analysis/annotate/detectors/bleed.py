"""Full-bleed pages parted by drawn gutters: no paper shows around the page (the art runs off every
edge), so the classical detector has no gutter tone to read, but the panels are parted by gutters
drawn as two parallel frame lines with a strip of paper between them, at any slant (manga's
slanted frames).

:func:`drawn_gutters` finds them: two long straight thin dark lines (each ``FRAME_LENGTH`` of the
page's shorter side, found by a Hough transform), parallel within a degree, at most
``GUTTER_GAP`` of the shorter side apart, side by side over half that length at least, with light
paper (``LIGHT``) between them all along, away from the page's side edges; a lone line in the art
(a horizon) has no twin. :func:`bleed_panels` draws each gutter across the page, lengthened by
``REACH`` of the shorter side at both ends (to meet the page's edge or the gutter it runs into),
and takes the cells they leave as panels when two or more cells each hold ``cell`` of the page
(``ClassicalConfig.bleed_cell``, 5%).
"""

from __future__ import annotations

import numpy as np

from .frames import thin_lines

FRAME_LENGTH = 0.3  # a frame line is at least this share of the page's shorter side long
GUTTER_GAP = 0.03  # the two frame lines of a drawn gutter lie at most this share of the shorter side apart
LIGHT = 180  # ... with paper this light between them
SIDE_MARGIN = 0.05  # ... not along the page's left or right edge (its trim)
REACH = 0.04  # a gutter is drawn on beyond its ends by this share of the shorter side


def drawn_gutters(grey: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The drawn gutters of a grey page (800 px high or so): (start, end, width) of each one's
    middle line, in pixels (see the module docstring)."""
    import cv2

    grey = np.ascontiguousarray(grey, dtype=np.uint8)
    h, w = grey.shape
    length = max(8, int(FRAME_LENGTH * min(h, w)))
    thin = thin_lines(grey).max(axis=0)
    bridge = max(4, int(REACH * min(h, w) / 2))  # art drawn over the frame lines in places
    found = cv2.HoughLinesP(
        thin, 1, np.pi / 360, threshold=length // 2, minLineLength=length, maxLineGap=bridge
    )
    if found is None:
        return []
    found = found.reshape(-1, 4).astype(np.float64)
    segments = sorted(found, key=lambda s: -np.hypot(s[2] - s[0], s[3] - s[1]))[:150]
    out = []
    for i, a in enumerate(segments):
        d = np.array([a[2] - a[0], a[3] - a[1]])
        unit = d / np.linalg.norm(d)
        normal = np.array([-unit[1], unit[0]])
        for b in segments[i + 1 :]:
            e = np.array([b[2] - b[0], b[3] - b[1]])
            if abs(unit @ e) < np.cos(np.radians(1.0)) * np.linalg.norm(e):
                continue  # not parallel
            gap = float((b[:2] - a[:2]) @ normal)
            if not 2 <= abs(gap) <= GUTTER_GAP * min(h, w):
                continue
            t = sorted([0.0, float(d @ unit)])
            u = sorted([float((b[:2] - a[:2]) @ unit), float((b[2:] - a[:2]) @ unit)])
            lo, hi = max(t[0], u[0]), min(t[1], u[1])
            if hi - lo < 0.5 * length:
                continue  # side by side over too short a stretch
            steps = np.linspace(lo, hi, 40)
            points = a[:2] + steps[:, None] * unit + gap / 2 * normal
            x, y = points[:, 0], points[:, 1]
            if min(x.min(), w - x.max()) < SIDE_MARGIN * w or min(y.min(), h - y.max()) < 0:
                continue  # along the page's side edge: its trim, not a gutter
            xi = np.clip(np.round(x).astype(int), 0, w - 1)
            yi = np.clip(np.round(y).astype(int), 0, h - 1)
            if np.mean(grey[yi, xi] >= LIGHT) >= 0.8:
                first, last = min(t[0], u[0]), max(t[1], u[1])
                middle = a[:2] + gap / 2 * normal
                out.append((middle + first * unit, middle + last * unit, abs(gap)))
    return out


def bleed_panels(grey: np.ndarray, cell: float = 0.05) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of the panels that drawn gutters part a full-bleed page into; [] when
    they leave fewer than two large cells (see the module docstring)."""
    import cv2

    h, w = grey.shape
    gutters = drawn_gutters(grey)
    if not gutters:
        return []
    cells = np.ones((h, w), np.uint8)
    reach = REACH * min(h, w)
    for start, end, width in gutters:
        unit = (end - start) / max(1e-9, np.linalg.norm(end - start))
        p, q = start - reach * unit, end + reach * unit
        cv2.line(
            cells, tuple(int(v) for v in p), tuple(int(v) for v in q), 0, thickness=max(3, int(width) + 2)
        )
    _, _, stats, _ = cv2.connectedComponentsWithStats(cells, connectivity=4)
    big = [s for s in stats[1:] if s[4] >= cell * h * w]
    if len(big) < 2:
        return []
    return [(int(x), int(y), int(x + bw), int(y + bh)) for x, y, bw, bh, _ in big]
