"""Page stream segmentation metrics (DESIGN 5), plain functions over plain lists.

A book is a sequence of pages, each with a page type of our taxonomy (DESIGN 4.2; ``None`` =
unlabelled) and a ``story_start`` flag. Predictions have the same shape.

Definitions (each chosen to avoid a recorded failure of the earlier evaluation, DESIGN 1):

- Pages whose *true* type is ``None`` (unlabelled, or without a counterpart in the label
  ``scheme``) are dropped from the book before anything is computed, as CoSMo's loader leaves
  them out; the remaining pages keep their order. Predicted labels outside the scheme count as
  the label ``"<none>"`` (always wrong).
- Page labels: ``collapse(type, story_start, scheme)`` (``scheme`` "ours" keeps our types and
  evaluates story starts only through segments; "cosmo5" / "cosmo_v4" read a story start as
  ``first-page``).
- Accuracy: correct pages / pages, pooled over books.
- Per-class precision / recall / F1 over the stated ``labels``; **macro-F1** averages F1 over
  the labels with true support > 0. Labels with zero support are excluded from the average
  and listed in ``zero_support`` (their predictions still count as errors elsewhere).
- Segments: maximal runs of pages with the same *segment label* (the page type collapsed
  without its story start), a new segment also starting at every story start. So two adjacent
  stories separated only by a story start are two segments.
- **PQ** (panoptic quality, class-aware): a predicted and a true segment match when they have
  the same segment label and page IoU > 0.5 (a match is then unique). PQ = sum of matched IoU /
  (TP + FP/2 + FN/2), pooled over all segments of all books (``pq``); ``pq_per_class`` and
  their mean over classes with true segments (``pq_macro``) are given too. SQ and RQ likewise.
- **Boundary F1** at tolerance k pages: a boundary is a page index i >= 1 where a segment
  begins; predicted and true boundaries are matched one to one when |i - j| <= k (maximum
  matching, per book); F1 = 2 * matched / (predicted + true), pooled over books (1.0 when
  neither side has a boundary). Class-blind by design; PQ is the class-aware measure.
- **MnDD** (minimum number of drag-and-drops, one-to-one): true and predicted segments are
  matched one to one maximising the total page overlap (Hungarian method); every page not
  inside its matched pair must be moved: MnDD = pages - sum of matched overlaps. Segments
  are class-blind here (a segmentation measure). With one-to-one matching an all-``story``
  prediction pays for every page outside the largest true segment. ``mndd`` is the mean per
  book, ``mndd_per_page`` the total over total pages.
- ``story_start_f1``: page-level F1 of the story-start flag (exact position).
- Confusion matrix: rows = true, columns = predicted, over ``labels`` (+ ``"<none>"`` as the
  last column when any prediction falls outside them).

Baselines (:func:`baseline_all_story`, :func:`baseline_cover_first_back_last`) return
predictions for a book from its length alone, so they are computed on the same data as the
model (:func:`evaluate_with_baselines`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..dataspec.records import PAGE_TYPES
from ..dataspec.stats import markdown_table
from ..dataspec.taxonomy import LABEL_SETS, collapse

NONE_LABEL = "<none>"


@dataclass(frozen=True)
class Segment:
    """A run of pages ``first..last`` (inclusive, indices in the evaluated page list)."""

    label: str
    first: int
    last: int

    @property
    def pages(self) -> int:
        return self.last - self.first + 1


@dataclass
class BookLabels:
    """Per-page page types (our taxonomy, ``None`` = unlabelled) and story-start flags of one book."""

    book_id: str
    page_types: list[str | None]
    story_start: list[bool]

    def __post_init__(self) -> None:
        if len(self.page_types) != len(self.story_start):
            raise ValueError(
                f"book {self.book_id}: {len(self.page_types)} page_types but "
                f"{len(self.story_start)} story_start flags"
            )
        for i, page_type in enumerate(self.page_types):
            if page_type is not None and page_type not in PAGE_TYPES:
                raise ValueError(
                    f"book {self.book_id}, page {i}: unknown page_type {page_type!r}; "
                    f"expected one of {', '.join(PAGE_TYPES)}"
                )

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> BookLabels:
        return cls(str(row["book_id"]), list(row["page_types"]), [bool(s) for s in row["story_start"]])


def segments(labels: Sequence[str], starts: Sequence[bool] | None = None) -> list[Segment]:
    """Maximal runs of equal labels, a new run also at every ``starts[i]`` (i >= 1)."""
    result: list[Segment] = []
    for i, label in enumerate(labels):
        if result and result[-1].label == label and not (starts is not None and starts[i]):
            result[-1] = Segment(label, result[-1].first, i)
        else:
            result.append(Segment(label, i, i))
    return result


def boundaries(segs: Sequence[Segment]) -> list[int]:
    """Page indices where a segment begins, excluding the book's first page."""
    return [s.first for s in segs if s.first > 0]


def match_boundaries(pred: Sequence[int], true: Sequence[int], tolerance: int) -> int:
    """Size of a maximum one-to-one matching of boundaries with |p - t| <= tolerance.

    Greedy over both sorted lists is optimal for matching points on a line within a window."""
    pred, true = sorted(pred), sorted(true)
    i = j = matched = 0
    while i < len(pred) and j < len(true):
        if abs(pred[i] - true[j]) <= tolerance:
            matched, i, j = matched + 1, i + 1, j + 1
        elif pred[i] < true[j]:
            i += 1
        else:
            j += 1
    return matched


def _overlap(a: Segment, b: Segment) -> int:
    return max(0, min(a.last, b.last) - max(a.first, b.first) + 1)


def mndd(pred: Sequence[Segment], true: Sequence[Segment]) -> int:
    """Minimum number of drag-and-drops with one-to-one segment matching (class-blind)."""
    n = sum(s.pages for s in true)
    if not pred or not true:
        return n
    overlap = np.array([[_overlap(p, t) for t in true] for p in pred], dtype=np.int64)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return int(n - overlap[rows, cols].sum())


def pq_counts(pred: Sequence[Segment], true: Sequence[Segment]) -> dict[str, dict[str, float]]:
    """Per segment label: ``tp``, ``fp``, ``fn`` and ``iou_sum`` (class-aware, IoU > 0.5)."""
    counts: dict[str, dict[str, float]] = {}

    def entry(label: str) -> dict[str, float]:
        return counts.setdefault(label, {"tp": 0, "fp": 0, "fn": 0, "iou_sum": 0.0})

    matched_true: set[int] = set()
    for p in pred:
        hit = None
        for t_index, t in enumerate(true):
            if t.label != p.label or t_index in matched_true:
                continue
            inter = _overlap(p, t)
            iou = inter / (p.pages + t.pages - inter)
            if iou > 0.5:
                hit = (t_index, iou)
                break
        if hit is None:
            entry(p.label)["fp"] += 1
        else:
            matched_true.add(hit[0])
            entry(p.label)["tp"] += 1
            entry(p.label)["iou_sum"] += hit[1]
    for t_index, t in enumerate(true):
        if t_index not in matched_true:
            entry(t.label)["fn"] += 1
    return counts


def _pq(c: dict[str, float]) -> tuple[float, float, float]:
    """(PQ, SQ, RQ) of one count dict."""
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    denominator = tp + 0.5 * fp + 0.5 * fn
    if denominator == 0:
        return 1.0, 1.0, 1.0
    sq = c["iou_sum"] / tp if tp else 0.0
    rq = tp / denominator
    return c["iou_sum"] / denominator, sq, rq


def _check_labels(labels: Sequence[str], scheme: str) -> list[str]:
    if scheme not in LABEL_SETS:
        raise ValueError(f"unknown label scheme {scheme!r}; expected one of {', '.join(LABEL_SETS)}")
    allowed = set(LABEL_SETS[scheme])
    unknown = [label for label in labels if label not in allowed]
    if unknown:
        raise ValueError(f"labels {unknown} are not in the {scheme} label set {LABEL_SETS[scheme]}")
    return list(labels)


def _prepared(
    truth: BookLabels, pred: BookLabels, scheme: str
) -> tuple[list[str], list[str], list[Segment], list[Segment], list[bool], list[bool]]:
    """Page labels, segments and story starts of truth and prediction, unlabelled true pages dropped."""
    if len(truth.page_types) != len(pred.page_types):
        raise ValueError(
            f"book {truth.book_id}: prediction has {len(pred.page_types)} pages, "
            f"truth {len(truth.page_types)}"
        )
    keep = [i for i, t in enumerate(truth.page_types) if collapse(t, False, scheme) is not None]
    t_page = [collapse(truth.page_types[i], truth.story_start[i], scheme) for i in keep]
    p_page = [collapse(pred.page_types[i], pred.story_start[i], scheme) or NONE_LABEL for i in keep]
    t_seg_labels = [collapse(truth.page_types[i], False, scheme) for i in keep]
    p_seg_labels = [collapse(pred.page_types[i], False, scheme) or NONE_LABEL for i in keep]
    t_starts = [truth.story_start[i] and truth.page_types[i] == "story" for i in keep]
    p_starts = [pred.story_start[i] and pred.page_types[i] == "story" for i in keep]
    return (
        t_page,
        p_page,
        segments(t_seg_labels, t_starts),
        segments(p_seg_labels, p_starts),
        t_starts,
        p_starts,
    )


def evaluate(
    truth: Sequence[BookLabels | dict],
    pred: Sequence[BookLabels | dict],
    labels: Sequence[str] | None = None,
    scheme: str = "ours",
    tolerances: Sequence[int] = (0, 1),
) -> dict[str, Any]:
    """All PSS metrics of ``pred`` against ``truth`` (same books, same order, same page counts).

    ``labels``: the label list the per-class and macro numbers are stated over (default: every
    label of ``scheme``). Returns a JSON-ready dict (see the module docstring)."""
    labels = _check_labels(labels if labels is not None else LABEL_SETS[scheme], scheme)
    truth = [b if isinstance(b, BookLabels) else BookLabels.from_dict(b) for b in truth]
    pred = [b if isinstance(b, BookLabels) else BookLabels.from_dict(b) for b in pred]
    if len(truth) != len(pred):
        raise ValueError(f"{len(pred)} predicted books for {len(truth)} true books")
    index = {label: i for i, label in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels) + 1), dtype=np.int64)
    correct = pages = mndd_total = 0
    outside_true: set[str] = set()
    boundary = {k: [0, 0, 0] for k in tolerances}  # matched, predicted, true
    pq_total: dict[str, dict[str, float]] = {}
    start_counts = [0, 0, 0]  # both, predicted, true
    for t_book, p_book in zip(truth, pred, strict=True):
        if t_book.book_id != p_book.book_id:
            raise ValueError(f"book order differs: truth {t_book.book_id}, prediction {p_book.book_id}")
        t_page, p_page, t_segs, p_segs, t_starts, p_starts = _prepared(t_book, p_book, scheme)
        for t_start, p_start in zip(t_starts, p_starts, strict=True):
            start_counts[0] += t_start and p_start
            start_counts[1] += p_start
            start_counts[2] += t_start
        for t_label, p_label in zip(t_page, p_page, strict=True):
            pages += 1
            correct += t_label == p_label
            if t_label not in index:
                outside_true.add(t_label)
                continue
            confusion[index[t_label], index.get(p_label, len(labels))] += 1
        t_bounds, p_bounds = boundaries(t_segs), boundaries(p_segs)
        for k in tolerances:
            boundary[k][0] += match_boundaries(p_bounds, t_bounds, k)
            boundary[k][1] += len(p_bounds)
            boundary[k][2] += len(t_bounds)
        book_mndd = mndd(p_segs, t_segs)
        mndd_total += book_mndd
        for label, c in pq_counts(p_segs, t_segs).items():
            total = pq_total.setdefault(label, {"tp": 0, "fp": 0, "fn": 0, "iou_sum": 0.0})
            for key in total:
                total[key] += c[key]
    if outside_true:
        raise ValueError(f"true labels {sorted(outside_true)} are not in the stated label list {labels}")

    # ours, not sklearn's precision_recall_fscore_support: scikit-learn is no base dependency, and
    # this reads the confusion matrix that the report returns anyway
    per_class = {}
    for i, label in enumerate(labels):
        tp = int(confusion[i, i])
        support = int(confusion[i].sum())
        predicted = int(confusion[:, i].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
            "predicted": predicted,
        }
    scored = [label for label in labels if per_class[label]["support"] > 0]
    pooled = {"tp": 0, "fp": 0, "fn": 0, "iou_sum": 0.0}
    for c in pq_total.values():
        for key in pooled:
            pooled[key] += c[key]
    pq, sq, rq = _pq(pooled)
    pq_per_class = {label: _pq(c)[0] for label, c in sorted(pq_total.items())}
    true_seg_classes = [label for label, c in pq_total.items() if c["tp"] + c["fn"] > 0]
    with_none = bool(confusion[:, len(labels)].sum())
    return {
        "scheme": scheme,
        "labels": labels,
        "books": len(truth),
        "pages": pages,
        "accuracy": correct / pages if pages else 0.0,
        "macro_f1": float(np.mean([per_class[label]["f1"] for label in scored])) if scored else 0.0,
        "macro_f1_labels": scored,
        "zero_support": [label for label in labels if label not in scored],
        "per_class": per_class,
        "pq": pq,
        "sq": sq,
        "rq": rq,
        "pq_macro": float(np.mean([pq_per_class[label] for label in true_seg_classes]))
        if true_seg_classes
        else 0.0,
        "pq_per_class": pq_per_class,
        "segments_true": int(pooled["tp"] + pooled["fn"]),
        "segments_pred": int(pooled["tp"] + pooled["fp"]),
        **{f"boundary_f1_{k}": (2 * m / (p + t) if p + t else 1.0) for k, (m, p, t) in boundary.items()},
        "story_start_f1": (
            2 * start_counts[0] / (start_counts[1] + start_counts[2])
            if start_counts[1] + start_counts[2]
            else 1.0
        ),
        "mndd": mndd_total / len(truth) if truth else 0.0,
        "mndd_per_page": mndd_total / pages if pages else 0.0,
        "confusion": {
            "rows_true": labels,
            "cols_pred": labels + ([NONE_LABEL] if with_none else []),
            "matrix": confusion[:, : len(labels) + int(with_none)].tolist(),
        },
    }


def baseline_all_story(book: BookLabels | dict) -> BookLabels:
    """Every page ``story``; one story start, on the first page."""
    book = book if isinstance(book, BookLabels) else BookLabels.from_dict(book)
    n = len(book.page_types)
    return BookLabels(book.book_id, ["story"] * n, [i == 0 for i in range(n)])


def baseline_cover_first_back_last(book: BookLabels | dict) -> BookLabels:
    """Page 0 ``cover``, the last page ``back_cover`` (books of 2+ pages), the rest ``story``
    with one story start on page 1."""
    book = book if isinstance(book, BookLabels) else BookLabels.from_dict(book)
    n = len(book.page_types)
    types = ["story"] * n
    types[0] = "cover"
    if n > 1:
        types[-1] = "back_cover"
    return BookLabels(book.book_id, types, [i == 1 and types[i] == "story" for i in range(n)])


BASELINES = {"all_story": baseline_all_story, "cover_first_back_last": baseline_cover_first_back_last}


def evaluate_with_baselines(
    truth: Sequence[BookLabels | dict],
    pred: Sequence[BookLabels | dict] | None = None,
    labels: Sequence[str] | None = None,
    scheme: str = "ours",
) -> dict[str, dict[str, Any]]:
    """``{"model": ..., "all_story": ..., "cover_first_back_last": ...}`` on the same books
    (``model`` only when ``pred`` is given)."""
    truth = [b if isinstance(b, BookLabels) else BookLabels.from_dict(b) for b in truth]
    result = {}
    if pred is not None:
        result["model"] = evaluate(truth, pred, labels, scheme)
    for name, baseline in BASELINES.items():
        result[name] = evaluate(truth, [baseline(b) for b in truth], labels, scheme)
    return result


SUMMARY_KEYS = ("accuracy", "macro_f1", "story_start_f1", "pq", "boundary_f1_0", "boundary_f1_1", "mndd")


def per_class_text(metrics: dict[str, Any]) -> str:
    """``label F1`` for each label scored by macro-F1 (the labels present in the books)."""
    return ", ".join(
        f"{label} {metrics['per_class'][label]['f1']:.3f}" for label in metrics["macro_f1_labels"]
    )


def summary_markdown(results: dict[str, dict[str, Any]], keys: Sequence[str] = SUMMARY_KEYS) -> str:
    """A Markdown table (one row per system) of :func:`evaluate_with_baselines` output."""
    rows = [[name, *(f"{metrics[k]:.3f}" for k in keys)] for name, metrics in results.items()]
    return markdown_table(["system", *keys], rows) + "\n"
