"""Ingest speed: pages/s for CBZ and PDF on a generated library, 1 and 2 workers, median of N runs.

    python scripts/bench_ingest.py --pages 1000 --runs 3 --out bench_output/ingest

Builds (once, cached in --out) a synthetic library of about --pages pages at 1060x1600, written
both as CBZ and as PDF, then times fresh (non-resumed) ingest runs. Targets from issue 3:
CBZ >= 150 pages/s on 2 cores, PDF >= 15 pages/s at 150 DPI (the "pdf render" row rasterises
every page; the "pdf" row extracts the embedded page images). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

TARGETS = {"cbz": 150.0, "pdf": 15.0, "pdf render": 15.0}


def _make_book(args: tuple[int, Path, int]) -> int:
    from comics_analysis.synth import make_book, write_cbz, write_pdf

    index, out, story_pages = args
    book = make_book(
        (2026, index),
        kind=("issue", "anthology", "manga")[index % 3],
        number=index + 1,
        story_pages=(story_pages, story_pages),
    )
    write_cbz(book, out / "cbz" / f"book-{index:03d}.cbz")
    write_pdf(book, out / "pdf" / f"book-{index:03d}.pdf")
    return len(book.pages)


def build_library(out: Path, pages: int, workers: int) -> int:
    """Books of ~18 pages, written as CBZ and PDF, until the library holds at least ``pages``."""
    marker = out / "library.json"
    if marker.is_file() and json.loads(marker.read_text())["target_pages"] == pages:
        return json.loads(marker.read_text())["pages"]
    shutil.rmtree(out, ignore_errors=True)
    (out / "cbz").mkdir(parents=True)
    (out / "pdf").mkdir()
    total, books = 0, 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        while total < pages:
            batch = max(workers, (pages - total) // 18 + 1)
            total += sum(pool.map(_make_book, [(books + i, out, 14) for i in range(batch)]))
            books += batch
    marker.write_text(json.dumps({"target_pages": pages, "pages": total, "books": books}))
    return total


def time_ingest(source: Path, out: Path, workers: int, pdf_mode: str) -> tuple[float, int]:
    from comics_analysis.ingest import ingest

    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    manifest = ingest([source], out, workers=workers, pdf_mode=pdf_mode, show_progress=False)
    seconds = time.perf_counter() - start
    ok = sum(1 for r in manifest.rows() if r["status"] == "ok")
    shutil.rmtree(out, ignore_errors=True)
    return seconds, ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=Path("bench_output/ingest"))
    parser.add_argument("--json", type=Path, default=None, help="results file (default OUT/results.json)")
    args = parser.parse_args()

    library = args.out / "library"
    total = build_library(library, args.pages, max(args.workers))
    results = []
    for name, source, mode in (
        ("cbz", library / "cbz", "auto"),
        ("pdf", library / "pdf", "auto"),
        ("pdf render", library / "pdf", "render"),
    ):
        for workers in args.workers:
            times = []
            for _ in range(args.runs):
                seconds, ok = time_ingest(source, args.out / "run", workers, mode)
                if ok != total:
                    raise SystemExit(f"{name}: ingested {ok} of {total} pages")
                times.append(seconds)
            median = statistics.median(times)
            results.append(
                {
                    "container": name,
                    "workers": workers,
                    "pages": total,
                    "runs": times,
                    "median_s": median,
                    "pages_per_s": total / median,
                    "target_pages_per_s": TARGETS[name],
                    "ratio_to_target": total / median / TARGETS[name],
                }
            )
    base = {(r["container"]): r["pages_per_s"] for r in results if r["workers"] == min(args.workers)}
    for r in results:
        r["speedup_vs_1_worker"] = r["pages_per_s"] / base[r["container"]]
    print(
        f"ingest benchmark: {total} pages at 1060x1600, median of {args.runs} runs, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    print(
        f"{'container':<11} {'workers':>7} {'median s':>9} {'pages/s':>8} {'target':>7} {'vs target':>9} "
        f"{'vs 1 worker':>11}"
    )
    for r in results:
        print(
            f"{r['container']:<11} {r['workers']:>7} {r['median_s']:>9.2f} {r['pages_per_s']:>8.1f} "
            f"{r['target_pages_per_s']:>7.0f} {r['ratio_to_target']:>8.2f}x "
            f"{r['speedup_vs_1_worker']:>10.2f}x"
        )
    payload = {
        "results": results,
    }
    from comics_analysis.benchmarks.report import write_results

    path = write_results(args.json or args.out / "results.json", payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
