"""Hand-made hard pages for the classical panel detector: each draws one failure kind seen on real
books outside the dev set, at a real scan's size, and returns the image with its true panel boxes
(x, y, w, h). Drawn with a seeded generator, so a page is the same on every run."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from comics_analysis.synth.draw import art_panel, dense_art, line_art
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


def open_skyline(size=(1700, 2400), seed: int = 0, alley: float = 0.035) -> tuple[Image.Image, list[Box]]:
    """An open (borderless) panel across the top: hills and a row of buildings drawn in thin lines
    standing on a dark ground, white sky above them; two of the buildings are ``alley`` of the
    width apart, their upright walls two long parallel lines with sky-white paper between, as a
    gutter's frame lines look (Balloon Dream page 24's kind). Below it, two rows of framed panels."""
    w, h = size
    rng = np.random.default_rng(seed)
    margin, gutter = int(0.05 * w), int(0.018 * h)
    inner_w = w - 2 * margin
    top_h = int(0.2 * (h - 2 * margin))
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = margin, margin, w - margin, margin + top_h
    ground = y1 - int(0.08 * top_h)
    line = max(2, w // 400)
    # grey clouds in the sky, the first on the panel's top edge, the lowest down to the roofs; one
    # over the gap between the middle buildings
    for cx, cy in [(0.08, 0.1), (0.3, 0.28), (0.52, 0.33), (0.7, 0.25), (0.9, 0.36)]:
        rx, ry = int(rng.uniform(0.05, 0.08) * inner_w), int(0.1 * top_h)
        cx, cy = x0 + int(cx * inner_w), y0 + int(cy * top_h)
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=(150, 150, 150))
    draw.polygon(  # hills on the left
        [(x0, ground), (x0 + int(0.1 * inner_w), y0 + int(0.55 * top_h)), (x0 + int(0.22 * inner_w), ground)],
        fill=(90, 90, 90),
    )
    walls = [(0.25, 0.5, 0.55), (0.5 + alley, 0.72, 0.45), (0.74 + alley, 1.0, 0.5)]  # left, right, roof
    for left, right, roof in walls:
        bx0, bx1 = x0 + int(left * inner_w), x0 + int(right * inner_w) - 1
        by0 = y0 + int(roof * top_h)
        draw.rectangle([bx0, by0, bx1, ground], fill="white", outline="black", width=line)
        for wx in range(bx0 + 25 * w // 1700, bx1 - 30 * w // 1700, 45 * w // 1700):  # windows
            for wy in range(by0 + 20 * h // 2400, ground - 30 * h // 2400, 40 * h // 2400):
                draw.rectangle(
                    [wx, wy, wx + 18 * w // 1700, wy + 20 * h // 2400], outline="black", width=line
                )
    draw.rectangle([x0, ground, x1 - 1, y1 - 1], fill=(40, 40, 40))  # the dark ground, full width
    truth: list[Box] = [(x0, y0, x1 - x0, y1 - y0)]
    rows_top = y1 + gutter
    rh = (h - margin - rows_top - gutter) // 2
    for r, cols in enumerate(([0.55, 0.45], [1.0])):
        x = x0
        for c in cols:
            cw = int(c * inner_w) - (gutter if len(cols) > 1 else 0)
            box = (x, rows_top + r * (rh + gutter), cw, rh)
            tile = Image.new("RGB", (cw, rh), "white")
            dense_art(ImageDraw.Draw(tile), (0, 0, cw, rh), rng)
            image.paste(tile, box[:2])
            draw.rectangle(
                [box[0], box[1], box[0] + cw - 1, box[1] + rh - 1], outline="black", width=2 * line
            )
            truth.append(box)
            x += cw + gutter
    return image, truth


def text_article(size=(1700, 2400), seed: int = 0, columns: bool = True) -> tuple[Image.Image, list[Box]]:
    """An interview page: a framed panel of art across the top, a title, then (``columns``) two
    columns of paragraphs of small lettering on the paper, none of them framed (Craphound page 23's
    kind: its ground truth counts each paragraph as a panel); a page number at the foot."""
    w, h = size
    rng = np.random.default_rng(seed)
    m = int(0.05 * w)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    art = (m, m, w - 2 * m, int(0.3 * h))
    draw.rectangle([m, m, w - m - 1, m + art[3] - 1], fill=(215, 205, 180), outline="black", width=6)
    art_panel(image, (m + 12, m + 12, w - m - 12, m + art[3] - 12), rng)
    size_pt = max(8, h // 110)
    draw.text(
        (m, m + art[3] + size_pt), "THE AUTHOR ON THE BOOK", fill="black", font=font("bold", 2 * size_pt)
    )
    words = [
        "the",
        "story",
        "comics",
        "trunk",
        "when",
        "collection",
        "found",
        "my",
        "of",
        "a",
        "in",
        "cowboy",
    ]
    col_w = (w - 3 * m) // 2
    for c in range(2 if columns else 0):
        x, y = m + c * (col_w + m), m + art[3] + 4 * size_pt
        while y < h - m - 3 * size_pt:
            for k in range(int(rng.integers(4, 9))):  # a paragraph of lines, each nearly full width
                line = " ".join(rng.choice(words, size=14))
                face = "bold" if k == 0 else "sans"
                draw.text((x, y), line, fill="black", font=font(face, size_pt))
                y += int(1.3 * size_pt)
                if y >= h - m - 3 * size_pt:
                    break
            y += int(1.3 * size_pt)  # a blank line between paragraphs
    draw.text((w // 2, h - m), "79", fill="black", font=font("sans", size_pt))
    return image, [art]


def thin_slanted_gutter(
    size=(830, 1170), seed: int = 0, lean: float = 0.13, left: bool = False
) -> tuple[Image.Image, list[Box]]:
    """A manga page of framed panels (one, two, two) whose last row is parted by a thin gutter
    (0.6% of the page's height: about 5 px at the detector's working height) leaning by ``lean`` of
    the row's height (``left``: the other way), a grey snowflake over each of its ends: its paper
    is enclosed, no gutter's at the working scale (Tencho Isoro pages 38 and 39's kind: 13%)."""
    w, h = size
    rng = np.random.default_rng(seed)
    m, g, thin = int(0.06 * w), int(0.02 * w), max(3, round(0.006 * h))
    image = Image.new("RGB", size, "white")
    rows = [(m, m + int(0.3 * h)), (m + int(0.3 * h) + g, m + int(0.58 * h)), (m + int(0.58 * h) + g, h - m)]
    polys = [[(m, rows[0][0]), (w - m, rows[0][0]), (w - m, rows[0][1]), (m, rows[0][1])]]
    t, b = rows[1]
    polys += [[(m, t), (0.45 * w - g / 2, t), (0.45 * w - g / 2, b), (m, b)]]
    polys += [[(0.45 * w + g / 2, t), (w - m, t), (w - m, b), (0.45 * w + g / 2, b)]]
    t, b = rows[2]
    shift = (-1 if left else 1) * lean * (b - t) / 2
    split = 0.55 * w
    polys += [[(m, t), (split + shift - thin / 2, t), (split - shift - thin / 2, b), (m, b)]]
    polys += [[(split + shift + thin / 2, t), (w - m, t), (w - m, b), (split - shift + thin / 2, b)]]
    for poly in polys:
        _frame(image, poly, rng, line=max(2, round(0.002 * h)))
    draw = ImageDraw.Draw(image)
    r = 0.012 * h
    for x, y in ((split + shift, t + 2 * r), (split - shift, b - 2 * r)):
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(190, 190, 190))
    return image, [_box(poly) for poly in polys]


def staggered_columns(
    size=(1700, 2400), seed: int = 0, overlap: float = 0.004
) -> tuple[Image.Image, list[Box]]:
    """Two columns of framed panels whose gutters do not line up (a tall panel beside a short one
    on top, then the other way round), abutting with no gutter between the columns: each panel of
    the right column is drawn over the left one's edge, the second panel of the left column over the
    right one's (by ``overlap`` of the width); a full-width panel below (Craphound page 12's kind).
    No straight gutter crosses the top of the page; each column's gutter runs in from its side, and
    its two frame lines look like those of a gutter that the other column's art hides."""
    w, h = size
    rng = np.random.default_rng(seed)
    m, gap = int(0.05 * w), int(0.02 * h)
    ih, c, o = h - 2 * m, int(0.53 * w), max(2, int(overlap * w))
    boxes = [
        (m, m, c, m + int(0.45 * ih)),  # drawn in this order: later ones over earlier ones' edges
        (c - o, m + int(0.06 * ih), w - m, m + int(0.3 * ih)),
        (c - o, m + int(0.3 * ih) + gap, w - m, m + int(0.75 * ih)),
        (m, m + int(0.45 * ih) + gap, c + 2 * o, m + int(0.75 * ih)),
        (m, m + int(0.75 * ih) + gap, w - m, h - m),
    ]
    image = Image.new("RGB", size, "white")
    line = max(3, round(0.0025 * h))
    for x0, y0, x1, y1 in boxes:
        art_panel(image, (x0, y0, x1, y1), rng, tone=int(rng.integers(120, 200)))
        ImageDraw.Draw(image).rectangle([x0, y0, x1 - 1, y1 - 1], outline="black", width=line)
    return image, [(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes]
