"""Synthetic books closer to real printed comics (issue 18.4): the ``real`` style of
``synthetic:N:SEED:real``.

The plain books of :mod:`.book` are clean and regular (cover, credits, one story or a few, ads,
back matter, back cover, all on white paper); a model trained on them learned the generator, not
comics. A ``real`` book varies what real books vary:

* the print: paper tone (none, tinted, yellowed, Golden-Age) with an uneven drift, scan noise
  (0-10 grey levels), a fifth of the books grey (manga and reprints), some right to left;
* the front: a chapter or an excerpt starts on its story with no cover (15 %); otherwise the
  cover, an inside-cover ad (45 %), 0-3 credits / indicia pages, a blank page (10 %);
* the stories: 1-5 per book, each opening on a title page (a story-title banner in big letters
  over the first panels, or a full-page splash under the title), mid-story ads, mixed pages
  (the story's last panels over a half-page ad, still story);
* between and after the stories: ads with prices, coupons and order forms, prose pages (dense
  justified columns, sometimes a small illustration: two-page prose stories and articles),
  letters / editorial pages, pin-ups;
* the back: a back-cover ad (60 %), else the book ends on its last page;
* the cues that tell a back cover from an ad inside the book, as in print: covers (front and
  back) are printed in colour on coated cover stock, which yellows less than the newsprint
  inside (one paper tone lighter) and stays in colour in a grey book; a back cover carries no
  folio and sells one product (a full-page product ad with a barcode, or a one-product
  mail-order ad with its coupon), while two thirds of the books print a folio (page number) on
  their inside pages (story, ad, prose and letters pages; not on the covers, the inside cover,
  credits, blank pages or pin-ups) and an inside mail-order ad is a grid of items. Before this,
  half the back covers were drawn with the inside mail-order renderer on the same paper, so a
  book's last page was a back cover or an ad with nothing on the page to tell which.

Labels: prose, letters and editorial pages are ``text_backmatter`` wherever they stand, ads
(inside covers included) ``advertisement``, a blank page ``other``, a mixed page ``story``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .. import __version__
from ..dataspec import Page, Provenance, make_page_id
from . import text as words
from .draw import Lettered, age_paper, gradient, new_canvas, text_lines
from .fonts import font
from .pages import GUTTERS, RENDERERS, Truth, _banner, _text_record, render_story

PAPER_CHOICES = (None, "tinted", "yellowed", "golden_age")
_PAPER_P = (0.3, 0.2, 0.25, 0.25)
# coated cover stock yellows less than the newsprint inside: one tone lighter
COVER_STOCK = {None: None, "tinted": None, "yellowed": "tinted", "golden_age": "yellowed"}
NUMBERED_P = 0.65  # books that print folios on their inside pages
FOLIO_KINDS = frozenset({"story", "title", "mixed", "ad", "prose", "letters"})
_HEADINGS = ("LETTERS TO THE EDITOR", "THE EDITOR'S PAGE", "MAILBAG", "FAN CLUB NEWS", "MEET THE ARTIST")
_AD_LINES = (
    "Send only {p} in coin or stamps",
    "Money back guarantee!",
    "Rush this coupon today!",
    "Send check or money order, no C.O.D.",
    "Order now, supply is limited!",
    "Mail this coupon for your free catalog",
    "Only {p} postpaid",
    "Satisfaction guaranteed or your money back",
)


def _price(rng: np.random.Generator) -> str:
    if rng.random() < 0.4:
        return f"{int(rng.choice([5, 10, 15, 25, 50]))}\u00a2"
    return f"${int(rng.integers(1, 10))}.{int(rng.choice([0, 25, 49, 50, 95, 98]))}".replace(".0", ".00")


def _justified(
    draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], text: str, face: str, size: int
) -> tuple[Lettered | None, float]:
    """``text`` set justified in ``box`` (x, y, width, bottom) from its top, stopping at the bottom;
    returns its lettering (None if no line fits) and the y below it."""
    x, y, width, bottom = box
    fnt = font(face, size)
    ascent, descent = fnt.getmetrics()
    line_h = (ascent + descent) * 1.1
    lines = words.wrap(text, fnt, width)
    placed, used = [], []
    for i, line in enumerate(lines):
        if y + line_h > bottom:
            break
        parts = line.split()
        if i < len(lines) - 1 and len(parts) > 1:
            gap = (width - sum(fnt.getlength(p) for p in parts)) / (len(parts) - 1)
            cx = x
            for part in parts:
                draw.text((cx, y), part, font=fnt, fill=(15, 15, 15))
                cx += fnt.getlength(part) + gap
        else:
            draw.text((x, y), line, font=fnt, fill=(15, 15, 15))
        x0, y0, x1, y1 = draw.textbbox((x, y), line, font=fnt)
        placed.append((x0, y0, x + width if len(parts) > 1 else x1, y1))
        used.append(line)
        y += line_h
    if not placed:
        return None, y
    x0, y0 = min(b[0] for b in placed), min(b[1] for b in placed)
    x1, y1 = max(b[2] for b in placed), max(b[3] for b in placed)
    ink = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    return Lettered("narration", " ".join(used), ink, ink), y


def render_prose(rng, width, height, meta, letters: bool = False) -> tuple[Image.Image, Truth]:
    """A prose page: a heading (a story title, an article's or a letters page's), then two or three
    columns of dense justified text, sometimes with a small illustration; letters pages sign each
    letter."""
    page, draw = new_canvas(width, height, GUTTERS["white"])
    truth = Truth()
    s = height / 1600
    margin = width * rng.uniform(0.05, 0.08)
    top = height * 0.05
    if letters or rng.random() < 0.6:
        heading = str(rng.choice(_HEADINGS)) if letters else words.title(rng).upper()
        item = text_lines(
            draw,
            margin,
            top,
            heading,
            "bold",
            max(10, int(rng.uniform(40, 64) * s)),
            width - 2 * margin,
            align="center",
        )
        truth.texts.append(_text_record(item, -1))
        top = item.ink[1] + item.ink[3] + 30 * s
    columns = int(rng.choice([2, 2, 3]))
    gap = 30 * s
    col_w = (width - 2 * margin - (columns - 1) * gap) / columns
    size = max(6, int(rng.uniform(17, 22) * s))
    bottom = height * 0.95
    picture = None
    if not letters and rng.random() < 0.35:  # a small illustration in the first column
        ph = height * rng.uniform(0.15, 0.25)
        art = Image.fromarray(gradient(rng, int(col_w), int(ph)))
        page.paste(art, (int(margin), int(top)))
        draw.rectangle([margin, top, margin + col_w, top + ph], outline=(0, 0, 0), width=2)
        picture = top + ph + 12 * s
    for col in range(columns):
        x = margin + col * (col_w + gap)
        y = picture if (picture and col == 0) else top
        while y < bottom - 3 * size:
            text = words.paragraph(rng, int(rng.integers(3, 7)))
            if letters:
                text += f" -- {words.name(rng)}"
            item, y = _justified(draw, (x, y, col_w, bottom), text, "serif", size)
            if item is not None:
                truth.texts.append(_text_record(item, -1))
            y += size * 0.8
    return page, truth


def render_order_ad(rng, width, height, meta) -> tuple[Image.Image, Truth]:
    """A mail-order ad: a headline, a grid of items with prices, an order coupon with blanks."""
    page, draw = new_canvas(width, height, GUTTERS["white"])
    truth = Truth()
    s = height / 1600
    y = _banner(
        draw,
        truth,
        0,
        height * 0.02,
        width,
        f"{words.product(rng).upper()}! ONLY {_price(rng)}",
        "bold",
        max(12, int(70 * s)),
        background=tuple(int(v) for v in rng.integers(20, 200, size=3)),
    )
    rows, cols = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    grid_bottom = height * (0.62 if rng.random() < 0.7 else 0.9)
    cell_w, cell_h = width / cols, (grid_bottom - y - 10 * s) / rows
    for r in range(rows):
        for c in range(cols):
            x0, y0 = c * cell_w + 8 * s, y + 10 * s + r * cell_h
            art = Image.fromarray(gradient(rng, max(8, int(cell_w * 0.6)), max(8, int(cell_h * 0.5))))
            page.paste(art, (int(x0 + cell_w * 0.2), int(y0)))
            item = text_lines(
                draw,
                x0,
                y0 + cell_h * 0.55,
                f"{words.product(rng)} {_price(rng)}",
                "bold",
                max(7, int(24 * s)),
                cell_w - 16 * s,
                align="center",
            )
            truth.texts.append(_text_record(item, -1))
    if grid_bottom < height * 0.8:  # the coupon: dashed border, blanks to fill in
        cy = grid_bottom + 10 * s
        for x in np.arange(width * 0.05, width * 0.95, 16 * s + 2):
            draw.line([x, cy, x + 8 * s + 1, cy], fill=(0, 0, 0), width=2)
        lines = [
            str(rng.choice(_AD_LINES)).format(p=_price(rng)),
            "NAME ____________________",
            "ADDRESS ____________________",
            "CITY __________ STATE ____ ZIP ______",
        ]
        _coupon_lines(draw, truth, lines, width, cy, s)
    return page, truth


def _coupon_lines(draw, truth: Truth, lines: list[str], width: int, cy: float, s: float) -> None:
    """The order lines of a coupon, one under the other from ``cy``, each a text record."""
    ty = cy + 14 * s
    for line in lines:
        item = text_lines(draw, width * 0.08, ty, line, "sans", max(7, int(26 * s)), width * 0.84)
        truth.texts.append(_text_record(item, -1))
        ty = item.ink[1] + item.ink[3] + 18 * s


def render_real_ad(rng, width, height, meta) -> tuple[Image.Image, Truth]:
    """A plain product ad with a price and an order line, or a mail-order ad."""
    if rng.random() < 0.5:
        return render_order_ad(rng, width, height, meta)
    page, truth = RENDERERS["advertisement"](rng, width, height, meta)
    draw = ImageDraw.Draw(page)
    s = height / 1600
    item = text_lines(
        draw,
        width * 0.1,
        height * 0.93,
        str(rng.choice(_AD_LINES)).format(p=_price(rng)),
        "sans",
        max(7, int(24 * s)),
        width * 0.8,
        align="center",
    )
    truth.texts.append(_text_record(item, -1))
    return page, truth


def render_back_cover_ad(rng, width, height, meta) -> tuple[Image.Image, Truth]:
    """A back cover: one product over the whole page, either the plain full-page ad with a
    barcode or a one-product mail-order ad (full-bleed art, headline with the price, the product
    large, a coupon with blanks); never an inside order ad's grid of items."""
    if rng.random() < 0.5:
        return RENDERERS["back_cover"](rng, width, height, meta)
    page = Image.fromarray(gradient(rng, width, height, lo=90, hi=230))
    draw = ImageDraw.Draw(page)
    truth = Truth()
    s = height / 1600
    product = words.product(rng).upper()
    y = _banner(
        draw,
        truth,
        0,
        height * 0.04,
        width,
        f"{product}! ONLY {_price(rng)}",
        "bold",
        max(14, int(84 * s)),
        background=tuple(int(v) for v in rng.integers(120, 230, size=3)),
        fill=(20, 20, 20),
    )
    bx, by = width * 0.12, y + height * 0.04
    bw, bh = width * 0.76, height * 0.68 - by
    art = Image.fromarray(gradient(rng, max(8, int(bw)), max(8, int(bh)), lo=30, hi=220))
    page.paste(art, (int(bx), int(by)))
    draw.rectangle([bx, by, bx + bw, by + bh], outline=(0, 0, 0), width=max(2, int(6 * s)))
    cy = height * 0.72
    draw.rectangle([width * 0.05, cy, width * 0.95, height * 0.97], fill=(250, 250, 250), outline=(0, 0, 0))
    lines = [
        str(rng.choice(_AD_LINES)).format(p=_price(rng)),
        "NAME ____________________",
        "ADDRESS ____________________",
    ]
    _coupon_lines(draw, truth, lines, width, cy, s)
    return page, truth


def add_folio(image: Image.Image, truth: Truth, number: int, outer: bool) -> None:
    """Print page ``number`` in the bottom margin (the outer corner: left on even numbers, right
    on odd ones; else centred) and record it as a ``page_number`` text."""
    draw = ImageDraw.Draw(image)
    width, height = image.size
    size = max(7, int(22 * height / 1600))
    fnt = font("sans", size)
    label = str(number)
    w = fnt.getlength(label)
    margin = width * 0.05
    x = (margin if number % 2 == 0 else width - margin - w) if outer else (width - w) / 2
    y = height - 0.025 * height - size / 2
    box = draw.textbbox((x, y), label, font=fnt)
    draw.rectangle([box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1], fill=(255, 255, 255))
    draw.text((x, y), label, font=fnt, fill=(15, 15, 15))
    ink = (float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1]))
    truth.texts.append(_text_record(Lettered("page_number", label, ink, ink), -1))


def _shifted(truth: Truth, dy: float) -> Truth:
    for record in (*truth.panels, *truth.texts, *truth.characters):
        record["bbox"] = [record["bbox"][0], round(record["bbox"][1] + dy, 2), *record["bbox"][2:]]
    return truth


def render_title_page(rng, width, height, meta, direction: str, title: str) -> tuple[Image.Image, Truth]:
    """A story's first page: its title in big letters over the first panels, or over a splash."""
    page, draw = new_canvas(width, height, GUTTERS["white"])
    s = height / 1600
    size = max(12, int(rng.uniform(70, 120) * s))
    truth = Truth()
    item = text_lines(
        draw, width * 0.05, height * 0.02, title.upper(), "bold", size, width * 0.9, align="center"
    )
    truth.texts.append(_text_record(item, -1))
    band = int(item.ink[1] + item.ink[3] + 20 * s)
    layout = "splash" if rng.random() < 0.4 else None
    story, inner = render_story(rng, width, height - band, direction, layout)
    page.paste(story, (0, band))
    inner = _shifted(inner, band)
    inner.texts.insert(0, truth.texts[0])
    return page, inner


def render_mixed(rng, width, height, meta, direction: str) -> tuple[Image.Image, Truth]:
    """A story's last panels over a half- or third-page ad (a story page)."""
    page, draw = new_canvas(width, height, GUTTERS["white"])
    top = int(height * rng.uniform(0.55, 0.7))
    story, truth = render_story(rng, width, top, direction)
    page.paste(story, (0, 0))
    s = height / 1600
    ad = Image.fromarray(gradient(rng, width, height - top, lo=150, hi=240))
    page.paste(ad, (0, top))
    item = text_lines(
        draw,
        width * 0.06,
        top + 12 * s,
        f"{words.product(rng).upper()} {_price(rng)}",
        "bold",
        max(10, int(56 * s)),
        width * 0.88,
        align="center",
    )
    truth.texts.append(_text_record(item, -1))
    item = text_lines(
        draw,
        width * 0.06,
        item.ink[1] + item.ink[3] + 16 * s,
        str(rng.choice(_AD_LINES)).format(p=_price(rng)),
        "sans",
        max(7, int(24 * s)),
        width * 0.88,
        align="center",
    )
    truth.texts.append(_text_record(item, -1))
    return page, truth


def _blank(rng, width, height, meta) -> tuple[Image.Image, Truth]:
    return new_canvas(width, height, GUTTERS["white"])[0], Truth()


def plan_real_book(rng: np.random.Generator) -> list[tuple[str, bool, str]]:
    """(page_type, story_start, renderer) of every page of a ``real`` book (module docstring)."""
    plan: list[tuple[str, bool, str]] = []
    chapter = rng.random() < 0.15
    if not chapter:
        plan.append(("cover", False, "cover"))
        if rng.random() < 0.45:
            plan.append(("advertisement", False, "ad"))
        plan += [("credits_indicia", False, "credits_indicia")] * int(rng.choice([0, 0, 1, 1, 2, 3]))
        if rng.random() < 0.1:
            plan.append(("other", False, "blank"))
    n_stories = int(rng.choice([1, 1, 2, 3, 4, 5]))
    for k in range(n_stories):
        n = int(rng.integers(6, 25)) if n_stories == 1 else int(rng.integers(2, 11))
        story = [("story", True, "title" if rng.random() < 0.75 else "story")]
        story += [("story", False, "mixed" if rng.random() < 0.06 else "story") for _ in range(n - 1)]
        for _ in range(int(rng.integers(0, 2)) if n > 3 else 0):
            story.insert(int(rng.integers(2, len(story) + 1)), ("advertisement", False, "ad"))
        plan += story
        if k < n_stories - 1:
            between = rng.random()
            if between < 0.35:
                plan += [("advertisement", False, "ad")] * int(rng.integers(1, 3))
            elif between < 0.55:
                plan += [("text_backmatter", False, "prose")] * int(rng.integers(1, 3))
            elif between < 0.65:
                plan.append(("text_backmatter", False, "letters"))
    for _ in range(int(rng.choice([0, 0, 1, 2]))):
        kind = str(rng.choice(["letters", "prose", "ad", "pinup"]))
        page_type = {"ad": "advertisement", "pinup": "art_backmatter"}.get(kind, "text_backmatter")
        plan.append((page_type, False, kind))
    if rng.random() < 0.6 and not (chapter and rng.random() < 0.7):
        plan.append(("back_cover", False, "back_cover"))
    return plan


def real_book_pages(
    seeds: Sequence[int], meta, size: tuple[int, int], book_id: str
) -> list[tuple[Image.Image, Page, dict]]:
    """The pages of a ``real`` book: (image, record, truth extras) in page order."""
    rng = np.random.default_rng([int(s) for s in seeds])
    paper = PAPER_CHOICES[int(rng.choice(len(PAPER_CHOICES), p=_PAPER_P))]
    noise = float(rng.uniform(0, 10))
    grey = rng.random() < 0.2
    direction = "rtl" if grey and rng.random() < 0.5 else "ltr"
    width, height = size
    out = []
    plan = plan_real_book(rng)
    # the print cues draw from their own stream, so the plan and page content match earlier books
    cues = np.random.default_rng([*map(int, seeds), 3000])
    numbered = cues.random() < NUMBERED_P
    first_number, outer = int(cues.integers(0, 2)), bool(cues.random() < 0.7)
    for index, (page_type, start, kind) in enumerate(plan):
        page_rng = np.random.default_rng([*map(int, seeds), 1000 + index])
        if kind == "title":
            image, truth = render_title_page(page_rng, width, height, meta, direction, words.title(page_rng))
        elif kind == "story":
            image, truth = render_story(page_rng, width, height, direction, title=None)
        elif kind == "mixed":
            image, truth = render_mixed(page_rng, width, height, meta, direction)
        else:
            render = {
                "prose": render_prose,
                "letters": lambda r, w, h, m: render_prose(r, w, h, m, letters=True),
                "ad": render_real_ad,
                "blank": _blank,
                "pinup": RENDERERS["art_backmatter"],
                "back_cover": render_back_cover_ad,
            }.get(kind) or RENDERERS[kind]
            image, truth = render(page_rng, width, height, meta.__dict__)
        inside_cover = index == 1 and plan[0][0] == "cover" and kind == "ad"
        if numbered and kind in FOLIO_KINDS and not inside_cover:
            add_folio(image, truth, index + first_number, outer)
        cover_stock = page_type in ("cover", "back_cover")
        if grey and not cover_stock:
            image = image.convert("L").convert("RGB")
        tone = COVER_STOCK[paper] if cover_stock else paper
        image = age_paper(image, np.random.default_rng([*map(int, seeds), 2000 + index]), tone, noise)
        record = Page(
            page_id=make_page_id(book_id, index),
            book_id=book_id,
            page_index=index,
            width=width,
            height=height,
            reading_direction=direction,
            panels=truth.panels,
            texts=truth.texts,
            characters=truth.characters,
            page_type=page_type,
            story_start=start,
            provenance=Provenance(
                generator=f"comics_analysis.synth {__version__} style=real seed={list(seeds)}"
            ),
        )
        out.append((image, record, {"layout": truth.layout, "gutter": truth.gutter}))
    return out
