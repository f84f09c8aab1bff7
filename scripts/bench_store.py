"""Embedding store and search: bytes on disk, write speed, int8 agreement, query latency.

    python scripts/bench_store.py --pages 2000 --rows 100000 1000000 --out bench_output/store

1. Bytes: a synthetic corpus of ``--pages`` DataSpec pages (``synth.records``: layouts and
   lettering of the synthetic books, no images) is written as a float16 and an int8 store.
   Vectors come from a BENCHMARK EMBEDDER that returns random unit vectors (isotropic Gaussian,
   the least compressible kind; a real model's vectors compress at least as well), so the bytes
   are an upper bound. Reported: bytes per page, per stored vector (page + real panels), of the
   vector arrays alone, and what the empty panel slots cost. Earlier store: ~6.25 KB/page.
2. Write speed: pages/s of ``write_store`` (the embedder's own time reported apart).
3. int8 agreement: recall@10 of search over int8 vectors against float32 exact search, 100K
   vectors, 200 queries, on isotropic random vectors and on vectors around 1,000 random centres.
4. Latency on ``--rows`` vectors (single queries, p50/p95 of ``--queries``): exact search
   (FAISS fp16 flat scan in 2 threads, and numpy float32 blocked matmul) and the FAISS IVF index
   (nlist sqrt(n), nprobe calibrated at build time to recall@10 >= 0.95) with its recall@10
   against exact on new queries; at 10^5 rows also on isotropic random vectors (the worst case).
5. Quote search (``--quote-panels``): a full-text index (``store.fulltext``: SQLite FTS5 trigrams)
   of N synthetic lettered panels, one line each: 3-14 words drawn from a Zipf(1.1) vocabulary
   of 30,000 pseudo-words plus common English words and contractions (so trigrams such as
   "the" sit in a large share of the panels, as in real lettering). Reported: build seconds,
   index bytes per panel, and p50/p95 latency of ``--queries`` single queries per mode: fuzzy
   (a 4-8 word span of a stored line with an OCR-like error: a dropped letter, i -> 1, a
   dropped apostrophe; found@1 / found@10: its panel ranked first (ties at the top score
   count) / in the first 10), phrase (the span exact) and words. The index alone is timed
   (no zarr store at this scale); ``search_quote`` adds a Hit per result.
Real model vectors: scripts/eval_store_synthetic.py.
Targets (issue 8): float16 <= 800 B per stored vector, int8 <= 420 B with recall@10 >= 0.99,
exact p50 <= 150 ms at 10^6 page vectors on 2 cores. Issue 17: quote p50 <= 50 ms at 10^6
lettered panels on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np

EARLIER_BYTES_PER_PAGE = 6250


def random_embedder(items, panels=16, dim=384):
    """BENCHMARK EMBEDDER: random unit vectors seeded by page id (not a model)."""
    b = len(items)
    page = np.zeros((b, dim), np.float32)
    panel = np.zeros((b, panels, dim), np.float32)
    mask = np.zeros((b, panels), bool)
    for r, item in enumerate(items):
        rng = np.random.default_rng(abs(hash(item.page.page_id)) % (2**63))
        page[r] = rng.standard_normal(dim)
        n = min(len(item.page.panels), panels)
        panel[r, :n] = rng.standard_normal((n, dim))
        mask[r, :n] = True
    return page, panel, mask


def folder_bytes(path: Path) -> dict[str, int]:
    return {
        child.name: sum(f.stat().st_size for f in child.rglob("*") if f.is_file())
        if child.is_dir()
        else child.stat().st_size
        for child in path.iterdir()
    }


def bench_bytes(pages, out: Path) -> list[dict]:
    from comics_analysis.store import open_store, write_store

    results = []
    for dtype in ("float16", "int8"):
        path = out / f"store-{dtype}.zarr"
        shutil.rmtree(path, ignore_errors=True)
        embed_seconds = [0.0]

        def timed(items, clock=embed_seconds):
            t = time.perf_counter()
            result = random_embedder(items)
            clock[0] += time.perf_counter() - t
            return result

        start = time.perf_counter()
        write_store(pages, path, timed, model_id="benchmark-random", dtype=dtype, show_progress=False)
        seconds = time.perf_counter() - start
        store = open_store(path)
        sizes = folder_bytes(path)
        total = sum(sizes.values())
        n = len(store)
        panels = int(store.panel_mask.sum())
        vectors = n + panels
        vector_parts = ["page_embedding", "panel_embedding"] + (
            ["page_scale", "panel_scale"] if dtype == "int8" else []
        )
        vector_bytes = sum(sizes[p] for p in vector_parts)
        per_vector_raw = 384 * (2 if dtype == "float16" else 1) + (4 if dtype == "int8" else 0)
        results.append(
            {
                "dtype": dtype,
                "pages": n,
                "real_panels": panels,
                "panel_slots": n * store.panels,
                "stored_vectors": vectors,
                "bytes_total": total,
                "bytes_by_part": sizes,
                "bytes_per_page": total / n,
                "bytes_per_stored_vector": total / vectors,
                "vector_array_bytes_per_stored_vector": vector_bytes / vectors,
                "raw_bytes_per_vector": per_vector_raw,
                "panel_embedding_bytes_per_real_panel": sizes["panel_embedding"] / panels,
                "empty_slots": n * store.panels - panels,
                "write_seconds": seconds,
                "embed_fn_seconds": embed_seconds[0],
                "pages_per_s": n / seconds,
                "pages_per_s_excluding_embed_fn": n / (seconds - embed_seconds[0]),
            }
        )
    return results


def sample_vectors(kind: str, n: int, rng, centres=None) -> np.ndarray:
    if kind == "isotropic":
        v = rng.standard_normal((n, 384), dtype=np.float32)
    else:
        v = centres[rng.integers(0, len(centres), n)] + rng.standard_normal((n, 384), dtype=np.float32) * (
            0.8 / np.sqrt(384)
        )
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def bench_int8(rows: int = 100_000, queries: int = 200) -> list[dict]:
    from comics_analysis.store import dequantize_int8, quantize_int8, recall_at_k

    rng = np.random.default_rng(0)
    centres = sample_vectors("isotropic", 1000, rng)
    out = []
    for kind in ("isotropic", "clustered"):
        data = sample_vectors(kind, rows, rng, centres)
        q = sample_vectors(kind, queries, rng, centres)
        truth = np.argsort(-(q @ data.T), axis=1)[:, :10]
        codes, scale = quantize_int8(data)
        approx = dequantize_int8(codes, scale)
        found = np.argsort(-(q @ approx.T), axis=1)[:, :10]
        f16 = data.astype(np.float16).astype(np.float32)
        found16 = np.argsort(-(q @ f16.T), axis=1)[:, :10]
        out.append(
            {
                "vectors": kind,
                "rows": rows,
                "queries": queries,
                "int8_recall_at_10_vs_float32": recall_at_k(truth, found),
                "float16_recall_at_10_vs_float32": recall_at_k(truth, found16),
            }
        )
    return out


def percentiles(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)


def time_queries(index, queries: np.ndarray, k: int = 10) -> tuple[float, float, list[np.ndarray]]:
    """(p50 ms, p95 ms, found ids) of single queries, after one warm-up query."""
    index.search(queries[0], k)
    times, ids = [], []
    for query in queries:
        t = time.perf_counter()
        _, found = index.search(query, k)
        times.append(time.perf_counter() - t)
        ids.append(found)
    return (*percentiles(times), ids)


def bench_latency(rows_list: list[int], queries: int) -> list[dict]:
    from comics_analysis.store import AnnIndex, ExactIndex, recall_at_k

    rng = np.random.default_rng(1)
    centres = sample_vectors("isotropic", 1000, rng)
    results = []
    for rows in rows_list:
        data = np.empty((rows, 384), np.float32)
        for start in range(0, rows, 100_000):
            stop = min(rows, start + 100_000)
            data[start:stop] = sample_vectors("clustered", stop - start, rng, centres)
        data = data.astype(np.float16).astype(np.float32)  # what a float16 store holds
        q = sample_vectors("clustered", queries, rng, centres)
        exact_ids = []
        for backend in ("faiss", "numpy"):
            index = ExactIndex(data, backend=backend, threads=2)
            p50, p95, ids = time_queries(index, q)
            exact_ids = exact_ids or ids
            results.append(
                {
                    "rows": rows,
                    "method": f"exact ({backend})",
                    "p50_ms": p50,
                    "p95_ms": p95,
                    "memory_bytes": index.nbytes,
                    "recall_at_10": recall_at_k(np.array(exact_ids), np.array(ids)),
                }
            )
            del index
        for kind in ("clustered", "isotropic") if rows <= 100_000 else ("clustered",):
            if kind == "isotropic":  # the hardest data for an inverted file: no neighbourhoods
                data = sample_vectors("isotropic", rows, rng).astype(np.float16).astype(np.float32)
                q = sample_vectors("isotropic", queries, rng)
                exact_ids = list(np.argsort(-(q @ data.T), axis=1)[:, :10])
            start = time.perf_counter()
            ann = AnnIndex.build(data)
            build = time.perf_counter() - start
            p50, p95, ids = time_queries(ann, q)
            cal = ann.meta["calibration"]
            results.append(
                {
                    "rows": rows,
                    "method": f"faiss IVF fp16, {kind} (nlist {ann.nlist}, nprobe {ann.nprobe})",
                    "p50_ms": p50,
                    "p95_ms": p95,
                    "memory_bytes": int(2 * rows * 384 + ann.nlist * 384 * 4),
                    "build_seconds": build,
                    "recall_at_10": recall_at_k(np.array(exact_ids), np.array(ids)),
                    "calibration": cal,
                }
            )
        del ann, data
    return results


COMMON_WORDS = [
    "the",
    "a",
    "to",
    "you",
    "i",
    "it",
    "and",
    "of",
    "is",
    "that",
    "we",
    "in",
    "what",
    "this",
    "be",
    "my",
    "me",
    "on",
    "no",
    "he",
    "for",
    "do",
    "your",
    "not",
    "can't",
    "it's",
    "don't",
    "i'm",
    "we're",
    "you're",
    "won't",
    "that's",
    "he's",
    "she's",
    "they're",
    "let's",
    "isn't",
    "didn't",
    "get",
    "go",
    "now",
    "here",
    "there",
    "all",
    "just",
    "out",
    "up",
    "know",
    "so",
    "with",
    "have",
    "was",
    "are",
    "they",
    "but",
    "like",
    "come",
    "look",
]


def lettering_lines(n: int, seed: int = 0) -> list[str]:
    """``n`` synthetic lines of lettering (see point 5 of the module docstring)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    weights = np.array(
        [8, 1.5, 3, 4, 12, 2, 2, 6, 7, 0.2, 0.8, 4, 2.4, 7, 7.5, 2, 0.1, 6, 6, 9, 3, 1, 2.4, 0.2, 2, 0.1]
    )
    lengths = rng.integers(3, 11, 30_000)
    chars = rng.choice(letters, size=int(lengths.sum()), p=weights / weights.sum())
    cuts = np.cumsum(lengths)[:-1]
    vocab = COMMON_WORDS + ["".join(w) for w in np.split(chars, cuts)]
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    sizes = rng.integers(3, 15, n)
    words = np.array(vocab, dtype=object)[rng.choice(len(vocab), size=int(sizes.sum()), p=p / p.sum())]
    ends = np.array(["!", "?", ".", "...", ""], dtype=object)[rng.integers(0, 5, n)]
    out, start = [], 0
    for size, end in zip(sizes.tolist(), ends.tolist()):
        out.append(" ".join(words[start : start + size]).capitalize() + end)
        start += size
    return out


def ocr_error(text: str, rng) -> str:
    """One OCR-like error: a dropped letter, i -> 1, or a dropped apostrophe."""
    if "'" in text and rng.random() < 0.3:
        return text.replace("'", "", 1)
    spots = [i for i, c in enumerate(text) if c in "iI"]
    if spots and rng.random() < 0.5:
        i = spots[rng.integers(len(spots))]
        return text[:i] + "1" + text[i + 1 :]
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    i = letters[rng.integers(len(letters))]
    return text[:i] + text[i + 1 :]


def bench_quote(sizes: list[int], queries: int, out: Path) -> list[dict]:
    from comics_analysis.store.fulltext import FulltextIndex, create_index, finish_index, write_rows

    results = []
    for n in sizes:
        start = time.perf_counter()
        lines = lettering_lines(n)
        generate = time.perf_counter() - start
        path = out / f"fulltext-{n}.sqlite"
        path.unlink(missing_ok=True)
        start = time.perf_counter()
        con = create_index(path)
        write_rows(
            con, ((f"bench-{i // 8:08d}/p0000", i % 8, "dialogue", t, i // 8192) for i, t in enumerate(lines))
        )
        finish_index(con, {"schema": "bench", "panels": n})
        con.close()
        build = time.perf_counter() - start
        index = FulltextIndex(path)
        rng = np.random.default_rng(7)
        picks = [int(i) for i in rng.choice(n, queries, replace=False) if len(lines[int(i)].split()) >= 4]
        spans = []
        for i in picks:
            words = lines[i].split()
            w = int(rng.integers(4, min(8, len(words)) + 1))
            first = int(rng.integers(0, len(words) - w + 1))
            spans.append(" ".join(words[first : first + w]))
        row = {"panels": n, "generate_seconds": generate, "build_seconds": build, "queries": len(picks)}
        row["index_bytes"] = path.stat().st_size
        row["bytes_per_panel"] = row["index_bytes"] / n
        for mode in ("fuzzy", "phrase", "words"):
            qs = [ocr_error(s, rng) if mode == "fuzzy" else s for s in spans]
            index.search(qs[0], 10, mode=mode)  # warm-up
            times, at1, at10 = [], 0, 0
            for i, q in zip(picks, qs):
                t = time.perf_counter()
                found = index.search(q, 10, mode=mode)
                times.append(time.perf_counter() - t)
                key = (f"bench-{i // 8:08d}/p0000", i % 8)
                keys = [(m.page_id, m.panel) for m in found]
                top = [(m.page_id, m.panel) for m in found if found and m.score == found[0].score]
                at1 += key in top
                at10 += key in keys
            p50, p95 = percentiles(times)
            row[mode] = {
                "p50_ms": p50,
                "p95_ms": p95,
                "found_at_1": at1 / len(picks),
                "found_at_10": at10 / len(picks),
            }
        index.close()
        results.append(row)
        print(
            f"quote {n:>9,} panels: build {build:.1f} s, {row['bytes_per_panel']:.0f} B/panel; "
            + "; ".join(
                f"{m} p50 {row[m]['p50_ms']:.1f} p95 {row[m]['p95_ms']:.1f} ms "
                f"found@1 {row[m]['found_at_1']:.2f}"
                for m in ("fuzzy", "phrase", "words")
            ),
            flush=True,
        )
        path.unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument(
        "--quote-panels",
        type=int,
        nargs="*",
        default=[100_000, 1_000_000],
        help="lettered panels of the quote-search indexes (default 10^5 and 10^6; none: skip)",
    )
    parser.add_argument("--only-quote", action="store_true", help="run the quote search part alone")
    parser.add_argument("--out", type=Path, default=Path("bench_output/store"))
    parser.add_argument("--json", type=Path, default=None, help="results file (default OUT/results.json)")
    args = parser.parse_args()

    from comics_analysis.synth.records import make_page_records

    args.out.mkdir(parents=True, exist_ok=True)
    pages = make_page_records(max(1, args.pages // 20), 20, seed=0)
    quote = bench_quote(args.quote_panels, args.queries, args.out)
    if args.only_quote:
        from comics_analysis.benchmarks.report import write_results

        print(f"wrote {write_results(args.json or args.out / 'results.json', {'quote_search': quote})}")
        return
    sizes = bench_bytes(pages, args.out)
    int8 = bench_int8()
    latency = bench_latency(args.rows, args.queries)

    print(
        f"store benchmark: {len(pages)} synthetic pages, {platform.machine()}, {os.cpu_count()} cores; "
        f"earlier store ~{EARLIER_BYTES_PER_PAGE} B/page"
    )
    print(
        f"{'dtype':<8} {'B/page':>7} {'B/vector':>9} {'vector arrays B/vec':>20} {'panel B/real panel':>19} "
        f"{'pages/s':>8} {'pages/s w/o embed':>17}"
    )
    for r in sizes:
        print(
            f"{r['dtype']:<8} {r['bytes_per_page']:>7.0f} {r['bytes_per_stored_vector']:>9.0f} "
            f"{r['vector_array_bytes_per_stored_vector']:>20.0f} "
            f"{r['panel_embedding_bytes_per_real_panel']:>19.0f} "
            f"{r['pages_per_s']:>8.0f} {r['pages_per_s_excluding_embed_fn']:>17.0f}"
        )
    print(f"{'vectors':<10} {'int8 recall@10':>15} {'float16 recall@10':>18}  (vs float32 exact, 100K rows)")
    for r in int8:
        print(
            f"{r['vectors']:<10} {r['int8_recall_at_10_vs_float32']:>15.4f} "
            f"{r['float16_recall_at_10_vs_float32']:>18.4f}"
        )
    print(f"{'rows':>9} {'method':<56} {'p50 ms':>8} {'p95 ms':>8} {'recall@10':>9} {'memory MB':>10}")
    for r in latency:
        print(
            f"{r['rows']:>9} {r['method']:<56} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
            f"{r['recall_at_10']:>9.3f} "
            f"{r['memory_bytes'] / 2**20:>10.0f}"
        )
    payload = {
        "pages": len(pages),
        "earlier_bytes_per_page": EARLIER_BYTES_PER_PAGE,
        "bytes": sizes,
        "int8_agreement": int8,
        "latency": latency,
        "quote_search": quote,
    }
    from comics_analysis.benchmarks.report import write_results

    path = write_results(args.json or args.out / "results.json", payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
