"""`eval search` d. not-a-comic (issue 17.4): ROC AUC of outlier scores on comic pages mixed with
document pages (:mod:`.search_real` runs it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def not_a_comic_auc(
    page_vecs: np.ndarray,
    comic: np.ndarray,
    detected: np.ndarray,
    kinds: Sequence[str],
    panel_mean: np.ndarray | None = None,
    image_mean: np.ndarray | None = None,
    prose: np.ndarray | None = None,
) -> dict:
    """ROC AUC of the analysis layer's outlier score, non-comic pages positive (:mod:`.search_real`
    docstring). ``auc``: its default reference, the pages with 2+ detected panels (no label
    used); also with every page as the reference, with the comic pages as the reference (their
    labels used: novelty detection against a known comic collection, each page left out of its
    own neighbours) and, ``panel_mean`` given, on the mean of each page's panel vectors
    (``image_mean``: of its image-only panel vectors, a model's). ``prose``: prose lines per page
    (:func:`comics_analysis.analysis.prose_lines`); adds ``auc_prose``, the score of
    :func:`comics_analysis.analysis.not_a_comic_scores` (text pages first, then the outlier score
    against a reference without them), overall and per kind, and ``text_pages`` (pages with
    ``PROSE_PAGE_LINES`` or more prose lines: comic and non-comic)."""
    from sklearn.metrics import roc_auc_score

    from ..analysis import (  # lazy: scipy and sklearn
        PROSE_PAGE_LINES,
        comic_reference,
        not_a_comic_scores,
        outlier_scores,
    )

    comic = np.asarray(comic, bool)
    reference = comic_reference(np.asarray(detected))

    def auc(vectors: np.ndarray, ref: np.ndarray | None) -> tuple[float, np.ndarray]:
        raw, _z = outlier_scores(vectors, reference=ref)
        return round(float(roc_auc_score(~comic, raw)), 4), raw

    main, raw = auc(page_vecs, reference)
    kinds = np.asarray(kinds)
    per_kind = {}
    for kind in dict.fromkeys(kinds[~comic].tolist()):
        rows = comic | (kinds == kind)
        per_kind[kind] = {
            "pages": int((kinds == kind).sum()),
            "in_reference": int(((kinds == kind) & reference).sum()),
            "auc": round(float(roc_auc_score(~comic[rows], raw[rows])), 4),
        }
    out = {
        "comic_pages": int(comic.sum()),
        "non_comic_pages": int((~comic).sum()),
        "reference_pages": int(reference.sum()),
        "non_comic_in_reference": int((reference & ~comic).sum()),
        "comic_outside_reference": int((~reference & comic).sum()),
        "auc": main,
        "auc_reference_all_pages": auc(page_vecs, None)[0],
        "auc_reference_comic_pages": auc(page_vecs, comic)[0],
        "auc_by_kind": per_kind,
    }
    if panel_mean is not None:
        out["auc_panel_mean_vectors"] = auc(panel_mean, reference)[0]
    if image_mean is not None:
        out["auc_image_panel_mean_vectors"] = auc(image_mean, reference)[0]
    if prose is not None:
        prose = np.asarray(prose)
        scores = not_a_comic_scores(page_vecs, detected, prose)
        out["auc_prose"] = round(float(roc_auc_score(~comic, scores)), 4)
        out["text_pages"] = {
            "lines": PROSE_PAGE_LINES,
            "comic": int((comic & (prose >= PROSE_PAGE_LINES)).sum()),
            "non_comic": int((~comic & (prose >= PROSE_PAGE_LINES)).sum()),
        }
        for kind in per_kind:
            rows = comic | (kinds == kind)
            per_kind[kind]["auc_prose"] = round(float(roc_auc_score(~comic[rows], scores[rows])), 4)
    return out
