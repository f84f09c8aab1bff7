"""The zero-shot page stream segmenter (issue 18.3): page types and story starts without any
training data; what ``segment`` uses when no model is given.

Per page, a score for each state (the page types of DESIGN 4.2, ``story`` split into
``story_start`` and ``story`` continued) is the sum of

1. **rules over the layout / text statistics** of :mod:`.page_stats` (``pss features
   --page-stats``): :data:`CUE_WEIGHTS` gives, per state, a weight for each cue of
   :func:`cues` (a panel grid, few panels, prose, prices, coupons, indicia, title lettering,
   no text, a blank or sparsely inked page, a printed folio, a story's closing mark before) and
   a bias;
2. **page position priors** (:func:`position_scores`): the first page is the cover, the last the
   back cover; inside covers sit second or second to last; pin-ups and previews near the end;
3. **text similarity**: the MiniLM vector of the page's lettered text (the ``text`` feature) and,
   when the record has one, of the VLM page summary (``summary``), each compared by cosine with
   the vectors of short generic class descriptions (:data:`DESCRIPTIONS`, embedded with the
   store's own text encoder); the similarities are standardised over the classes (z-scores) and
   weighted :data:`TEXT_WEIGHT` (lettered text of at least :data:`MIN_TEXT_CHARS` characters,
   estimated from the ``text_chars`` statistic) and :data:`SUMMARY_WEIGHT` (a summary).

The scores are log-potentials of an HMM-like chain whose transition log-probabilities
(:func:`transition_matrix`) encode how books are built: a story continues (``story`` follows
only ``story_start``, ``story`` or an advertisement, so the first story page
after a cover or front matter is a story start), a new story inside a run of story pages needs
story-title lettering to beat the stay probability, covers do not repeat. Viterbi decoding gives
the states; forward-backward gives per-page posteriors (the ``confidence`` and the
``story_start_probability`` of the output).

Every number here is hand-set from how printed comics are laid out (stated next to it), never
fitted to a book; ``docs/pss.md`` lists them with their reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .page_stats import STAT_NAMES

__all__ = [
    "CUE_WEIGHTS",
    "DESCRIPTIONS",
    "MODEL_NAME",
    "STATES",
    "ZeroShotSegmenter",
    "cues",
    "position_scores",
    "transition_matrix",
]

MODEL_NAME = "zero-shot"
STATES: tuple[str, ...] = (
    "cover",
    "cover_internal",
    "credits_indicia",
    "story_start",
    "story",
    "advertisement",
    "preview",
    "text_backmatter",
    "art_backmatter",
    "back_cover",
    "other",
)
PAGE_TYPE = {s: ("story" if s == "story_start" else s) for s in STATES}

# Short, generic descriptions of each page type (no book's words); story and story_start share one.
DESCRIPTIONS: dict[str, str] = {
    "cover": "the front cover of a comic book: the title, the issue number, the price and the publisher",
    "cover_internal": "an inside cover page of a comic book collection",
    "credits_indicia": "credits and indicia: written by, art by, edited by, copyright, all rights reserved, "
    "published by, printed in",
    "story": "a comic story page: characters talk to each other in speech balloons",
    "advertisement": "an advertisement: buy now, only one dollar, send money, order today, free offer, "
    "mail this coupon",
    "preview": "a preview of the next issue: coming soon, on sale next month",
    "text_backmatter": "a page of prose text: an article, letters to the editor, an interview or a "
    "text story",
    "art_backmatter": "a pin-up, sketches, a gallery of cover art",
    "back_cover": "the back cover of a comic book, often a full-page advertisement",
    "other": "a blank page",
}
TEXT_WEIGHT = 1.0  # OCR text is noisy: one standard deviation of similarity is worth one unit
SUMMARY_WEIGHT = 2.0  # a VLM summary describes the page itself: worth twice as much
MIN_TEXT_CHARS = 30  # below this the lettered text is a word or two (or OCR noise): not compared

# Weights per state on the cues of `cues` (each cue in [0, 1]); "bias" is added always.
CUE_WEIGHTS: dict[str, dict[str, float]] = {
    # a cover is one picture with the title; old covers print the price
    "cover": {"few_panels": 2.5, "many_panels": -2.5, "prose": -3, "blank": -4, "title": 1, "price": 0.5},
    "cover_internal": {"bias": -2, "few_panels": 1.5, "many_panels": -2, "title": 1, "blank": -3},
    "credits_indicia": {
        "bias": -1,
        "indicia": 4,
        "few_panels": 1,
        "many_panels": -2,
        "prose": -1,
        "no_text": -2,
        "blank": -3,
        "sparse": 1,
    },
    # story pages are panel grids with a folio; prose, prices, coupons and indicia say otherwise;
    # a story that closed before ("THE END", "TO BE CONTINUED") does not go on
    "story": {
        "after_end": -4,
        "many_panels": 3,
        "few_panels": -1,
        "prose": -4,
        "price": -1.5,
        "coupon": -1.5,
        "indicia": -1.5,
        "page_number": 0.5,
        "blank": -4,
        "sparse": -2,
    },
    "advertisement": {"bias": -1, "price": 3, "coupon": 3, "prose": -1, "no_text": -1, "blank": -3},
    "preview": {"bias": -3, "blank": -3},
    "text_backmatter": {
        "bias": -1,
        "prose": 6,
        "text_chars": 1,
        "many_panels": -1.5,
        "no_text": -3,
        "blank": -3,
    },
    "art_backmatter": {
        "bias": -1.5,
        "few_panels": 2,
        "no_text": 1.5,
        "text_chars": -2,
        "many_panels": -2,
        "blank": -3,
    },
    # a back cover is most often a full-page advertisement: the ad cues count for it as well
    "back_cover": {
        "few_panels": 1.5,
        "many_panels": -2,
        "price": 2,
        "coupon": 2,
        "prose": -2,
        "blank": -2,
    },
    "other": {"bias": -2, "blank": 7, "many_panels": -3},
}
# a story start is a story page; story-title lettering is what tells it from a continued page
# and so is the first story page after a story's closing mark; a story often opens on a splash
# (one or two large panels under the title), so few panels say nothing against a start
CUE_WEIGHTS["story_start"] = {
    **CUE_WEIGHTS["story"],
    "bias": -0.5,
    "title": 3.5,
    "after_end": 2.5,
    "few_panels": 0,
}
BLANK_INK = 0.02  # below 2 % inked thumbnail pixels a page is blank
SPARSE_INK = 0.3  # story art inks a third or more of the page; "sparse" grows to 1 at 10 %
GRID_AREA = 0.5  # a story page's panels cover half the page or more

# Transitions: the probability of staying in a state, then weights of entering each other state.
STAY = {
    "cover": 0.05,  # covers do not repeat (a second cover scan is cover_internal)
    "cover_internal": 0.2,
    "credits_indicia": 0.3,
    "story_start": 0.03,  # next page a story start again: one-page stories are rare
    "story": 0.85,  # Golden-Age stories run 6-10 pages: a new start about every 7th page
    "advertisement": 0.5,
    "preview": 0.5,
    "text_backmatter": 0.6,
    "art_backmatter": 0.5,
    "back_cover": 0.05,
    "other": 0.3,
}
ENTER = {
    "cover": 0.05,
    "cover_internal": 0.5,
    "credits_indicia": 1.0,
    "story_start": 4.0,
    "story": 4.0,
    "advertisement": 2.0,
    "preview": 0.3,
    "text_backmatter": 1.0,
    "art_backmatter": 0.5,
    "back_cover": 1.0,
    "other": 0.5,
}
# a continued story page follows only a story page or an advertisement that interrupted it
STORY_FROM = {"story_start", "story", "advertisement"}


def _stat(stats: np.ndarray, names: list[str], name: str) -> np.ndarray:
    return stats[:, names.index(name)] if name in names else np.full(len(stats), np.nan, dtype=np.float32)


def cues(stats: np.ndarray, names: Sequence[str] = STAT_NAMES) -> dict[str, np.ndarray]:
    """The cues of :data:`CUE_WEIGHTS` from page statistics ([pages, S] of one book in page order,
    columns ``names``); unknown (NaN) statistics give 0 (no evidence either way)."""
    names = list(names)

    def get(name: str) -> np.ndarray:
        return np.nan_to_num(_stat(stats, names, name), nan=0.0)

    panels = _stat(stats, names, "panels") * 6.0  # page_stats: panels / 6
    known = ~np.isnan(panels)
    # a panel grid: 1 at 4+ panels that cover at least half the page (a drawing cut into pieces on
    # a white title page is no grid)
    many = np.clip((np.nan_to_num(panels) - 1.0) / 3.0, 0.0, 1.0)
    many = np.where(known, many * np.clip(get("panel_area") / GRID_AREA, 0.0, 1.0), 0.0)
    chars = _stat(stats, names, "text_chars") * 2000.0  # page_stats: characters / 2,000
    ink = _stat(stats, names, "ink")
    return {
        "bias": np.ones(len(stats), dtype=np.float32),
        "many_panels": many,
        "few_panels": np.where(known, 1.0 - many, 0.0),
        "prose": get("prose"),
        "price": get("price"),
        "coupon": get("coupon"),
        "indicia": get("indicia"),
        "title": get("title"),
        "text_chars": get("text_chars"),
        "no_text": np.where(np.isnan(chars), 0.0, np.clip(1.0 - np.nan_to_num(chars) / 40.0, 0.0, 1.0)),
        "blank": np.where(np.isnan(ink), 0.0, (np.nan_to_num(ink, nan=1.0) < BLANK_INK).astype(float)),
        "sparse": np.where(np.isnan(ink), 0.0, np.clip((SPARSE_INK - np.nan_to_num(ink)) / 0.2, 0.0, 1.0)),
        "page_number": get("page_number"),
        "after_end": _after_end(get("story_end"), many),
    }


def _after_end(ends: np.ndarray, many: np.ndarray) -> np.ndarray:
    """1 on the pages after a story's closing mark (``story_end``) up to and including the next
    panel-grid page (the rows are one book's pages in order): the first story page after "THE END"
    starts a new story, also when advertisements or a text page sit between them."""
    out = np.zeros(len(ends), dtype=np.float64)
    pending = False
    for i, (end, grid) in enumerate(zip(ends, many)):
        out[i] = float(pending)
        if end >= 0.5:
            pending = True
        elif grid >= 0.5:
            pending = False
    return out


def position_scores(n_pages: int) -> np.ndarray:
    """[n_pages, len(STATES)] position priors (log-potentials)."""
    scores = np.zeros((n_pages, len(STATES)), dtype=np.float64)
    if n_pages == 0:
        return scores
    col = {s: i for i, s in enumerate(STATES)}
    index = np.arange(n_pages)
    relative = index / max(n_pages - 1, 1)
    first, last = index == 0, index == n_pages - 1
    scores[:, col["cover"]] = np.where(first, 3.0, -4.0)  # the first page is the cover
    scores[:, col["back_cover"]] = np.where(last & ~first, 3.0, -4.0)  # the last the back cover
    inside = (index == 1) | (index == n_pages - 2)  # inside covers: second or second to last
    scores[:, col["cover_internal"]] = np.where(inside, 0.5, -1.0)
    scores[:, col["credits_indicia"]] = np.where(relative <= 0.2, 0.5, 0.0)  # front matter
    late = relative >= 0.75  # pin-ups and previews close a book
    scores[:, col["art_backmatter"]] = np.where(late, 1.0, -1.0)
    scores[:, col["preview"]] = np.where(late, 1.0, 0.0)
    scores[:, col["advertisement"]] = np.where(first, -3.0, 0.0)
    scores[0, col["story"]] = -np.inf  # a book cannot open with a continued story
    return scores


def transition_matrix() -> np.ndarray:
    """[from, to] log transition probabilities (:data:`STAY`, :data:`ENTER`, :data:`STORY_FROM`)."""
    t = np.zeros((len(STATES), len(STATES)), dtype=np.float64)
    for i, a in enumerate(STATES):
        enter = {b: ENTER[b] for b in STATES if b != a and (b != "story" or a in STORY_FROM)}
        total = sum(enter.values())
        for j, b in enumerate(STATES):
            if b == a:
                t[i, j] = STAY[a]
            else:
                t[i, j] = (1.0 - STAY[a]) * enter.get(b, 0.0) / total
    with np.errstate(divide="ignore"):
        return np.log(t)


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.squeeze(top, axis=axis) + np.log(np.sum(np.exp(x - top), axis=axis))


def viterbi(emissions: np.ndarray, transitions: np.ndarray) -> list[int]:
    """The best state path of log emissions [T, S] under log transitions [S, S]."""
    n = len(emissions)
    if n == 0:
        return []
    score = emissions[0].copy()
    back = np.zeros((n, emissions.shape[1]), dtype=np.int64)
    for t in range(1, n):
        total = score[:, None] + transitions
        back[t] = np.argmax(total, axis=0)
        score = total[back[t], np.arange(emissions.shape[1])] + emissions[t]
    path = [int(np.argmax(score))]
    for t in range(n - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def posteriors(emissions: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Per-page state posteriors [T, S] (forward-backward in log space)."""
    n, s = emissions.shape
    alpha = np.zeros((n, s))
    beta = np.zeros((n, s))
    alpha[0] = emissions[0]
    for t in range(1, n):
        alpha[t] = emissions[t] + _logsumexp(alpha[t - 1][:, None] + transitions, axis=0)
    for t in range(n - 2, -1, -1):
        beta[t] = _logsumexp(transitions + (emissions[t + 1] + beta[t + 1])[None, :], axis=1)
    joint = alpha + beta
    return np.exp(joint - _logsumexp(joint, axis=1)[:, None])


def _zscores(sims: np.ndarray) -> np.ndarray:
    mean = sims.mean(axis=1, keepdims=True)
    std = sims.std(axis=1, keepdims=True)
    return (sims - mean) / np.where(std > 0, std, 1.0)


class ZeroShotSegmenter:
    """Page types and story starts of books from cached features (module docstring).

    ``description_vectors``: ``{page type: vector}`` of :data:`DESCRIPTIONS` in the feature
    store's text space (:meth:`from_encoder` embeds them); without them, text is not used."""

    name = MODEL_NAME

    def __init__(self, description_vectors: dict[str, np.ndarray] | None = None):
        self.description_vectors = description_vectors
        self.transitions = transition_matrix()

    @classmethod
    def from_encoder(cls, encoder: Any) -> ZeroShotSegmenter:
        """Descriptions embedded with ``encoder`` (a ``TextEncoder`` or any ``texts -> [N, D]``)."""
        types = list(DESCRIPTIONS)
        vectors = np.asarray(encoder([DESCRIPTIONS[t] for t in types]), dtype=np.float32)
        return cls(dict(zip(types, vectors, strict=True)))

    def _text_scores(self, vectors: np.ndarray, use: np.ndarray) -> np.ndarray:
        matrix = np.stack([self.description_vectors[PAGE_TYPE[s]] for s in STATES])
        sims = vectors @ matrix.T
        return np.where(use[:, None], _zscores(sims), 0.0)

    def emissions(self, book: dict[str, Any], stat_names: Sequence[str] = STAT_NAMES) -> np.ndarray:
        """[pages, len(STATES)] log-potentials of one book (a ``FeatureStore.book`` dict)."""
        n = len(book["page_ids"])
        if "stats" not in book:
            raise ValueError(
                f"book {book['book_id']}: the feature store has no page statistics; "
                "run `pss features --page-stats` into a new folder"
            )
        c = cues(np.asarray(book["stats"], dtype=np.float32), stat_names)
        scores = position_scores(n)
        for j, state in enumerate(STATES):
            for cue, weight in CUE_WEIGHTS[state].items():
                scores[:, j] += weight * c[cue]
        if self.description_vectors is not None:
            chars = c["text_chars"] * 2000.0
            use_text = np.asarray(book["text_mask"], dtype=bool) & (chars >= MIN_TEXT_CHARS)
            scores += TEXT_WEIGHT * self._text_scores(np.asarray(book["text"], dtype=np.float32), use_text)
            if "summary" in book:
                use = np.asarray(book["summary_mask"], dtype=bool)
                scores += SUMMARY_WEIGHT * self._text_scores(np.asarray(book["summary"], np.float32), use)
        return scores

    def predict(self, book: dict[str, Any], stat_names: Sequence[str] = STAT_NAMES) -> dict[str, Any]:
        """One book's prediction, in the shape of ``inference.pss.predict_books``."""
        emissions = self.emissions(book, stat_names)
        path = viterbi(emissions, self.transitions)
        post = posteriors(emissions, self.transitions) if path else np.zeros((0, len(STATES)))
        states = [STATES[i] for i in path]
        start = STATES.index("story_start")
        same = {t: [j for j, s in enumerate(STATES) if PAGE_TYPE[s] == t] for t in set(PAGE_TYPE.values())}
        return {
            "book_id": book["book_id"],
            "page_ids": list(book["page_ids"]),
            "page_types": [PAGE_TYPE[s] for s in states],
            "story_start": [s == "story_start" for s in states],
            "confidence": [float(post[t, same[PAGE_TYPE[s]]].sum()) for t, s in enumerate(states)],
            "story_start_probability": post[:, start].tolist(),
        }

    def predict_books(
        self, books: list[dict[str, Any]], stat_names: Sequence[str] = STAT_NAMES
    ) -> list[dict[str, Any]]:
        return [self.predict(b, stat_names) for b in books]
