"""Page stream segmentation speed: feature extraction and classification from cached features.

    python scripts/bench_pss.py --features /tmp/pss/test --model /tmp/pss/run/model --pages 200

1. Feature extraction (pages/s): ``--pages`` synthetic pages (265 x 400) through the offline
   ``pixels`` vision descriptor and the MiniLM text encoder, timed apart; page generation
   (synth) is excluded.
2. Classification from cached features (pages/s): every book of ``--features`` through
   ``CosmoPssForPageClassification.classify_book``, full-book and windowed (32 / 16), on CPU,
   ``--threads`` threads. Target (issue 9): >= 2,000 pages/s.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from comics_analysis.modeling.cosmo_pss import CosmoPssForPageClassification
from comics_analysis.training.cosmo_pss import load_books, predict_books
from comics_analysis.training.pss_features import TextEncoder, VisionEncoder, synthetic_pages


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


def bench_classify(features: str, model_dir: str) -> dict:
    model = CosmoPssForPageClassification.from_pretrained(model_dir).eval()
    books = load_books(features)
    pages = sum(len(b["page_ids"]) for b in books)
    result = {"books": len(books), "pages": pages}
    for name, window, stride in (("full_book", None, None), ("window_32_16", 32, 16)):
        predict_books(model, books[:2], window, stride)  # warm-up
        start = time.perf_counter()
        predict_books(model, books, window, stride)
        result[f"{name}_pages_per_s"] = round(pages / (time.perf_counter() - start), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--features", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    np.random.seed(0)
    report = {
        "machine": f"{platform.machine()} {platform.processor() or ''} threads={args.threads}".strip(),
        "torch": torch.__version__,
        "features": bench_features(args.pages),
        "classify": bench_classify(args.features, args.model),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
