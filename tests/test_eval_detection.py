"""CoMix-style detection evaluation on synthetic pages: per-class COCO AP equals pycocotools run
directly on the same COCO files, and the COCO export reads back through the comix builder."""

import contextlib
import io
import json

import numpy as np
import pytest

from comics_analysis.annotate import detect_classical
from comics_analysis.dataset_builders.comix import pages_from_coco
from comics_analysis.dataspec import Box, Panel, Provenance, TextBox
from comics_analysis.dataspec.coco import CLASSES, boxes_of, to_coco
from comics_analysis.metrics.detection import evaluate_detection
from comics_analysis.synth import make_page

SIZE = (400, 600)


@pytest.fixture(scope="module")
def synthetic():
    """Truth pages (synthetic, with panels, texts, characters and faces) and predictions: panels
    from the classical detector, other classes from the truth shifted, partly dropped, plus one
    false positive per page, with random scores."""
    rng = np.random.default_rng(3)
    truth, preds = [], []
    for i in range(4):
        page = make_page(10 + i, size=SIZE, book_id="synth-0000abcd", page_index=i)
        record = page.record.model_copy(
            update={"provenance": Provenance(source_path="book", source_entry=f"synthbook/p{i:03d}.png")}
        )
        truth.append(record)

        def jitter(bbox):
            x, y, w, h = bbox
            dx, dy = rng.uniform(-4, 4, 2)
            return [max(0.0, x + dx), max(0.0, y + dy), w, h]

        panels = [
            Panel(bbox=d.bbox, score=d.score, order=k, source="detector")
            for k, d in enumerate(detect_classical(page.image))
        ]
        texts = [
            TextBox(bbox=jitter(t.bbox), text=t.text, kind=t.kind, score=float(rng.uniform(0.3, 1)))
            for t in record.texts
            if rng.random() > 0.2
        ]
        texts.append(TextBox(bbox=[5, 5, 30, 12], text="x", kind="dialogue", score=0.9))
        characters = [
            Box(bbox=jitter(c.bbox), label=c.label, score=float(rng.uniform(0.3, 1)), source="detector")
            for c in record.characters
            if rng.random() > 0.2
        ]
        characters.append(Box(bbox=[300, 500, 40, 60], label="face", score=0.95, source="detector"))
        preds.append(record.model_copy(update={"panels": panels, "texts": texts, "characters": characters}))
    assert all(boxes_of(p, name) for p in truth[:1] for name in CLASSES)  # every class present
    return truth, preds


def _pycocotools(gt_path, dt_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    out = {}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        dt = gt.loadRes(json.loads(dt_path.read_text())["annotations"])
        for name, cid in CLASSES.items():
            e = COCOeval(gt, dt, "bbox")
            e.params.catIds = [cid]
            e.evaluate()
            e.accumulate()
            e.summarize()
            out[name] = (e.stats[0], e.stats[1])
    return out


def test_equals_pycocotools_on_the_same_files(synthetic, tmp_path):
    truth, preds = synthetic
    gt_path, dt_path = tmp_path / "val.json", tmp_path / "pred.json"
    gt_path.write_text(json.dumps(to_coco(truth)))
    dt_path.write_text(json.dumps(to_coco(preds, with_scores=True)))
    direct = _pycocotools(gt_path, dt_path)
    # our side reads both files back as DataSpec pages (the comix builder) and pairs them by path
    report = evaluate_detection(
        pages_from_coco(gt_path, require_images=False), pages_from_coco(dt_path, require_images=False)
    )
    assert report["pages"] == 4 and report["missing"] == []
    for name in CLASSES:
        assert report["classes"][name]["ap"] == pytest.approx(direct[name][0], abs=1e-9)
        assert report["classes"][name]["ap50"] == pytest.approx(direct[name][1], abs=1e-9)
    # and on the in-memory pages directly
    again = evaluate_detection(truth, preds)
    assert {k: v["ap"] for k, v in again["classes"].items()} == pytest.approx(
        {k: v[0] for k, v in direct.items()}
    )
    assert 0.0 < report["classes"]["text"]["ap"] < 1.0 and 0.0 < report["classes"]["panel"]["ap50"] <= 1.0
    assert report["mean_ap"] == pytest.approx(np.mean([direct[n][0] for n in CLASSES]))


def test_truth_against_itself_and_empty_predictions(synthetic):
    truth, _ = synthetic
    perfect = evaluate_detection(truth, truth)
    assert all(v["ap"] == pytest.approx(1.0) for v in perfect["classes"].values())
    bare = [p.model_copy(update={"panels": [], "texts": [], "characters": []}) for p in truth]
    empty = evaluate_detection(truth, bare)
    assert all(v["ap"] == 0.0 and v["pred"] == 0 for v in empty["classes"].values())
    none = evaluate_detection(bare, truth)  # no truth for any class: AP undefined, not 0
    assert all(v["ap"] is None for v in none["classes"].values()) and none["mean_ap"] is None


def test_coco_export_round_trip(synthetic, tmp_path):
    _, preds = synthetic
    coco = to_coco(preds, with_scores=True)
    assert [c["id"] for c in coco["categories"]] == [1, 2, 3, 4, 5, 7]
    assert coco["images"][2] == {"id": 3, "file_name": "synthbook/p002.png", "width": 400, "height": 600}
    assert all({"score", "area", "iscrowd", "bbox", "category_id"} <= set(a) for a in coco["annotations"])
    path = tmp_path / "test.json"
    path.write_text(json.dumps(coco))
    back = pages_from_coco(path, require_images=False)
    assert [p.provenance.source_entry for p in back] == [f"synthbook/p{i:03d}.png" for i in range(4)]
    for original, read in zip(preds, back):
        for name in CLASSES:
            assert sorted(boxes_of(read, name)) == sorted(boxes_of(original, name))  # JSON floats: exact
    with pytest.raises(ValueError, match="unknown detection class"):
        boxes_of(preds[0], "balloon")
