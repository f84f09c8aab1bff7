"""Hard synthetic pages, one family per failure kind of the panel detector (issue 16), each with
randomized parameters and exact ground-truth panel boxes.

:func:`make_hard_page` draws one page of a kind (:data:`HARD_KINDS`) from a seed: page size (1000-
2600 px tall), paper tone (white, tinted, or yellowed up to a Golden-Age scan's median grey ~183,
with scan noise and an uneven tone), gutter width (2-40 px), frame line width (2-8 px at 1600 px
tall, in proportion), panel count (3-9), art style and reading direction (ltr / rtl: the order of
the true panels) are all drawn from the seed, so the same (kind, seed) gives the same pixels on
every run, and a rule fitted to one page is caught by the next. The kinds:

- ``yellowed``: framed panels on yellowed Golden-Age paper (median grey 172-196), noisy, blotchy;
- ``black_gutters``: panels on black paper (no frames to see);
- ``thin_gutters``: gutters 2-6 px wide, framed or borderless panels;
- ``interlocking``: framed panels, one drawn over part of a panel of the next row (boxes overlap:
  no straight cut parts them) or over the side of its neighbour in the row (no gutter between);
- ``open_panels``: one or two unframed panels of sparse line art among framed ones;
- ``balloons_across``: balloons and caption boxes straddling the gutters;
- ``borderless``: dense art, no frames;
- ``inset``: framed insets in a corner of one or two panels (insets are panels);
- ``logos``: big title lettering, a publisher's logo and a page number on the paper (no panels);
- ``faces``: faces and goggles (round outlines) inside the panels (no insets);
- ``splash``: one full-bleed panel, art to every edge.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw

from .. import __version__
from ..dataspec import Page, Provenance, make_page_id
from . import text as words
from .draw import (
    Spot,
    age_paper,
    art_panel,
    balloon,
    draw_figure,
    draw_scenery,
    gradient,
    line_art,
    manga_panel,
)
from .fonts import font
from .layout import _split
from .pages import balloons_across_gutters

Box = tuple[int, int, int, int]  # x, y, w, h

HARD_KINDS: dict[str, str] = {
    "yellowed": "framed panels on yellowed Golden-Age paper (median grey 172-196), scan noise",
    "black_gutters": "panels on black paper",
    "thin_gutters": "gutters 2-6 px wide, framed or borderless panels",
    "interlocking": "a framed panel drawn over part of the row below (boxes overlap) or its neighbour's side",
    "open_panels": "unframed panels of sparse line art among framed ones",
    "balloons_across": "balloons and captions across the gutters",
    "borderless": "dense art with no frames",
    "inset": "framed insets in a corner of a panel",
    "logos": "title lettering, a logo and a page number on the paper",
    "faces": "faces and goggles (round outlines) inside panels",
    "splash": "one full-bleed panel",
}
GOLDEN_AGE = (208, 186, 140)  # yellowed Golden-Age paper, grey ~187 before the scan's drift
TITLES = ("THE PHANTOM", "CHAPTER 3", "LOST WORLD", "DANGER!", "THE END", "STAR RANGER", "MYSTERY")


@dataclass(frozen=True)
class HardParams:
    """What was drawn at random for one hard page."""

    kind: str
    seed: int
    width: int
    height: int
    direction: str
    cells: int  # panels of the layout before insets / open panels change them
    gutter: int  # px between neighbouring panels
    line: int  # frame line width, px: 2-8 at 1600 px tall, in proportion to the height (2-13)
    paper: tuple[int, int, int]  # the colour white paper takes
    noise: float  # scan noise, grey levels
    art: str  # western (gradients, scenery, figures), manga (light line art, screentone), dense


@dataclass
class HardPage:
    image: Image.Image
    record: Page  # the true panels in reading order
    params: HardParams

    @property
    def boxes(self) -> list[Box]:
        return [tuple(int(v) for v in p.bbox) for p in self.record.panels]  # type: ignore[misc]


def _paper(rng: np.random.Generator, kind: str) -> tuple[int, int, int]:
    """White, a pale tint, or white yellowed part-way (``yellowed``: all the way) to Golden-Age paper."""
    golden = np.array(GOLDEN_AGE, dtype=np.float32)
    if kind == "yellowed":
        colour = golden * rng.uniform(172, 196) / 184.0
    else:
        pick = rng.random()
        if pick < 0.4:
            colour = np.full(3, rng.uniform(246, 255))
        elif pick < 0.7:
            colour = rng.uniform(215, 252, size=3)
        else:
            colour = 255 + (golden - 255) * rng.uniform(0.25, 0.9)
    return tuple(round(min(255.0, float(v))) for v in colour)  # type: ignore[return-value]


def _params(kind: str, seed: int, rng: np.random.Generator) -> HardParams:
    height = int(rng.integers(1000, 2601))
    width = round(height * rng.uniform(0.62, 0.78))
    gutter = {"thin_gutters": (2, 7), "black_gutters": (6, 41), "borderless": (6, 41)}.get(kind, (2, 41))
    art = {"borderless": ("western", "dense"), "black_gutters": ("western", "dense")}.get(
        kind, ("western", "manga", "dense")
    )
    noise = rng.uniform(3, 9) if kind == "yellowed" else rng.uniform(0, 5)
    return HardParams(
        kind=kind,
        seed=seed,
        width=width,
        height=height,
        direction=str(rng.choice(["ltr", "rtl"])),
        cells=1 if kind == "splash" else int(rng.integers(3, 10)),
        gutter=int(rng.integers(*gutter)),
        line=max(2, round(int(rng.integers(2, 9)) * height / 1600)),  # 2-8 px on a 1600 px page
        paper=_paper(rng, kind),
        noise=float(noise),
        art=str(rng.choice(art)),
    )


def grid(rng: np.random.Generator, box: Box, cells: int, gutter: int, direction: str) -> list[list[Box]]:
    """``cells`` panels in rows of 1-3 over ``box`` (x, y, w, h), ``gutter`` px apart, uneven sizes:
    rows top to bottom, each row in reading order (right to left for ``rtl``)."""
    x0, y0, w, h = box
    n_rows = int(rng.integers(max(1, -(-cells // 3)), min(cells, 4) + 1))
    counts = [1] * n_rows
    for _ in range(cells - n_rows):
        counts[int(rng.choice([i for i, c in enumerate(counts) if c < 3]))] += 1
    rows = []
    for (ry, rh), n in zip(_split(rng, y0, h, [gutter] * (n_rows - 1), 0.3), counts, strict=True):
        row = [(cx, ry, cw, rh) for cx, cw in _split(rng, x0, w, [gutter] * (n - 1), 0.3)]
        rows.append(row[::-1] if direction == "rtl" else row)
    return rows


def _art(image: Image.Image, rect: Box, rng: np.random.Generator, style: str, line: int) -> None:
    """Art of ``style`` filling ``rect``; manga art comes with its frame (``line`` px)."""
    x, y, w, h = rect
    if style == "dense":
        art_panel(image, (x, y, x + w, y + h), rng)
    elif style == "manga":
        manga_panel(image, [(x, y), (x + w - 1, y), (x + w - 1, y + h - 1), (x, y + h - 1)], rng, line)
    else:
        tile = Image.fromarray(gradient(rng, w, h))
        draw = ImageDraw.Draw(tile)
        horizon = draw_scenery(draw, rng, w, h)
        if rng.random() < 0.7:
            colour = tuple(int(v) for v in rng.integers(30, 200, size=3))
            draw_figure(
                draw, w * rng.uniform(0.3, 0.7), min(h - 4.0, horizon + 0.1 * h), 0.5 * min(h, w), colour
            )
        image.paste(tile, (x, y))
    if rng.random() < 0.5 and min(w, h) > 120:  # a speech balloon inside the panel
        pad = 8 + line
        area = (x + pad, y + pad, w - 2 * pad, h - 2 * pad)
        size = int(np.clip(min(w, h) / 14, 11, 40))
        balloon(Spot(ImageDraw.Draw(image), rng, area, []), words.dialogue(rng), size)


def _frame(image: Image.Image, rect: Box, line: int, colour=(15, 12, 10)) -> None:
    x, y, w, h = rect
    ImageDraw.Draw(image).rectangle([x, y, x + w - 1, y + h - 1], outline=colour, width=line)


def _panel(
    image: Image.Image, rect: Box, rng: np.random.Generator, p: HardParams, framed: bool = True
) -> None:
    _art(image, rect, rng, "dense" if p.art == "manga" and not framed else p.art, p.line)
    if framed:
        _frame(image, rect, p.line)


def _layout(rng: np.random.Generator, p: HardParams, top: float = 0.0) -> list[list[Box]]:
    """The page's rows of panels inside margins of 3-7% of its width, below ``top`` (a share of
    the height kept for lettering)."""
    m = int(p.width * rng.uniform(0.03, 0.07))
    y0 = m + int(top * p.height)
    return grid(rng, (m, y0, p.width - 2 * m, p.height - m - y0), p.cells, p.gutter, p.direction)


def _visible(rect: Box, cover: Box) -> Box:
    """The bounding box of what ``cover`` leaves of ``rect`` (drawn over it)."""
    x, y, w, h = rect
    cx, cy, cw, ch = cover
    if cx <= x and cx + cw >= x + w:  # covers a full-width band: top or bottom part left
        if cy <= y < cy + ch:
            return (x, cy + ch, w, y + h - cy - ch)
        if cy < y + h <= cy + ch:
            return (x, y, w, cy - y)
    if cy <= y and cy + ch >= y + h:  # covers a full-height band
        if cx <= x < cx + cw:
            return (cx + cw, y, x + w - cx - cw, h)
        if cx < x + w <= cx + cw:
            return (x, y, cx - x, h)
    return rect


def _plain(image, rng, p, framed=True) -> list[Box]:
    return _plain_rows(image, rng, p, _layout(rng, p), framed)


def _interlocking(image, rng, p) -> list[Box]:
    rows = _layout(rng, p)
    boxes = _plain_rows(image, rng, p, rows)
    wide = [(r, c) for r, row in enumerate(rows) for c in range(len(row) - 1)]

    def partial(a: Box, b: Box) -> bool:  # b's x-range sticks out of a's, and they share some
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and (b[0] < a[0] or b[0] + b[2] > a[0] + a[2])

    down = [
        (r, c)
        for r in range(len(rows) - 1)
        for c in range(len(rows[r]))
        if any(partial(rows[r][c], b) for b in rows[r + 1])
    ]
    if not down and not wide:  # rows of one panel: over the top of the next row's (no gutter between)
        down = [(r, 0) for r in range(len(rows) - 1)]
    if down and (not wide or rng.random() < 0.5):  # over part of a panel of the row below: boxes overlap
        r, c = down[int(rng.integers(len(down)))]
        x, y, w, h = rows[r][c]
        below = min(b[3] for b in rows[r + 1])
        big = (x, y, w, h + p.gutter + int(below * rng.uniform(0.2, 0.45)))
    else:  # over the side of the next panel of its row (to its right): no gutter between them
        r, c = wide[int(rng.integers(len(wide)))]
        pair = sorted(rows[r][c : c + 2])
        x, y, w, h = pair[0]
        big = (x, y, w + p.gutter + int(pair[1][2] * rng.uniform(0.2, 0.45)), h)
    old = (x, y, w, h)
    if rng.random() < 0.5:  # a paper ring around the panel drawn on top
        ring = max(2, p.gutter // 2)
        ImageDraw.Draw(image).rectangle(
            [big[0] - ring, big[1] - ring, big[0] + big[2] + ring, big[1] + big[3] + ring],
            fill=(255, 255, 255),
        )
    _panel(image, big, rng, p)
    return [big if b == old else _visible(b, big) for b in boxes]


def _open(image, rng, p) -> list[Box]:
    boxes = [cell for row in _layout(rng, p) for cell in row]
    n_open = min(len(boxes) - 1, int(rng.integers(1, 3)))
    chosen = set(rng.choice(len(boxes), size=n_open, replace=False).tolist())
    for i, rect in enumerate(boxes):
        if i in chosen:
            x, y, w, h = rect
            line_art(ImageDraw.Draw(image), (x, y, x + w, y + h), rng, width=max(3, p.line))
        else:
            _panel(image, rect, rng, p)
    return boxes


def _across(image, rng, p) -> list[Box]:
    rows = _layout(rng, p)
    boxes = _plain_rows(image, rng, p, rows)
    dicts = [{"bbox": list(b)} for b in boxes]
    balloons_across_gutters(image, dicts, rng, int(rng.integers(1, 4)))
    pairs = [(row[c], row[c + 1]) for row in rows for c in range(len(row) - 1)]
    if pairs and rng.random() < 0.7:  # a caption box across a vertical gutter
        a, b = sorted(pairs[int(rng.integers(len(pairs)))])
        mid, gap = a[0] + a[2] + p.gutter / 2, p.gutter
        cw, ch = 0.3 * (a[2] + b[2]) + gap, 0.12 * a[3]
        cy = a[1] + rng.uniform(0.05, 0.8) * a[3]
        draw = ImageDraw.Draw(image)
        draw.rectangle(
            [mid - cw / 2, cy, mid + cw / 2, cy + ch], fill=(250, 236, 160), outline="black", width=2
        )
        size = max(10, int(ch / 3))
        for k, line in enumerate(words.wrap(words.caption(rng).upper(), font("bold", size), cw - size)[:2]):
            draw.text(
                (mid - cw / 2 + size / 2, cy + size / 3 + k * 1.2 * size),
                line,
                fill="black",
                font=font("bold", size),
            )
    return boxes


def _plain_rows(image, rng, p, rows, framed=True) -> list[Box]:
    boxes = [cell for row in rows for cell in row]
    for rect in boxes:
        _panel(image, rect, rng, p, framed)
    return boxes


def _inset(image, rng, p) -> list[Box]:
    boxes = _plain(image, rng, p)
    hosts = sorted(range(len(boxes)), key=lambda i: -boxes[i][2] * boxes[i][3])[: int(rng.integers(1, 3))]
    out = []
    for i, (x, y, w, h) in enumerate(boxes):
        out.append((x, y, w, h))
        if i not in hosts:
            continue
        iw, ih = int(w * rng.uniform(0.25, 0.4)), int(h * rng.uniform(0.25, 0.4))
        pad = int(rng.integers(p.line + 6, p.line + 40))
        ix = x + w - iw - pad if rng.random() < 0.5 else x + pad
        iy = y + h - ih - pad if rng.random() < 0.5 else y + pad
        if rng.random() < 0.5:  # a paper ring around the inset
            ring = int(rng.integers(3, 12))
            ImageDraw.Draw(image).rectangle(
                [ix - ring, iy - ring, ix + iw + ring, iy + ih + ring], fill="white"
            )
        _panel(image, (ix, iy, iw, ih), rng, p)
        out.append((ix, iy, iw, ih))
    return out


def _logos(image, rng, p) -> list[Box]:
    top = rng.uniform(0.12, 0.2)
    rows = _layout(rng, p, top)
    boxes = _plain_rows(image, rng, p, rows)
    draw = ImageDraw.Draw(image)
    m, band = min(b[0] for b in boxes), int(top * p.height)
    title = str(rng.choice(TITLES))
    size = int(band * rng.uniform(0.45, 0.7))
    fnt = font("bold", size)
    while fnt.getlength(title) > 0.8 * p.width and size > 20:
        size = int(size * 0.9)
        fnt = font("bold", size)
    tx = rng.uniform(m, max(m + 1, p.width - m - fnt.getlength(title) - 0.12 * p.width))
    ink = tuple(int(v) for v in rng.integers(0, 160, size=3))
    draw.text(
        (tx, m * 0.8 + 0.1 * band),
        title,
        fill=ink,
        font=fnt,
        stroke_width=max(1, size // 25),
        stroke_fill="black",
    )
    r = band * 0.25  # a publisher's round logo in the other corner
    lx = p.width - m - 2 * r if tx < p.width / 2 else m
    draw.ellipse([lx, m, lx + 2 * r, m + 2 * r], fill=(200, 30, 30), outline="black", width=3)
    draw.text((lx + 0.35 * r, m + 0.55 * r), "CC", fill="white", font=font("bold", int(0.8 * r)))
    number = str(int(rng.integers(2, 200)))
    small = font("sans", max(12, p.height // 80))
    bottom = boxes[-1][1] + boxes[-1][3]
    nx = rng.choice([m, p.width / 2, p.width - m - small.getlength(number)])
    draw.text((nx, bottom + (p.height - bottom) * 0.25), number, fill="black", font=small)
    return boxes


def _faces(image, rng, p) -> list[Box]:
    boxes = _plain(image, rng, p)
    draw = ImageDraw.Draw(image)
    for x, y, w, h in boxes:
        if rng.random() < 0.3:
            continue
        r = min(w, h) * rng.uniform(0.12, 0.3)
        cx, cy = x + rng.uniform(r + 10, w - r - 10), y + rng.uniform(r + 10, h - r - 10)
        stroke = max(2, p.line)
        if rng.random() < 0.5:  # a face: a round head, eyes, a mouth
            draw.ellipse(
                [cx - r, cy - r, cx + r, cy + r], fill=(236, 200, 170), outline="black", width=stroke
            )
            for dx in (-0.35, 0.35):
                e = 0.1 * r
                draw.ellipse(
                    [cx + dx * r - e, cy - 0.2 * r - e, cx + dx * r + e, cy - 0.2 * r + e], fill="black"
                )
            draw.arc([cx - 0.4 * r, cy, cx + 0.4 * r, cy + 0.5 * r], 20, 160, fill="black", width=stroke)
        else:  # goggles: two thick rings and a strap
            g = 0.45 * r
            draw.line([(cx - 1.1 * r, cy), (cx + 1.1 * r, cy)], fill=(40, 30, 20), width=max(3, int(0.2 * g)))
            for dx in (-0.55 * r, 0.55 * r):
                draw.ellipse(
                    [cx + dx - g, cy - g, cx + dx + g, cy + g],
                    fill=(150, 200, 220),
                    outline="black",
                    width=int(0.25 * g),
                )
    return boxes


def _splash(image, rng, p) -> list[Box]:
    _art(image, (0, 0, p.width, p.height), rng, "dense" if p.art == "dense" else "western", p.line)
    return [(0, 0, p.width, p.height)]


def _black(image, rng, p) -> list[Box]:
    ImageDraw.Draw(image).rectangle(
        [0, 0, p.width, p.height], fill=tuple(int(v) for v in rng.integers(0, 25, size=3))
    )
    return _plain(image, rng, p, framed=False)


def _thin(image, rng, p) -> list[Box]:
    return _plain(image, rng, p, framed=rng.random() < 0.5)


KINDS = {
    "yellowed": _plain,
    "black_gutters": _black,
    "thin_gutters": _thin,
    "interlocking": _interlocking,
    "open_panels": _open,
    "balloons_across": _across,
    "borderless": lambda image, rng, p: _plain(image, rng, p, framed=False),
    "inset": _inset,
    "logos": _logos,
    "faces": _faces,
    "splash": _splash,
}


def _texture(image: Image.Image, rng: np.random.Generator, amount: float) -> Image.Image:
    """Blotchy scan texture: a smooth random field of +-``amount`` grey levels multiplied in."""
    h, w = image.height, image.width
    field = rng.normal(0.0, 1.0, size=(max(2, h // 48), max(2, w // 48))).astype(np.float32)
    smooth = Image.fromarray(field).resize((w, h), Image.Resampling.BICUBIC)
    factor = 1.0 + amount / 255.0 * np.clip(np.asarray(smooth), -2, 2)[..., None]
    pixels = np.asarray(image, dtype=np.float32) * factor
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))


def make_hard_page(
    kind: str, seed: int = 0, book_id: str = "synthetic-hard0000", page_index: int | None = None
) -> HardPage:
    """One hard page of ``kind`` (a :data:`HARD_KINDS` name) drawn from ``seed``; its record holds
    the true panels in reading order (boxes inside the page)."""
    if kind not in KINDS:
        raise ValueError(f"unknown hard page kind {kind!r}; expected one of {', '.join(HARD_KINDS)}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    rng = np.random.default_rng([list(HARD_KINDS).index(kind), seed])
    p = _params(kind, seed, rng)
    image = Image.new("RGB", (p.width, p.height), "white")
    boxes = KINDS[kind](image, rng, p)
    image = age_paper(image, rng, p.paper, p.noise, uneven=rng.uniform(0.0, 0.06))
    if kind == "yellowed":
        image = _texture(image, rng, rng.uniform(4, 10))
    panels = [
        {"bbox": [float(v) for v in box], "score": 1.0, "source": "synthetic", "order": k}
        for k, box in enumerate(boxes)
    ]
    index = seed if page_index is None else page_index
    record = Page(
        page_id=make_page_id(book_id, index),
        book_id=book_id,
        page_index=index,
        width=p.width,
        height=p.height,
        reading_direction=p.direction,
        panels=panels,
        page_type="story",
        provenance=Provenance(generator=f"comics_analysis.synth.hard {__version__} kind={kind} seed={seed}"),
    )
    return HardPage(image=image, record=record, params=p)


def hard_params(page: HardPage) -> dict:
    """The page's drawn parameters as plain data (for a result file)."""
    return asdict(page.params)
