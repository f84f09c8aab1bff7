"""CoMix-style detection evaluation: COCO AP and AP50 per class with pycocotools.

Classes and their CoMix category ids (``emanuelevivoli/CoMix``): panel 1, character 2, text 4,
face 7. From a DataSpec page: ``panels`` -> panel; ``characters`` labelled ``character`` or
``face`` -> character / face; ``texts`` of every kind but ``sfx`` -> text (CoMix keeps
onomatopoeia apart, category 5; the comix builder maps category 4 to kind ``unknown`` and 5 to
``sfx``). A prediction without a score counts as score 1.0.

:func:`to_coco` writes pages as one COCO dict in CoMix's layout (``images`` with
``file_name`` = ``<book>/<page file>``, ``annotations`` with ``bbox`` [x, y, w, h] pixels,
``area``, ``iscrowd`` and, for predictions, ``score``; ``categories``), which the comix builder
(``pages_from_coco``) and the panel importer (``annotate.coco``) read back.
:func:`evaluate_detection` pairs prediction pages with truth pages (page_id, else the tail of the
source path), writes both sides with the same image ids and runs ``COCOeval`` once per class.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence

from ..dataspec import Page
from .panels import pair_pages

CLASSES: dict[str, int] = {"panel": 1, "character": 2, "text": 4, "face": 7}
COMIX_CATEGORIES = [
    {"id": 1, "name": "panel"},
    {"id": 2, "name": "character"},
    {"id": 3, "name": "balloon"},
    {"id": 4, "name": "text"},
    {"id": 5, "name": "onomatopoeia"},
    {"id": 7, "name": "face"},
]


def boxes_of(page: Page, name: str) -> list[tuple[list[float], float]]:
    """(bbox, score) of one class on a page."""
    if name == "panel":
        items = page.panels
    elif name in ("character", "face"):
        items = [c for c in page.characters if c.label == name]
    elif name == "text":
        items = [t for t in page.texts if t.kind != "sfx"]
    else:
        raise ValueError(f"unknown detection class {name!r}; expected one of {', '.join(CLASSES)}")
    return [
        ([float(v) for v in item.bbox], 1.0 if item.score is None else float(item.score)) for item in items
    ]


def file_name(page: Page) -> str:
    """The page's COCO ``file_name``: its source entry (``<book>/<file>``) when known, else its id."""
    entry = page.provenance.source_entry
    if entry:
        source = page.provenance.source_path
        if source and "/" not in entry:
            return f"{source.rstrip('/').rsplit('/', 1)[-1]}/{entry}"
        return entry
    return page.page_id


def to_coco(
    pages: Sequence[Page],
    with_scores: bool = False,
    classes: Sequence[str] = tuple(CLASSES),
    image_ids: Sequence[int] | None = None,
) -> dict:
    """Pages as one COCO dict in CoMix's layout (``with_scores`` for predictions)."""
    if image_ids is not None and len(image_ids) != len(pages):
        raise ValueError(f"{len(image_ids)} image ids for {len(pages)} pages")
    images, annotations = [], []
    for i, page in enumerate(pages):
        image_id = int(image_ids[i]) if image_ids is not None else i + 1
        images.append(
            {"id": image_id, "file_name": file_name(page), "width": page.width, "height": page.height}
        )
        for name in classes:
            for bbox, score in boxes_of(page, name):
                ann = {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": CLASSES[name],
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
                if with_scores:
                    ann["score"] = score
                annotations.append(ann)
    return {"images": images, "annotations": annotations, "categories": list(COMIX_CATEGORIES)}


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
