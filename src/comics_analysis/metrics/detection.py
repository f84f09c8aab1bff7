"""CoMix-style detection evaluation: COCO AP and AP50 per class with pycocotools.

Classes and their CoMix category ids: panel 1, character 2, text 4, face 7 (``dataspec.coco``,
the one home of the category table and of :func:`~comics_analysis.dataspec.coco.to_coco`, which
writes pages as a COCO dict in CoMix's layout). A prediction without a score counts as score 1.0.
:func:`evaluate_detection` pairs prediction pages with truth pages (page_id, else the tail of the
source path), writes both sides with the same image ids and runs ``COCOeval`` once per class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..dataspec import Page
from ..dataspec.coco import CLASSES, to_coco
from .panels import coco_eval, pair_pages


def evaluate_detection(
    truth_pages: Sequence[Page], pred_pages: Sequence[Page], classes: Sequence[str] = tuple(CLASSES)
) -> dict:
    """``{"classes": {name: {"ap", "ap50", "truth", "pred"}}, "mean_ap", "mean_ap50", "pages",
    "missing"}``; means are over classes present in the truth (CoMix reports per class)."""
    pairs, missing = pair_pages(truth_pages, pred_pages)
    truth = [t for t, _ in pairs]
    preds = [p for _, p in pairs]
    gt = to_coco(truth, classes=classes)
    dt = to_coco(preds, with_scores=True, classes=classes)["annotations"]
    per_class = {}
    for name in classes:
        ap, ap50 = coco_eval(gt, dt, CLASSES[name])
        per_class[name] = {
            "ap": None if math.isnan(ap) else ap,
            "ap50": None if math.isnan(ap50) else ap50,
            "truth": sum(a["category_id"] == CLASSES[name] for a in gt["annotations"]),
            "pred": sum(d["category_id"] == CLASSES[name] for d in dt),
        }
    present = [v for v in per_class.values() if v["ap"] is not None]
    return {
        "classes": per_class,
        "mean_ap": sum(v["ap"] for v in present) / len(present) if present else None,
        "mean_ap50": sum(v["ap50"] for v in present) / len(present) if present else None,
        "pages": len(pairs),
        "missing": missing,
    }
