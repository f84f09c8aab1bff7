"""`--engine ray` (issue 22): annotate (classical panels + rapidocr) and embed on a local 2-CPU Ray
cluster write the same files as the local engine; a Ray worker killed mid-run leaves no partial
file, is retried (or its book lands in the errors table and a rerun resumes it), and nothing is
written twice. One cluster for the module (a Ray start costs seconds)."""

import os
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.cli import main
from comics_analysis.engine import RAY_MISSING, EngineOptions, run_units
from pipeline_outputs import assert_same_annotate, assert_same_store
from ray_helpers import PAGES, RAY, annotated_library, local_cluster


@pytest.fixture(scope="module")
def cluster():
    yield from local_cluster(ocr=True)


@pytest.fixture(scope="module")
def library(tmp_path_factory, cluster):
    """3 books (23 pages) ingested, and the local engine's annotation with OCR."""
    return annotated_library(tmp_path_factory.mktemp("ray"), "rapidocr", "local")


def _no_temp_files(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_ray_annotate_with_ocr_equals_the_local_engine(library):
    files = annotate(library / "ingest", library / "ray", ocr="rapidocr", show_progress=False, engine=RAY)
    assert len(files) == 3
    names = assert_same_annotate(library / "local", library / "ray")
    assert {"dataspec.parquet", "errors.parquet", "images-root.txt"} <= set(names)
    pages = read_annotations(library / "ray")
    assert len(pages) == PAGES and any(p.texts for p in pages) and any(p.panels for p in pages)
    assert pq.read_table(library / "ray" / "errors.parquet").num_rows == 0
    _no_temp_files(library / "ray")


def test_ray_embed_equals_the_local_engine(library):
    pytest.importorskip("torch")
    pytest.importorskip("zarr")
    from space_helpers import save_tiny_model

    model = save_tiny_model(library / "model")
    common = ["-q", "embed", str(library / "local"), "--model", str(model), "--chunk-pages", "8"]
    common += ["--batch-size", "3", "--threads", "1"]
    assert main([*common, "--out", str(library / "local.zarr")]) == 0
    assert main([*common, "--out", str(library / "ray.zarr"), "--engine", "ray"]) == 0
    files = assert_same_store(library / "local.zarr", library / "ray.zarr")
    assert "progress/shard-000-of-001.json" in files and "text/chunk-000002.parquet" in files
    # the prose line counts and panel descriptions too, chunk for chunk
    assert "prose_lines/c/2" in files and "panel_description/c/2/0" in files
    # resumed: nothing left to do, nothing rewritten
    before = {p: p.stat().st_mtime_ns for p in (library / "ray.zarr").rglob("*") if p.is_file()}
    assert main([*common, "--out", str(library / "ray.zarr"), "--engine", "ray"]) == 0
    after = {p: p.stat().st_mtime_ns for p in (library / "ray.zarr").rglob("*") if p.is_file()}
    assert before == after


def _actors() -> list:
    import psutil

    return [
        p
        for p in psutil.Process().children(recursive=True)
        if "UnitWorker" in " ".join(p.cmdline() if p.is_running() else [])
    ]


def _kill_a_busy_worker(out: Path, thread: threading.Thread) -> tuple[dict, int]:
    """Once the first book is done, kill the busiest Ray worker; returns the finished books'
    (path -> mtime) at that moment and the killed pid."""
    deadline = time.time() + 120
    folder = out / "dataspec"
    while not list(folder.glob(".*.done")) and thread.is_alive() and time.time() < deadline:
        time.sleep(0.05)
    assert thread.is_alive(), "the run ended before a worker could be killed"
    done = {p: p.stat().st_mtime_ns for p in folder.glob("*.jsonl")}
    actors = _actors()
    assert actors, "no Ray worker process found"
    while True:  # a worker busy with a book (an idle one may have no unit left to fail)
        for proc in actors:
            proc.cpu_percent(None)
        time.sleep(0.3)
        load = {proc: proc.cpu_percent(None) for proc in actors if proc.is_running()}
        victim = max(load, key=load.get)
        if load[victim] >= 50 or time.time() > deadline:
            break
    victim.kill()
    return done, victim.pid


def _run_in_thread(out: Path, engine: EngineOptions, library: Path):
    box = {}

    def target():
        try:
            box["files"] = annotate(
                library / "ingest", out, ocr="rapidocr", show_progress=False, engine=engine
            )
        except Exception as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, box


def test_killed_worker_is_retried_and_nothing_is_written_twice(library):
    out = library / "killed"
    thread, box = _run_in_thread(out, RAY, library)
    done, pid = _kill_a_busy_worker(out, thread)
    thread.join(300)
    assert "error" not in box, box.get("error")
    assert pid not in [p.pid for p in _actors()]
    assert_same_annotate(library / "local", out)
    for path, mtime in done.items():  # books finished before the kill were not redone
        assert path.stat().st_mtime_ns == mtime, path
    ids = pq.read_table(out / "dataspec.parquet", columns=["page_id"]).column(0).to_pylist()
    assert len(ids) == len(set(ids)) == PAGES
    _no_temp_files(out)


def test_worker_dying_past_its_retries_lands_in_errors_and_a_rerun_resumes(library):
    out = library / "no-retry"
    thread, box = _run_in_thread(out, EngineOptions(engine="ray", max_retries=0), library)
    done, _ = _kill_a_busy_worker(out, thread)
    thread.join(300)
    assert isinstance(box.get("error"), RuntimeError) and "run the same command again" in str(box["error"])
    errors = pq.read_table(out / "errors.parquet").to_pylist()
    assert errors and {e["kind"] for e in errors} == {"book:worker_died"}
    failed = {e["book_id"] for e in errors}
    assert len(failed) == 1 and "died 1 time(s)" in errors[0]["reason"]
    book = failed.pop()
    assert not (out / "dataspec" / f"{book}.jsonl").exists()  # no partial file
    _no_temp_files(out)
    parquet_ids = set(pq.read_table(out / "dataspec.parquet", columns=["page_id"]).column(0).to_pylist())
    assert parquet_ids and not {e["page_id"] for e in errors} & parquet_ids
    # a rerun resumes (here with the local engine: the same files and done markers): only the
    # failed book is annotated, and the errors table is emptied
    annotate(library / "ingest", out, ocr="rapidocr", show_progress=False)
    for path, mtime in done.items():
        assert path.stat().st_mtime_ns == mtime, path
    assert pq.read_table(out / "errors.parquet").num_rows == 0
    assert_same_annotate(library / "local", out)


def _die_or_fail(_state, unit):
    if unit == "die":
        os._exit(3)
    if unit == "raise":
        raise ValueError("no such page")
    return unit.upper()


def test_engine_outcomes_keep_order_and_say_why(cluster):
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    units = [(k, k) for k in ("a", "die", "b", "raise", "c")]
    got = run_units(units, None, _die_or_fail, EngineOptions(engine="ray", max_retries=1))
    assert [o.key for o in got] == ["a", "die", "b", "raise", "c"]
    assert [o.result for o in got if o.ok] == ["A", "B", "C"]
    assert got[1].error.startswith("worker_died:") and "2 time(s)" in got[1].error
    assert got[3].error == "ValueError: no such page"
    local = run_units([(k, k) for k in "ab"], None, _die_or_fail, EngineOptions())
    assert [o.result for o in local] == ["A", "B"]


def test_without_ray_the_engine_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(RuntimeError, match=r"comics-analysis\[ray\]"):
        annotate(tmp_path / "missing", tmp_path / "out", ocr="none", engine=RAY)
    assert main(["-q", "annotate", str(tmp_path), "--out", str(tmp_path / "o"), "--engine", "ray"]) == 2
    assert RAY_MISSING in capsys.readouterr().err
    with pytest.raises(ValueError, match="engine must be"):
        EngineOptions(engine="spark")
