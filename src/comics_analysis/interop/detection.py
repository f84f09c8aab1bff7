"""Detection datasets from annotations, for training detectors elsewhere: COCO and YOLO.

- COCO: ``OUT/annotations.json`` in CoMix's layout (:func:`comics_analysis.dataspec.to_coco`:
  category ids 1 panel, 2 character, 4 text, 7 face; ``file_name`` = ``<book>/<page file>``),
  read back by ``annotate --detector coco:OUT/annotations.json`` and the comix builder.
- YOLO (Ultralytics layout): ``OUT/images/<stem>.<ext>``, ``OUT/labels/<stem>.txt`` with one
  ``class cx cy w h`` line per box (fractions of the page), ``OUT/data.yaml`` naming the classes
  (0 panel, 1 character, 2 text, 3 face).

Images are linked (symbolic links, the default), copied, or left out (``images="none"``: the
annotation files only). Only pages with an image file are written; the others are counted.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..annotate.pipeline import read_annotations, recorded_images_root
from ..dataspec import Page, atomic_write
from ..dataspec.coco import CLASSES, boxes_of, to_coco
from ..dataspec.io import resolve_image

YOLO_CLASSES = tuple(CLASSES)  # panel, character, text, face: YOLO ids 0..3
IMAGE_MODES = ("link", "copy", "none")


@dataclass
class DetectionExport:
    folder: Path
    pages: int = 0
    boxes: dict[str, int] = field(default_factory=dict)
    missing_images: list[str] = field(default_factory=list)

    def summary_text(self) -> str:
        boxes = ", ".join(f"{k} {v}" for k, v in self.boxes.items()) or "none"
        line = f"{self.pages} pages -> {self.folder} (boxes: {boxes})"
        if self.missing_images:
            line += f"; {len(self.missing_images)} page(s) without an image file left out"
        return line


def _pages_with_images(pages_arg, images_root) -> tuple[list[tuple[Page, Path | None]], list[str]]:
    root = Path(images_root) if images_root is not None else recorded_images_root(pages_arg)
    kept, missing = [], []
    for page in read_annotations(pages_arg):
        path = resolve_image(root, page.image, page.page_id) if root is not None and page.image else None
        if path is None or not path.is_file():
            missing.append(page.page_id)
            continue
        kept.append((page, path))
    if not kept:
        raise FileNotFoundError(f"{pages_arg}: no page with an image file (images root {root})")
    return kept, missing


def _place(source: Path, target: Path, images: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    if images == "link":
        os.symlink(source.resolve(), target)
    else:
        shutil.copy2(source, target)


def _check(images: str) -> None:
    if images not in IMAGE_MODES:
        raise ValueError(f"unknown images mode {images!r}; expected one of {', '.join(IMAGE_MODES)}")


def export_coco(pages_arg, out, images: str = "link", images_root=None) -> DetectionExport:
    """COCO of an annotate folder (module docstring); ``images`` link / copy / none."""
    _check(images)
    out = Path(out)
    kept, missing = _pages_with_images(pages_arg, images_root)
    pages = [page for page, _ in kept]
    coco = to_coco(pages)
    result = DetectionExport(out, pages=len(pages), missing_images=missing)
    for ann in coco["annotations"]:
        name = next(c["name"] for c in coco["categories"] if c["id"] == ann["category_id"])
        result.boxes[name] = result.boxes.get(name, 0) + 1
    if images != "none":
        for (_, path), image in zip(kept, coco["images"]):
            _place(path, out / "images" / image["file_name"], images)
    with atomic_write(out / "annotations.json") as handle:
        json.dump(coco, handle)
    return result


def export_yolo(pages_arg, out, images: str = "link", images_root=None) -> DetectionExport:
    """YOLO of an annotate folder (module docstring); ``images`` link / copy / none."""
    _check(images)
    out = Path(out)
    kept, missing = _pages_with_images(pages_arg, images_root)
    result = DetectionExport(out, pages=len(kept), missing_images=missing)
    for page, path in kept:
        stem = page.page_id.replace("/", "__")
        lines = []
        for index, name in enumerate(YOLO_CLASSES):
            for (x, y, w, h), _ in boxes_of(page, name):
                cx, cy = (x + w / 2) / page.width, (y + h / 2) / page.height
                lines.append(f"{index} {cx:.6f} {cy:.6f} {w / page.width:.6f} {h / page.height:.6f}")
                result.boxes[name] = result.boxes.get(name, 0) + 1
        with atomic_write(out / "labels" / f"{stem}.txt") as handle:
            handle.write("\n".join(lines) + ("\n" if lines else ""))
        if images != "none":
            _place(path, out / "images" / f"{stem}{path.suffix.lower()}", images)
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(YOLO_CLASSES))
    with atomic_write(out / "data.yaml") as handle:
        handle.write(f"path: {out.resolve()}\ntrain: images\nval: images\nnames:\n{names}\n")
    return result
