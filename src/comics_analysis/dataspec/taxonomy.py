"""Page-type taxonomy (DESIGN 4.2) and its maps to and from the CoSMo label sets, as data.

Our labels are :data:`PAGE_TYPES` (records.py; the index of a label is its class id) plus a
per-page ``story_start`` flag. Two earlier label sets must be readable and comparable:

- CoSMo 5-class (mserra0/CoSMo-ComicsPSS): ``advertisement, cover, story, textstory,
  first-page``. ``first-page`` is the first page of a story, i.e. ``story`` + story_start.
- cosmo-v4 (9 legacy classes, in this order): the 5 above + ``credits, art, text, back_cover``.

Maps in both directions:

- ``FROM_COSMO5`` / ``FROM_COSMO_V4``: legacy label -> (our page type, story_start). Used to
  read legacy labels and to convert a legacy model's predictions.
- ``TO_COSMO5`` / ``TO_COSMO_V4``: our page type -> legacy label, or None where the legacy set
  has no counterpart (such pages are outside that label set, as CoSMo's own loader leaves out
  unlabelled pages). A story page with story_start becomes ``first-page``. The maps are
  many-to-one, so collapsing then expanding is not an identity (e.g. ``back_cover`` ->
  ``cover`` in the 5-class set; cosmo-v4's ``textstory`` and ``text`` both read as
  ``text_backmatter``, which collapses to ``text``).

The CoSMo split JSON files (``comics_{train,val,test}.json``) label page ranges by category;
``COSMO_SPLIT_CATEGORIES`` maps each category to our page type, ``COSMO_SPLIT_PRECEDENCE`` says
which category wins where ranges overlap (later wins, as in CoSMo's loader), and
:func:`cosmo_cover_type` refines a ``covers`` range into front, interior or back cover.
"""

from __future__ import annotations

import re

from .records import PAGE_TYPES

TAXONOMY_VERSION = "1.0"

COSMO5_LABELS: tuple[str, ...] = ("advertisement", "cover", "story", "textstory", "first-page")
# cosmo-v4's 9 classes: the 5 CoSMo classes, then four more (class ids in this order)
COSMO_V4_LABELS: tuple[str, ...] = (*COSMO5_LABELS, "credits", "art", "text", "back_cover")

# CoSMo split JSON category -> our page type. `textstories` are prose stories (text pages).
COSMO_SPLIT_CATEGORIES: dict[str, str] = {
    "stories": "story",
    "textstories": "text_backmatter",
    "advertisements": "advertisement",
    "covers": "cover",
}
# Order in which ranges are applied; a later category overwrites an earlier one on overlap.
COSMO_SPLIT_PRECEDENCE: tuple[str, ...] = ("stories", "textstories", "advertisements", "covers")
# A story range whose title contains this word continues an earlier story: no story_start.
COSMO_CONTINUATION = re.compile(r"continue", re.IGNORECASE)
_BACK_TITLE = re.compile(r"^\s*back\b", re.IGNORECASE)

TO_COSMO5: dict[str, str | None] = {
    "cover": "cover",
    "cover_internal": "cover",
    "credits_indicia": None,
    "story": "story",
    "advertisement": "advertisement",
    "preview": "advertisement",
    "text_backmatter": "textstory",
    "art_backmatter": None,
    "back_cover": "cover",
    "other": None,
}
TO_COSMO_V4: dict[str, str | None] = {
    "cover": "cover",
    "cover_internal": "cover",
    "credits_indicia": "credits",
    "story": "story",
    "advertisement": "advertisement",
    "preview": "advertisement",
    "text_backmatter": "text",
    "art_backmatter": "art",
    "back_cover": "back_cover",
    "other": None,
}
FROM_COSMO5: dict[str, tuple[str, bool]] = {
    "advertisement": ("advertisement", False),
    "cover": ("cover", False),
    "story": ("story", False),
    "textstory": ("text_backmatter", False),
    "first-page": ("story", True),
}
FROM_COSMO_V4: dict[str, tuple[str, bool]] = {
    **FROM_COSMO5,
    "credits": ("credits_indicia", False),
    "art": ("art_backmatter", False),
    "text": ("text_backmatter", False),
    "back_cover": ("back_cover", False),
}

LABEL_SETS: dict[str, tuple[str, ...]] = {
    "ours": PAGE_TYPES,
    "cosmo5": COSMO5_LABELS,
    "cosmo_v4": COSMO_V4_LABELS,
}
_TO = {"cosmo5": TO_COSMO5, "cosmo_v4": TO_COSMO_V4}
_FROM = {"cosmo5": FROM_COSMO5, "cosmo_v4": FROM_COSMO_V4}


def collapse(page_type: str | None, story_start: bool = False, scheme: str = "cosmo5") -> str | None:
    """Our (page_type, story_start) as a label of ``scheme`` ("ours", "cosmo5", "cosmo_v4");
    None for an unlabelled page or one with no counterpart in that set."""
    if page_type is None:
        return None
    if page_type not in PAGE_TYPES:
        raise ValueError(f"unknown page type {page_type!r}; expected one of {', '.join(PAGE_TYPES)}")
    if scheme == "ours":
        return page_type
    if scheme not in _TO:
        raise ValueError(f"unknown label scheme {scheme!r}; expected one of {', '.join(LABEL_SETS)}")
    if page_type == "story" and story_start:
        return "first-page"
    return _TO[scheme][page_type]


def expand(label: str, scheme: str = "cosmo5") -> tuple[str, bool]:
    """A legacy label as our (page_type, story_start)."""
    if scheme not in _FROM:
        raise ValueError(f"unknown legacy label scheme {scheme!r}; expected cosmo5 or cosmo_v4")
    try:
        return _FROM[scheme][label]
    except KeyError:
        expected = ", ".join(LABEL_SETS[scheme])
        raise ValueError(f"unknown {scheme} label {label!r}; expected one of {expected}") from None


def cosmo_cover_type(title: str, page_start: int, page_end: int, last_page: int) -> str:
    """Our page type for a CoSMo ``covers`` range (all three collapse to CoSMo ``cover``).

    ``back_cover``: titled "Back..." or ending on the book's last page (and not starting it);
    ``cover``: starting on page 0; otherwise ``cover_internal`` (a cover inside the book, e.g. in
    a collection of issues, or a second cover scan)."""
    if _BACK_TITLE.match(title or "") or (page_end >= last_page and page_start > 0):
        return "back_cover"
    if page_start == 0:
        return "cover"
    return "cover_internal"
