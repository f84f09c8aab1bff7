"""Lettered-text metrics: detection of text blocks, character error rate, kind and panel assignment.

Predicted blocks are paired one-to-one with true text boxes by IoU (Hungarian, IoU >= 0.3: OCR
boxes are looser or tighter than lettering). CER = total edit distance / total true characters
over the pairs, after folding case and whitespace (lettering is mostly capitals; OCR's case is
not what we measure). Panel assignment is right when the predicted panel is the one matched to
the true panel (panels paired by IoU >= 0.5).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from .panels import match_boxes, pair_pages


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().upper()


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

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate_text(truth_pages, pred_pages, kinds: tuple[str, ...] | None = None, iou: float = 0.3) -> dict:
    """Text metrics of DataSpec predictions against DataSpec truth; ``kinds`` filters true boxes."""
    from rapidfuzz.distance import Levenshtein

    pairs, missing = pair_pages(truth_pages, pred_pages)
    s = TextSummary(pages=len(pairs))
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
    s.precision = s.matched / s.pred if s.pred else 0.0
    s.recall = s.matched / s.truth if s.truth else 0.0
    if s.matched:
        s.cer = edits / max(chars, 1)
        s.exact_text = exact / s.matched
        s.kind_accuracy = kind_ok / s.matched
        s.panel_accuracy = panel_ok / s.matched
    return {"overall": s, "missing": missing}
