"""Annotate speed: pages/s for panel detection alone and detection + OCR, 1 and 2 workers.

    python scripts/bench_annotate.py --pages 200 --out bench_output/annotate

Builds (once, cached in --out) a synthetic library of about --pages pages at 1060x1600 and
ingests it; then times fresh ``annotate`` runs. Target from issue 4: classical detection
>= 10 pages/s on 2 cores. Detection rows are the median of --runs runs; OCR rows of
--ocr-runs runs (OCR is ~100x slower). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

TARGET = 10.0  # classical detection, pages/s on 2 cores


def prepare(out: Path, pages: int) -> int:
    from comics_analysis.ingest import ingest
    from comics_analysis.synth import make_library

    marker = out / "prepared.json"
    if marker.is_file() and json.loads(marker.read_text())["target"] == pages:
        return json.loads(marker.read_text())["pages"]
    shutil.rmtree(out, ignore_errors=True)
    books = pages // 16 + 1  # ~16-18 pages a book: at least --pages in all
    make_library(out / "lib", books=books, seed=404, story_pages=(13, 13), show_progress=False)
    manifest = ingest([out / "lib" / "books"], out / "ingest", workers=2, show_progress=False)
    count = len(manifest.ok())
    marker.write_text(json.dumps({"target": pages, "pages": count}))
    return count


def time_annotate(out: Path, workers: int, ocr: str) -> float:
    from comics_analysis.annotate import annotate

    target = out / "run"
    shutil.rmtree(target, ignore_errors=True)
    start = time.perf_counter()
    annotate(out / "ingest", target, ocr=ocr, workers=workers, show_progress=False)
    seconds = time.perf_counter() - start
    shutil.rmtree(target, ignore_errors=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ocr-runs", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ocr", default="rapidocr", help="OCR engine for the detection + OCR rows")
    parser.add_argument("--out", type=Path, default=Path("bench_output/annotate"))
    parser.add_argument("--json", type=Path, default=None, help="results file (default OUT/results.json)")
    args = parser.parse_args()

    total = prepare(args.out, args.pages)
    results = []
    for task, ocr, runs in (
        ("detection", "none", args.runs),
        (f"detection + {args.ocr}", args.ocr, args.ocr_runs),
    ):
        if runs < 1:  # e.g. --ocr-runs 0: detection only
            continue
        for workers in args.workers:
            times = [time_annotate(args.out, workers, ocr) for _ in range(runs)]
            median = statistics.median(times)
            results.append(
                {
                    "task": task,
                    "workers": workers,
                    "pages": total,
                    "runs": times,
                    "median_s": median,
                    "pages_per_s": total / median,
                }
            )
    base = {r["task"]: r["pages_per_s"] for r in results if r["workers"] == min(args.workers)}
    for r in results:
        r["vs_1_worker"] = r["pages_per_s"] / base[r["task"]]
        r["vs_target"] = r["pages_per_s"] / TARGET if r["task"] == "detection" else None
    print(
        f"annotate benchmark: {total} pages at 1060x1600, {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}"
    )
    print(
        f"{'task':<22} {'workers':>7} {'runs':>4} {'median s':>9} {'pages/s':>8} "
        f"{'vs target':>9} {'vs 1 worker':>11}"
    )
    for r in results:
        vs_target = f"{r['vs_target']:.2f}x" if r["vs_target"] is not None else "-"
        print(
            f"{r['task']:<22} {r['workers']:>7} {len(r['runs']):>4} {r['median_s']:>9.2f} "
            f"{r['pages_per_s']:>8.2f} {vs_target:>9} {r['vs_1_worker']:>10.2f}x"
        )
    payload = {
        "target_detection_pages_per_s": TARGET,
        "results": results,
    }
    from comics_analysis.benchmarks.report import write_results

    path = write_results(args.json or args.out / "results.json", payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
