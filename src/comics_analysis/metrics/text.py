"""Lettered-text metrics: detection of text blocks, character error rate, kind and panel assignment.

Predicted blocks are paired one-to-one with true text boxes by IoU (Hungarian, IoU >= 0.3: OCR
boxes are looser or tighter than lettering). CER = total edit distance / total true characters
over the pairs, after folding case and whitespace (lettering is mostly capitals; OCR's case is
not what we measure). Panel assignment is right when the predicted panel is the one matched to
the true panel (panels paired by IoU >= 0.5).

Balloon-level (lettering unit) figures, the same for any truth (ACBF text-areas, OpenMantra text
boxes, DataSpec truth), where a unit is one TextBox:

- exact units: one-to-one (Hungarian) pairs with IoU >= ``unit_iou`` (0.5); unit precision and
  recall divide their count by the predicted and true units;
- merged units: a predicted unit *holds* a true unit when at least ``min_share`` (0.5) of the
  true unit's area lies inside it (DataSpec keeps no word boxes, so area stands for words); the
  merged-unit rate is the share of predicted units holding any true unit that hold 2 or more;
- words: bags of words per page (:func:`words`: letters and digits, case-folded, hyphens and
  other punctuation split words); matched words = the size of the multiset intersection; word
  recall = matched / true words, word precision = matched / predicted words (with ``kinds``, true
  words are those of the chosen kinds, predicted words all of the page's).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ..dataspec.geometry import intersection
from .panels import Box, match_boxes, pair_pages

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().upper()


def words(text: str) -> list[str]:
    """Case-folded words of ``text``: runs of letters and digits (an inner apostrophe kept)."""
    return [w.replace("\u2019", "'") for w in _WORD.findall(text.casefold())]


def common_words(truth: Sequence[str], pred: Sequence[str]) -> int:
    """Size of the multiset intersection of two bags of words."""
    return sum((Counter(truth) & Counter(pred)).values())


def held_units(truth: Sequence[Box], pred: Sequence[Box], min_share: float = 0.5) -> list[list[int]]:
    """For each predicted unit, the true units with at least ``min_share`` of their area inside it."""
    held = []
    for p in pred:
        held.append(
            [
                i
                for i, t in enumerate(truth)
                if t[2] * t[3] > 0 and intersection(t, p) >= min_share * t[2] * t[3]
            ]
        )
    return held


@dataclass
class TextSummary:
    pages: int = 0
    truth: int = 0
    pred: int = 0
    matched: int = 0
    precision: float = 0.0
    recall: float = 0.0
    cer: float | None = None
    exact_text: float | None = None
    kind_accuracy: float | None = None
    panel_accuracy: float | None = None
    unit_iou: float = 0.5
    units_exact: int = 0
    unit_precision: float = 0.0
    unit_recall: float = 0.0
    merged_units: int = 0  # predicted units holding 2+ true units
    holding_units: int = 0  # predicted units holding 1+ true units
    merged_unit_rate: float | None = None
    true_words: int = 0
    pred_words: int = 0
    matched_words: int = 0
    word_precision: float | None = None
    word_recall: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate_text(
    truth_pages,
    pred_pages,
    kinds: tuple[str, ...] | None = None,
    iou: float = 0.3,
    unit_iou: float = 0.5,
    min_share: float = 0.5,
) -> dict:
    """Text metrics of DataSpec predictions against DataSpec truth; ``kinds`` filters true boxes."""
    from rapidfuzz.distance import Levenshtein

    pairs, missing = pair_pages(truth_pages, pred_pages)
    s = TextSummary(pages=len(pairs), unit_iou=unit_iou)
    edits = chars = exact = kind_ok = panel_ok = 0
    for truth, pred in pairs:
        wanted = [t for t in truth.texts if kinds is None or t.kind in kinds]
        s.truth += len(wanted)
        s.pred += len(pred.texts)
        matches = match_boxes([t.bbox for t in wanted], [t.bbox for t in pred.texts], iou)
        panel_map = {
            p: t for t, p, _ in match_boxes([p.bbox for p in truth.panels], [p.bbox for p in pred.panels])
        }
        for t_index, p_index, _ in matches:
            true_box, pred_box = wanted[t_index], pred.texts[p_index]
            a, b = normalise(true_box.text), normalise(pred_box.text)
            edits += Levenshtein.distance(a, b)
            chars += len(a)
            exact += a == b
            kind_ok += true_box.kind == pred_box.kind
            panel_ok += (
                panel_map.get(pred_box.panel, -1) == true_box.panel
                if pred_box.panel >= 0
                else true_box.panel == -1
            )
        s.matched += len(matches)
        true_boxes, pred_boxes = [t.bbox for t in wanted], [t.bbox for t in pred.texts]
        s.units_exact += len(match_boxes(true_boxes, pred_boxes, unit_iou))
        held = held_units(true_boxes, pred_boxes, min_share)
        s.merged_units += sum(len(h) >= 2 for h in held)
        s.holding_units += sum(len(h) >= 1 for h in held)
        true_words = [w for t in wanted for w in words(t.text)]
        pred_words = [w for t in pred.texts for w in words(t.text)]
        s.true_words += len(true_words)
        s.pred_words += len(pred_words)
        s.matched_words += common_words(true_words, pred_words)
    s.unit_precision = s.units_exact / s.pred if s.pred else 0.0
    s.unit_recall = s.units_exact / s.truth if s.truth else 0.0
    s.merged_unit_rate = s.merged_units / s.holding_units if s.holding_units else None
    s.word_precision = s.matched_words / s.pred_words if s.pred_words else None
    s.word_recall = s.matched_words / s.true_words if s.true_words else None
    s.precision = s.matched / s.pred if s.pred else 0.0
    s.recall = s.matched / s.truth if s.truth else 0.0
    if s.matched:
        s.cer = edits / max(chars, 1)
        s.exact_text = exact / s.matched
        s.kind_accuracy = kind_ok / s.matched
        s.panel_accuracy = panel_ok / s.matched
    return {"overall": s, "missing": missing}
