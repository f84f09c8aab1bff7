"""Hand-made hard pages for the classical panel detector: each draws one failure kind seen on real
books outside the dev set, at a real scan's size, and returns the image with its true panel boxes
(x, y, w, h). Drawn with a seeded generator, so a page is the same on every run."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

Box = tuple[int, int, int, int]


def dense_art(draw: ImageDraw.ImageDraw, box, rng: np.random.Generator, tone=None) -> None:
    """Manga-like art filling ``box`` (x0, y0, x1, y1): a toned ground, dark masses, strokes."""
    x0, y0, x1, y1 = box
    base = int(rng.integers(90, 190)) if tone is None else tone
    draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=(base, base, base))
    for _ in range(40):
        cx, cy = int(rng.integers(x0, x1)), int(rng.integers(y0, y1))
        r = int(rng.integers(10, max(11, (x1 - x0) // 6)))
        t = int(rng.integers(20, 230))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(t, t, t))
    for _ in range(120):
        x, y = int(rng.integers(x0, x1)), int(rng.integers(y0, y1))
        t = int(rng.integers(0, 120))
        draw.line(
            [(x, y), (x + int(rng.integers(-40, 40)), y + int(rng.integers(-40, 40)))], fill=(t,) * 3, width=3
        )
    # nothing outside the box: redraw the paper around it is the caller's job (clip by pasting)


def art_panel(image: Image.Image, box, rng: np.random.Generator, tone=None) -> None:
    """Dense borderless art clipped to ``box`` (x0, y0, x1, y1) on ``image``."""
    x0, y0, x1, y1 = box
    tile = Image.new("RGB", (x1 - x0, y1 - y0), "white")
    dense_art(ImageDraw.Draw(tile), (0, 0, x1 - x0, y1 - y0), rng, tone)
    image.paste(tile, (x0, y0))


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
