"""SIGKILL in the middle of a stage, then the same command again: the result equals an
uninterrupted run, and no partial file is ever visible. (ingest and embed have their own kill
tests in test_ingest.py and test_store.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from comics_analysis.annotate import annotate
from comics_analysis.ingest import ingest
from comics_analysis.synth import make_library


def _cmd(*args) -> list[str]:
    return [sys.executable, "-m", "comics_analysis", "--quiet", *map(str, args)]


def kill_when(command: list[str], ready, timeout: float = 240.0, env=None) -> None:
    """Run ``command`` and SIGKILL it as soon as ``ready()`` holds; fails if it ended first."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.fail(f"finished before the kill point: {proc.stderr.read().decode()[-2000:]}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _no_temp_files(folder: Path) -> None:
    left = [p for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp-" in p.name]
    assert not left, left


def _jsonl_without_times(folder: Path) -> dict[str, list[dict]]:
    out = {}
    for path in sorted((folder / "dataspec").glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for row in rows:
            row.get("provenance", {}).pop("created_utc", None)
        out[path.name] = rows
    return out


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    make_library(root / "lib", books=6, seed=12, size=(500, 760), story_pages=(4, 5), show_progress=False)
    ingest([root / "lib" / "books"], root / "ingest", show_progress=False)
    annotate(root / "ingest", root / "clean-ann", ocr="none", show_progress=False)
    return root


def test_annotate_killed_mid_run_then_rerun_equals_uninterrupted(ingested, tmp_path):
    out = tmp_path / "ann"
    books = lambda: len(list((out / "dataspec").glob("*.jsonl")))  # noqa: E731
    kill_when(_cmd("annotate", ingested / "ingest", "--out", out, "--ocr", "none"), lambda: books() >= 1)
    assert 1 <= books() < 6
    for path in (out / "dataspec").glob("*.jsonl"):  # every visible book file is whole
        for line in path.read_text().splitlines():
            json.loads(line)
    done = subprocess.run(
        _cmd("annotate", ingested / "ingest", "--out", out, "--ocr", "none"), capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert _jsonl_without_times(out) == _jsonl_without_times(ingested / "clean-ann")
    _no_temp_files(out)


def test_dataset_build_killed_mid_run_leaves_the_old_export_or_nothing(ingested, tmp_path):
    out = tmp_path / "export"
    shards = lambda: list(tmp_path.glob(".export.tmp-*/*/*.parquet"))  # noqa: E731
    build = _cmd("dataset", "build", ingested / "clean-ann", "--out", out, "--shard-rows", "2")
    kill_when(build, lambda: len(shards()) >= 2)
    assert not out.exists()  # nothing half-built is visible under the name
    done = subprocess.run(build, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    clean = tmp_path / "clean"
    subprocess.run(
        _cmd("dataset", "build", ingested / "clean-ann", "--out", clean, "--shard-rows", "2"), check=True
    )
    names = sorted(p.relative_to(clean).as_posix() for p in clean.rglob("*.parquet"))
    assert names == sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    for name in names:
        assert pq.read_table(out / name).equals(pq.read_table(clean / name)), name
    assert not list(tmp_path.glob(".export.tmp-*"))  # the killed build's temporary copy is gone


def test_vlm_killed_mid_run_then_rerun_asks_only_for_the_missing_pages(ingested, tmp_path):
    pytest.importorskip("openai")
    from PIL import Image

    from comics_analysis.annotate.vlm import image_data_uri
    from comics_analysis.ingest import read_manifest
    from vlm_server import Oracle

    rows = read_manifest(ingested / "ingest").ok()
    answers = {}
    for row in rows:
        with Image.open(ingested / "ingest" / row["path"]) as image:
            answers[image_data_uri(image, 800)[1]] = json.dumps({"panels": [], "summary": row["page_id"]})
    out = tmp_path / "vlm"
    with Oracle(answers, delay=0.05) as server:
        command = _cmd(
            "vlm",
            ingested / "ingest",
            "--out",
            out,
            "--model",
            "m",
            "--base-url",
            server.url,
            "--max-side",
            "800",
            "--concurrency",
            "2",
        )
        pages = lambda: len(list((out / "pages").rglob("*.json")))  # noqa: E731
        kill_when(command, lambda: pages() >= 3)
        assert 3 <= pages() < len(rows)
        done = subprocess.run(command, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert pages() == len(rows)
    # the re-run asks only for pages without a file: at most the killed run's in-flight pages twice
    assert len(server.requests) <= len(rows) + 2
    for path in (out / "pages").rglob("*.json"):
        record = json.loads(path.read_text())
        assert record["page"] is not None and record["page"]["summary"] == record["page_id"]
    _no_temp_files(out)


def test_training_killed_after_a_checkpoint_resumes_to_the_same_model(tmp_path):
    pytest.importorskip("torch")
    from safetensors.numpy import load_file

    from comics_analysis.inference.features import extract_features
    from comics_analysis.training.pss_features import synthetic_pages

    features = tmp_path / "features"
    extract_features(synthetic_pages(6, seed=3, size=(265, 400)), features, show_progress=False)
    tiny = (
        "--val-fraction",
        "0.3",
        "--windows-per-book",
        "2",
        "--window-range",
        "4-8",
        "--batch-size",
        "4",
        "--hidden-size",
        "16",
        "--layers",
        "1",
        "--heads",
        "2",
        "--patience",
        "100",
        "--threads",
        "1",
        "--seed",
        "1",
        "--epochs",
        "12",
        "--keep-checkpoints",
        "20",
    )
    run = tmp_path / "run"
    checkpoints = lambda: [p for p in (run / "checkpoints").glob("*") if (p / "trainer_state.json").is_file()]  # noqa: E731
    kill_when(_cmd("train", "pss", features, "--out", run, *tiny), lambda: len(checkpoints()) >= 2)
    assert not (run / "final").exists()
    done = subprocess.run(
        _cmd("train", "pss", features, "--out", run, *tiny, "--resume"), capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    clean = tmp_path / "clean"
    subprocess.run(_cmd("train", "pss", features, "--out", clean, *tiny), check=True, capture_output=True)
    resumed, straight = (
        load_file(run / "final" / "model.safetensors"),
        load_file(clean / "final" / "model.safetensors"),
    )
    assert resumed.keys() == straight.keys()
    for key in straight:
        assert (resumed[key] == straight[key]).all(), key
