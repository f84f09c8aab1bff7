"""The command line: help for every subcommand, version, synth/demo output, validation exit codes."""

import json
import os
import subprocess
import sys

import pytest

from comics_analysis import __version__
from comics_analysis.cli import build_parser, main

SUBCOMMANDS = [
    [],
    ["synth"],
    ["demo"],
    ["dataspec"],
    ["dataspec", "validate"],
    ["dataspec", "from-legacy"],
    ["dataspec", "from-openmantra"],
    ["dataset"],
    ["dataset", "build"],
    ["dataset", "push"],
    ["search"],
    ["embed"],
    ["analyze"],
    ["serve"],
    ["store"],
    ["store", "info"],
    ["store", "index"],
    ["train"],
    ["train", "closure-lite"],
    ["train", "pss"],
    ["segment"],
    ["pss", "features"],
    ["push"],
    ["push", "model"],
]


def run_cli(*args, check=True, timeout=300):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-m", "comics_analysis", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_import_is_light():
    code = (
        "import sys, comics_analysis, comics_analysis.cli; "
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'numpy', 'PIL', 'pydantic') "
        "if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_version():
    assert run_cli("--version").stdout.strip() == f"comics-analysis {__version__}"


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=lambda w: " ".join(w) or "top")
def test_every_subcommand_has_help(words, capsys):
    with pytest.raises(SystemExit) as info:
        main([*words, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: comics-analysis")
    # every subcommand the parser knows is listed in the top-level help
    if not words:
        for name in ("synth", "demo", "ingest", "ingest-merge", "dataspec", "dataset"):
            assert name in out


def test_parser_rejects_bad_values(capsys):
    parser = build_parser()
    for bad in (
        ["synth", "--out", "x", "--size", "10x10"],
        ["synth", "--out", "x", "--format", "cbr"],
        ["synth", "--out", "x", "--story-pages", "5-2"],
    ):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(bad)
        assert info.value.code == 2
    assert "too small" in capsys.readouterr().err


def test_synth_then_validate(tmp_path):
    out = tmp_path / "lib"
    result = run_cli(
        "-q",
        "synth",
        "--books",
        "2",
        "--out",
        str(out),
        "--seed",
        "4",
        "--format",
        "cbz,pdf",
        "--size",
        "400x600",
        "--story-pages",
        "2-3",
    )
    assert "wrote 2 books" in result.stdout
    library = json.loads((out / "library.json").read_text())
    assert [b["file"].rsplit(".", 1)[1] for b in library["books"]] == ["cbz", "pdf"]
    checked = run_cli("dataspec", "validate", str(out / "truth"), "--summary")
    assert f"ok {out / 'truth'}" in checked.stdout and "story" in checked.stdout

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"page_id": "a-1/p0000", "book_id": "a-1", "page_index": 0, "width": 5}\n')
    failed = run_cli("dataspec", "validate", str(bad), check=False)
    assert failed.returncode == 1
    assert f"{bad}:1" in failed.stderr and "field height" in failed.stderr


def test_openmantra_conversion_cli(tmp_path, shared_data):
    out = tmp_path / "om.jsonl"
    result = run_cli(
        "dataspec", "from-openmantra", str(shared_data / "open-mantra" / "annotation.json"), "--out", str(out)
    )
    assert "converted 78 OpenMantra pages (2 books)" in result.stdout
    assert len(out.read_text().splitlines()) == 78


@pytest.mark.slow
def test_demo_runs_the_whole_pipeline(tmp_path, monkeypatch):
    """synth -> ingest -> annotate -> dataset -> train -> embed -> analyze (serving off), with the
    demo's own recipe (lite: frozen Lite0 + MiniLM, heads only) on a short schedule; a crop of a
    demo page finds its page and panel first with the model the demo trained."""
    monkeypatch.setenv("DEMO_NO_SERVE", "1")
    result = run_cli(
        "-q", "demo", "--out", str(tmp_path / "demo"), "--books", "3", "--ocr", "none", "--train-steps", "10",
        timeout=1800,  # minutes on loaded shared cores; ~1.5 min of CPU
    )  # fmt: skip
    out = result.stdout
    for word in (
        "page_type",
        "cover",
        "story",
        "back_cover",
        "total",
        "text boxes by kind",
        "[2/9] ingesting",
        "[3/9] annotating",
        "[4/9] page types: `pss features --page-stats`, then `segment` (zero-shot)",
        "[5/9] building the Hugging Face dataset",
        "[6/9] training Closure Lite (lite, 10 steps on CPU, both towers frozen, their outputs cached",
        "[7/9] embedding",
        "[8/9] UMAP map",
        "sample text query",
    ):
        assert word in out
    assert "serving" not in out  # DEMO_NO_SERVE=1
    # nothing in the log a user would have to act on
    assert "LOAD REPORT" not in result.stderr and " WARNING " not in result.stderr, result.stderr[-3000:]
    assert "page status: ok" in out
    total = next(line for line in out.splitlines() if line.startswith("total")).split()
    pages = int(total[1])
    library = json.loads((tmp_path / "demo" / "library.json").read_text())
    assert pages == sum(b["pages"] for b in library["books"])
    assert f"{pages} of {pages} ground-truth pages join the manifest by page_id" in out
    demo = tmp_path / "demo"
    assert (demo / "ingest" / "manifest.parquet").is_file()
    assert (demo / "annotated" / "dataspec.parquet").is_file()
    assert (demo / "dataset" / "README.md").is_file() and list((demo / "dataset" / "all").glob("*.parquet"))
    assert (demo / "closure-lite" / "final" / "config.json").is_file()
    # only the final models are kept (no checkpoints, no second copy)
    assert (
        not (demo / "closure-lite" / "checkpoints").exists() and not (demo / "closure-lite" / "best").exists()
    )
    assert f"{pages} pages" in out.split("[7/9] embedding")[1]
    # "where does this crop come from": a panel cut out, shrunk, JPEG q60 -> its page and panel first
    line = next(x for x in out.splitlines() if "where does crop-query.jpg" in x)
    source = line.split("(panel 1 of ")[1].split(",")[0]
    assert line.split("come from: ")[1].startswith(f"{source} panel 1 "), line
    assert (demo / "store.zarr").is_dir() and list((demo / "analysis").glob("*.png"))
    assert float(out.split("panel F1 ")[1].split(",")[0]) >= 0.9
    # page types exist, in the DataSpec records and the store
    from comics_analysis.store import open_store

    store = open_store(demo / "store.zarr")
    assert all(store.page_types) and "story" in set(store.page_types)
    assert f"{pages} pages typed" in out
    # it ends with the serve command that opens the Space on what it wrote
    command = out.strip().splitlines()[-1].strip()
    assert command == (
        f"comics-analysis serve {demo / 'store.zarr'} --model {demo / 'closure-lite' / 'final'} "
        f"--analysis {demo / 'analysis'}"
    )
    args = build_parser().parse_args(command.split()[1:])
    assert args.store == demo / "store.zarr" and args.func.__name__ == "cmd_serve"


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    code = main(
        [
            "dataspec",
            "from-legacy",
            str(tmp_path / "nope.json"),
            "--book-id",
            "x-12345678",
            "--out",
            str(tmp_path / "o.jsonl"),
        ]
    )
    assert code == 2
    assert "nope.json" in capsys.readouterr().err


def test_ingest_and_merge_cli(tmp_path):
    lib = tmp_path / "lib"
    run_cli(
        "-q",
        "synth",
        "--books",
        "3",
        "--out",
        str(lib),
        "--size",
        "400x600",
        "--story-pages",
        "2-2",
        "--format",
        "cbz,pdf",
    )
    whole = run_cli("-q", "ingest", str(lib / "books"), "--out", str(tmp_path / "whole"), "--workers", "2")
    assert "page status: ok" in whole.stdout and "wrote" in whole.stdout
    for index in range(2):
        part = run_cli(
            "-q",
            "ingest",
            str(lib / "books"),
            "--out",
            str(tmp_path / "parts"),
            "--num-shards",
            "2",
            "--shard-index",
            str(index),
        )
        assert "ingest-merge" in part.stdout
    merged = run_cli("ingest-merge", str(tmp_path / "parts"))
    assert merged.stdout.splitlines()[0].split(" pages")[0] == whole.stdout.splitlines()[0].split(" pages")[0]
    assert (tmp_path / "parts" / "manifest.parquet").read_bytes() == (
        tmp_path / "whole" / "manifest.parquet"
    ).read_bytes()
    bad = run_cli("ingest", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x"), check=False)
    assert bad.returncode == 2 and "source not found" in bad.stderr
    missing = run_cli("ingest-merge", str(tmp_path / "whole"), check=False)
    assert missing.returncode == 2 and "no shard manifests" in missing.stderr
