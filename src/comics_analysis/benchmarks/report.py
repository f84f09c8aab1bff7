"""One Markdown table of every benchmark result found in a folder of result JSON files.

Each known file (:data:`SOURCES`) is read by a small extractor that returns table rows
(benchmark, metric, value, reference); the date, machine and commit come from the file itself
(``date``, ``machine``, ``cores``, ``commit``, as written by :func:`run_info`) or else from git
(the last commit that touched the file, and its date). Files that are expected but absent are
listed under "Missing" with the command that produces them, so the report never silently drops
a benchmark. Unknown ``*.json`` files with numeric top-level metrics are shown generically.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..dataspec import markdown_table
from .extractors import (  # noqa: F401 - re-exported: the report's public helpers
    _METRIC_WORDS,
    PANEL_BOOKS,
    PANELS_TABLE_END,
    PANELS_TABLE_START,
    Row,
    _acbf,
    _align,
    _closure_lite_speed,
    _closure_text,
    _comicspap,
    _detection,
    _generic,
    _num,
    _ocr_openmantra,
    _ocr_speed,
    _openmantra,
    _order,
    _panel_books,
    _panels_dev,
    _pct,
    _pss_eval,
    _pss_real,
    _pss_speed,
    _search_real,
    _speed,
    _store_corpus,
    _store_quote,
    _target,
    panels_table,
    update_readme_panels,
)
from .kumiko import _panels_kumiko, kumiko_section
from .lobo import lobo_rows
from .panels_hard import hard_rows, hard_section
from .robust import _panels_robust

log = logging.getLogger(__name__)


def _panels_lobo(d: dict) -> list[Row]:
    """scripts/lobo_panels.py: each real dev book with the constants chosen without it."""
    return [Row(*r) for r in lobo_rows(d)]


def git_commit(cwd: str | Path | None = None) -> str | None:
    """Short hash of HEAD (with ``+dirty`` when tracked files changed), or None outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def write_results(path: str | Path, payload: dict) -> Path:
    """``payload`` with :func:`run_info` first, as indented JSON at ``path`` (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**run_info(), **payload}, indent=2, default=str) + "\n")
    return path


def run_info() -> dict:
    """``date`` (UTC), ``machine``, ``cores`` and ``commit`` for a result file."""
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": platform.platform(),
        "cores": os.cpu_count(),
        "commit": git_commit(Path(__file__).parent),
    }


def _git_file_info(path: Path) -> tuple[str | None, str | None]:
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%h %cI", "--", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None, None
    if not out:
        return None, None
    commit, date = out.split(" ", 1)
    return commit, date


@dataclass
class Source:
    pattern: str  # glob inside the results folder
    extract: Callable[[dict], list[Row]]
    produce: str  # the command that writes it
    required: bool = True  # listed as missing when absent


SOURCES: list[Source] = [
    Source(
        "closure-text*.json",
        _closure_text,
        "comics-analysis eval closure-text --data ../shared/data/comics-closure --context all last "
        "--json docs/bench/closure-text.json",
    ),
    Source(
        "comicspap*.json",
        _comicspap,
        "comics-analysis eval comicspap --data-dir <ComicsPAP snapshot> --split val --protocol vlm|embedding "
        "--out <dir> --json docs/bench/comicspap-<protocol>.json",
    ),
    Source(
        "detection*.json",
        _detection,
        "comics-analysis eval detection --gt <CoMix/CDF COCO file> --pred <predictions> "
        "--json docs/bench/detection-<dataset>.json",
    ),
    Source(
        "openmantra.json", _openmantra, "python scripts/eval_openmantra.py --json docs/bench/openmantra.json"
    ),
    Source(
        "panels-dev.json",
        _panels_dev,
        "python scripts/eval_panels_dev.py --json docs/bench/panels-dev.json",
    ),
    Source(
        "panels-hard.json",
        hard_rows,
        "python scripts/eval_panels_hard.py --pages 30 --json docs/bench/panels-hard.json",
    ),
    Source(
        "panels-kumiko.json",
        _panels_kumiko,
        "python scripts/eval_kumiko.py --kumiko <Kumiko checkout>/kumiko --python <Python with opencv<5> "
        "--json docs/bench/panels-kumiko.json (docs/evaluation.md)",
    ),
    Source(
        "panels-robust.json",
        _panels_robust,
        "python scripts/eval_panels_robust.py --json docs/bench/panels-robust.json",
        required=False,
    ),
    Source(
        "panels-lobo.json",
        _panels_lobo,
        "nice -n 10 python scripts/lobo_panels.py --jobs 2 --json docs/bench/panels-lobo.json",
        required=False,
    ),
    Source(
        "craphound.json",
        _acbf,
        "python scripts/eval_acbf.py --open-mantra ../shared/data/open-mantra "
        "--json docs/bench/craphound.json",
    ),
    Source(
        "align-synthetic.json",
        _align(""),
        "python scripts/eval_align_synthetic.py --ocr rapidocr --sweep --out docs/bench/align-synthetic.json",
    ),
    Source(
        "align-synthetic-truth-ocr.json",
        _align(""),
        "python scripts/eval_align_synthetic.py --ocr truth --sweep "
        "--out docs/bench/align-synthetic-truth-ocr.json",
    ),
    Source("ingest.json", _speed("ingest"), "python scripts/bench_ingest.py --pages 1000 --runs 3"),
    Source("annotate.json", _speed("annotate"), "python scripts/bench_annotate.py --pages 200"),
    Source("dataset.json", _speed("dataset"), "python scripts/bench_dataset.py --pages 2000 --runs 3"),
    Source("store.json", _speed("store"), "python scripts/bench_store.py --pages 2000"),
    Source(
        "store-corpus.json",
        _store_corpus,
        "python scripts/eval_store_synthetic.py --model runs/lite/best --books 40 "
        "--json docs/bench/store-corpus.json",
    ),
    Source(
        "store-quote.json",
        _store_quote,
        "python scripts/bench_store.py --only-quote --quote-panels 100000 1000000 --queries 200",
    ),
    Source(
        "search-real*.json",
        _search_real,
        "comics-analysis eval search --json docs/bench/search-real.json",
    ),
    Source("pss-speed.json", _pss_speed, "python scripts/bench_pss.py --books 100 --runs 3"),
    Source("closure_lite.json", _closure_lite_speed, "python scripts/bench_closure_lite.py"),
    Source("ocr-speed.json", _ocr_speed, "python scripts/bench_annotate.py --mode ocr --runs 3"),
    Source("ocr-openmantra.json", _ocr_openmantra, "python scripts/eval_ocr_openmantra.py --json ..."),
    Source(
        "pss-synthetic*.json",
        _pss_eval,
        "comics-analysis eval pss --features pss/test --model pss/run/best "
        "--json docs/bench/pss-synthetic.json",
    ),
    Source(
        "pss-real.json",
        _pss_real,
        "python scripts/eval_pss_real.py --json docs/bench/pss-real.json",
    ),
    Source(
        "closure-lite*.json",
        _generic("Closure Lite held-out"),
        "Closure Lite training / evaluation (issue 7)",
    ),
]


def collect(bench_dir: str | Path) -> tuple[list[dict], list[dict]]:
    """(sections found, sources missing). A section: file, date, machine, commit, rows."""
    bench_dir = Path(bench_dir)
    found, missing, seen = [], [], set()
    for source in SOURCES:
        paths = sorted(p for p in bench_dir.glob(source.pattern) if p.name not in seen)
        if not paths and source.required:
            missing.append({"pattern": source.pattern, "produce": source.produce})
        for path in paths:
            seen.add(path.name)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                rows = source.extract(data)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}: cannot read as a {source.pattern} result: {exc!r}") from None
            git_commit_, git_date = _git_file_info(path)
            machine = data.get("machine") if isinstance(data, dict) else None
            if machine and data.get("cores"):
                machine = f"{machine}, {data['cores']} cores"
            found.append(
                {
                    "file": path.name,
                    "date": (data.get("date") if isinstance(data, dict) else None)
                    or git_date
                    or "not recorded",
                    "machine": machine or "not recorded",
                    "commit": (data.get("commit") if isinstance(data, dict) else None)
                    or (f"{git_commit_} (file)" if git_commit_ else "not committed"),
                    "rows": rows,
                }
            )
    return found, missing


def _ocr_speed_section(bench_dir: Path, found: list[dict]) -> list[str]:
    """Issue 16's OCR speed check, book by book: the default engine against the baseline measured
    in the same run (from ocr-speed.json; nothing when it is absent or has no per-book rows)."""
    section = next((s for s in found if s["file"] == "ocr-speed.json"), None)
    if section is None:
        return []
    d = json.loads((bench_dir / "ocr-speed.json").read_text(encoding="utf-8"))
    results = [r for r in d.get("results", []) if "book" in r]
    baseline = d.get("baseline")
    if not results or baseline is None:
        return []
    table = []
    for book in dict.fromkeys(r["book"] for r in results):
        base = next(r for r in results if r["book"] == book and r["engine"] == baseline)
        for r in results:
            if r["book"] == book and r["engine"] != baseline:
                table.append(
                    (
                        f"{book} ({r.get('lettering', '')})",
                        str(r["pages"]),
                        f"{base['pages_per_s']:.3f}",
                        f"{r['engine']} {r['pages_per_s']:.3f}",
                        f"{r['ratio_vs_baseline']:.2f}x",
                        f"{base['recall']:.3f} -> {r['recall']:.3f} ({r['unit']}s)",
                    )
                )
    met = "met" if d.get("meets_target") else "not met"
    load = d.get("load_average_1min")
    load = f" Load average (1 min) at start / end: {load['start']} / {load['end']}." if load else ""
    return [
        "",
        "## OCR speed: the default engine against rapidocr's own pipeline",
        "",
        f"Detection + OCR (`annotate_page`) on real pages, measured {section['date'][:10]} on "
        f"{section['machine']} (commit {section['commit']}): pages/s are medians of {d.get('runs')} runs, "
        f"the two engines interleaved page by page in one process (order alternating), so both saw the "
        f"same load on average. Target "
        f"(issue 16): >= {d.get('target_ratio', 2.0):.1f}x {baseline}'s pages/s at equal or better "
        f"recall on every book: {met}.{load}",
        "",
        *markdown_table(
            ["Book", "Pages", f"{baseline} pages/s", "New pages/s", "Ratio", "Recall (baseline -> new)"],
            table,
        ).split("\n"),
    ]


def render_markdown(bench_dir: str | Path, title: str = "Benchmarks") -> str:
    found, missing = collect(bench_dir)
    lines = [
        f"# {title}",
        "",
        f"Generated by `comics-analysis eval report` from `{Path(bench_dir).as_posix()}` "
        f"(commit {git_commit(bench_dir) or 'unknown'}). Every number below comes from the JSON file named "
        "in its row; date, machine and commit are the file's own (or, where it records none, the last "
        "git commit that touched it).",
        "",
    ]
    rows = [
        (
            row.benchmark,
            row.metric,
            row.value,
            row.reference,
            section["date"][:10],
            section["machine"],
            section["commit"],
            section["file"],
        )
        for section in found
        for row in section["rows"]
    ]
    headers = ["Benchmark", "Metric", "Value", "Reference", "Date", "Machine", "Commit", "File"]
    lines += markdown_table(headers, rows).split("\n")
    lines += _ocr_speed_section(Path(bench_dir), found)
    hard = next((s for s in found if s["file"] == "panels-hard.json"), None)
    if hard is not None:
        d = json.loads((Path(bench_dir) / "panels-hard.json").read_text(encoding="utf-8"))
        lines += hard_section(d, hard["date"], hard["machine"], hard["commit"])
    lines += kumiko_section(Path(bench_dir))
    lines += ["", "## Missing", ""]
    if missing:
        lines.append("No result file yet for these benchmarks (the command that writes one):")
        lines.append("")
        lines += [f"- `{m['pattern']}`: `{m['produce']}`" for m in missing]
    else:
        lines.append("None: every known benchmark has a result file.")
    lines += [
        "",
        "## Published numbers for comparison",
        "",
        "- COMICS text cloze (Iyyer et al., CVPR 2017, test folds; trained models): text-only 63.4 (easy) / "
        "52.9 (hard); image+text 68.6 / 61.0; ComicVT5 79.1 / 71.3; random 33.3. Our numbers are zero-shot "
        "on the dev-easy fold, so they are a lower reference, not a like-for-like comparison.",
        "- ComicsPAP (VLR-CVC/ComicsPAP, arXiv 2503.08561): random baseline = mean of 1 / number of options; "
        "see the paper for VLM results per skill.",
        "",
    ]
    return "\n".join(lines)
