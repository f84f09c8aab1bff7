"""The ``coco:FILE`` panel "detector": import of COCO predictions (e.g. a CoMix detector's output).

Accepts a full COCO dict (``images`` with ``file_name`` + ``annotations``) or a bare results list
plus an id map (``{image_id: file_name}``). Category ids are CoMix's (``dataspec.coco``); only
panels (category 1 by default) at or above ``min_score`` are kept. Pages are found by the longest
common tail of their path: book folder + file name, or the file name alone when the COCO file
names bare files.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ...dataspec.coco import CATEGORIES, read_coco_json
from ...dataspec.paths import TailIndex
from .base import Detection


class CocoPredictions:
    """Panels of each image in a COCO file; ``coco:FILE`` in the detector registry."""

    name = "coco"
    missing = "page not in the COCO file"

    def __init__(
        self,
        path: str | Path,
        id_map: str | Path | dict | None = None,
        min_score: float = 0.5,
        category: int = 1,
    ):
        if category not in CATEGORIES:
            raise ValueError(f"category: unknown CoMix category {category}; expected one of {CATEGORIES}")
        path = Path(path)
        data = read_coco_json(path)
        if isinstance(data, dict):
            names = {img["id"]: img["file_name"] for img in data.get("images", [])}
            detections = data.get("annotations", [])
        else:
            names, detections = {}, data
        if id_map is not None:
            mapping = (
                id_map if isinstance(id_map, dict) else json.loads(Path(id_map).read_text(encoding="utf-8"))
            )
            names.update({int(k) if str(k).isdigit() else k: v for k, v in mapping.items()})
        if detections and not names:
            raise ValueError(
                f"{path}: detections name image ids only; pass an id map {{image_id: file_name}}"
            )
        self.by_name: dict[str, list[Detection]] = {name.replace("\\", "/"): [] for name in names.values()}
        for det in detections:
            if det.get("category_id") != category or det.get("score", 1.0) < min_score:
                continue
            name = names.get(det["image_id"])
            if name is None:
                raise ValueError(f"{path}: detection for unknown image id {det['image_id']!r}")
            x, y, w, h = (float(v) for v in det["bbox"])
            self.by_name[name.replace("\\", "/")].append(
                Detection((x, y, w, h), float(det.get("score", 1.0)))
            )
        self.index: TailIndex[str] = TailIndex()
        for name in self.by_name:
            self.index.add(name, name)

    def for_path(self, path: str) -> list[Detection] | None:
        """Detections of the image at ``path`` (longest unambiguous tail match), None if absent.
        A bare file name is enough only when the COCO file itself names bare files."""
        name = self.index.find(path, min_parts=lambda stored: min(2, stored.count("/") + 1))
        return None if name is None else list(self.by_name[name])

    def __call__(self, image, source: str | None = None) -> list[Detection] | None:
        """The detections of the page at ``source`` (the image itself is not looked at)."""
        if source is None:
            raise ValueError("source: the coco detector finds pages by their path; none was given")
        return self.for_path(source)


@lru_cache(maxsize=4)
def load_coco(path: str, min_score: float = 0.5) -> CocoPredictions:
    return CocoPredictions(path, min_score=min_score)
