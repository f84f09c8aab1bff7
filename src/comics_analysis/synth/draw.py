"""Drawing primitives: panel art (gradients, textures, shapes, figures) and lettering.

Everything takes an explicit ``numpy`` Generator so the same seed draws the same pixels.
Lettering functions return the tight ink box of what they wrote, in the image's coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from . import text as words
from .fonts import font

Rect = tuple[float, float, float, float]  # x, y, w, h
RGB = tuple[int, int, int]


def _colour(rng: np.random.Generator, lo: int = 40, hi: int = 220) -> RGB:
    return tuple(int(v) for v in rng.integers(lo, hi, size=3))  # type: ignore[return-value]


def gradient(rng: np.random.Generator, w: int, h: int, lo: int = 60, hi: int = 200) -> np.ndarray:
    """A linear two-colour gradient at a random angle with a light texture, as uint8 (h, w, 3).

    Colour values stay in [lo, hi] (before texture) so art never matches a white or black gutter.
    """
    a = np.array(_colour(rng, lo, hi), dtype=np.float32)
    b = np.array(_colour(rng, lo, hi), dtype=np.float32)
    angle = rng.uniform(0, np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xs * np.cos(angle) / max(w, 1) + ys * np.sin(angle) / max(h, 1)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = a + (b - a) * t[..., None]
    texture = rng.random()
    if texture < 0.35:  # film grain
        img += rng.normal(0, 6, size=(h, w, 1)).astype(np.float32)
    elif texture < 0.6:  # halftone dots
        period = int(rng.integers(6, 12))
        dots = ((xs % period - period / 2) ** 2 + (ys % period - period / 2) ** 2) < (period / 4) ** 2
        img -= dots[..., None] * 18.0
    elif texture < 0.8:  # hatching
        period = int(rng.integers(5, 10))
        img -= (((xs + ys) % period) < 1.5)[..., None] * 22.0
    return np.clip(img, lo - 25, hi + 25).astype(np.uint8)


@dataclass
class Figure:
    body: Rect
    face: Rect


def draw_figure(draw: ImageDraw.ImageDraw, cx: float, base_y: float, scale: float, colour: RGB) -> Figure:
    """A simple standing figure: head, torso, arms and legs. ``base_y`` is where the feet stand."""
    head_r = 0.14 * scale
    torso_top = base_y - 0.78 * scale
    torso_bottom = base_y - 0.38 * scale
    head_cy = torso_top - head_r * 1.05
    limb = max(2, int(scale * 0.05))
    draw.line([(cx, torso_bottom), (cx - 0.16 * scale, base_y)], fill=colour, width=limb)
    draw.line([(cx, torso_bottom), (cx + 0.16 * scale, base_y)], fill=colour, width=limb)
    draw.rounded_rectangle(
        [cx - 0.12 * scale, torso_top, cx + 0.12 * scale, torso_bottom], radius=0.05 * scale, fill=colour
    )
    draw.line(
        [(cx - 0.12 * scale, torso_top + 0.05 * scale), (cx - 0.3 * scale, torso_top + 0.3 * scale)],
        fill=colour,
        width=limb,
    )
    draw.line(
        [(cx + 0.12 * scale, torso_top + 0.05 * scale), (cx + 0.3 * scale, torso_top - 0.05 * scale)],
        fill=colour,
        width=limb,
    )
    draw.ellipse(
        [cx - head_r, head_cy - head_r, cx + head_r, head_cy + head_r],
        fill=(236, 200, 170),
        outline=(20, 20, 20),
        width=max(1, limb // 2),
    )
    eye = max(1.5, head_r * 0.12)
    for dx in (-0.35, 0.35):
        ex, ey = cx + dx * head_r, head_cy - 0.1 * head_r
        draw.ellipse([ex - eye, ey - eye, ex + eye, ey + eye], fill=(20, 20, 20))
    left = cx - 0.3 * scale
    top = head_cy - head_r
    return Figure(
        body=(left, top, 0.6 * scale, base_y - top),
        face=(cx - head_r, head_cy - head_r, 2 * head_r, 2 * head_r),
    )


def draw_scenery(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int) -> float:
    """Ground, buildings, trees and a sun; returns the horizon's y for figures to stand on."""
    horizon = h * rng.uniform(0.55, 0.8)
    draw.rectangle([0, horizon, w, h], fill=_colour(rng, 50, 160))
    for _ in range(int(rng.integers(1, 5))):
        bw, bh = w * rng.uniform(0.08, 0.2), h * rng.uniform(0.15, 0.45)
        bx = rng.uniform(0, w - bw)
        draw.rectangle([bx, horizon - bh, bx + bw, horizon], fill=_colour(rng, 60, 170), outline=(30, 30, 30))
        for wy in np.arange(horizon - bh + 8, horizon - 10, max(10.0, bh / 6)):
            draw.rectangle([bx + bw * 0.2, wy, bx + bw * 0.4, wy + 5], fill=(235, 215, 120))
    if rng.random() < 0.6:
        tx = rng.uniform(0.05 * w, 0.95 * w)
        size = h * rng.uniform(0.1, 0.2)
        draw.rectangle([tx - size * 0.08, horizon - size * 0.5, tx + size * 0.08, horizon], fill=(90, 60, 30))
        draw.polygon(
            [
                (tx - size * 0.4, horizon - size * 0.4),
                (tx + size * 0.4, horizon - size * 0.4),
                (tx, horizon - size * 1.3),
            ],
            fill=(40, 120, 60),
        )
    if rng.random() < 0.5:
        r = min(w, h) * rng.uniform(0.05, 0.1)
        sx, sy = rng.uniform(r, w - r), rng.uniform(r, max(r + 1, horizon * 0.5))
        draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(245, 210, 80))
    return float(horizon)


# --- lettering ----------------------------------------------------------------------------


def _ink_box(draw: ImageDraw.ImageDraw, lines: list[tuple[float, float, str]], fnt, stroke: int = 0) -> Rect:
    boxes = [draw.textbbox((x, y), line, font=fnt, stroke_width=stroke) for x, y, line in lines]
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y1 = max(b[3] for b in boxes)
    return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))


def _text_block(fnt, lines: list[str], spacing: float) -> tuple[float, float, float]:
    ascent, descent = fnt.getmetrics()
    line_h = (ascent + descent) * spacing
    width = max(fnt.getlength(line) for line in lines)
    return width, line_h * len(lines), line_h


def _free(rect: Rect, occupied: list[Rect], pad: float = 4) -> bool:
    x, y, w, h = rect
    return all(
        x + w + pad <= ox or ox + ow + pad <= x or y + h + pad <= oy or oy + oh + pad <= y
        for ox, oy, ow, oh in occupied
    )


@dataclass
class Lettered:
    kind: str
    text: str
    ink: Rect  # tight box of the glyphs
    shape: Rect  # balloon / caption / sfx outline box


@dataclass
class Spot:
    """Where a piece of lettering goes: the page's drawing, the random stream, the panel area it
    must stay in and the boxes already lettered there (appended to when it is placed)."""

    draw: ImageDraw.ImageDraw
    rng: np.random.Generator
    area: Rect
    occupied: list[Rect]


def balloon(
    spot: Spot, content: str, size: int, target: tuple[float, float] | None = None
) -> Lettered | None:
    """A speech balloon with a tail, placed inside ``area`` clear of ``occupied``; None if it won't fit."""
    draw, rng, area, occupied = spot.draw, spot.rng, spot.area, spot.occupied
    fnt = font("bold", size)
    ax, ay, aw, ah = area
    lines = words.wrap(content.upper(), fnt, aw * 0.55)
    tw, th, line_h = _text_block(fnt, lines, 1.15)
    # An ellipse holds its text block when it is ~sqrt(2) times the block on each axis.
    bw, bh = tw * 1.42 + size, th * 1.42 + size * 0.6
    pad_y = (bh - th) / 2
    if bw > aw or bh > ah * 0.6:
        return None
    for _ in range(12):
        bx = ax + rng.uniform(0, aw - bw)
        by = ay + rng.uniform(0, max(1.0, min(ah * 0.45, ah - bh)))
        if _free((bx, by, bw, bh), occupied):
            break
    else:
        return None
    if target is not None:
        tx = min(max(target[0], ax + 4), ax + aw - 4)
        ty = min(max(target[1], by + bh + size), ay + ah - 4)
        if ty > by + bh * 0.9:
            mid = bx + bw / 2
            draw.polygon(
                [(mid - bw * 0.12, by + bh * 0.75), (mid + bw * 0.04, by + bh * 0.8), (tx, ty)],
                fill=(255, 255, 255),
                outline=(0, 0, 0),
                width=2,
            )
    draw.ellipse([bx, by, bx + bw, by + bh], fill=(255, 255, 255), outline=(0, 0, 0), width=3)
    placed = []
    for i, line in enumerate(lines):
        lx = bx + (bw - fnt.getlength(line)) / 2
        ly = by + pad_y + i * line_h
        draw.text((lx, ly), line, font=fnt, fill=(0, 0, 0))
        placed.append((lx, ly, line))
    occupied.append((bx, by, bw, bh))
    return Lettered("dialogue", " ".join(lines), _ink_box(draw, placed, fnt), (bx, by, bw, bh))


def caption(
    draw: ImageDraw.ImageDraw,
    area: Rect,
    occupied: list[Rect],
    content: str,
    size: int,
    corner: str = "top-left",
) -> Lettered | None:
    """A rectangular narration box flush against a corner of ``area`` (the panel's inner edge)."""
    fnt = font("serif_italic", size)
    ax, ay, aw, ah = area
    lines = words.wrap(content, fnt, aw * 0.6)
    tw, th, line_h = _text_block(fnt, lines, 1.1)
    pad = size * 0.5
    cw, ch = tw + 2 * pad, th + 2 * pad
    if cw > aw or ch > ah * 0.4:
        return None
    cx = ax if corner.endswith("left") else ax + aw - cw
    cy = ay if corner.startswith("top") else ay + ah - ch
    if not _free((cx, cy, cw, ch), occupied):
        return None
    draw.rectangle([cx, cy, cx + cw, cy + ch], fill=(250, 236, 160), outline=(0, 0, 0), width=2)
    placed = []
    for i, line in enumerate(lines):
        placed.append((cx + pad, cy + pad + i * line_h, line))
        draw.text((cx + pad, cy + pad + i * line_h), line, font=fnt, fill=(0, 0, 0))
    occupied.append((cx, cy, cw, ch))
    return Lettered("narration", " ".join(lines), _ink_box(draw, placed, fnt), (cx, cy, cw, ch))


def sound_effect(spot: Spot, content: str, size: int) -> Lettered | None:
    """Big stroked letters outside any balloon."""
    draw, rng, area, occupied = spot.draw, spot.rng, spot.area, spot.occupied
    fnt = font("bold_italic", size)
    stroke = max(2, size // 12)
    ax, ay, aw, ah = area
    x0, y0, x1, y1 = draw.textbbox((0, 0), content, font=fnt, stroke_width=stroke)
    sw, sh = x1 - x0, y1 - y0
    if sw > aw or sh > ah:
        return None
    for _ in range(12):
        sx = ax + rng.uniform(0, aw - sw)
        sy = ay + rng.uniform(ah * 0.3, max(ah * 0.3 + 1, ah - sh))
        if sy + sh <= ay + ah and _free((sx, sy, sw, sh), occupied):
            break
    else:
        return None
    fill = (int(rng.integers(200, 256)), int(rng.integers(40, 200)), int(rng.integers(0, 60)))
    origin = (sx - x0, sy - y0)
    draw.text(origin, content, font=fnt, fill=fill, stroke_width=stroke, stroke_fill=(0, 0, 0))
    occupied.append((sx, sy, sw, sh))
    ink = _ink_box(draw, [(origin[0], origin[1], content)], fnt, stroke)
    return Lettered("sfx", content, ink, (sx, sy, sw, sh))


def text_lines(
    draw: ImageDraw.ImageDraw,
    x: float,
    y: float,
    content: str,
    face: str,
    size: int,
    max_width: float,
    fill: RGB = (0, 0, 0),
    align: str = "left",
    spacing: float = 1.2,
) -> Lettered:
    """A wrapped block of plain text (titles, credits, prose, ad copy)."""
    fnt = font(face, size)
    lines = words.wrap(content, fnt, max_width)
    _, th, line_h = _text_block(fnt, lines, spacing)
    placed = []
    for i, line in enumerate(lines):
        lx = x + (max_width - fnt.getlength(line)) / 2 if align == "center" else x
        draw.text((lx, y + i * line_h), line, font=fnt, fill=fill)
        placed.append((lx, y + i * line_h, line))
    ink = _ink_box(draw, placed, fnt)
    return Lettered("unknown", " ".join(lines), ink, (x, y, max_width, th))


def new_canvas(w: int, h: int, colour: RGB) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (w, h), colour)
    return img, ImageDraw.Draw(img)


# Paper of old or cheap printings, as the colour white paper takes (multiplied into the page).
PAPERS: dict[str, RGB] = {
    "tinted": (238, 230, 212),  # off-white stock, grey ~231
    "yellowed": (228, 208, 160),  # aged newsprint, grey ~207
    "golden_age": (208, 186, 140),  # yellowed Golden-Age scan, grey ~184
}


def age_paper(
    image: Image.Image,
    rng: np.random.Generator,
    paper: str | RGB | None,
    noise: float = 0.0,
    uneven: float = 0.06,
) -> Image.Image:
    """``image`` printed on ``paper`` (a :data:`PAPERS` name or an RGB colour: white turns that
    colour, ink stays dark, the tone drifts by up to ``uneven`` across the page) and scanned with
    Gaussian noise of standard deviation ``noise`` grey levels. Draws from ``rng`` only, never
    from the page's own."""
    if isinstance(paper, str) and paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; expected one of {', '.join(PAPERS)}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w = pixels.shape[:2]
    if paper is not None:
        tone = np.array(PAPERS[paper] if isinstance(paper, str) else paper, dtype=np.float32) / 255.0
        # a smooth drift: bilinear between four random corner factors
        corners = 1.0 + rng.uniform(-uneven, uneven, size=4).astype(np.float32)
        ty = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
        tx = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
        drift = (corners[0] * (1 - tx) + corners[1] * tx) * (1 - ty) + (
            corners[2] * (1 - tx) + corners[3] * tx
        ) * ty
        pixels = pixels * tone * drift[..., None]
    if noise > 0:
        pixels = pixels + rng.normal(0.0, noise, size=(h, w, 1)).astype(np.float32)
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))


# --- hard-page art (manga and Golden-Age looks): tests/hard_pages.py and synth/hard.py ----------


def dense_art(draw: ImageDraw.ImageDraw, box, rng: np.random.Generator, tone=None) -> None:
    """Manga-like art over ``box`` (x0, y0, x1, y1): a toned ground, dark masses, strokes (which
    spill over its sides: :func:`art_panel` clips them)."""
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


def art_panel(image: Image.Image, box, rng: np.random.Generator, tone=None) -> None:
    """Dense borderless art clipped to ``box`` (x0, y0, x1, y1) on ``image``."""
    x0, y0, x1, y1 = box
    tile = Image.new("RGB", (x1 - x0, y1 - y0), "white")
    dense_art(ImageDraw.Draw(tile), (0, 0, x1 - x0, y1 - y0), rng, tone)
    image.paste(tile, (x0, y0))


def line_art(draw: ImageDraw.ImageDraw, box, rng: np.random.Generator, width: int = 4) -> None:
    """Sparse open line art over ``box`` (x0, y0, x1, y1): a horizon, hills, a figure, grass and
    birds drawn in strokes, most of the box left as paper; the strokes reach the box's four sides."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    ink = (20, 20, 20)
    horizon = [(x0 + k * w / 12, y0 + 0.55 * h + rng.normal(0, 0.03 * h)) for k in range(13)]
    draw.line(horizon, fill=ink, width=width)
    hill = [(x0 + 0.5 * w + k * w / 20, y0 + 0.55 * h - 0.3 * h * np.sin(np.pi * k / 10)) for k in range(11)]
    draw.line(hill, fill=ink, width=width)
    cx, top = x0 + 0.3 * w, y0 + 0.05 * h  # a standing figure, reaching the top of the panel
    draw.ellipse([cx - 0.05 * w, top, cx + 0.05 * w, top + 0.12 * h], outline=ink, width=width)
    draw.line([(cx, top + 0.12 * h), (cx, y0 + 0.7 * h)], fill=ink, width=width)
    draw.line(
        [(cx - 0.1 * w, y0 + 0.3 * h), (cx, y0 + 0.25 * h), (cx + 0.1 * w, y0 + 0.35 * h)],
        fill=ink,
        width=width,
    )
    draw.line([(cx - 0.08 * w, y1 - 1), (cx, y0 + 0.7 * h), (cx + 0.08 * w, y1 - 1)], fill=ink, width=width)
    for _ in range(25):  # grass down to the bottom edge
        gx, gy = x0 + rng.uniform(0, w), y0 + rng.uniform(0.65 * h, 0.97 * h)
        draw.line(
            [(gx, gy), (gx + rng.uniform(-8, 8), gy + rng.uniform(0.02 * h, 0.04 * h))], fill=ink, width=3
        )
    for _ in range(4):  # birds
        bx, by = x0 + rng.uniform(0.55 * w, 0.95 * w), y0 + rng.uniform(0.05 * h, 0.2 * h)
        draw.line([(bx - 15, by - 8), (bx, by), (bx + 15, by - 8)], fill=ink, width=3)
    draw.line([(x0, y0 + 0.9 * h), (x0 + 0.1 * w, y0 + 0.92 * h)], fill=ink, width=width)  # left edge
    draw.line([(x1 - 0.1 * w, y0 + 0.4 * h), (x1 - 1, y0 + 0.38 * h)], fill=ink, width=width)  # right edge


def vertical_balloon(draw: ImageDraw.ImageDraw, box, rng: np.random.Generator) -> None:
    """A white oval speech balloon with a black outline and vertical lines of lettering."""
    x0, y0, x1, y1 = box
    draw.ellipse([x0, y0, x1, y1], fill="white", outline="black", width=4)
    w, h = x1 - x0, y1 - y0
    for col in range(3):
        cx = x0 + w * (0.32 + 0.16 * col)
        for k in range(int(rng.integers(3, 6))):
            cy = y0 + h * (0.22 + 0.12 * k)
            s = 0.05 * w
            draw.rectangle([cx - s, cy - s, cx + s, cy + s], fill="black")


def manga_panel(image: Image.Image, polygon, rng: np.random.Generator, line: int = 5) -> None:
    """A panel: a polygon of light manga art (paper, strokes, a grey tone patch) with a black frame."""
    x0, y0 = min(p[0] for p in polygon), min(p[1] for p in polygon)
    x1, y1 = max(p[0] for p in polygon), max(p[1] for p in polygon)
    x0, y0, x1, y1 = int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1))
    tile = Image.new("RGB", (x1 - x0, y1 - y0), "white")
    draw = ImageDraw.Draw(tile)
    tw, th = tile.size
    draw.rectangle([0, int(0.6 * th), tw, th], fill=(200, 200, 200))  # a screentone floor
    for _ in range(90):
        px, py = int(rng.integers(0, tw)), int(rng.integers(0, th))
        draw.line(
            [(px, py), (px + int(rng.integers(-60, 60)), py + int(rng.integers(-60, 60)))],
            fill="black",
            width=3,
        )
    cx, cy = tw * rng.uniform(0.3, 0.7), th * rng.uniform(0.4, 0.6)
    draw.ellipse(
        [cx - 0.15 * tw, cy - 0.25 * th, cx + 0.15 * tw, cy + 0.25 * th], fill=(60, 60, 60)
    )  # a figure
    mask = Image.new("L", tile.size, 0)
    ImageDraw.Draw(mask).polygon([(x - x0, y - y0) for x, y in polygon], fill=255)
    image.paste(tile, (x0, y0), mask)
    ImageDraw.Draw(image).line([*polygon, polygon[0]], fill="black", width=line, joint="curve")
