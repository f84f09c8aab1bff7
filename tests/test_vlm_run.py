"""VLM runs over many pages (concurrency, budget, resume) and merging readings into DataSpec, end to
end against a real HTTP server on 127.0.0.1 that answers each page with a simulated reading."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openai", reason="the openai client is not installed")

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.annotate.align import is_aligned
from comics_analysis.annotate.vlm import VlmConfig, image_data_uri, load_prices, run_vlm
from comics_analysis.annotate.vlm.importers import VlmFolder, detect_schema, from_v1
from comics_analysis.dataspec import read_pages
from comics_analysis.ingest import ingest, read_manifest
from comics_analysis.metrics.panels import match_boxes
from comics_analysis.synth import make_library
from comics_analysis.synth.vlm import VlmErrors, simulate_vlm
from vlm_server import Oracle

MAX_SIDE = 800


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Ingested synthetic books, and a simulated (error-free) VLM answer per page image."""
    root = tmp_path_factory.mktemp("vlmrun")
    make_library(root / "lib", books=2, seed=5, size=(600, 900), story_pages=(3, 3), show_progress=False)
    ingest([root / "lib" / "books"], root / "ingest", show_progress=False)
    truth = {p.page_id: p for p in read_pages(root / "lib" / "truth")}
    rows = read_manifest(root / "ingest").ok()
    rng = np.random.default_rng(0)
    answers, origins = {}, {}
    from PIL import Image

    for row in rows:
        with Image.open(root / "ingest" / row["path"]) as image:
            _, sha = image_data_uri(image, MAX_SIDE)
        reading = simulate_vlm(truth[row["page_id"]], rng, VlmErrors(missing=0, extra=0, wrong_text=0))
        answers[sha] = reading.text
        origins[row["page_id"]] = reading
    return root, rows, truth, answers


def config(server, out, **overrides):
    return VlmConfig(
        model="sim-vlm",
        base_url=server.url,
        max_side=MAX_SIDE,
        backoff=0.01,
        timeout=5.0,
        price_in=100.0,
        price_out=0.0,
        cache_dir=str(out / "cache"),
        **overrides,
    )


def test_run_writes_one_file_per_page_with_totals(library, tmp_path):
    root, rows, _, answers = library
    with Oracle(answers, delay=0.2) as server:
        totals = run_vlm(
            root / "ingest", tmp_path / "vlm", config(server, tmp_path), concurrency=3, show_progress=False
        )
    assert (totals.pages, totals.read, totals.failed, totals.parse_failed) == (len(rows), len(rows), 0, 0)
    assert server.max_in_flight == 3  # requests really overlap, and never more than the limit
    assert totals.input_tokens == 1000 * len(rows) and totals.cost == pytest.approx(0.1 * len(rows))
    for row in rows:
        record = json.loads((tmp_path / "vlm" / "pages" / f"{row['page_id']}.json").read_text())
        assert record["page_id"] == row["page_id"] and record["model"] == "sim-vlm"
        assert record["raw"] and record["page"]["panels"] is not None and record["error"] is None
    state = json.loads((tmp_path / "vlm" / "run.json").read_text())
    assert state["config"]["model"] == "sim-vlm" and "api_key_env" not in state["config"]
    assert state["runs"][0]["read"] == len(rows)


def test_budget_stops_cleanly_and_a_rerun_finishes(library, tmp_path):
    root, rows, _, answers = library
    out = tmp_path / "vlm"
    with Oracle(answers) as server:
        first = run_vlm(
            root / "ingest", out, config(server, tmp_path), concurrency=1, max_cost=0.25, show_progress=False
        )
        assert first.stopped == "max_cost" and first.read == 3 and first.not_started == len(rows) - 3
        assert first.cost == pytest.approx(0.3)
        assert len(list((out / "pages").rglob("*.json"))) == 3
        second = run_vlm(root / "ingest", out, config(server, tmp_path), concurrency=2, show_progress=False)
        assert second.skipped == 3 and second.read == len(rows) - 3 and second.stopped is None
        assert len(server.requests) == len(rows)  # nothing was asked twice
    # another model must not write into the same folder
    with pytest.raises(ValueError, match="holds readings by model 'sim-vlm'"):
        run_vlm(root / "ingest", out, VlmConfig(model="other", base_url="http://127.0.0.1:9/v1"))
    state = json.loads((out / "run.json").read_text())
    assert [r["stopped"] for r in state["runs"]] == ["max_cost", None]


def test_failed_pages_are_reported_and_retried_next_run(library, tmp_path):
    root, rows, _, answers = library
    partial = dict(list(answers.items())[:2])  # the server rejects the other images with a 400
    with Oracle(partial) as server:
        totals = run_vlm(root / "ingest", tmp_path / "vlm", config(server, tmp_path), show_progress=False)
    assert totals.read == 2 and totals.failed == len(rows) - 2
    assert "400" in totals.failures[0]["error"]
    with Oracle(answers) as server:
        again = run_vlm(root / "ingest", tmp_path / "vlm", config(server, tmp_path), show_progress=False)
    assert again.skipped == 2 and again.read == len(rows) - 2 and again.failed == 0


def test_cli_vlm_then_annotate_merges_and_aligns(library, tmp_path):
    root, rows, truth, answers = library
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "SIM_KEY": "sk-never-shown"}
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"sim-vlm": {"input": 100.0, "output": 0.0}}))
    with Oracle(answers) as server:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "comics_analysis",
                "vlm",
                str(root / "ingest"),
                "--model",
                "sim-vlm",
                "--base-url",
                server.url,
                "--out",
                str(tmp_path / "vlm"),
                "--prices",
                str(prices),
                "--max-side",
                str(MAX_SIDE),
                "--api-key-env",
                "SIM_KEY",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert server.requests[0]["auth"] == "Bearer sk-never-shown"
    assert result.returncode == 0, result.stderr
    assert f"{len(rows)} pages: {len(rows)} read" in result.stdout
    assert f"cost {0.1 * len(rows):.4f}" in result.stdout
    assert "sk-never-shown" not in result.stdout + result.stderr
    assert "sk-never-shown" not in (tmp_path / "vlm" / "run.json").read_text()

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "comics_analysis",
            "--quiet",
            "annotate",
            str(root / "ingest"),
            "--out",
            str(tmp_path / "ann"),
            "--ocr",
            "none",
            "--vlm",
            str(tmp_path / "vlm"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "aligned" in result.stdout and "perfect_match" in result.stdout
    pages = read_annotations(tmp_path / "ann")
    assert len(pages) == len(rows)
    right = placed = aligned = aligned_wrong = 0
    for page in pages:
        assert page.provenance.vlm == "sim-vlm" and page.provenance.prompt_version == "v2-grounded-1"
        gt = truth[page.page_id]
        assert page.quality.vlm_panels == len(gt.panels)
        to_gt = {p: g for g, p, _ in match_boxes([p.bbox for p in gt.panels], [p.bbox for p in page.panels])}
        wrong = 0
        for text in page.texts:
            if text.source == "vlm" and text.panel >= 0:
                placed += 1
                # a line can be lettered twice on a page ("BLAM!" in two panels): any of its panels
                truth_panels = {t.panel for t in gt.texts if t.text == text.text}
                right += to_gt.get(text.panel) in truth_panels
                wrong += to_gt.get(text.panel) not in truth_panels
        aligned += is_aligned(page)
        aligned_wrong += is_aligned(page) and wrong > 0
    assert placed > 0 and right / placed >= 0.95
    # without OCR only pages where every detected panel is matched qualify (covers, where the
    # detector proposes the whole page at score 0.5 and the VLM sees no panel, do not)
    assert aligned >= 0.5 * len(pages) and aligned_wrong == 0

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "comics_analysis",
            "dataspec",
            "subsets",
            str(tmp_path / "ann"),
            "--min-iou",
            "0.5",
            "--write",
            "aligned",
            "--out",
            str(tmp_path / "aligned.jsonl"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    written = read_pages(tmp_path / "aligned.jsonl")
    assert len(written) == sum(is_aligned(p) for p in pages) and all(is_aligned(p) for p in written)


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_import_v1_v2_and_v03_folders(library, tmp_path):
    root, rows, truth, _ = library
    row = next(
        r for r in rows if truth[r["page_id"]].page_type == "story" and len(truth[r["page_id"]].panels) > 1
    )
    gt = truth[row["page_id"]]
    container = Path(row["source_path"]).stem
    entry = Path(row["source_entry"]).stem
    v1 = {
        "overall_summary": "A chase.",
        "panels": [
            {
                "panel_number": k + 1,
                "caption": "A man runs.",
                "description": "Rain falls.",
                "speakers": [
                    {"character": "Bob", "dialogue": t.text, "speech_type": "thought"}
                    for t in gt.texts
                    if t.panel == k
                ],
                "key_elements": [],
            }
            for k in range(len(gt.panels))
        ],
    }
    v03 = {
        "page_image_path": f"{container}/{row['source_entry']}",
        "panels": [
            {"panel_coords": list(p.bbox), "text": {"dialogue": [t.text for t in gt.texts if t.panel == k]}}
            for k, p in enumerate(gt.panels)
        ],
    }
    _write_json(tmp_path / "v1" / container / f"{entry}.json", v1)
    _write_json(tmp_path / "v03" / "anything.json", v03)
    (tmp_path / "v1" / "notes.json").write_text('{"hello": 1}')  # not a reading: skipped, named
    assert detect_schema(v1) == "v1" and detect_schema(v03) == "v0.3"
    folder = VlmFolder(tmp_path / "v1")
    assert len(folder) == 1 and folder.skipped and "notes.json" in folder.skipped[0]

    page = from_v1(v1)
    assert page.summary == "A chase." and page.panels[0].description == "A man runs. Rain falls."
    assert all(item.label == "thought" for p in page.panels for item in p.text)

    for name, kind in (("v1", "order"), ("v03", "iou")):
        annotate(
            root / "ingest", tmp_path / f"ann-{name}", ocr="none", vlm=tmp_path / name, show_progress=False
        )
        pages = {p.page_id: p for p in read_annotations(tmp_path / f"ann-{name}")}
        merged = pages[row["page_id"]]
        assert (
            merged.quality.match_kind == kind
            and merged.provenance.vlm == f"import:{name.replace('v03', 'v0.3')}"
        )
        lettered = [w for p in merged.panels for w in p.text.dialogue]
        assert sorted(lettered) == sorted(t.text for t in gt.texts if t.panel >= 0)
        if name == "v1":  # scene text from the earlier schema never becomes lettered text
            assert all("A man runs." not in w for w in lettered)
            assert merged.panels[0].description == "A man runs. Rain falls."
        others = [p for pid, p in pages.items() if pid != row["page_id"]]
        assert all("vlm:no reading for this page" in p.quality.flags for p in others)
        assert all(p.quality.vlm_panels is None and not is_aligned(p) for p in others)


def test_price_table_errors_name_the_model(tmp_path):
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps({"m": {"input": "cheap"}}))
    with pytest.raises(ValueError, match="model 'm' needs numeric"):
        load_prices(bad)
    good = tmp_path / "ok.json"
    good.write_text(json.dumps({"m": {"input": 0.3, "output": 2.5}}))
    assert load_prices(good) == {"m": (0.3, 2.5)}


def test_run_totals_summary_text():
    from comics_analysis.annotate.vlm import RunTotals

    totals = RunTotals(pages=10, read=3, skipped=2, cached=1, failed=1, not_started=4, input_tokens=12345)
    totals.output_tokens, totals.cost, totals.stopped = 678, 0.25, "max_cost"
    totals.failures = [{"page_id": f"b/p{i:04d}", "error": "HTTP 500"} for i in range(7)]
    lines = totals.summary_text(1.25, Path("out"), max_cost=0.2).splitlines()
    assert lines[:3] == [
        "10 pages: 3 read (1 from the cache), 2 done before, 1 failed, 0 unparseable, 4 not started",
        "tokens in 12,345 out 678; cost 0.2500; 1.2 s -> out/pages",
        "stopped: the budget --max-cost 0.2 was reached; re-run to continue",
    ]
    assert lines[3:] == [f"failed: b/p{i:04d}: HTTP 500" for i in range(5)]  # the first five only
    assert len(RunTotals(pages=1, read=1).summary_text(0.0, "o").splitlines()) == 2


def _closed_port() -> int:
    """A 127.0.0.1 port with nothing listening (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_vlm_preflight_fails_fast_naming_the_url(library, tmp_path, capsys):
    """A mistyped URL fails once, before the run, in seconds (not ~11 s a page of retries)."""
    import time

    from comics_analysis.annotate.vlm import VlmUnreachable
    from comics_analysis.cli import main

    root, *_ = library
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    start = time.perf_counter()
    with pytest.raises(VlmUnreachable, match=f"cannot reach the VLM endpoint {url}"):
        run_vlm(root / "ingest", tmp_path / "vlm", VlmConfig(model="m", base_url=url), show_progress=False)
    argv = ["-q", "vlm", str(root / "ingest"), "--model", "m", "--base-url", url]
    argv += ["--out", str(tmp_path / "v2")]
    assert main(argv) == 2
    assert time.perf_counter() - start < 10
    err = capsys.readouterr().err
    assert f"cannot reach the VLM endpoint {url}" in err and "--base-url" in err
    assert not list((tmp_path / "vlm").rglob("p*.json"))  # nothing was read


def test_sharded_runs_write_disjoint_pages_that_make_the_whole_run(library, tmp_path):
    root, rows, _, answers = library
    with Oracle(answers) as server:
        whole = run_vlm(
            root / "ingest", tmp_path / "whole", config(server, tmp_path / "a"), show_progress=False
        )
        shards = [
            run_vlm(
                root / "ingest",
                tmp_path / "sharded",
                config(server, tmp_path / "b"),
                num_shards=2,
                shard_index=i,
                show_progress=False,
            )
            for i in range(2)
        ]
    assert whole.read == len(rows)
    assert sum(s.read for s in shards) == len(rows) and all(s.pages for s in shards)
    files = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole" / "pages").rglob("*.json"))
    assert files == sorted(
        p.relative_to(tmp_path / "sharded") for p in (tmp_path / "sharded" / "pages").rglob("*.json")
    )
    for name in files:
        left, right = (json.loads((tmp_path / d / name).read_text()) for d in ("whole", "sharded"))
        left.pop("created_utc"), right.pop("created_utc")
        assert left == right, name
    assert not (tmp_path / "sharded" / "run.json").exists()
    assert sorted(p.name for p in (tmp_path / "sharded").glob("run*.json")) == [
        "run-shard-000-of-002.json",
        "run-shard-001-of-002.json",
    ]
    folder = VlmFolder(tmp_path / "sharded")  # what annotate --vlm reads
    assert folder.run and folder.count == len(rows)
    with pytest.raises(ValueError, match="holds readings by model 'sim-vlm'"):
        run_vlm(root / "ingest", tmp_path / "sharded", VlmConfig(model="other", base_url=server.url))
