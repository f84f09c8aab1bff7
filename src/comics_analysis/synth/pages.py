"""Renderers for each synthetic page type. Each returns the image and its exact ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from . import text as words
from .draw import (
    Lettered,
    Rect,
    Spot,
    balloon,
    caption,
    draw_figure,
    draw_scenery,
    gradient,
    new_canvas,
    sound_effect,
    text_lines,
)
from .fonts import font
from .layout import LAYOUTS, make_layout

GUTTERS = {"white": (255, 255, 255), "cream": (246, 240, 225), "black": (0, 0, 0)}
BORDER = (0, 0, 0)
PAGE_KINDS = (
    "cover",
    "credits_indicia",
    "story",
    "advertisement",
    "text_backmatter",
    "art_backmatter",
    "back_cover",
)


@dataclass
class Truth:
    """Ground truth of one rendered page, as plain data ready for a DataSpec Page."""

    panels: list[dict] = field(default_factory=list)
    texts: list[dict] = field(default_factory=list)
    characters: list[dict] = field(default_factory=list)
    layout: str | None = None
    gutter: str | None = None


def _clip(rect: Rect, bounds: Rect) -> Rect | None:
    x0, y0 = max(rect[0], bounds[0]), max(rect[1], bounds[1])
    x1 = min(rect[0] + rect[2], bounds[0] + bounds[2])
    y1 = min(rect[1] + rect[3], bounds[1] + bounds[3])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def _shift(rect: Rect, dx: float, dy: float) -> list[float]:
    return [round(rect[0] + dx, 2), round(rect[1] + dy, 2), round(rect[2], 2), round(rect[3], 2)]


def _text_record(item: Lettered, panel: int, dx: float = 0.0, dy: float = 0.0) -> dict:
    return {
        "bbox": _shift(item.ink, dx, dy),
        "text": item.text,
        "kind": item.kind,
        "panel": panel,
        "score": 1.0,
        "source": "synthetic",
    }


def _figures(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, horizon: float, count: int
) -> list:
    scale = min(h * 0.55, w * 0.45)
    figures = []
    for k in range(count):
        cx = w * (k + 1) / (count + 1) + rng.uniform(-0.05, 0.05) * w
        base = min(h - 4.0, horizon + rng.uniform(0, 0.15) * h)
        colour = tuple(int(v) for v in rng.integers(30, 200, size=3))
        figures.append(draw_figure(draw, cx, base, scale * rng.uniform(0.75, 1.0), colour))
    return figures


def _keep(items: list[Lettered], item: Lettered | None) -> None:
    if item is not None:
        items.append(item)


def render_story(
    rng: np.random.Generator,
    width: int,
    height: int,
    direction: str = "ltr",
    layout: str | None = None,
    title: str | None = None,
    gutter: str | None = None,
) -> tuple[Image.Image, Truth]:
    """A story page: panels with art, figures, balloons, captions and sound effects."""
    layout = layout or str(rng.choice([k for k in LAYOUTS if k != "splash"]))
    drawn = str(rng.choice(["white", "white", "white", "cream", "black"]))
    gutter = gutter or drawn
    if gutter not in GUTTERS:
        raise ValueError(f"unknown gutter {gutter!r}; expected one of {', '.join(GUTTERS)}")
    page, page_draw = new_canvas(width, height, GUTTERS[gutter])
    specs = make_layout(layout, rng, width, height, direction)
    border_w = max(2, width // 260)
    scale = height / 1600
    truth = Truth(layout=layout, gutter=gutter)
    for i, spec in enumerate(specs):
        # Frames vanish on black gutters, except around insets, which sit on art.
        bordered = spec.inset_of is not None or (spec.bordered and gutter != "black")
        art = Image.fromarray(gradient(rng, spec.w, spec.h))
        draw = ImageDraw.Draw(art)
        horizon = draw_scenery(draw, rng, spec.w, spec.h)
        figures = _figures(draw, rng, spec.w, spec.h, horizon, int(rng.integers(0, 3)))
        margin = border_w + max(6, int(10 * scale))
        area = (margin, margin, spec.w - 2 * margin, spec.h - 2 * margin)
        # Keep lettering off the part of this panel that an inset will cover.
        occupied: list[Rect] = [
            (o.x - spec.x - 8, o.y - spec.y - 8, o.w + 16, o.h + 16) for o in specs if o.inset_of == i
        ]
        lettered: list[Lettered] = []
        if title is not None and i == 0:
            item = caption(draw, area, occupied, title, max(12, int(34 * scale)))
            _keep(lettered, item)
        elif rng.random() < 0.3:
            item = caption(draw, area, occupied, words.caption(rng), max(11, int(22 * scale)))
            _keep(lettered, item)
        for k in range(int(rng.integers(1, 3))):
            target = None
            if figures:
                face = figures[k % len(figures)].face
                target = (face[0] + face[2] / 2, face[1])
            item = balloon(
                Spot(draw, rng, area, occupied), words.dialogue(rng), max(11, int(24 * scale)), target
            )
            _keep(lettered, item)
        if rng.random() < 0.2:
            item = sound_effect(Spot(draw, rng, area, occupied), words.sfx(rng), max(16, int(64 * scale)))
            _keep(lettered, item)
        page.paste(art, (spec.x, spec.y))
        if bordered:
            page_draw.rectangle(
                [spec.x, spec.y, spec.x + spec.w - 1, spec.y + spec.h - 1], outline=BORDER, width=border_w
            )
        panel_text: dict[str, list[str]] = {"dialogue": [], "narration": [], "sfx": []}
        for item in lettered:
            panel_text[item.kind].append(item.text)
            truth.texts.append(_text_record(item, i, spec.x, spec.y))
        bounds = (0.0, 0.0, float(spec.w), float(spec.h))
        for fig in figures:
            for label, rect in (("character", fig.body), ("face", fig.face)):
                clipped = _clip(rect, bounds)
                if clipped is not None:
                    truth.characters.append(
                        {
                            "bbox": _shift(clipped, spec.x, spec.y),
                            "label": label,
                            "score": 1.0,
                            "source": "synthetic",
                        }
                    )
        truth.panels.append(
            {
                "bbox": [float(v) for v in spec.rect],
                "score": 1.0,
                "source": "synthetic",
                "order": i,
                "text": panel_text,
            }
        )
    return page, truth


def _neighbours(panels: list[dict], max_gap: float) -> list[tuple[int, int, str]]:
    """Pairs of panels side by side (``"x"``: a vertical gutter between them) or stacked (``"y"``)
    across a gutter at most ``max_gap`` wide, sharing at least half the shorter one's edge."""
    pairs = []
    boxes = [p["bbox"] for p in panels]
    for i, (ax, ay, aw, ah) in enumerate(boxes):
        for j, (bx, by, bw, bh) in enumerate(boxes):
            if i == j:
                continue
            shared_y = min(ay + ah, by + bh) - max(ay, by)
            shared_x = min(ax + aw, bx + bw) - max(ax, bx)
            if 0 <= bx - (ax + aw) <= max_gap and shared_y >= 0.5 * min(ah, bh):
                pairs.append((i, j, "x"))
            elif 0 <= by - (ay + ah) <= max_gap and shared_x >= 0.5 * min(aw, bw):
                pairs.append((i, j, "y"))
    return pairs


def balloons_across_gutters(
    image: Image.Image, truth_panels: list[dict], rng: np.random.Generator, count: int
) -> list[dict]:
    """Draw up to ``count`` speech balloons straddling gutters between neighbouring panels (a
    balloon hides 50-70% of the length of the gutter it crosses) and return their text records
    (assigned to the first panel of the pair). The panels' boxes do not change."""
    draw = ImageDraw.Draw(image)
    size = max(11, int(24 * image.height / 1600))
    fnt = font("bold", size)
    pairs = _neighbours(truth_panels, max_gap=0.06 * image.width)
    records: list[dict] = []
    for k in rng.permutation(len(pairs))[:count]:
        i, j, axis = pairs[int(k)]
        ax, ay, aw, ah = truth_panels[i]["bbox"]
        bx, by, bw, bh = truth_panels[j]["bbox"]
        lines = words.wrap(words.dialogue(rng).upper(), fnt, 0.35 * min(aw, bw) if axis == "x" else 0.5 * aw)
        text_w = max(fnt.getlength(line) for line in lines)
        line_h = size * 1.15
        ew, eh = text_w * 1.42 + size, line_h * len(lines) * 1.42 + size * 0.6
        hide = rng.uniform(0.5, 0.7)  # share of the gutter the balloon hides
        if axis == "x":
            shared0, shared1 = max(ay, by), min(ay + ah, by + bh)
            if eh > hide * (shared1 - shared0):
                continue
            eh = hide * (shared1 - shared0)
            cx = (ax + aw + bx) / 2
            cy = shared0 + rng.uniform(0.0, 1.0) * (shared1 - shared0 - eh) + eh / 2
        else:
            shared0, shared1 = max(ax, bx), min(ax + aw, bx + bw)
            if ew > hide * (shared1 - shared0):
                continue
            ew = hide * (shared1 - shared0)
            cy = (ay + ah + by) / 2
            cx = shared0 + rng.uniform(0.0, 1.0) * (shared1 - shared0 - ew) + ew / 2
        x0, y0 = cx - ew / 2, cy - eh / 2
        draw.ellipse([x0, y0, x0 + ew, y0 + eh], fill=(255, 255, 255), outline=(0, 0, 0), width=3)
        placed = []
        for n, line in enumerate(lines):
            lx = cx - fnt.getlength(line) / 2
            ly = y0 + (eh - line_h * len(lines)) / 2 + n * line_h
            draw.text((lx, ly), line, font=fnt, fill=(0, 0, 0))
            placed.append((lx, ly, line))
        ink = draw.textbbox((placed[0][0], placed[0][1]), placed[0][2], font=fnt)
        for lx, ly, line in placed[1:]:
            box = draw.textbbox((lx, ly), line, font=fnt)
            ink = (min(ink[0], box[0]), min(ink[1], box[1]), max(ink[2], box[2]), max(ink[3], box[3]))
        item = Lettered(
            "dialogue",
            " ".join(lines),
            (ink[0], ink[1], ink[2] - ink[0], ink[3] - ink[1]),
            (x0, y0, ew, eh),
        )
        records.append(_text_record(item, i))
    return records


def _full_art(rng: np.random.Generator, width: int, height: int, figure: bool = True):
    page = Image.fromarray(gradient(rng, width, height))
    draw = ImageDraw.Draw(page)
    horizon = draw_scenery(draw, rng, width, height)
    truth = Truth()
    if figure:
        fig = draw_figure(
            draw,
            width * rng.uniform(0.35, 0.65),
            min(height - 4.0, horizon + height * 0.1),
            height * 0.45,
            tuple(int(v) for v in rng.integers(30, 200, size=3)),
        )
        for label, rect in (("character", fig.body), ("face", fig.face)):
            clipped = _clip(rect, (0.0, 0.0, float(width), float(height)))
            if clipped is not None:
                truth.characters.append(
                    {"bbox": _shift(clipped, 0, 0), "label": label, "score": 1.0, "source": "synthetic"}
                )
    return page, draw, truth


def _banner(
    draw: ImageDraw.ImageDraw,
    truth: Truth,
    x: float,
    y: float,
    w: float,
    content: str,
    face: str,
    size: int,
    fill=(255, 255, 255),
    background=(20, 20, 60),
    align: str = "center",
) -> float:
    """Text on a solid band; returns the y below the band."""

    lines = words.wrap(content, font(face, size), w - size)
    ascent, descent = font(face, size).getmetrics()
    band_h = (ascent + descent) * 1.15 * len(lines) + size * 0.6
    draw.rectangle([x, y, x + w, y + band_h], fill=background)
    item = text_lines(
        draw,
        x + size / 2,
        y + size * 0.3,
        content,
        face,
        size,
        w - size,
        fill=fill,
        align=align,
        spacing=1.15,
    )
    truth.texts.append(_text_record(item, -1))
    return y + band_h


def render_cover(rng, width, height, meta) -> tuple[Image.Image, Truth]:
    page, draw, truth = _full_art(rng, width, height)
    s = height / 1600
    _banner(draw, truth, 0, 0, width, meta["series"].upper(), "bold", max(18, int(84 * s)))
    _banner(
        draw,
        truth,
        width * 0.68,
        height * 0.86,
        width * 0.28,
        f"#{meta['number']}",
        "bold",
        max(14, int(56 * s)),
        background=(200, 30, 30),
    )
    _banner(
        draw,
        truth,
        width * 0.04,
        height * 0.9,
        width * 0.34,
        meta["publisher"].upper(),
        "bold",
        max(10, int(24 * s)),
        background=(240, 240, 240),
        fill=(20, 20, 20),
    )
    return page, truth


def render_credits(rng, width, height, meta) -> tuple[Image.Image, Truth]:
    page, draw = new_canvas(width, height, GUTTERS["cream"] if rng.random() < 0.5 else GUTTERS["white"])
    truth = Truth()
    s = height / 1600
    margin = width * 0.1
    y = height * 0.12
    item = text_lines(
        draw, margin, y, meta["title"], "bold", max(16, int(60 * s)), width - 2 * margin, align="center"
    )
    truth.texts.append(_text_record(item, -1))
    y = item.ink[1] + item.ink[3] + 60 * s
    for role in ("Writer", "Artist", "Letterer", "Colorist"):
        if y + 2.5 * max(11, int(30 * s)) > height * 0.76:  # small pages: the credits that fit
            break
        item = text_lines(
            draw,
            margin,
            y,
            f"{role}: {words.name(rng)}",
            "sans",
            max(11, int(30 * s)),
            width - 2 * margin,
            align="center",
        )
        truth.texts.append(_text_record(item, -1))
        y = item.ink[1] + item.ink[3] + 24 * s
    indicia = (
        f"{meta['series'].upper()} No. {meta['number']}, {meta['year']}. Published by {meta['publisher']}. "
        + words.paragraph(rng, 3 if height >= 800 else 1)
        + " All rights reserved. Printed nowhere."
    )
    item = text_lines(draw, margin, height * 0.78, indicia, "sans", max(9, int(18 * s)), width - 2 * margin)
    truth.texts.append(_text_record(item, -1))
    return page, truth


def render_advertisement(rng, width, height, meta, barcode: bool = False) -> tuple[Image.Image, Truth]:
    page = Image.fromarray(gradient(rng, width, height, lo=120, hi=235))
    draw = ImageDraw.Draw(page)
    truth = Truth()
    s = height / 1600
    name = words.product(rng)
    _banner(
        draw,
        truth,
        0,
        height * 0.06,
        width,
        f"NEW! {name.upper()}",
        "bold",
        max(18, int(90 * s)),
        background=(200, 20, 40),
    )
    bx, by, bw, bh = width * 0.25, height * 0.3, width * 0.5, height * 0.35
    draw.rounded_rectangle(
        [bx, by, bx + bw, by + bh],
        radius=int(30 * s) + 2,
        fill=tuple(int(v) for v in rng.integers(40, 200, size=3)),
        outline=(0, 0, 0),
        width=4,
    )
    draw.ellipse(
        [bx + bw * 0.2, by + bh * 0.2, bx + bw * 0.8, by + bh * 0.6],
        fill=(250, 250, 250),
        outline=(0, 0, 0),
        width=3,
    )
    item = text_lines(
        draw,
        width * 0.1,
        height * 0.7,
        f"Only ${rng.integers(1, 10)}.99 at every store!",
        "bold",
        max(14, int(48 * s)),
        width * 0.8,
        align="center",
    )
    truth.texts.append(_text_record(item, -1))
    if barcode:
        x0, y0 = width * 0.06, height * 0.84
        draw.rectangle([x0, y0, x0 + width * 0.28, y0 + height * 0.11], fill=(255, 255, 255))
        x = x0 + 8
        while x < x0 + width * 0.28 - 10:
            bar = int(rng.integers(1, 5))
            draw.rectangle([x, y0 + 6, x + bar, y0 + height * 0.09], fill=(0, 0, 0))
            x += bar + int(rng.integers(2, 5))
    else:
        item = text_lines(
            draw,
            width * 0.1,
            height * 0.85,
            "Clip the coupon and mail it today.",
            "sans",
            max(10, int(26 * s)),
            width * 0.8,
            align="center",
        )
        truth.texts.append(_text_record(item, -1))
    return page, truth


def render_text_backmatter(rng, width, height, meta) -> tuple[Image.Image, Truth]:
    page, draw = new_canvas(width, height, GUTTERS["white"])
    truth = Truth()
    s = height / 1600
    margin = width * 0.08
    heading = str(rng.choice(["LETTERS TO THE EDITOR", "AFTERWORD", "BEHIND THE SCENES"]))
    item = text_lines(
        draw, margin, height * 0.06, heading, "bold", max(16, int(54 * s)), width - 2 * margin, align="center"
    )
    truth.texts.append(_text_record(item, -1))
    col_w = (width - 2 * margin - 40 * s) / 2
    size = max(9, int(21 * s))
    for col in range(2):
        x = margin + col * (col_w + 40 * s)
        y = height * 0.16
        while y < height * 0.82:
            item = text_lines(draw, x, y, words.paragraph(rng, int(rng.integers(2, 5))), "serif", size, col_w)
            truth.texts.append(_text_record(item, -1))
            y = item.ink[1] + item.ink[3] + size * 1.5
    return page, truth


def render_art_backmatter(rng, width, height, meta) -> tuple[Image.Image, Truth]:
    page, draw, truth = _full_art(rng, width, height)
    s = height / 1600
    _banner(
        draw,
        truth,
        width * 0.55,
        height * 0.92,
        width * 0.42,
        f"Pin-up by {words.name(rng)}",
        "sans",
        max(10, int(24 * s)),
        background=(250, 250, 250),
        fill=(0, 0, 0),
    )
    return page, truth


def render_back_cover(rng, width, height, meta) -> tuple[Image.Image, Truth]:
    return render_advertisement(rng, width, height, meta, barcode=True)


RENDERERS = {
    "cover": render_cover,
    "credits_indicia": render_credits,
    "advertisement": render_advertisement,
    "text_backmatter": render_text_backmatter,
    "art_backmatter": render_art_backmatter,
    "back_cover": render_back_cover,
}
