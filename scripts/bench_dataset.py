"""comic_pages build speed and size: seconds for --pages synthetic pages, Parquet bytes vs image bytes.

    python scripts/bench_dataset.py --pages 2000 --runs 3 --out bench_output/dataset

Builds (once, cached in --out) a synthetic library of about --pages pages at 1060x1600 (books of
16 to 18 pages, CBZ, JPEG quality 90), ingests it, writes a simulated grounded VLM reading per
page (``synth.vlm.simulate_vlm`` with its default errors) and annotates it (classical detector,
no OCR, readings merged), so the aligned / perfect_match configs are real subsets. Then times
fresh ``export_comic_pages`` runs: the ``all`` config alone (median of --runs) and all three
configs (one run). Target from issue 6: 2,000 pages in < 60 s on 2 cores, Parquet within 10% of
the summed image bytes. Prints a table and writes JSON (--json, default OUT/results.json).
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

TARGET_S = 60.0  # 2,000 pages
TARGET_PAGES = 2000
MAX_RATIO_OFF = 0.10  # Parquet bytes within 10% of the image bytes


def _make_book(args: tuple[int, Path]) -> list[dict]:
    """One CBZ book and its simulated VLM readings (run-file format, keyed by page id)."""
    import numpy as np

    from comics_analysis.annotate.vlm import parse_vlm_json
    from comics_analysis.synth import make_book, write_cbz
    from comics_analysis.synth.vlm import simulate_vlm

    index, out = args
    book = make_book(
        (606, index), kind=("issue", "anthology", "manga")[index % 3], number=index + 1, story_pages=(13, 13)
    )
    records = write_cbz(book, out / "books" / f"book-{index:04d}.cbz", root=out)
    rng = np.random.default_rng([606, index])
    for truth in records:
        reading = parse_vlm_json(simulate_vlm(truth, rng).text).page
        path = out / "vlm" / "pages" / f"{truth.page_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        page = reading.model_dump(mode="json")
        record = {"page_id": truth.page_id, "model": "simulated-vlm", "prompt_version": "v2-grounded-1"}
        path.write_text(json.dumps({**record, "page": page}))
    return [r.page_id for r in records]


def prepare(out: Path, pages: int, workers: int) -> int:
    """Library -> ingest -> annotate (cached by --pages)."""
    from comics_analysis.annotate import annotate
    from comics_analysis.ingest import ingest

    marker = out / "prepared.json"
    if marker.is_file() and json.loads(marker.read_text())["target"] == pages:
        return json.loads(marker.read_text())["pages"]
    shutil.rmtree(out, ignore_errors=True)
    (out / "books").mkdir(parents=True)
    total, books = 0, 0
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        while total < pages:
            batch = max(workers, (pages - total) // 18 + 1)
            total += sum(len(ids) for ids in pool.map(_make_book, [(books + i, out) for i in range(batch)]))
            books += batch
    print(f"synthesised {total} pages in {books} books in {time.perf_counter() - start:.0f} s")
    manifest = ingest([out / "books"], out / "ingest", workers=workers, show_progress=False)
    ok = len(manifest.ok())
    annotate(out / "ingest", out / "ann", ocr="none", vlm=out / "vlm", workers=workers, show_progress=False)
    print(f"prepared in {time.perf_counter() - start:.0f} s")
    marker.write_text(json.dumps({"target": pages, "pages": ok, "books": books}))
    return ok


def image_column_bytes(folder: Path, files: list[str]) -> tuple[int, int]:
    """(uncompressed, compressed) bytes of the ``image.bytes`` column over the shards: the
    uncompressed size equals the image files' bytes (plus 4-byte lengths) when nothing was
    re-encoded; the compressed size is what zstd made of them."""
    import pyarrow.parquet as pq

    raw = packed = 0
    for name in files:
        meta = pq.ParquetFile(folder / name).metadata
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                column = meta.row_group(g).column(c)
                if column.path_in_schema == "image.bytes":
                    raw += column.total_uncompressed_size
                    packed += column.total_compressed_size
    return raw, packed


def time_build(out: Path, configs: list[str] | None) -> tuple[float, object]:
    from comics_analysis.dataset_builders.comic_pages import export_comic_pages

    target = out / "run"
    shutil.rmtree(target, ignore_errors=True)
    start = time.perf_counter()
    result = export_comic_pages(out / "ann", target, configs=configs, show_progress=False)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=TARGET_PAGES)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="for preparing the library only")
    parser.add_argument("--out", type=Path, default=Path("bench_output/dataset"))
    parser.add_argument("--json", type=Path, default=None, help="results file (default OUT/results.json)")
    parser.add_argument("--verify", action="store_true", help="reload the last build with load_dataset")
    args = parser.parse_args()

    total = prepare(args.out, args.pages, args.workers)
    rows = []
    for task, configs, runs in (("all", ["all"], args.runs), ("all + aligned + perfect_match", None, 1)):
        times, result = [], None
        for _ in range(runs):
            seconds, result = time_build(args.out, configs)
            times.append(seconds)
        median = statistics.median(times)
        images, parquet = sum(result.image_bytes.values()), sum(result.parquet_bytes.values())
        shards = [n for splits in result.files.values() for names in splits.values() for n in names]
        raw, packed = image_column_bytes(args.out / "run", shards)
        rows.append(
            {
                "configs": task,
                "pages_in_collection": total,
                "rows_written": sum(result.stats["configs"][c]["pages"] for c in result.files),
                "runs": times,
                "median_s": median,
                "pages_per_s": total / median,
                "shards": result.shards,
                "image_bytes": images,
                "parquet_bytes": parquet,
                "parquet_to_image_bytes": parquet / images,
                "image_column_uncompressed_bytes": raw,
                "image_column_compressed_bytes": packed,
                "image_column_uncompressed_to_image_bytes": raw / images,
                "subset_pages": {c: v["pages"] for c, v in result.stats["configs"].items()},
            }
        )
    print(
        f"comic_pages build benchmark: {total} pages at 1060x1600, {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}; target < {TARGET_S:.0f} s for {TARGET_PAGES} pages, "
        f"Parquet within {MAX_RATIO_OFF:.0%} of image bytes"
    )
    print(
        f"{'configs':<30} {'rows':>6} {'runs':>4} {'median s':>9} {'pages/s':>8} {'shards':>6} "
        f"{'image MB':>9} {'parquet MB':>10} {'ratio':>6} {'stored/files':>12}"
    )
    for r in rows:
        print(
            f"{r['configs']:<30} {r['rows_written']:>6} {len(r['runs']):>4} {r['median_s']:>9.2f} "
            f"{r['pages_per_s']:>8.1f} {r['shards']:>6} {r['image_bytes'] / 1e6:>9.1f} "
            f"{r['parquet_bytes'] / 1e6:>10.1f} {r['parquet_to_image_bytes']:>6.3f} "
            f"{r['image_column_uncompressed_to_image_bytes']:>12.4f}"
        )
    print(
        "ratio = Parquet bytes / image file bytes; stored/files = the image column's bytes before Parquet's "
        "zstd / image file bytes (1.0: copied, not re-encoded)"
    )
    print("subset pages: " + ", ".join(f"{k} {v}" for k, v in rows[0]["subset_pages"].items()))
    if args.verify:
        import datasets

        start = time.perf_counter()
        reloaded = datasets.load_dataset(str(args.out / "run"), cache_dir=str(args.out / "hf-cache"))
        count = sum(ds.num_rows for ds in reloaded.values())
        print(f"load_dataset(folder): {count} rows in {time.perf_counter() - start:.1f} s")
        shutil.rmtree(args.out / "hf-cache", ignore_errors=True)
    payload = {
        "target_s_for_2000_pages": TARGET_S,
        "target_ratio_off": MAX_RATIO_OFF,
        "results": rows,
    }
    from comics_analysis.benchmarks.report import write_results

    path = write_results(args.json or args.out / "results.json", payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
