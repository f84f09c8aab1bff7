"""How well VLM readings were aligned to detector panels, against ground truth.

Each case is (ground-truth page, merged page, origin, item_truth): ``origin[i]`` is the true
panel of VLM panel ``i`` and ``item_truth[i][n]`` the true panel of its ``n``-th text item (as
written by a simulator, or by hand for a real page). Two selection rules are compared on the
same pages:

- ``count_equality``: the earlier pipeline: keep a page when the detector (score >= 0.5) and the
  VLM report as many panels, then give the k-th VLM panel's text to the k-th detector panel;
- ``aligned``: ours (:func:`comics_analysis.annotate.align.is_aligned`), text placed by the merge.

Reported per rule: pages kept, text-to-panel accuracy of the kept pages, and for ``aligned`` the
alignment precision (matched pairs that join the same true panel).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..annotate.align import is_aligned, is_perfect_match, vlm_read_panels
from ..dataspec import Page
from ..dataspec.geometry import intersection
from .panels import match_boxes

RULES = ("count_equality", "aligned", "aligned_strict")


def _truth_of(truth: Page, page: Page) -> dict[int, int]:
    """Panel index in ``page`` -> ground-truth panel index (IoU >= 0.5, one to one)."""
    pairs = match_boxes([p.bbox for p in truth.panels], [p.bbox for p in page.panels], 0.5)
    return {pred: gt for gt, pred, _ in pairs}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def evaluate_alignment(
    cases: Sequence[tuple[Page, Page, list[int], list[list[int]]]],
    min_iou: float = 0.5,
    min_score: float = 0.5,
) -> dict:
    kept = dict.fromkeys(RULES, 0)
    text_ok = dict.fromkeys(RULES, 0)
    text_n = dict.fromkeys(RULES, 0)
    pairs_ok = pairs_n = 0
    for truth, page, origin, item_truth in cases:
        to_truth = _truth_of(truth, page)
        if is_perfect_match(page):
            kept["count_equality"] += 1
            detector = [
                k
                for k, p in enumerate(page.panels)
                if p.source != "vlm" and (p.score is None or p.score >= min_score)
            ]
            for i, items in enumerate(item_truth):
                for true_panel in items:
                    text_n["count_equality"] += 1
                    text_ok["count_equality"] += to_truth.get(detector[i], -2) == true_panel
        vlm_ok = vlm_n = 0
        placed = [t for t in page.texts if t.source == "vlm"]
        flat = [true_panel for items in item_truth for true_panel in items]
        if len(placed) != len(flat):
            raise ValueError(f"page {page.page_id}: {len(placed)} VLM text items, {len(flat)} in truth")
        for text, true_panel in zip(placed, flat):
            vlm_n += 1
            vlm_ok += text.panel >= 0 and to_truth.get(text.panel, -2) == true_panel
        if is_aligned(page, min_iou=min_iou, min_score=min_score, ocr_fallback=False):
            kept["aligned_strict"] += 1
            text_n["aligned_strict"] += vlm_n
            text_ok["aligned_strict"] += vlm_ok
        if is_aligned(page, min_iou=min_iou, min_score=min_score, ocr_fallback=True):
            kept["aligned"] += 1
            for m in page.quality.matches:
                if m.iou is not None and m.iou >= min_iou:
                    pairs_n += 1
                    pairs_ok += to_truth.get(m.detector, -2) == origin[m.vlm]
            text_n["aligned"] += vlm_n
            text_ok["aligned"] += vlm_ok
            read = vlm_read_panels(page, min_iou)
            for t in page.texts:  # OCR lettering kept in panels the VLM did not read
                if t.source != "ocr" or t.panel < 0 or t.panel in read:
                    continue
                overlaps = [intersection(t.bbox, g.bbox) for g in truth.texts]
                best = max(range(len(overlaps)), key=overlaps.__getitem__) if overlaps else -1
                text_n["aligned"] += 1
                text_ok["aligned"] += (
                    best >= 0 and overlaps[best] > 0 and to_truth.get(t.panel, -2) == truth.texts[best].panel
                )
    pages = len(cases)
    return {
        "pages": pages,
        "min_iou": min_iou,
        "kept": kept,
        "kept_share": {k: _ratio(v, pages) for k, v in kept.items()},
        "kept_ratio": _ratio(kept["aligned"], kept["count_equality"]),
        "kept_ratio_strict": _ratio(kept["aligned_strict"], kept["count_equality"]),
        "text_to_panel_accuracy": {k: _ratio(text_ok[k], text_n[k]) for k in kept},
        "text_items": text_n,
        "alignment_precision": _ratio(pairs_ok, pairs_n),
        "aligned_pairs": pairs_n,
    }
