"""Import panel detections from COCO files (e.g. a CoMix detector's output).

Accepts a full COCO dict (``images`` with ``file_name`` + ``annotations``) or a bare results list
plus an id map (``{image_id: file_name}``). CoMix category ids: 1 panel, 2 character, 3 balloon,
4 text, 5 onomatopoeia, 7 face; only panels (category 1 by default) at or above ``min_score``
are kept. Pages are found by the longest common tail of their path: book folder + file name,
or the file name alone when the COCO file names bare files.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ..dataspec.paths import TailIndex
from .panels import Detection

CATEGORIES = {1: "panel", 2: "character", 3: "balloon", 4: "text", 5: "onomatopoeia", 7: "face"}


class CocoPredictions:
    def __init__(
        self,
        path: str | Path,
        id_map: str | Path | dict | None = None,
        min_score: float = 0.5,
        category: int = 1,
    ):
        if category not in CATEGORIES:
            raise ValueError(f"unknown CoMix category {category}; expected one of {CATEGORIES}")
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a readable COCO JSON file: {exc}") from None
        if isinstance(data, dict):
            names = {img["id"]: img["file_name"] for img in data.get("images", [])}
            detections = data.get("annotations", [])
        elif isinstance(data, list):
            names, detections = {}, data
        else:
            raise ValueError(f"{path}: expected a COCO dict or a list of detections")
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


@lru_cache(maxsize=4)
def load_coco(path: str, min_score: float = 0.5) -> CocoPredictions:
    return CocoPredictions(path, min_score=min_score)
