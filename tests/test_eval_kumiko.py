"""scripts/eval_kumiko.py without Kumiko (an external AGPL program, not a dependency, not run here):
reading Kumiko's JSON output (tests/data/kumiko-output.json is a real Kumiko run on the first two
synthetic dev pages of scripts/eval_panels_dev.py), scoring it with the dev scorer, and the
subprocess plumbing with a stand-in `kumiko` program that fails on one page."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from comics_analysis.metrics.panels import evaluate_panels

ROOT = Path(__file__).resolve().parents[1]
CAPTURED = ROOT / "tests" / "data" / "kumiko-output.json"


def _script():
    spec = importlib.util.spec_from_file_location("eval_kumiko", ROOT / "scripts" / "eval_kumiko.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kumiko_output_is_read_and_scored_with_the_dev_scorer():
    ek = _script()
    from eval_panels_dev import _pages  # the sibling eval_kumiko put on sys.path

    found = ek.read_kumiko(json.loads(CAPTURED.read_text()))
    assert sorted(found) == ["00000.png", "00001.png"]
    first = found["00000.png"]
    assert first["size"] == (1060, 1600) and len(first["panels"]) == 9 and first["seconds"] == 0.86
    assert first["panels"][1] == [380.0, 60.0, 299.0, 479.0]  # Kumiko's reading order, [x, y, w, h]

    truth, pred = [], []
    for n, (page, _, book) in enumerate(_pages(2, "synthetic")):
        got = found[f"{n:05d}.png"]
        assert got["size"] == (page.width, page.height)  # the same page image
        boxes = ek.kumiko_boxes(got["panels"], page.width, page.height)
        true_page, pred_page = ek.page_pair(page, book, boxes, [None] * len(boxes))
        truth.append(true_page)
        pred.append(pred_page)
    report = evaluate_panels(truth, pred)
    s = report["books"]["synthetic"]
    assert (s.pages, s.truth, s.pred, s.tp) == (2, 15, 15, 15) and s.order_exact == 1.0
    assert pred[0].panels[3].order == 3 and pred[0].panels[3].score is None  # unscored, in its order

    # a shuffled order is scored as such: the order metric could fail
    shuffled = [pred[0].model_copy(update={"panels": list(reversed(pred[0].panels))})]
    assert evaluate_panels(truth[:1], shuffled)["books"]["synthetic"].order_exact == 0.0


def test_kumiko_boxes_are_clipped_and_bad_output_is_named():
    ek = _script()
    assert ek.kumiko_boxes([[-5, 10, 50, 20], [90, 90, 30, 30], [100, 0, 5, 5]], 100, 100) == [
        (0.0, 10.0, 45.0, 20.0),
        (90.0, 90.0, 10.0, 10.0),
    ]
    with pytest.raises(ValueError, match="expected a list of pages"):
        ek.read_kumiko({"panels": []})
    with pytest.raises(ValueError, match="lacks filename/size/panels"):
        ek.read_kumiko([{"filename": "a.png", "panels": []}])


STAND_IN = """import json, sys
from pathlib import Path
args = sys.argv[1:]
target, out = Path(args[args.index("-i") + 1]), Path(args[args.index("-o") + 1])
if target.is_dir() or target.name == "00001.png":
    sys.exit("cannot read " + str(target))
Path(out).write_text(json.dumps([{"filename": target.name, "size": [40, 30],
    "numbering": "rtl" if "--rtl" in args else "ltr", "panels": [[1, 2, 10, 20]], "processing_time": 0.5}]))
"""


def test_a_failing_folder_run_falls_back_to_page_runs_and_names_the_failed_page(tmp_path):
    ek = _script()
    kumiko = tmp_path / "kumiko"
    kumiko.write_text(STAND_IN)
    folder = tmp_path / "rtl"
    folder.mkdir()
    for name in ("00000.png", "00001.png", "00002.png"):
        (folder / name).write_bytes(b"not read by the stand-in")
    assert ek.kumiko_command(kumiko, "py", folder, tmp_path / "o.json", True)[-1] == "--rtl"
    pages, seconds, errors = ek.run_kumiko(kumiko, sys.executable, folder, rtl=True)
    assert sorted(pages) == ["00000.png", "00002.png"] and seconds > 0
    assert pages["00002.png"] == {"size": (40, 30), "panels": [[1.0, 2.0, 10.0, 20.0]], "seconds": 0.5}
    assert list(errors) == ["00001.png"] and "cannot read" in errors["00001.png"]
