"""`export coco` / `export yolo`: detection datasets from an annotate folder; COCO reads back
through the `coco:FILE` detector with the same panels, YOLO labels are the boxes as fractions."""

from __future__ import annotations

import json

import pytest

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.cli import main
from comics_analysis.ingest import ingest
from comics_analysis.synth import make_library


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    root = tmp_path_factory.mktemp("export-det")
    make_library(root / "lib", books=2, seed=6, size=(300, 420), story_pages=(2, 3), show_progress=False)
    ingest([root / "lib" / "books"], root / "ingest", show_progress=False)
    annotate(root / "ingest", root / "ann", ocr="none", show_progress=False)
    return root


def test_coco_export_reads_back_as_the_same_panels(annotated, tmp_path):
    out = tmp_path / "coco"
    assert main(["--quiet", "export", "coco", str(annotated / "ann"), "--out", str(out)]) == 0
    coco = json.loads((out / "annotations.json").read_text())
    pages = read_annotations(annotated / "ann")
    assert len(coco["images"]) == len(pages)
    for image in coco["images"]:  # linked images resolve to the ingested page files
        path = out / "images" / image["file_name"]
        assert path.is_symlink() and path.resolve().is_file()
    detector = f"coco:{out / 'annotations.json'}"
    annotate(annotated / "ingest", tmp_path / "again", detector=detector, ocr="none", show_progress=False)
    again = {p.page_id: p for p in read_annotations(tmp_path / "again")}
    for page in pages:
        got = [v for p in again[page.page_id].panels for v in p.bbox]
        assert got == pytest.approx([v for p in page.panels for v in p.bbox])


def test_yolo_export_labels_are_the_boxes_as_fractions(annotated, tmp_path):
    out = tmp_path / "yolo"
    assert (
        main(["--quiet", "export", "yolo", str(annotated / "ann"), "--out", str(out), "--images", "copy"])
        == 0
    )
    pages = read_annotations(annotated / "ann")
    assert "names:\n  0: panel\n  1: character\n  2: text\n  3: face" in (out / "data.yaml").read_text()
    for page in pages:
        stem = page.page_id.replace("/", "__")
        rows = [line.split() for line in (out / "labels" / f"{stem}.txt").read_text().splitlines()]
        panels = [r for r in rows if r[0] == "0"]
        assert len(panels) == len(page.panels)
        for row, panel in zip(panels, page.panels):
            x, y, w, h = panel.bbox
            cx, cy, fw, fh = map(float, row[1:])
            assert (cx, cy) == pytest.approx(((x + w / 2) / page.width, (y + h / 2) / page.height), abs=1e-5)
            assert (fw, fh) == pytest.approx((w / page.width, h / page.height), abs=1e-5)
        image = next((out / "images").glob(f"{stem}.*"))
        assert not image.is_symlink() and image.stat().st_size > 0
