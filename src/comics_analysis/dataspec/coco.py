"""COCO files in CoMix's layout: the category table, reading a file, writing pages.

The one home of the CoMix category ids (``emanuelevivoli/CoMix``): 1 panel, 2 character,
3 balloon, 4 text, 5 onomatopoeia, 7 face (6, ``link_sbsc``, links a balloon to a character and
is no box). Readers: the ``coco:FILE`` panel detector (``annotate.detectors.coco``) and the
comix builder (``dataset_builders.comix.pages_from_coco``); writer: :func:`to_coco`, used by the
detection metrics (``metrics.detection``).

From a DataSpec page (:func:`boxes_of`): ``panels`` -> panel; ``characters`` labelled
``character`` or ``face`` -> character / face; ``texts`` of every kind but ``sfx`` -> text
(CoMix keeps onomatopoeia apart, category 5; the comix builder maps category 4 to kind
``unknown`` and 5 to ``sfx``). A box without a score counts as score 1.0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .records import DataSpecError, Page

CATEGORIES: dict[int, str] = {
    1: "panel",
    2: "character",
    3: "balloon",
    4: "text",
    5: "onomatopoeia",
    7: "face",
}
CATEGORY_IDS: dict[str, int] = {name: category for category, name in CATEGORIES.items()}
IGNORED_CATEGORIES: dict[int, str] = {6: "link_sbsc"}  # a link between two boxes, not a box
COMIX_CATEGORIES: list[dict[str, Any]] = [{"id": k, "name": v} for k, v in CATEGORIES.items()]
# the classes the detection metrics score, and what a DataSpec page gives for them
CLASSES: dict[str, int] = {name: CATEGORY_IDS[name] for name in ("panel", "character", "text", "face")}


def read_coco_json(path: str | Path) -> dict[str, Any] | list[Any]:
    """The parsed JSON of a COCO file: a dict (``images``, ``annotations``) or a bare results list.
    Raises :class:`DataSpecError` naming the file when it is unreadable or neither."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataSpecError(f"not a readable COCO JSON file: {exc}", file=str(path)) from None
    if not isinstance(data, dict | list):
        raise DataSpecError("expected a COCO dict or a list of detections", file=str(path))
    return data


def read_coco(path: str | Path) -> dict[str, Any]:
    """A COCO dict with an ``images`` list (and an ``annotations`` list, possibly empty)."""
    data = read_coco_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataSpecError("expected a COCO dict with an 'images' list", field="images", file=str(path))
    if not isinstance(data.get("annotations", []), list):
        raise DataSpecError("expected a list", field="annotations", file=str(path))
    return data


def boxes_of(page: Page, name: str) -> list[tuple[list[float], float]]:
    """(bbox, score) of one class (a key of :data:`CLASSES`) on a page."""
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
    """Pages as one COCO dict in CoMix's layout (``with_scores`` for predictions): ``images`` with
    ``file_name`` = ``<book>/<page file>``, ``annotations`` with ``bbox`` [x, y, w, h] pixels,
    ``area``, ``iscrowd`` and, for predictions, ``score``; ``categories``. The comix builder and
    the ``coco:FILE`` detector read it back."""
    if image_ids is not None and len(image_ids) != len(pages):
        raise ValueError(f"image_ids: {len(image_ids)} ids for {len(pages)} pages")
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
