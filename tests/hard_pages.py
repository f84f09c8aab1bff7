"""Hand-made hard pages for the classical panel detector: each draws one failure kind seen on real
books outside the dev set, at a real scan's size, and returns the image with its true panel boxes
(x, y, w, h). Drawn with a seeded generator, so a page is the same on every run."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from comics_analysis.synth.draw import art_panel, dense_art, line_art  # noqa: F401 - moved there, used here
from comics_analysis.synth.draw import manga_panel as _frame
from comics_analysis.synth.draw import vertical_balloon as balloon
from comics_analysis.synth.fonts import font

Box = tuple[int, int, int, int]


def thin_gutter_borderless(
    gutter: int = 4, size=(1700, 2400), seed: int = 0
) -> tuple[Image.Image, list[Box]]:
    """Borderless panels of dense art on white paper, ``gutter`` px apart (under 2 px at the
    detector's 800 px working height): two rows of two, a full-width row, two rows of two."""
    w, h = size
    rng = np.random.default_rng(seed)
    margin = int(0.04 * w)
    inner_w, inner_h = w - 2 * margin, h - 2 * margin
    rows = [0.22, 0.2, 0.2, 0.38]
    image = Image.new("RGB", size, "white")
    truth: list[Box] = []
    y = margin
    for i, share in enumerate(rows):
        rh = int(share * inner_h) - gutter
        cols = [1.0] if i == 2 else [0.45, 0.55] if i % 2 == 0 else [0.6, 0.4]
        x = margin
        for c in cols:
            cw = int(c * inner_w) - (gutter if len(cols) > 1 else 0)
            art_panel(image, (x, y, x + cw, y + rh), rng)
            truth.append((x, y, cw, rh))
            x += cw + gutter
        y += rh + gutter
    return image, truth


def framed_rows(
    size=(1700, 2400), seed: int = 0, border: int = 6, gutter: int = 40, rows: int = 3
) -> tuple[Image.Image, ImageDraw.ImageDraw, list[Box]]:
    """Full-width framed panels stacked in ``rows`` rows, with light art inside."""
    w, h = size
    rng = np.random.default_rng(seed)
    margin = int(0.05 * w)
    rh = (h - 2 * margin - (rows - 1) * gutter) // rows
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    truth = []
    for r in range(rows):
        x, y, bw = margin, margin + r * (rh + gutter), w - 2 * margin
        draw.rectangle([x, y, x + bw - 1, y + rh - 1], fill=(215, 210, 200), outline=(0, 0, 0), width=border)
        for _ in range(70):
            px, py = int(rng.integers(x + 20, x + bw - 60)), int(rng.integers(y + 20, y + rh - 60))
            t = int(rng.integers(40, 170))
            draw.line(
                [(px, py), (px + int(rng.integers(10, 50)), py + int(rng.integers(10, 50)))],
                fill=(t,) * 3,
                width=4,
            )
        truth.append((x, y, bw, rh))
    return image, draw, truth


def figure_across_gutter(
    share: float = 0.5, size=(1700, 2400), seed: int = 0
) -> tuple[Image.Image, list[Box]]:
    """Three full-width framed rows; a dark figure breaks out of the first panel over the first
    gutter, hiding its middle ``share``: each visible piece of the two frame lines is (1 - share) / 2
    of the width (25% for share 0.5), shorter than the 30% a frame line needs."""
    image, draw, truth = framed_rows(size, seed)
    x, y, bw, rh = truth[0]
    gy = y + rh + 20  # the middle of the first gutter
    half = share * bw / 2
    cx = x + bw / 2
    rng = np.random.default_rng(seed + 1)
    draw.ellipse([cx - half, gy - 260, cx + half, gy + 200], fill=(60, 50, 45), outline=(0, 0, 0), width=5)
    for _ in range(80):  # texture: hair, folds
        px, py = int(rng.integers(cx - half * 0.8, cx + half * 0.8)), int(rng.integers(gy - 200, gy + 150))
        t = int(rng.integers(0, 140))
        draw.line(
            [(px, py), (px + int(rng.integers(-30, 30)), py + int(rng.integers(5, 40)))],
            fill=(t,) * 3,
            width=3,
        )
    return image, truth


def sparse_line_art_panel(
    size=(1700, 2400), seed: int = 0, text: bool = False
) -> tuple[Image.Image, list[Box]]:
    """Two framed panels over a wide borderless panel of sparse line art (little ink, separate
    strokes), over two framed panels; with ``text``, a block of lettering of the same size takes the
    line art's place (no panel: the truth holds the four framed panels only)."""
    w, h = size
    rng = np.random.default_rng(seed)
    m, g = int(0.05 * w), int(0.025 * w)
    cw, rh = (w - 2 * m - g) // 2, (h - 2 * m - 2 * g) // 3
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    framed = [(m + c * (cw + g), m + r * (rh + g), cw, rh) for r in (0, 2) for c in (0, 1)]
    for x, y, bw, bh in framed:
        draw.rectangle([x, y, x + bw - 1, y + bh - 1], fill=(200, 195, 185), outline=(0, 0, 0), width=6)
        art_panel(image, (x + 12, y + 12, x + bw - 12, y + bh - 12), rng)
    box = (m, m + rh + g, w - m, m + 2 * rh + g)
    if text:
        for row in range(9):
            draw.text(
                (box[0], box[1] + row * rh // 9),
                "THE NEXT MORNING, FAR AWAY...",
                fill=(0, 0, 0),
                font=font("bold", round(64 * w / 1700)),
            )
        return image, framed
    line_art(draw, box, rng)
    return image, [*framed[:2], (box[0], box[1], box[2] - box[0], box[3] - box[1]), *framed[2:]]


def slanted_full_bleed(
    size=(1700, 2400), seed: int = 0, gutters: bool = True
) -> tuple[Image.Image, list[Box]]:
    """A full-bleed manga page (art to every edge, no paper around it) parted by slanted gutters,
    each a white strip between two black frame lines: one leaning down the page, one across its
    left part (the truth: three panels' boxes); without ``gutters``, one splash panel."""
    w, h = size
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, "white")
    art_panel(image, (0, 0, w, h), rng, tone=120)
    if not gutters:
        return image, [(0, 0, w, h)]
    draw = ImageDraw.Draw(image)
    top, bottom, gap, line = 0.42 * w, 0.5 * w, 14, 5  # leans by 8% of the width over the height
    draw.polygon([(top, 0), (top + gap, 0), (bottom + gap, h), (bottom, h)], fill="white")
    draw.line([(top, 0), (bottom, h)], fill="black", width=line)
    draw.line([(top + gap, 0), (bottom + gap, h)], fill="black", width=line)
    mid = lambda y: top + (bottom - top) * y / h  # noqa: E731 - the leaning gutter's left edge at y
    left, right = 0.45 * h, 0.41 * h  # across the left part, rising to the right
    draw.polygon([(0, left), (mid(right), right), (mid(right), right + gap), (0, left + gap)], fill="white")
    draw.line([(0, left), (mid(right), right)], fill="black", width=line)
    draw.line([(0, left + gap), (mid(right), right + gap)], fill="black", width=line)
    x = int(top)
    return image, [(0, 0, x, int(left)), (0, int(right), int(bottom), h - int(right)), (x, 0, w - x, h)]


def manga_page(
    size=(1700, 2400),
    seed: int = 0,
    lean: float = 0.0,
    bleed: bool = False,
    breakout: bool = False,
    top_bleed: bool = False,
    on_diagonal: bool = False,
) -> tuple[Image.Image, list[Box]]:
    """A manga page: three rows (two panels, one, two). ``lean``: the first row's vertical gutter
    leans by this share of the row's height (a diagonal gutter); ``bleed``: the last row's right
    panel runs off the page's right and bottom edges; ``breakout``: balloons over the frames (one
    across the first horizontal gutter, one over the page's outer margin); ``top_bleed``: the first
    row runs off the page's top and its sides; ``on_diagonal``: a balloon over the middle of the
    first row's (leaning) gutter. Boxes are the panels' bounding boxes."""
    w, h = size
    rng = np.random.default_rng(seed)
    m, g = int(0.06 * w), int(0.02 * w)
    image = Image.new("RGB", size, "white")
    rows = [(m, m + int(0.3 * h)), (m + int(0.3 * h) + g, m + int(0.55 * h)), (m + int(0.55 * h) + g, h - m)]
    truth = []
    # row 1: two panels, gutter from (split + shift, top) to (split - shift, bottom)
    (t, b), split = rows[0], w * 0.55
    shift = lean * (b - t) / 2
    edge, t = (0, 0) if top_bleed else (m, t)
    left = [(edge, t), (split + shift - g / 2, t), (split - shift - g / 2, b), (edge, b)]
    right = [(split + shift + g / 2, t), (w - edge, t), (w - edge, b), (split - shift + g / 2, b)]
    for poly in (left, right):
        _frame(image, poly, rng)
        truth.append(_box(poly))
    t, b = rows[1]
    poly = [(m, t), (w - m, t), (w - m, b), (m, b)]
    _frame(image, poly, rng)
    truth.append(_box(poly))
    t, b = rows[2]
    split = w * 0.4
    poly = [(m, t), (split - g / 2, t), (split - g / 2, b), (m, b)]
    _frame(image, poly, rng)
    truth.append(_box(poly))
    poly = [(split + g / 2, t), (w - m, t), (w - m, b), (split + g / 2, b)]
    if bleed:
        poly = [(split + g / 2, t), (w, t), (w, h), (split + g / 2, h)]
    _frame(image, poly, rng)
    truth.append(_box(poly))
    draw = ImageDraw.Draw(image)
    if on_diagonal:
        cy, bw = (rows[0][0] + rows[0][1]) / 2, 0.09 * w
        balloon(draw, (int(w * 0.55 - bw), int(cy - 1.6 * bw), int(w * 0.55 + bw), int(cy + 1.6 * bw)), rng)
    if breakout:
        gy = rows[0][1] + g // 2
        balloon(draw, (int(0.2 * w), gy - int(0.08 * h), int(0.38 * w), gy + int(0.06 * h)), rng)
        balloon(
            draw,
            (w - m - int(0.12 * w), rows[1][0] + int(0.05 * h), w - int(0.01 * w), rows[1][0] + int(0.2 * h)),
            rng,
        )
    return image, truth


def _box(poly) -> Box:
    x0, y0 = min(p[0] for p in poly), min(p[1] for p in poly)
    x1, y1 = max(p[0] for p in poly), max(p[1] for p in poly)
    return (int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def framed_thin_gutters(
    gutter: int, size=(1700, 2400), seed: int = 0, paper=(255, 255, 255), dark_art: bool = False
) -> tuple[Image.Image, list[Box]]:
    """Three rows of framed panels (4 px black frames) ``gutter`` px apart on ``paper`` (a
    Golden-Age page's yellowed paper: (205, 185, 140)); light manga art, or dense dark art."""
    w, h = size
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, paper)
    m, y, truth = int(0.05 * w), int(0.05 * w), []
    for i, share in enumerate((0.3, 0.3, 0.4)):
        rh = int(share * (h - 2 * m)) - gutter
        x = m
        for c in (0.35, 0.65) if i == 1 else (0.5, 0.5):
            cw = int(c * (w - 2 * m)) - gutter
            if dark_art:
                art_panel(image, (x, y, x + cw, y + rh), rng)
            else:
                _frame(image, [(x, y), (x + cw, y), (x + cw, y + rh), (x, y + rh)], rng, line=4)
            ImageDraw.Draw(image).rectangle([x, y, x + cw - 1, y + rh - 1], outline="black", width=4)
            truth.append((x, y, cw, rh))
            x += cw + gutter
        y += rh + gutter
    return image, truth


def caption_under_art(size=(1700, 2400), seed: int = 0, gap: int = 4) -> tuple[Image.Image, list[Box]]:
    """Two framed panels over a borderless panel whose caption box (lettering on a flat tint) sits
    ``gap`` px under its art: one panel, art and caption (a Western open panel's narration)."""
    w, h = size
    rng = np.random.default_rng(seed)
    m, g = int(0.05 * w), int(0.025 * w)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    top = (h - 2 * m - g) // 2
    for x in (m, w // 2 + g // 2):
        bw = w // 2 - g // 2 - m
        draw.rectangle([x, m, x + bw - 1, m + top - 1], fill=(215, 210, 200), outline="black", width=6)
        art_panel(image, (x + 12, m + 12, x + bw - 12, m + top - 12), rng)
    y0, y1 = m + top + g, h - m
    depth = int(0.1 * (y1 - y0))
    art_panel(image, (m, y0, w - m, y1 - depth - gap), rng)
    draw.rectangle([m, y1 - depth, w - m - 1, y1 - 1], fill=(235, 200, 120))
    size_pt = round(0.35 * depth)
    for row in range(2):
        draw.text(
            (m + 30, y1 - depth + 10 + row * (size_pt + 8)),
            "MEANWHILE, ACROSS THE CITY...",
            fill="black",
            font=font("bold", size_pt),
        )
    return image, [
        (m, m, w // 2 - g // 2 - m, top),
        (w // 2 + g // 2, m, w // 2 - g // 2 - m, top),
        (m, y0, w - 2 * m, y1 - y0),
    ]


def title_page(text: str = "THE END", size=(1700, 2400), seed: int = 0) -> tuple[Image.Image, list[Box]]:
    """Big bold title lettering on the paper over two framed rows (a chapter's title or last page,
    a logo): each letter a large shape of its own, none of them a panel."""
    w, h = size
    rng = np.random.default_rng(seed)
    m, g = int(0.05 * w), int(0.025 * w)
    band = int(0.14 * h)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.text((m, m), text, fill="black", font=font("bold", int(0.75 * band)))
    rh = (h - 2 * m - band - 2 * g) // 2
    truth = []
    for r in range(2):
        y = m + band + g + r * (rh + g)
        draw.rectangle([m, y, w - m - 1, y + rh - 1], fill=(215, 210, 200), outline="black", width=6)
        art_panel(image, (m + 12, y + 12, w - m - 12, y + rh - 12), rng)
        truth.append((m, y, w - 2 * m, rh))
    return image, truth
