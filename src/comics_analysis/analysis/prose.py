"""The not-a-comic score (issue 17.4d): prose lines first, then the image outlier score.

The image outlier score (:func:`~.maps.outlier_scores`) measures how unlike the collection's
comic pages a page looks. It misses illustrated text pages (game books, illustrated prose): the
panel detector finds framed boxes on them (a picture, a stat block), so they join the outlier
reference, and a trained page space can put them among the comics. What no comic page has is
prose: many long lines of body text, counted from the pixels by
:func:`comics_analysis.inference.prose.prose_lines` (``embed`` stores the count per page, the
store's ``prose_lines`` array). :func:`not_a_comic_scores` combines the two; ``analyze`` uses it
(:func:`not_a_comic_outliers`) when the store has the counts.
"""

from __future__ import annotations

import numpy as np

from ..inference.prose import PROSE_PAGE_LINES, ProseLines, prose_lines
from .maps import comic_reference, outlier_scores, robust_z

__all__ = ["PROSE_PAGE_LINES", "ProseLines", "not_a_comic_outliers", "not_a_comic_scores", "prose_lines"]


def not_a_comic_outliers(
    vectors: np.ndarray,
    detected_panels: np.ndarray,
    prose: np.ndarray,
    k: int | None = None,
    reference: str = "multi-panel",
    max_reference: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, robust z, reference mask) per page: the image outlier score (mean cosine distance
    to the nearest reference pages) with a reference of the pages without prose (fewer than
    ``PROSE_PAGE_LINES`` prose lines) that look like comic pages (``reference`` "multi-panel":
    2+ detected panels, :func:`~.maps.comic_reference`; "all": every page without prose), plus
    2 (the largest cosine distance) for a page with that many prose lines or more: text pages
    rank above every other page, each group in the order of its outlier score. z: the score as
    a robust z against the reference pages (median and MAD), so a text page is far above any
    threshold. ``prose``: prose line counts per page."""
    prose = np.asarray(prose)
    text_page = prose >= PROSE_PAGE_LINES
    if reference not in ("multi-panel", "all"):
        raise ValueError(f"outlier reference must be multi-panel or all, got {reference!r}")
    mask = ~text_page
    if reference == "multi-panel":
        mask = comic_reference(np.asarray(detected_panels)) & ~text_page
    if mask.sum() < 2:
        mask = ~text_page if (~text_page).sum() >= 2 else np.ones(len(prose), bool)
    raw, _ = outlier_scores(vectors, k=k, reference=mask, max_reference=max_reference, seed=seed)
    raw = raw + 2.0 * text_page
    return raw, robust_z(raw, mask), mask


def not_a_comic_scores(
    vectors: np.ndarray, detected_panels: np.ndarray, prose: np.ndarray, k: int | None = None
) -> np.ndarray:
    """The not-a-comic score per page (higher: less like a comic page) of
    :func:`not_a_comic_outliers` with the multi-panel reference. ``prose``: :func:`prose_lines`
    counts per page."""
    return not_a_comic_outliers(vectors, detected_panels, prose, k)[0]
