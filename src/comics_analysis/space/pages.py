"""The Space's page view: a page drawn with its panel boxes (numbered from 0 in reading order, as
in the CLI, the JSON outputs and the datasets) and its lettering boxes, a Markdown description
with the page's place in its book, and the previous / next page of that book.

Text from the data (lettering, ids) goes through :func:`plain` before it reaches Markdown, so
OCR text that looks like HTML or Markdown is shown as text, never rendered or fetched.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:  # the backend imports this module
    from .backend import SpaceBackend

BOX_COLOURS = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]
LETTERING_OUTLINE = (255, 190, 0)  # lettering boxes: amber outline over a light amber wash
LETTERING_FILL = (255, 221, 0, 60)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]~|])")  # emphasis, code, links, tables


def plain(text: object) -> str:
    """Text from the data (lettering, ids) shown literally inside Markdown: HTML is escaped and
    Markdown syntax backslashed, so ``<img src=...>`` or ``[x](http://...)`` in OCR text is
    displayed, never rendered or fetched."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False)).replace("\n", " ")


def label_font(size: int):
    """DejaVu Sans Bold from matplotlib's fonts (a base dependency), else Pillow's default."""
    try:
        import matplotlib

        path = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
        return ImageFont.truetype(str(path), size=size)
    except (ImportError, OSError):
        return ImageFont.load_default(size=size)


def book_position(be: SpaceBackend, page_id: str) -> tuple[str, int, list[str]]:
    """(book id, position of the page in its book, the book's page ids in page order)."""
    book = be.book_of(page_id)
    pages = be.book_pages(book)
    return book, pages.index(page_id.strip()), pages


def neighbour(be: SpaceBackend, page_id: str, step: int) -> str:
    """The page ``step`` pages after (negative: before) ``page_id`` in its book, stopping at the
    book's first and last page."""
    _, at, pages = book_position(be, page_id)
    return pages[min(max(at + int(step), 0), len(pages) - 1)]


def _draw_lettering(image: Image.Image, record, scale: tuple[float, float]) -> int:
    """Outline the record's text boxes on ``image`` (in place); the number drawn."""
    if record is None or not record.texts:
        return 0
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    width = max(2, image.width // 300)
    for text in record.texts:
        x, y, w, h = text.bbox
        box = [x * scale[0], y * scale[1], (x + w) * scale[0], (y + h) * scale[1]]
        draw.rectangle(box, fill=LETTERING_FILL, outline=(*LETTERING_OUTLINE, 255), width=width)
    image.paste(Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB"))
    return len(record.texts)


def book_line(be: SpaceBackend, book_id: str) -> str:
    """Markdown: the book's title, series and number, year, publisher and credited people (from
    the books table, DataSpec ``books.parquet``); ``""`` when the Space has no record of it."""
    book = be.books.get(book_id)
    if book is None:
        return ""
    parts = [f"**{plain(book.title)}**"] if book.title else []
    if book.series:
        parts.append(f"{plain(book.series)}" + (f" #{plain(book.number)}" if book.number else ""))
    if book.volume is not None:
        parts.append(f"vol. {book.volume}")
    parts += [plain(v) for v in (book.year, book.publisher) if v]
    names = book.authors()
    if names:
        parts.append(
            "by " + ", ".join(plain(n) for n in names) + (" et al." if len(book.credits) > 4 else "")
        )
    return " · ".join(parts)


def render_page(be: SpaceBackend, page_id: str, *, lettering: bool = True) -> tuple[Image.Image, str]:
    """The page with its stored panel boxes and reading-order numbers (from 0) drawn over its
    lettering boxes (when the pages source has the records), and a Markdown description: the
    book and the page's place in it, page type, panels, lettered text by panel."""
    st = be.store
    pos = st.locate(page_id.strip())
    page_id = str(st.page_ids[pos])
    image = be.page_image(page_id).copy()
    record = be.record(page_id) if lettering else None
    boxes = 0
    if record is not None:
        boxes = _draw_lettering(image, record, (image.width / record.width, image.height / record.height))
    draw = ImageDraw.Draw(image)
    size = max(14, image.height // 30)
    fnt = label_font(size)
    slots = np.flatnonzero(st.panel_mask[pos])
    order = st.reading_order[pos]
    for rank, slot in enumerate(sorted(slots, key=lambda s: (int(order[s]) if order[s] >= 0 else 99, s))):
        x, y, w, h = st.panel_bbox[pos, slot]
        box = [x * image.width, y * image.height, (x + w) * image.width, (y + h) * image.height]
        colour = BOX_COLOURS[rank % len(BOX_COLOURS)]
        draw.rectangle(box, outline=colour, width=max(3, image.width // 200))
        label = str(int(order[slot]) if order[slot] >= 0 else int(slot))
        tx, ty = box[0] + 6, box[1] + 6
        pad = size // 4
        bounds = draw.textbbox((tx, ty), label, font=fnt)
        draw.rectangle([bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad], fill=colour)
        draw.text((tx, ty), label, fill=(255, 255, 255), font=fnt)
    book, at, pages = book_position(be, page_id)
    page_type = be.page_type_at(pos)
    about = book_line(be, book)
    lines = [
        f"### {plain(page_id)}",
        "",
        *([about, ""] if about else []),
        f"book **{plain(book)}** · page {int(st.page_index[pos])} · {at + 1} of {len(pages)} in the book · "
        f"page type **{plain(page_type or 'unknown')}** · {len(slots)} panel(s), numbered from 0 in "
        "reading order",
        "",
    ]
    if boxes:
        lines += [f"{boxes} lettering box(es) outlined in amber", ""]
    texts = st._texts.get(page_id, [])
    if not texts:
        lines.append("_no lettered text_")
    for slot in [*sorted({p for p, _, _ in texts if p >= 0}), -1]:
        items = [(k, t) for p, k, t in texts if p == slot]
        if not items:
            continue
        lines += ["", f"**panel {slot}**" if slot >= 0 else "**page (outside panels)**", ""]
        lines += [f"- _{plain(kind)}_: {plain(text)}" for kind, text in items]
    return image, "\n".join(lines)
