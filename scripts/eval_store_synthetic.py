"""The store on a real model's vectors: int8 agreement, bytes, and the outlier flag vs page types.

    python scripts/eval_store_synthetic.py --model runs/lite/best --books 40 \\
        --out bench_output/store-corpus --json docs/bench/store-corpus.json

A synthetic library (``synth.make_library``: issues, anthologies and manga with covers, credits,
ads, prose text pages and art back matter; a seed the model was not trained on) goes through the
real chain: ingest -> annotate (classical panels + ``--ocr``) -> embed with the Closure Lite
model in ``--model``. The float32 vectors the model returns are kept, and the same vectors are
written as a float16 and an int8 store. Reported:

1. bytes per page and per stored vector of both stores (real vectors, not random ones);
2. int8 and float16 agreement with float32 exact search, recall@10, for three query kinds:
   every page vector ("more like this", own row excluded), up to 2,000 panel vectors (own row
   excluded), and text queries (the lettered text of up to 500 panels, embedded by the model)
   against all panel vectors;
3. the outlier flag of ``analyze_store`` (threshold 5) against the ground-truth page types: per
   type, pages / flagged / median score, and the ROC AUC of the score for prose text pages
   (``text_backmatter``) and for every non-story page against story pages.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


def topk_excluding(queries: np.ndarray, data: np.ndarray, k: int, exclude: np.ndarray | None) -> np.ndarray:
    """Row ids of the top ``k`` of ``queries @ data.T`` (``exclude[i]``: a row query i skips)."""
    out = np.empty((len(queries), k), np.int64)
    for start in range(0, len(queries), 256):
        scores = queries[start : start + 256] @ data.T
        if exclude is not None:
            scores[np.arange(len(scores)), exclude[start : start + 256]] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, top, 1).argsort(axis=1)[:, ::-1]
        out[start : start + 256] = np.take_along_axis(top, order, 1)
    return out


def agreement(name, queries, exact, approx_by_dtype, exclude, k=10) -> dict:
    from comics_analysis.store import recall_at_k

    truth = topk_excluding(queries, exact, k, exclude)
    row = {"queries": name, "n_queries": len(queries), "rows": len(exact)}
    for dtype, approx in approx_by_dtype.items():
        row[f"{dtype}_recall_at_10"] = recall_at_k(truth, topk_excluding(queries, approx, k, exclude), k)
    # how close the float32 10th and 11th scores are: near-ties are what quantisation can swap
    scores = np.sort(queries[: min(len(queries), 500)] @ exact.T, axis=1)[:, ::-1]
    offset = 1 if exclude is not None else 0
    row["median_gap_10_11"] = float(np.median(scores[:, 9 + offset] - scores[:, 10 + offset]))
    return row


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if positive.all() or not positive.any():
        return None
    return float(roc_auc_score(positive, scores))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="a trained Closure Lite model folder")
    parser.add_argument("--books", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2026, help="library seed (not the training seed)")
    parser.add_argument("--size", default="530x800", help="page size WxH")
    parser.add_argument("--ocr", default="rapidocr")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench_output/store-corpus"))
    parser.add_argument("--json", type=Path, default=None, help="results file (default OUT/results.json)")
    args = parser.parse_args()

    from comics_analysis.analysis import analyze_store
    from comics_analysis.annotate import annotate
    from comics_analysis.annotate.pipeline import recorded_images_root
    from comics_analysis.dataspec import read_pages
    from comics_analysis.inference.closure_lite import ModelEmbedder, load_closure_lite, query_vector
    from comics_analysis.ingest import ingest
    from comics_analysis.store import open_store, write_store
    from comics_analysis.store.inputs import page_source
    from comics_analysis.synth import make_library

    out = args.out
    width, height = (int(v) for v in args.size.lower().split("x"))
    timings = {}
    t = time.perf_counter()
    if not (out / "library.json").is_file():
        make_library(out, books=args.books, seed=args.seed, size=(width, height), show_progress=True)
    if not (out / "ingest").is_dir():
        ingest([out / "books"], out / "ingest", workers=args.workers)
    if not (out / "annotated" / "dataspec").is_dir():
        annotate(out / "ingest", out / "annotated", ocr=args.ocr, workers=args.workers)
    timings["library_ingest_annotate_s"] = time.perf_counter() - t
    truth = {p.page_id: p.page_type for p in read_pages(out / "truth")}

    loaded = load_closure_lite(args.model)
    embedder = ModelEmbedder(loaded)
    source = page_source(out / "annotated", image_root=recorded_images_root(out / "annotated"))
    raw: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    t = time.perf_counter()
    for start in range(0, len(source), 16):
        items = source.items(start, min(len(source), start + 16))
        page, panel, mask = embedder(items)
        for r, item in enumerate(items):  # panel slots padded to the store's 16
            slots, slot_mask = np.zeros((16, panel.shape[-1]), np.float32), np.zeros(16, bool)
            n = min(16, panel.shape[1])
            slots[:n], slot_mask[:n] = panel[r, :n], mask[r, :n]
            raw[item.page.page_id] = (page[r], slots, slot_mask)
    timings["embed_s"] = time.perf_counter() - t
    timings["embed_pages_per_s"] = len(raw) / timings["embed_s"]

    def replay(items):
        rows = [raw[item.page.page_id] for item in items]
        return tuple(np.stack([r[i] for r in rows]) for i in range(3))

    stores, sizes = {}, []
    for dtype in ("float16", "int8"):
        path = out / f"store-{dtype}.zarr"
        shutil.rmtree(path, ignore_errors=True)
        write_store(source, path, replay, model_id=loaded.model_id, dtype=dtype, show_progress=False)
        stores[dtype] = open_store(path)
        info = stores[dtype].info()
        n, panels = len(stores[dtype]), int(stores[dtype].panel_mask.sum())
        sizes.append(
            {
                "dtype": dtype,
                "pages": n,
                "real_panels": panels,
                "bytes_total": info["bytes_on_disk"],
                "bytes_per_page": info["bytes_on_disk"] / n,
                "bytes_per_stored_vector": info["bytes_on_disk"] / (n + panels),
            }
        )

    # float32 reference: the model's vectors, unit length, in store order
    ids = list(stores["float16"].page_ids)
    f32_page = np.stack([raw[p][0] for p in ids]).astype(np.float32)
    f32_page /= np.linalg.norm(f32_page, axis=1, keepdims=True)
    mask = np.stack([raw[p][2] for p in ids])
    f32_panel = np.stack([raw[p][1] for p in ids])[mask].astype(np.float32)
    f32_panel /= np.linalg.norm(f32_panel, axis=1, keepdims=True)
    pages_by_dtype = {d: s.page_vectors() for d, s in stores.items()}
    panels_by_dtype = {d: s.panel_vectors()[s.panel_mask] for d, s in stores.items()}

    rng = np.random.default_rng(0)
    rows = []
    rows.append(agreement("page -> pages", f32_page, f32_page, pages_by_dtype, np.arange(len(f32_page))))
    pick = np.sort(rng.choice(len(f32_panel), min(2000, len(f32_panel)), replace=False))
    rows.append(
        agreement(
            "panel -> panels",
            f32_panel[pick],
            f32_panel,
            panels_by_dtype,
            pick,
        )
    )
    store = stores["float16"]
    has_text = np.flatnonzero(store.panel_has_text[store.panel_mask])
    panel_page = np.repeat(np.arange(len(ids)), mask.sum(axis=1))
    panel_slot = np.concatenate([np.flatnonzero(m) for m in mask])
    chosen = rng.choice(has_text, min(500, len(has_text)), replace=False) if len(has_text) else []
    texts = [" ".join(store.texts(ids[panel_page[i]], int(panel_slot[i]))) for i in chosen]
    if texts:
        text_q = np.stack([query_vector(loaded, text=t) for t in texts]).astype(np.float32)
        rows.append(agreement("text -> panels", text_q, f32_panel, panels_by_dtype, None))

    # the outlier flag against the page types
    analysis = analyze_store(store, out / "analysis", method="umap")
    report = json.loads((out / "analysis" / "outliers.json").read_text())
    scored = report["all"]
    score = np.array([r["outlier_score"] for r in scored])
    flagged = np.array([r["outlier"] for r in scored])
    types = np.array([truth.get(r["page_id"], "unknown") for r in scored])
    by_type = defaultdict(list)
    for t_, s_, f_ in zip(types, score, flagged):
        by_type[t_].append((s_, f_))
    per_type = [
        {
            "page_type": t_,
            "pages": len(v),
            "flagged": int(sum(f for _, f in v)),
            "median_score": float(np.median([s for s, _ in v])),
        }
        for t_, v in sorted(by_type.items(), key=lambda kv: -len(kv[1]))
    ]
    story_or = np.isin(types, ["story", "text_backmatter"])
    outliers = {
        "threshold": report["threshold"],
        "clusters": len(analysis.clusters),
        "flagged": int(flagged.sum()),
        "flagged_non_story": int((flagged & (types != "story")).sum()),
        "auc_text_backmatter_vs_story": roc_auc(score[story_or], types[story_or] == "text_backmatter"),
        "auc_non_story_vs_story": roc_auc(score, types != "story"),
        "per_type": per_type,
    }

    print(
        f"store on real vectors: {len(ids)} pages, {len(f32_panel)} panels, model {args.model} "
        f"({timings['embed_pages_per_s']:.1f} pages/s embedding); {platform.machine()}, "
        f"{os.cpu_count()} cores"
    )
    print(f"{'dtype':<8} {'B/page':>7} {'B/vector':>9}")
    for r in sizes:
        print(f"{r['dtype']:<8} {r['bytes_per_page']:>7.0f} {r['bytes_per_stored_vector']:>9.0f}")
    print(f"{'queries':<16} {'n':>5} {'rows':>6} {'int8 R@10':>10} {'float16 R@10':>13} {'gap 10-11':>10}")
    for r in rows:
        print(
            f"{r['queries']:<16} {r['n_queries']:>5} {r['rows']:>6} {r['int8_recall_at_10']:>10.4f} "
            f"{r['float16_recall_at_10']:>13.4f} {r['median_gap_10_11']:>10.4f}"
        )
    print(
        f"outliers: {outliers['flagged']} flagged ({outliers['flagged_non_story']} not story); AUC text "
        f"pages vs story {outliers['auc_text_backmatter_vs_story']}, non-story vs story "
        f"{outliers['auc_non_story_vs_story']}"
    )
    print(f"{'page type':<18} {'pages':>6} {'flagged':>8} {'median z':>9}")
    for r in per_type:
        print(f"{r['page_type']:<18} {r['pages']:>6} {r['flagged']:>8} {r['median_score']:>9.2f}")
    payload = {
        "model": str(args.model),
        "books": args.books,
        "seed": args.seed,
        "size": args.size,
        "ocr": args.ocr,
        "timings": timings,
        "bytes": sizes,
        "int8_agreement": rows,
        "outliers": outliers,
    }
    from comics_analysis.benchmarks.report import write_results

    path = write_results(args.json or out / "results.json", payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
