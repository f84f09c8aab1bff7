"""Layout and text statistics of a page for page stream segmentation (issue 18.2).

Computed from what a DataSpec record already holds (panels, lettered text boxes with their
OCR text, the page size) and, when the image is at hand, two image measures; cached per page_id
in the PSS feature store (``pss features --page-stats``, :mod:`.features`). Every value is a
hand-set transform into about [0, 1], so the vector can feed a trained model as well as the
zero-shot segmenter (:mod:`.zeroshot`). No constant was fitted to a book: each is a round
number read off how printed comics are laid out, stated here.

===================  ==========================================================================
name                 value
===================  ==========================================================================
panels               panels / 6, at most 1 (a story page holds 4-9 panels; a cover or
                     full-page art 0-1)
panel_area           summed panel area / page area, at most 1
largest_panel        largest panel area / page area
text_boxes           lettered text boxes (page numbers left out) / 20, at most 1
text_area            summed text box area / page area, at most 1
text_chars           characters of lettered text / 2,000, at most 1 (a prose page holds
                     3,000-5,000 characters, a dense story page about 1,000)
prose                how much of the page is prose: the smaller of (characters in prose-like
                     blocks / max(characters, 600)) and (their area / 40 % of the page), at
                     most 1. A prose-like block holds 120+ characters, is at least a quarter of
                     the page wide, holds 3+ estimated lines (box height / letter height) and
                     its letters are at most 4 % of the page height (a paragraph of long
                     lines, not a headline); when 3+ such blocks exist, they must
                     share left edges (within 3 % of the page width: columns) or the value
                     halves
price                prices (``$1.00``, ``$1``, ``10¢``, ``25 cents``) / 2, at most 1
coupon               order / coupon phrases (``order now``, ``mail this coupon``, ``send ...
                     money``, ``check or money order``, ``name ... address``, ``zip``) / 2, at
                     most 1
indicia              copyright / indicia phrases (``©``, ``(c) 19xx``, ``copyright``, ``all
                     rights reserved``, ``published by``, ``printed in``, ``trademark``,
                     ``ISBN``, ``entered as second class``) / 2, at most 1
title                story-title lettering: over the short blocks (3-60 characters, at least 30 %
                     of the page wide: a banner, not a sound effect) in the top 40 % of the
                     page, the largest min(absolute, relative) score of their
                     estimated letter height l: absolute (l / page height - 2 %) / 3 % and
                     relative (l / the page's median letter height - 1.5) / 1.5, each clipped
                     to [0, 1] (dialogue letters are 1-1.5 % of the page height, a story title
                     3-8 % and at least twice the dialogue); relative counts only on pages with
                     3+ blocks
page_number          1 when a printed folio was found (story pages carry them, covers do not)
ink                  share of a 64 x 96 grey thumbnail darker than the paper (the 90th
                     percentile brightness) by more than 0.12: about 0 on a blank page
colour               mean saturation (max - min channel) of the thumbnail / 0.5, at most 1
story_end            1 when a short lettered block (at most 40 characters) is a story's closing
                     mark alone (THE END, END, FIN, FINIS, ENDE, つづく / 続く, 完, 終, おわり,
                     with punctuation) or opens with TO BE CONTINUED, CONTINUED NEXT / IN, or
                     NEXT (ISSUE / MONTH / TIME): (stories close with one; the page after it
                     starts something new)
===================  ==========================================================================

Estimated letter height of a block (no line boxes are kept in DataSpec): a lettered block of
``c`` characters in a ``w x h`` box has about ``n = h / l`` lines of ``w / (0.55 l)`` characters
when letters are ``l`` high and 0.55 ``l`` wide, so ``l = sqrt(w h / (0.55 c))`` (vertical
text: the same with w and h swapped; the estimate does not depend on the direction).

Values that need the image (``ink``, ``colour``) are NaN when the page has no image; the
zero-shot segmenter reads NaN as "unknown". :func:`position_features` are per book (relative
index, first / last page), so they are computed when a book is read, never cached.
"""

from __future__ import annotations

import math
import re

import numpy as np
from PIL import Image

from ..dataspec import Page

__all__ = ["PAGE_STATS_VERSION", "POSITION_NAMES", "STAT_NAMES", "page_stats", "position_features"]

PAGE_STATS_VERSION = "2"  # 2: story_end
STAT_NAMES: tuple[str, ...] = (
    "panels",
    "panel_area",
    "largest_panel",
    "text_boxes",
    "text_area",
    "text_chars",
    "prose",
    "price",
    "coupon",
    "indicia",
    "title",
    "page_number",
    "ink",
    "colour",
    "story_end",
)
POSITION_NAMES: tuple[str, ...] = ("relative_index", "first", "last", "second", "second_last")

PRICE = re.compile(r"\$\s?\d+(?:[.,]\d\d)?|\d+\s?¢|\b\d+\s+cents\b", re.IGNORECASE)
COUPON = re.compile(
    r"\border\s+(?:now|today|form|blank)\b|\bmail\s+(?:this|the|your)?\s*coupon\b|\bcoupon\b"
    r"|\bsend\b[^|]{0,40}\b(?:money|cash|check|coins?|stamps?|name)\b|\bmoney\s+order\b"
    r"|\bname\b[^|]{0,60}\baddress\b|\bzip\b|\bpostage\b|\bpostpaid\b|\bmoney\s+back\b",
    re.IGNORECASE,
)
INDICIA = re.compile(
    r"©|\(c\)\s*(?:19|20)\d\d|\bcopyright\b|\ball\s+rights\s+reserved\b|\bpublished\s+(?:by|monthly|"
    r"bi-?monthly|quarterly)\b|\bprinted\s+in\b|\btrade\s?marks?\b|\bisbn\b|\bsecond[- ]class\b"
    r"|\bentered\s+as\b|\bsubscriptions?\b",
    re.IGNORECASE,
)
# transforms of the module docstring
_PANELS_FULL, _BOXES_FULL, _CHARS_FULL, _PATTERNS_FULL = 6.0, 20.0, 2000.0, 2.0
_PROSE_CHARS, _PROSE_WIDTH, _PROSE_LETTER, _PROSE_FLOOR, _PROSE_ALIGN = 120, 0.25, 0.04, 600.0, 0.03
_PROSE_AREA, _PROSE_LINES = 0.4, 3.0
_TITLE_TOP, _TITLE_CHARS, _TITLE_FROM, _TITLE_SPAN = 0.4, (3, 60), 0.02, 0.03
_TITLE_RATIO_FROM, _TITLE_RATIO_SPAN, _TITLE_MIN_BOXES, _TITLE_WIDTH = 1.5, 1.5, 3, 0.3
_CHAR_ASPECT = 0.55
_INK_STEP, _COLOUR_FULL = 0.12, 0.5


def letter_height(bbox: list[float] | tuple[float, ...], text: str) -> float:
    """Estimated letter height of a lettered block (module docstring), in pixels."""
    chars = len(re.sub(r"\s+", "", text))
    if chars == 0:
        return 0.0
    return math.sqrt(max(bbox[2], 1.0) * max(bbox[3], 1.0) / (_CHAR_ASPECT * chars))


# a story's closing mark: a block that is only the mark (punctuation around it), or that opens with
# "to be continued" / "continued next|in" / "next (issue):" (a caption naming the next part)
STORY_END = re.compile(
    r"^\W*(?:(?:the\s*end|end|fin|finis|ende|つづく|続く|完|終|おわり)\W*$"
    r"|to\s+be\s+continued\b|continued\s+(?:next|in)\b|next\s*(?:issue|month|time)?\s*:)",
    re.IGNORECASE,
)
_END_CHARS = 40  # a closing mark stands alone or ends a short caption, not a balloon of dialogue


def _story_end(boxes) -> float:
    return float(any(len(b.text.strip()) <= _END_CHARS and STORY_END.search(b.text.strip()) for b in boxes))


def _count(pattern: re.Pattern, text: str) -> float:
    return min(len(pattern.findall(text)) / _PATTERNS_FULL, 1.0)


def _prose(boxes, width: float, height: float, total: int) -> float:
    prose = [
        b
        for b in boxes
        if len(b.text) >= _PROSE_CHARS
        and b.bbox[2] >= _PROSE_WIDTH * width
        and letter_height(b.bbox, b.text) <= _PROSE_LETTER * height
        and b.bbox[3] >= _PROSE_LINES * letter_height(b.bbox, b.text)
    ]
    if not prose:
        return 0.0
    share = sum(len(b.text) for b in prose) / max(total, _PROSE_FLOOR)
    share = min(share, sum(b.bbox[2] * b.bbox[3] for b in prose) / (width * height * _PROSE_AREA))
    if len(prose) >= 3:
        lefts = sorted(b.bbox[0] for b in prose)
        aligned = sum(
            any(abs(x - y) <= _PROSE_ALIGN * width for j, y in enumerate(lefts) if j != i)
            for i, x in enumerate(lefts)
        )
        if aligned < len(prose) / 2:
            share /= 2
    return min(share, 1.0)


def _title(boxes, width: float, height: float) -> float:
    heights = [letter_height(b.bbox, b.text) for b in boxes]
    reference = float(np.median(heights)) if len(heights) >= _TITLE_MIN_BOXES else None
    best = 0.0
    for b, letters in zip(boxes, heights):
        chars = len(re.sub(r"\s+", "", b.text))
        if b.bbox[1] + b.bbox[3] / 2 > _TITLE_TOP * height or not _TITLE_CHARS[0] <= chars <= _TITLE_CHARS[1]:
            continue
        if b.bbox[2] < _TITLE_WIDTH * width:
            continue
        score = np.clip((letters / height - _TITLE_FROM) / _TITLE_SPAN, 0.0, 1.0)
        if reference:
            ratio = (letters / reference - _TITLE_RATIO_FROM) / _TITLE_RATIO_SPAN
            score = min(score, np.clip(ratio, 0.0, 1.0))
        best = max(best, float(score))
    return best


def image_stats(image: Image.Image | None) -> tuple[float, float]:
    """(ink, colour) of the module docstring; NaN, NaN without an image."""
    if image is None:
        return math.nan, math.nan
    rgb = np.asarray(image.convert("RGB").resize((64, 96), Image.BILINEAR), dtype=np.float32) / 255.0
    grey = rgb.mean(axis=2)
    paper = float(np.percentile(grey, 90))
    ink = float((grey < paper - _INK_STEP).mean())
    colour = float(np.clip((rgb.max(axis=2) - rgb.min(axis=2)).mean() / _COLOUR_FULL, 0.0, 1.0))
    return ink, colour


def page_stats(page: Page, image: Image.Image | None = None) -> np.ndarray:
    """The :data:`STAT_NAMES` values of a page (module docstring), float32."""
    width, height = float(page.width), float(page.height)
    area = width * height
    panel_areas = [p.bbox[2] * p.bbox[3] / area for p in page.panels]
    boxes = [t for t in page.texts if t.kind != "page_number" and (t.text or "").strip()]
    text = " | ".join(re.sub(r"\s+", " ", t.text).strip() for t in boxes)
    chars = sum(len(t.text) for t in boxes)
    ink, colour = image_stats(image)
    values = {
        "panels": min(len(page.panels) / _PANELS_FULL, 1.0),
        "panel_area": min(sum(panel_areas), 1.0),
        "largest_panel": max(panel_areas, default=0.0),
        "text_boxes": min(len(boxes) / _BOXES_FULL, 1.0),
        "text_area": min(sum(t.bbox[2] * t.bbox[3] for t in boxes) / area, 1.0),
        "text_chars": min(chars / _CHARS_FULL, 1.0),
        "prose": _prose(boxes, width, height, chars),
        "price": _count(PRICE, text),
        "coupon": _count(COUPON, text),
        "indicia": _count(INDICIA, text),
        "title": _title(boxes, width, height),
        "page_number": float(any(t.kind == "page_number" for t in page.texts)),
        "ink": ink,
        "colour": colour,
        "story_end": _story_end(boxes),
    }
    return np.array([values[name] for name in STAT_NAMES], dtype=np.float32)


def position_features(n_pages: int) -> np.ndarray:
    """[n_pages, len(POSITION_NAMES)]: relative index (0 first, 1 last), first, last, second,
    second-to-last page flags."""
    index = np.arange(n_pages)
    relative = index / max(n_pages - 1, 1)
    return np.stack(
        [
            relative,
            index == 0,
            index == n_pages - 1,
            index == 1,
            index == n_pages - 2,
        ],
        axis=1,
    ).astype(np.float32)
