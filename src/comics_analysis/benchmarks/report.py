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

log = logging.getLogger(__name__)


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
class Row:
    benchmark: str
    metric: str
    value: str
    reference: str = ""


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


# --- extractors ---------------------------------------------------------------------------------
def _closure_text(d: dict) -> list[Row]:
    rows = []
    for r in d.get("results", [d.get("result", {})]):
        fold = d.get("fold", "dev-easy")
        name = f"COMICS text cloze ({fold}), zero-shot {r['encoder']}, context {r['context']}"
        rows.append(
            Row(
                name,
                "accuracy (95% CI)",
                f"{_pct(r['accuracy'])} ({_pct(r['ci_low'])}-{_pct(r['ci_high'])}), n={r['n']}",
                "random 33.3%; trained text-only 63.4%, image+text 68.6% (Iyyer et al. 2017, test)",
            )
        )
    return rows


def _comicspap(d: dict) -> list[Row]:
    overall = d.get("overall", d)
    name = f"ComicsPAP {d.get('split', 'val')}, {overall.get('protocol', '?')}"
    rows = [
        Row(
            name,
            "accuracy (sample-weighted)",
            f"{_pct(overall.get('overall_accuracy'))}, n={overall.get('total_samples')}",
            f"random {_pct(overall.get('random_baseline'))}",
        )
    ]
    for skill, r in overall.get("skill_results", {}).items():
        rows.append(
            Row(
                f"{name}: {skill}",
                "accuracy",
                f"{_pct(r.get('accuracy'))}, n={r.get('num_examples')}",
                f"random {_pct(r.get('random_baseline'))}",
            )
        )
    return rows


def _detection(d: dict) -> list[Row]:
    name = f"Detection ({d.get('dataset', 'CoMix-style')}, {d.get('predictions', 'predictions')})"
    rows = [
        Row(name, f"{cls} AP / AP50", f"{_num(r['ap'])} / {_num(r['ap50'])}", f"{r['truth']} true boxes")
        for cls, r in d["classes"].items()
    ]
    rows.append(Row(name, "mean AP / AP50", f"{_num(d.get('mean_ap'))} / {_num(d.get('mean_ap50'))}"))
    return rows


def _openmantra(d: dict) -> list[Row]:
    o = d["overall"]
    name = f"Panel detection, OpenMantra ({o['pages']} real manga pages), classical detector"
    return [
        Row(name, "P / R / F1 @ IoU 0.5", f"{_num(o['precision'])} / {_num(o['recall'])} / {_num(o['f1'])}"),
        Row(name, "AP / AP50", f"{_num(o['ap'])} / {_num(o['ap50'])}"),
        Row(
            name, "reading order exact / Kendall tau", f"{_num(o['order_exact'])} / {_num(o['kendall_tau'])}"
        ),
        Row(name, "speed", f"{d.get('pages_per_s', 0):.1f} pages/s"),
    ]


PANEL_BOOKS = {  # panels-dev.json keys -> what the row says
    "craphound-acbf": "Craphound (Western, ACBF frames)",
    "images/balloon_dream/ja": "OpenMantra balloon_dream (manga)",
    "images/tencho_isoro/ja": "OpenMantra tencho_isoro (manga)",
    "synthetic": "synthetic pages (half with balloons across gutters)",
}
PANELS_TABLE_START = "<!-- panels-table: generated by `comics-analysis eval report --readme README.md` -->"
PANELS_TABLE_END = "<!-- /panels-table -->"


def _panel_books(d: dict) -> list[tuple[str, dict]]:
    return [(PANEL_BOOKS.get(k, k), v) for k, v in d.items() if isinstance(v, dict) and "f1" in v]


def _panels_dev(d: dict) -> list[Row]:
    """scripts/eval_panels_dev.py: the classical detector per dev book and on synthetic pages."""
    rows = []
    for label, b in _panel_books(d):
        name = f"Panels per dev book, classical detector: {label} ({b['pages']} pages, {b['truth']} panels)"
        rows += [
            Row(
                name,
                "P / R / F1 @ IoU 0.5",
                f"{_num(b['precision'])} / {_num(b['recall'])} / {_num(b['f1'])}",
            ),
            Row(name, "AP50; exact count", f"{_num(b['ap50'])}; {_num(b['exact_count'])}"),
            Row(name, "order exact / tau (matched pages); all true panels", _order(b)),
        ]
    return rows


def panels_table(d: dict) -> str:
    """The README's per-book panel table from a panels-dev.json result."""
    headers = ["book", "pages", "panels", "P", "R", "F1@0.5", "AP50", "exact count", "order (all panels)"]
    rows = [
        (
            label,
            b["pages"],
            b["truth"],
            _num(b["precision"]),
            _num(b["recall"]),
            _num(b["f1"]),
            _num(b["ap50"]),
            _num(b["exact_count"]),
            f"{_num(b.get('order_all'))} (tau {_num(b.get('kendall_tau_all'))})",
        )
        for label, b in _panel_books(d)
    ]
    return markdown_table(headers, rows)


def update_readme_panels(readme: str | Path, bench_dir: str | Path) -> bool:
    """Rewrite the block between the panels-table markers of ``readme`` from
    ``bench_dir/panels-dev.json``; returns whether the file changed."""
    readme, source = Path(readme), Path(bench_dir) / "panels-dev.json"
    text = readme.read_text(encoding="utf-8")
    if PANELS_TABLE_START not in text or PANELS_TABLE_END not in text:
        raise ValueError(f"{readme}: no panels-table markers ({PANELS_TABLE_START} ... {PANELS_TABLE_END})")
    head, rest = text.split(PANELS_TABLE_START, 1)
    _, tail = rest.split(PANELS_TABLE_END, 1)
    table = panels_table(json.loads(source.read_text(encoding="utf-8")))
    new = f"{head}{PANELS_TABLE_START}\n{table}\n{PANELS_TABLE_END}{tail}"
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def _order(o: dict) -> str:
    return (
        f"{_num(o.get('order_exact'))} / {_num(o.get('kendall_tau'))}; all panels "
        f"{_num(o.get('order_all'))} / {_num(o.get('kendall_tau_all'))} "
        f"({o.get('merged_panels', 0)} merged, {o.get('unassigned_panels', 0)} unassigned)"
    )


def _acbf(d: dict) -> list[Row]:
    """scripts/eval_acbf.py: panels and lettering against an ACBF book; OpenMantra order per book."""
    o = d["panels"]["overall"]
    name = f"ACBF ground truth, {d.get('book', '?')} ({o['pages']} pages), {d.get('detector', '?')} detector"
    rows = [
        Row(name, "P / R / F1 @ IoU 0.5", f"{_num(o['precision'])} / {_num(o['recall'])} / {_num(o['f1'])}"),
        Row(name, "AP / AP50", f"{_num(o['ap'])} / {_num(o['ap50'])}"),
        Row(name, "order exact / tau (matched pages); all true panels", _order(o)),
    ]
    for kind, t in d.get("text", {}).items():
        text_name = f"{name}, OCR {d.get('ocr', '?')}, {kind} lettering ({t['truth']} units)"
        rows += [
            Row(
                text_name,
                f"units exact @ IoU {t['unit_iou']} P / R; merged-unit rate",
                f"{_num(t['unit_precision'])} / {_num(t['unit_recall'])}; {_num(t['merged_unit_rate'])}",
            ),
            Row(
                text_name,
                "CER (IoU 0.3 pairs); word P / R",
                f"{_num(t['cer'])}; {_num(t['word_precision'])} / {_num(t['word_recall'])}",
            ),
        ]
    for book, b in d.get("openmantra_panels", {}).get("books", {}).items():
        rows.append(
            Row(f"OpenMantra {book} ({b['pages']} pages)", "order exact / tau; all true panels", _order(b))
        )
    return rows


def _align(label: str) -> Callable[[dict], list[Row]]:
    def extract(d: dict) -> list[Row]:
        name = f"Alignment, synthetic ({d['pages']} pages, OCR {d.get('ocr', '?')}){label}"
        acc, share = d["text_to_panel_accuracy"], d["kept_share"]
        return [
            Row(
                name,
                "text-to-panel accuracy",
                f"aligned {_pct(acc['aligned'])}",
                f"count equality (earlier pipeline) {_pct(acc['count_equality'])}",
            ),
            Row(
                name,
                "pages kept",
                f"aligned {_pct(share['aligned'])}",
                f"count equality {_pct(share['count_equality'])}",
            ),
        ]

    return extract


def _store_corpus(d: dict) -> list[Row]:
    name = f"Embedding store on model vectors ({d.get('books', '?')} synthetic books)"
    rows = [
        Row(name, f"{b['dtype']} bytes per stored vector", f"{b['bytes_per_stored_vector']:.0f}")
        for b in d.get("bytes", [])
    ]
    for r in d.get("int8_agreement", []):
        rows.append(
            Row(
                name,
                f"int8 recall@10 vs float32, {r['queries']}",
                _num(r["int8_recall_at_10"], 4),
                f"float16 {_num(r['float16_recall_at_10'], 4)}",
            )
        )
    o = d.get("outliers", {})
    if o:
        rows.append(
            Row(
                name,
                "outlier score ROC AUC, text pages vs story",
                _num(o.get("auc_text_backmatter_vs_story")),
                f"non-story vs story {_num(o.get('auc_non_story_vs_story'))}",
            )
        )
    return rows


def _speed(kind: str) -> Callable[[dict], list[Row]]:
    def extract(d: dict) -> list[Row]:
        rows = []
        if kind == "store":
            for b in d.get("bytes", []):
                rows.append(
                    Row(
                        f"Embedding store ({b['dtype']})",
                        "bytes per page / write pages/s",
                        f"{b['bytes_per_page']:.0f} B / {b['pages_per_s']:.0f}",
                        f"earlier store {d.get('earlier_bytes_per_page', '?')} B/page",
                    )
                )
            for lat in d.get("latency", []):
                rows.append(
                    Row(
                        f"Search, {lat['rows']:,} rows, {lat['method']}",
                        "p50 / p95 latency",
                        f"{lat['p50_ms']:.1f} / {lat['p95_ms']:.1f} ms",
                        f"recall@10 {lat['recall_at_10']}",
                    )
                )
            return rows
        for r in d.get("results", []):
            label = r.get("container") or r.get("task") or r.get("configs") or ""
            rows.append(
                Row(
                    f"Speed: {kind} {label} ({r.get('workers', 1)} worker(s))".replace("  ", " "),
                    "pages/s",
                    f"{r['pages_per_s']:.1f}",
                    _target(d, r),
                )
            )
        return rows

    return extract


def _target(d: dict, r: dict) -> str:
    for key in ("target_pages_per_s", "target_detection_pages_per_s"):
        value = r.get(key, d.get(key))
        if value:
            return f"target {value} pages/s"
    if d.get("target_s_for_2000_pages"):
        return f"target {d['target_s_for_2000_pages']} s for 2,000 pages"
    return ""


_METRIC_WORDS = ("acc", "f1", "pq", "recall", "precision", "tau", "exact", "ap", "mndd", "loss")


def _generic(title: str) -> Callable[[dict], list[Row]]:
    """Numeric metrics at the top level or one level down (PSS, Closure Lite held-out, others)."""

    def extract(d: dict) -> list[Row]:
        rows = []

        def visit(prefix: str, value, depth: int) -> None:
            if isinstance(value, bool):
                return
            if isinstance(value, (int, float)) and any(w in prefix.lower() for w in _METRIC_WORDS):
                rows.append(Row(title, prefix, _num(float(value))))
            elif isinstance(value, dict) and depth < 2:
                for k, v in value.items():
                    visit(f"{prefix}.{k}" if prefix else str(k), v, depth + 1)

        visit("", d, 0)
        return rows

    return extract


def _pss_speed(d: dict) -> list[Row]:
    return [
        Row(
            f"Speed: PSS classification, {r['mode']}, {r['method']}",
            "pages/s",
            f"{r['pages_per_s']:.0f}",
            f"{r['vs_target']:.2f}x the 2,000 pages/s target; {r['vs_baseline']:.2f}x one book per call",
        )
        for r in d.get("classify", {}).get("rows", [])
    ]


def _ocr_speed(d: dict) -> list[Row]:
    rows = []
    for r in d.get("results", []):
        unit = r.get("unit", "word")  # files before the per-book benchmark: Craphound words only
        recall = r.get("recall", r.get("word_recall"))
        precision = r.get("precision", r.get("word_precision"))
        book = r.get("book", d.get("data", ""))
        lettering = f", {r['lettering']}" if r.get("lettering") else ""
        rows.append(
            Row(
                f"Speed: detection + OCR {r['engine']}, {book} ({r['pages']} real pages{lettering}), "
                f"{d.get('threads') or 'onnxruntime default'} thread(s)",
                f"pages/s; {unit} recall / precision",
                f"{r['pages_per_s']:.3f}; {recall:.3f} / {precision:.3f}",
                f"{r['ratio_vs_baseline']:.2f}x {d.get('baseline', 'rapidocr')} in the same run "
                f"(target {d.get('target_ratio', 2.0):.1f}x)",
            )
        )
    return rows


def _ocr_openmantra(d: dict) -> list[Row]:
    return [
        Row(
            f"OCR {name}, OpenMantra {book} ({r['pages']} pages, vertical Japanese)",
            "character recall / precision",
            f"{r['char_recall']:.3f} / {r['char_precision']:.3f}",
            f"{r['seconds']:.1f} s reading",
        )
        for book, engines in d.get("books", {}).items()
        for name, r in engines.items()
    ]


def _closure_lite_speed(d: dict) -> list[Row]:
    rows = []
    for name, r in d.get("results", {}).items():
        params = r.get("parameters", {}).get("total")
        rows.append(
            Row(
                f"Speed: Closure Lite {name} ({params:,} parameters)" if params else f"Closure Lite {name}",
                "train steps/s (text frozen) / embed pages/s",
                f"{r['train']['steps_per_s']:.2f} ({r['train_text_frozen']['steps_per_s']:.2f}) / "
                f"{r['embed']['pages_per_s']:.1f}",
                f"{r.get('device', 'cpu')}",
            )
        )
    return rows


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
    Source("pss-speed.json", _pss_speed, "python scripts/bench_pss.py --books 100 --runs 3"),
    Source("closure_lite.json", _closure_lite_speed, "python scripts/bench_closure_lite.py"),
    Source("ocr-speed.json", _ocr_speed, "python scripts/bench_annotate.py --mode ocr --runs 3"),
    Source("ocr-openmantra.json", _ocr_openmantra, "python scripts/eval_ocr_openmantra.py --json ..."),
    Source(
        "pss-synthetic*.json",
        _generic("CoSMo PSS, synthetic books (held out)"),
        "comics-analysis eval pss --features pss/test --model pss/run/best "
        "--json docs/bench/pss-synthetic.json",
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
