"""Page stream segmentation speed: feature extraction and classification from cached features.

    python scripts/bench_pss.py --features /tmp/pss/test --model /tmp/pss/run/best --pages 200
    python scripts/bench_pss.py --books 200 --runs 3          # classification only, random features

1. Feature extraction (pages/s): ``--pages`` synthetic pages (265 x 400) through the offline
   ``pixels`` vision descriptor and the MiniLM text encoder, timed apart; page generation
   (synth) is excluded. Skipped with ``--pages 0``.
2. Classification from cached features (pages/s): every book of ``--features`` (or ``--books``
   books of 16-60 pages with random features: speed does not depend on the values) through the
   model of ``--model`` (or an untrained one of the default config: same shapes), full-book and
   windowed (32 / 16), on CPU with ``--threads`` threads. Baseline: one book per forward call
   (``classify_book`` in a loop); ours: windows of many books batched (``classify_books``).
   Target (issue 9): >= 2,000 pages/s. Medians of ``--runs``; table + JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from comics_analysis.dataspec import PAGE_TYPES
from comics_analysis.inference.pss import load_books, load_pss_model, predict_books
from comics_analysis.inference.text import TextEncoder
from comics_analysis.inference.vision import VisionEncoder
from comics_analysis.modeling.cosmo_pss import CosmoPssConfig, CosmoPssForPageClassification
from comics_analysis.training.pss_features import synthetic_pages

TARGET = 2000.0  # pages/s from cached features (issue 9)


def bench_features(pages: int) -> dict:
    items = []
    for page in synthetic_pages(max(1, pages // 12 + 1), seed=99):
        items.append(page)
        if len(items) == pages:
            break
    vision, text = VisionEncoder("pixels"), TextEncoder("minilm")
    text([p.text for p in items[:8]])  # warm-up
    start = time.perf_counter()
    vision(items)
    vision_s = time.perf_counter() - start
    start = time.perf_counter()
    text([p.text for p in items])
    text_s = time.perf_counter() - start
    return {
        "pages": len(items),
        "vision_pixels_pages_per_s": round(len(items) / vision_s, 1),
        "text_minilm_pages_per_s": round(len(items) / text_s, 1),
        "both_pages_per_s": round(len(items) / (vision_s + text_s), 1),
    }


def random_books(count: int, vision_dim: int, text_dim: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    books = []
    for k in range(count):
        n = int(rng.integers(16, 61))
        books.append(
            {
                "book_id": f"bench-{k:08d}",
                "page_ids": [f"bench-{k:08d}/p{i:04d}" for i in range(n)],
                "vision": rng.standard_normal((n, vision_dim)).astype(np.float32),
                "text": rng.standard_normal((n, text_dim)).astype(np.float32),
                "text_mask": rng.random(n) > 0.2,
            }
        )
    return books


def one_at_a_time(model, books, window, stride) -> None:
    for book in books:
        model.classify_book(
            torch.from_numpy(book["vision"]),
            torch.from_numpy(book["text"]),
            torch.from_numpy(np.asarray(book["text_mask"], dtype=bool)),
            window=window,
            stride=stride,
        )


def bench_classify(features: str | None, model_dir: str | None, books_n: int, runs: int) -> dict:
    model = (
        load_pss_model(model_dir)
        if model_dir
        else CosmoPssForPageClassification(CosmoPssConfig(labels=list(PAGE_TYPES))).eval()
    )
    config = model.config
    books = load_books(features) if features else random_books(books_n, config.vision_dim, config.text_dim)
    pages = sum(len(b["page_ids"]) for b in books)
    result = {
        "books": len(books),
        "pages": pages,
        "model": model_dir or "untrained default config",
        "rows": [],
    }
    for mode, window, stride in (("full book", None, None), ("windows 32/16", 32, 16)):
        for method, run in (
            ("one book per call (baseline)", lambda w=window, s=stride: one_at_a_time(model, books, w, s)),
            ("books batched (predict_books)", lambda w=window, s=stride: predict_books(model, books, w, s)),
        ):
            run()  # warm-up
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            result["rows"].append(
                {
                    "mode": mode,
                    "method": method,
                    "runs": times,
                    "median_s": median,
                    "pages_per_s": pages / median,
                }
            )
    for row in result["rows"]:
        base = next(r for r in result["rows"] if r["mode"] == row["mode"] and "baseline" in r["method"])
        row["vs_baseline"] = row["pages_per_s"] / base["pages_per_s"]
        row["vs_target"] = row["pages_per_s"] / TARGET
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--features", help="feature store of `pss features` (default: random features)")
    parser.add_argument("--model", help="model folder (default: an untrained model of the default config)")
    parser.add_argument("--books", type=int, default=200, help="random books when --features is not given")
    parser.add_argument(
        "--pages", type=int, default=0, help="pages for the feature-extraction timing (0: skip)"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench_output/pss-speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''} threads={args.threads}".strip(),
        "cores": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "torch": torch.__version__,
        "target_pages_per_s": TARGET,
    }
    if args.pages:
        report["features"] = bench_features(args.pages)
    report["classify"] = bench_classify(args.features, args.model, args.books, args.runs)
    c = report["classify"]
    print(
        f"PSS classification from cached features: {c['books']} books, {c['pages']} pages, "
        f"{report['machine']}, load {report['load_average']:.1f}"
    )
    print(f"{'mode':<14} {'method':<30} {'median s':>9} {'pages/s':>9} {'vs baseline':>11} {'vs target':>9}")
    for r in c["rows"]:
        print(
            f"{r['mode']:<14} {r['method']:<30} {r['median_s']:>9.3f} {r['pages_per_s']:>9.0f} "
            f"{r['vs_baseline']:>10.2f}x {r['vs_target']:>8.2f}x"
        )
    if "features" in report:
        print("features:", json.dumps(report["features"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
