"""Panel detection and reading-order metrics (DESIGN 5).

- P/R/F1 at IoU >= 0.5 with one-to-one (Hungarian) matching,
- COCO AP and AP50 (pycocotools, category "panel"),
- exact panel-count rate,
- reading order: exact-match rate over pages whose panels were all found, and Kendall tau of
  the predicted order of matched panels against the true order;
- reading order over ALL true panels (:func:`cover_assignment`, :func:`order_all`): merged and
  split panels, which the matched-only figures above cannot see, count here.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise

import numpy as np

from ..dataspec.geometry import intersection, iou
from ..dataspec.paths import TailIndex

Box = Sequence[float]  # x, y, w, h


def match_boxes(
    truth: Sequence[Box], pred: Sequence[Box], threshold: float = 0.5
) -> list[tuple[int, int, float]]:
    """One-to-one matches (truth index, pred index, IoU) maximising total IoU, IoU >= threshold."""
    if not truth or not pred:
        return []
    from scipy.optimize import linear_sum_assignment

    matrix = np.array([[iou(t, p) for p in pred] for t in truth])
    rows, cols = linear_sum_assignment(-matrix)
    return [(int(r), int(c), float(matrix[r, c])) for r, c in zip(rows, cols) if matrix[r, c] >= threshold]


def kendall_tau(ranks: Sequence[int]) -> float:
    """Kendall tau between 0..n-1 and ``ranks``, n distinct values (tau-a; 1.0 for n < 2).

    ``scipy.stats.kendalltau`` with ``variant="c"``: without ties tau-c is tau-a, computed as
    2(C - D) / (n(n - 1)), the same float as (C - D) / (n(n - 1) / 2) (tau-b divides by sqrt twice)."""
    from scipy.stats import kendalltau

    if len(ranks) < 2:
        return 1.0
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"ranks must be distinct (a permutation), got {list(ranks)}")
    tau = kendalltau(np.arange(len(ranks)), np.asarray(ranks), variant="c")
    return float(tau.statistic)


def cover_assignment(truth: Sequence[Box], pred: Sequence[Box], min_cover: float = 0.5) -> list[int]:
    """For each true panel (in true order), the index of the predicted panel that covers the largest
    share of its area, when that share is at least ``min_cover``; -1 when none does (ties go to the
    predicted panel earlier in reading order). A predicted panel that merges several true panels is
    assigned to each of them; a true panel split into pieces goes to its largest piece, or to none
    when no piece holds ``min_cover`` of it."""
    assigned = []
    for t in truth:
        area = t[2] * t[3]
        best, best_share = -1, 0.0
        for j, p in enumerate(pred):
            share = intersection(t, p) / area if area > 0 else 0.0
            if share >= min_cover and share > best_share:
                best, best_share = j, share
        assigned.append(best)
    return assigned


def order_all(assigned: Sequence[int]) -> tuple[bool | None, float | None]:
    """(order ok, tau) of the predicted order indices ``assigned`` of the true panels, in true order
    (:func:`cover_assignment`; -1 = unassigned). None, None with fewer than 2 true panels.

    - order ok: no true panel is unassigned and the sequence is non-decreasing (a merge keeps the
      order when the panels it merges are consecutive in the true order);
    - tau: over all n(n - 1) / 2 pairs i < j of true panels, (C - D) / (n(n - 1) / 2) where a pair is
      concordant (C) when both are assigned and ``assigned[i] < assigned[j]``, discordant (D) when
      both are assigned and ``assigned[i] > assigned[j]``; a pair merged into one predicted panel
      (equal indices) or with an unassigned panel is neither, so it lowers tau from 1 towards 0.
      tau is 1 only when every true panel has its own predicted panel in the true order, and -1
      when they are all in reverse order."""
    n = len(assigned)
    if n < 2:
        return None, None
    ok = all(a >= 0 for a in assigned) and all(a <= b for a, b in pairwise(assigned))
    concordant = discordant = 0
    for i in range(n):
        for j in range(i + 1, n):
            a, b = assigned[i], assigned[j]
            if a < 0 or b < 0 or a == b:
                continue
            concordant += a < b
            discordant += a > b
    return ok, (concordant - discordant) / (n * (n - 1) / 2)


def merged_count(assigned: Sequence[int]) -> int:
    """Predicted panels assigned to two or more true panels (:func:`cover_assignment`)."""
    counts: dict[int, int] = {}
    for a in assigned:
        if a >= 0:
            counts[a] = counts.get(a, 0) + 1
    return sum(c >= 2 for c in counts.values())


@dataclass
class PageResult:
    key: str
    book: str
    truth: int
    pred: int
    tp: int
    all_found: bool
    order_exact: bool | None  # None when not every true panel was found
    tau: float | None  # None with fewer than 2 matches
    order_all: bool | None = None  # over all true panels (order_all); None with fewer than 2
    tau_all: float | None = None
    merged: int = 0  # predicted panels covering 2+ true panels
    unassigned: int = 0  # true panels no predicted panel covers (min_cover)


def score_page(
    key: str,
    book: str,
    truth: Sequence[Box],
    pred: Sequence[Box],
    threshold: float = 0.5,
    min_cover: float = 0.5,
) -> PageResult:
    """Both lists in reading order."""
    matches = match_boxes(truth, pred, threshold)
    by_truth = sorted(matches)  # in true order
    pred_ranks = [p for _, p, _ in by_truth]
    all_found = len(matches) == len(truth)
    exact = (pred_ranks == sorted(pred_ranks)) if all_found else None
    tau = kendall_tau([sorted(pred_ranks).index(r) for r in pred_ranks]) if len(matches) >= 2 else None
    assigned = cover_assignment(truth, pred, min_cover)
    ok_all, tau_all = order_all(assigned)
    return PageResult(
        key,
        book,
        len(truth),
        len(pred),
        len(matches),
        all_found,
        exact,
        tau,
        ok_all,
        tau_all,
        merged_count(assigned),
        sum(a < 0 for a in assigned),
    )


@dataclass
class Summary:
    pages: int = 0
    truth: int = 0
    pred: int = 0
    tp: int = 0
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    exact_count: float = 0.0
    order_exact: float | None = None
    order_pages: int = 0
    kendall_tau: float | None = None
    order_all: float | None = None  # share of pages (2+ true panels) in order over all true panels
    order_all_pages: int = 0
    kendall_tau_all: float | None = None  # mean over those pages of order_all's tau
    merged_panels: int = 0
    unassigned_panels: int = 0
    ap: float | None = None
    ap50: float | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def summarise(results: Sequence[PageResult]) -> Summary:
    s = Summary(pages=len(results))
    s.truth = sum(r.truth for r in results)
    s.pred = sum(r.pred for r in results)
    s.tp = sum(r.tp for r in results)
    s.precision = s.tp / s.pred if s.pred else 0.0
    s.recall = s.tp / s.truth if s.truth else 0.0
    s.f1 = 2 * s.precision * s.recall / (s.precision + s.recall) if s.precision + s.recall else 0.0
    s.exact_count = sum(r.truth == r.pred for r in results) / len(results) if results else 0.0
    ordered = [r.order_exact for r in results if r.order_exact is not None and r.truth >= 2]
    s.order_pages = len(ordered)
    s.order_exact = sum(ordered) / len(ordered) if ordered else None
    taus = [r.tau for r in results if r.tau is not None]
    s.kendall_tau = float(np.mean(taus)) if taus else None
    scored = [r for r in results if r.order_all is not None]
    s.order_all_pages = len(scored)
    s.order_all = sum(bool(r.order_all) for r in scored) / len(scored) if scored else None
    s.kendall_tau_all = float(np.mean([r.tau_all for r in scored])) if scored else None
    s.merged_panels = sum(r.merged for r in results)
    s.unassigned_panels = sum(r.unassigned for r in results)
    return s


def coco_eval(gt: dict, detections: list[dict], category_id: int) -> tuple[float, float]:
    """(AP@[.5:.95], AP50) of one category; NaN when the truth has none of it; 0 without detections."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not any(a["category_id"] == category_id for a in gt["annotations"]):
        return math.nan, math.nan
    mine = [d for d in detections if d["category_id"] == category_id]
    if not mine:
        return 0.0, 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = gt
        truth.createIndex()
        results = truth.loadRes(
            [{k: d[k] for k in ("image_id", "category_id", "bbox", "score")} for d in mine]
        )
        evaluator = COCOeval(truth, results, "bbox")
        evaluator.params.catIds = [category_id]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return float(evaluator.stats[0]), float(evaluator.stats[1])


def coco_ap(
    truth: Sequence[Sequence[Box]], pred: Sequence[Sequence[tuple[Box, float]]]
) -> tuple[float, float]:
    """COCO AP@[.5:.95] and AP50 of one category over pages (pycocotools). ``pred`` holds (box, score)."""
    images = [{"id": i + 1, "width": 1, "height": 1} for i in range(len(truth))]
    annotations = []
    for i, boxes in enumerate(truth):
        for box in boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": 1,
                    "bbox": [float(v) for v in box],
                    "area": float(box[2] * box[3]),
                    "iscrowd": 0,
                }
            )
    detections = [
        {"image_id": i + 1, "category_id": 1, "bbox": [float(v) for v in box], "score": float(score)}
        for i, page in enumerate(pred)
        for box, score in page
    ]
    gt = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "panel"}]}
    return coco_eval(gt, detections, 1)


def _path_key(page) -> str | None:
    source, entry = page.provenance.source_path, page.provenance.source_entry
    if entry is None:
        return None
    if source in (".", "./"):  # `ingest FOLDER` of one book folder: the folder is the library root
        source = None
    if source and not entry.startswith(source.rstrip("/") + "/"):
        return f"{source.rstrip('/')}/{entry}"
    return entry


def pair_pages(truth_pages, pred_pages) -> tuple[list[tuple], list[str]]:
    """(truth, pred) page pairs: same page_id, else the longest common tail of the source paths
    (book folder + image file name at least), which joins a prediction on ``ingest``ed copies of
    the images to an annotation file that names them from another root. A prediction whose path has
    no folder (``ingest BOOK_FOLDER`` makes the book folder the root, e.g. the pages of an ACBF book)
    pairs on the image file name alone when that name is unique among the predictions. Returns the
    pairs and the keys of truth pages with no prediction."""
    by_id = {p.page_id: p for p in pred_pages}
    index: TailIndex = TailIndex()
    for page in pred_pages:
        key = _path_key(page)
        if key:
            index.add(key, page)
    pairs, missing = [], []
    for page in truth_pages:
        key = _path_key(page)
        match = by_id.get(page.page_id) or (index.find(key, _min_parts) if key else None)
        if match is None:
            missing.append(key or page.page_id)
        else:
            pairs.append((page, match))
    return pairs, missing


def _min_parts(stored: str) -> int:
    return min(2, stored.count("/") + 1)


def _book_name(page) -> str:
    key = _path_key(page)
    if key and "/" in key:
        return key.rsplit("/", 1)[0]
    return page.book_id


def evaluate_panels(truth_pages, pred_pages, threshold: float = 0.5, with_ap: bool = True) -> dict:
    """Overall and per-book panel metrics of DataSpec predictions against DataSpec truth."""
    pairs, missing = pair_pages(truth_pages, pred_pages)
    results = []
    for truth, pred in pairs:
        results.append(
            score_page(
                truth.page_id,
                _book_name(truth),
                [p.bbox for p in truth.panels],
                [p.bbox for p in pred.panels],
                threshold,
            )
        )
    books: dict[str, list[PageResult]] = {}
    for result in results:
        books.setdefault(result.book, []).append(result)

    def with_coco(summary: Summary, chosen: list[tuple]) -> Summary:
        if with_ap and chosen:
            summary.ap, summary.ap50 = coco_ap(
                [[p.bbox for p in t.panels] for t, _ in chosen],
                [[(p.bbox, p.score if p.score is not None else 1.0) for p in q.panels] for _, q in chosen],
            )
        return summary

    overall = with_coco(summarise(results), pairs)
    per_book = {
        book: with_coco(summarise(rs), [pr for pr in pairs if _book_name(pr[0]) == book])
        for book, rs in sorted(books.items())
    }
    return {"overall": overall, "books": per_book, "missing": missing, "pages": results}
