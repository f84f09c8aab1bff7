"""The cost curve (issue 22.4): ingest -> annotate (detection only) -> embed (tiny Closure Lite) ->
store index -> search -> analyze on 10^3, 10^4 (, 10^5) synthetic pages; time and peak memory
per stage, and the Ray engine against the local one on the same cores.

    python scripts/bench_scale.py --sizes 1000 10000 --ray-sizes 1000 10000 \
        --out bench_output/scale --json docs/bench/scale.json

Pages: procedural synthetic pages (``synth.make_page``, one seed per page, so no two are alike)
of ``--page-size`` pixels (default 128x192), 100 per CBZ book. Each stage runs in its own
process (``--stage``); its peak memory is the largest resident set of that process and the
children it waited for (``os.wait4``'s ru_maxrss), and the peak of the whole process tree's
resident memory sampled at 10 Hz (workers included: annotate's pool, Ray's workers and raylet).
The Ray runs start a local cluster of ``--cpus`` CPUs (workers of 1 CPU) and are timed from the
command's start, cluster start included. Stages:

- ingest: ``ingest`` with ``--cpus`` workers
- annotate: ``annotate --ocr none --workers --cpus`` (classical panel detector)
- embed: ``embed`` with an untrained tiny Closure Lite (``tiny`` preset), ``--cpus`` threads
- store: ``StoreSearch.build_ann("page")`` (FAISS IVF, nlist ~ sqrt(N), calibrated nprobe)
- search: 200 "more like this page" queries, exact scan (p50 latency reported too)
- analyze: ``analyze_store`` (UMAP fitted on at most 50,000 pages, k-means, outliers, plots)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve()
STAGES = ("ingest", "annotate", "embed", "store", "search", "analyze")
STREAMING = ("ingest", "annotate", "embed")  # stages that read pages one book / chunk at a time
BOOK_PAGES = 100
OUTPUTS = {  # what each stage writes under the size's folder
    "ingest": ("ingest",),
    "annotate": ("annotate", "annotate-ray"),
    "embed": ("store.zarr", "store-ray.zarr"),
    "store": (),
    "search": (),
    "analyze": ("analysis",),
}


# --- one stage, in its own process --------------------------------------------------------------


def _variant(data: bytes, seed: tuple[int, int]) -> bytes:
    """A page made from another: a few filled rectangles drawn over it (seeded), so its bytes, its
    pixels and its perceptual hash are its own; ~1 ms instead of ~30 ms for a new page."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(f"{seed[0]}-{seed[1]}")
    with Image.open(BytesIO(data)) as source:
        image = source.convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        w, h = rng.randint(12, image.width // 2), rng.randint(12, image.height // 3)
        x, y = rng.randint(0, image.width - w), rng.randint(0, image.height - h)
        draw.rectangle((x, y, x + w, y + h), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _make_books(
    folder: Path, pages: int, size: tuple[int, int], start: int, stop: int, distinct: int | None = None
) -> None:
    from comics_analysis.synth import make_page

    for b in range(start, stop):
        path = folder / f"book-{b:05d}.cbz"
        if path.exists():
            continue
        tmp = path.with_suffix(".tmp")
        base = None
        if distinct is not None and b >= distinct:  # pages drawn over those of an earlier book
            base = zipfile.ZipFile(folder / f"book-{b % distinct:05d}.cbz")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
            for i in range(min(BOOK_PAGES, pages - b * BOOK_PAGES)):
                if base is not None:
                    archive.writestr(f"p{i:03d}.jpg", _variant(base.read(f"p{i:03d}.jpg"), (b, i)))
                    continue
                page = make_page((b, i), size=size)
                buffer = BytesIO()
                page.image.save(buffer, "JPEG", quality=85)
                archive.writestr(f"p{i:03d}.jpg", buffer.getvalue())
        if base is not None:
            base.close()
        tmp.rename(path)


def stage_synth(work: Path, pages: int, args) -> dict:
    from concurrent.futures import ProcessPoolExecutor

    books = work / "books"
    books.mkdir(parents=True, exist_ok=True)
    n = (pages + BOOK_PAGES - 1) // BOOK_PAGES
    distinct = min(n, args.distinct_books) if args.distinct_books else n
    size = tuple(args.page_size)
    with ProcessPoolExecutor(args.cpus) as pool:
        for first, last, base in ((0, distinct, None), (distinct, n, distinct)):  # new pages, then variants
            step = max(1, (last - first) // (4 * args.cpus))
            for f in [
                pool.submit(_make_books, books, pages, size, s, min(last, s + step), base)
                for s in range(first, last, step)
            ]:
                f.result()
    model = work / "model"
    if not (model / "config.json").is_file():
        import torch

        from comics_analysis.modeling.closure_lite import (
            ClosureLiteConfig,
            ClosureLiteModel,
            ClosureLiteProcessor,
        )

        torch.manual_seed(0)
        config = ClosureLiteConfig.from_preset("tiny", dropout=0.0)
        ClosureLiteModel(config).save_pretrained(model)
        ClosureLiteProcessor.from_config(config).save_pretrained(model)
    return {"pages": pages}


def _engine(args):
    if not args.ray:
        return None
    from comics_analysis.engine import EngineOptions

    return EngineOptions(engine="ray", num_cpus=args.cpus, cpus_per_worker=1)


def stage_ingest(work: Path, pages: int, args) -> dict:
    from comics_analysis.ingest import ingest

    manifest = ingest([work / "books"], work / "ingest", workers=args.cpus, show_progress=False)
    return {"pages": len(manifest)}


def stage_annotate(work: Path, pages: int, args) -> dict:
    from comics_analysis.annotate import annotate

    out = work / ("annotate-ray" if args.ray else "annotate")
    files = annotate(
        work / "ingest", out, ocr="none", workers=args.cpus, show_progress=False, engine=_engine(args)
    )
    return {"pages": pages, "books": len(files)}


def stage_embed(work: Path, pages: int, args) -> dict:
    from comics_analysis.store.embed import embed_store

    result = embed_store(
        work / "annotate",
        work / "model",
        work / ("store-ray.zarr" if args.ray else "store.zarr"),
        batch_size=32,
        threads=None if args.ray else args.cpus,
        show_progress=False,
        use_accelerate=False,
        engine=_engine(args),
    )
    return {"pages": result.summary.rows, "complete": result.summary.complete}


def stage_store(work: Path, pages: int, args) -> dict:
    from comics_analysis.store import StoreSearch

    index = StoreSearch(work / "store.zarr").build_ann("page")
    return {"pages": pages, "nlist": index.nlist, "nprobe": index.nprobe}


def stage_search(work: Path, pages: int, args) -> dict:
    import numpy as np

    from comics_analysis.store import StoreSearch, open_store

    ids = list(open_store(work / "store.zarr").page_ids)
    searcher = StoreSearch(work / "store.zarr")
    rng = np.random.default_rng(0)
    times = []
    for i in rng.choice(len(ids), size=min(200, len(ids)), replace=False):
        start = time.perf_counter()
        searcher.search(page=ids[int(i)], k=10)
        times.append(time.perf_counter() - start)
    return {"pages": pages, "queries": len(times), "p50_ms": round(1000 * float(np.median(times)), 2)}


def stage_analyze(work: Path, pages: int, args) -> dict:
    from comics_analysis.analysis import analyze_store

    analyze_store(work / "store.zarr", work / "analysis", seed=0)
    return {"pages": pages}


def run_stage(args) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(args.work)
    result = globals()[f"stage_{args.stage}"](work, args.pages, args)
    print("RESULT " + json.dumps(result))


# --- the driver ---------------------------------------------------------------------------------


def _tree_rss(pid: int, cpu: dict[int, float]) -> int:
    """Resident bytes of the process tree now; ``cpu`` keeps each process's latest CPU seconds."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error), proc.oneshot():
            total += proc.memory_info().rss
            times = proc.cpu_times()
            cpu[proc.pid] = times.user + times.system
    return total


def measure(stage: str, work: Path, pages: int, args, ray: bool = False) -> dict:
    """Run one stage in a child process: seconds, peak RSS (process, process tree), its result."""
    cmd = [sys.executable, str(HERE), "--stage", stage, "--work", str(work), "--pages", str(pages)]
    cmd += ["--cpus", str(args.cpus), "--page-size", *map(str, args.page_size)]
    if args.distinct_books:
        cmd += ["--distinct-books", str(args.distinct_books)]
    if ray:
        cmd.append("--ray")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1"}
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0]
    tree_cpu: dict[int, float] = {}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid, tree_cpu))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_box = {}
    reader = threading.Thread(target=lambda: out_box.update(out=proc.stdout.read(), err=proc.stderr.read()))
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    reader.join()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"stage {stage} ({pages} pages) failed:\n{out_box['err'][-3000:]}")
    result = next(json.loads(line[7:]) for line in out_box["out"].splitlines() if line.startswith("RESULT "))
    cpu = usage.ru_utime + usage.ru_stime  # the stage process and the children it waited for
    # every process of the tree (Ray's workers and raylet are not waited for by the stage), sampled
    # at 10 Hz: the CPU spent after a process's last sample is missed
    tree = max(cpu, sum(tree_cpu.values()))
    row = {
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "cpu_ms_per_page": round(1000 * cpu / pages, 2),
        "tree_cpu_seconds": round(tree, 1),
        "tree_cpu_ms_per_page": round(1000 * tree / pages, 2),
        "load_avg_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],  # before, after
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
        "peak_tree_rss_mb": round(peak[0] / 2**20, 1),
        **{k: v for k, v in result.items() if k != "pages"},
    }
    print(f"  {stage + (' (ray)' if ray else ''):<16} {row}", flush=True)
    return row


def extrapolate(sizes: dict) -> dict:
    """Per stage: seconds and peak tree memory at 10^6 pages, linear through the two largest sizes
    that stage was measured at."""
    out = {}
    for stage in STAGES:
        ns = sorted(int(n) for n in sizes if stage in sizes[n])
        if len(ns) < 2:
            continue
        a, b = ns[-2], ns[-1]
        ta, tb = sizes[str(a)][stage]["seconds"], sizes[str(b)][stage]["seconds"]
        slope = (tb - ta) / (b - a)
        ca, cb = sizes[str(a)][stage]["cpu_seconds"], sizes[str(b)][stage]["cpu_seconds"]
        cpu_slope = (cb - ca) / (b - a)
        ma, mb = sizes[str(a)][stage]["peak_tree_rss_mb"], sizes[str(b)][stage]["peak_tree_rss_mb"]
        out[stage] = {
            "seconds_per_1000_pages": round(1000 * slope, 2),
            "hours_at_1e6": round((tb + slope * (1_000_000 - b)) / 3600, 2),
            "cpu_hours_at_1e6": round((cb + cpu_slope * (1_000_000 - b)) / 3600, 2),
            "memory_ratio": round(mb / ma, 2),
            "peak_tree_rss_mb_at_1e6": round(mb + (mb - ma) / (b - a) * (1_000_000 - b), 0),
            "from_sizes": [a, b],
        }
    return out


def _machine() -> str:
    try:
        import psutil

        memory = f", {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        memory = ""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores{memory}, {platform.system()}"
    )


def _commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=HERE.parent,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def table(report: dict) -> str:
    lines = ["| pages | stage | seconds | pages/s | CPU ms/page | load | peak RSS, MB: process | tree |"]
    lines.append("|---:|---|---:|---:|---:|---:|---:|---:|")
    for n, stages in sorted(report["sizes"].items(), key=lambda kv: int(kv[0])):
        for stage, row in stages.items():
            lines.append(
                f"| {int(n):,} | {stage} | {row['seconds']:.1f} | {row['pages_per_s']:,.0f} | "
                f"{row['cpu_ms_per_page']:.1f} | {max(row['load_avg_1min']):.1f} | "
                f"{row['peak_rss_mb']:,.0f} | {row['peak_tree_rss_mb']:,.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument(
        "--ray-sizes", type=int, nargs="*", default=[1000, 10000], help="sizes with a Ray run"
    )
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES), help="a subset to run")
    parser.add_argument("--page-size", type=int, nargs=2, default=[128, 192], metavar=("W", "H"))
    parser.add_argument(
        "--distinct-books",
        type=int,
        help="synthesize only this many books (~30 ms a page); the others are variants of their pages "
        "(rectangles drawn over them, ~1 ms a page; every page still unique)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench_output/scale"))
    parser.add_argument("--json", type=Path, default=Path("docs/bench/scale.json"))
    parser.add_argument("--stage", choices=["synth", *STAGES], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--pages", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ray", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        run_stage(args)
        return
    report = {
        "machine": _machine(),
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(),
        "cpus": args.cpus,
        "page_size": args.page_size,
        "book_pages": BOOK_PAGES,
        "distinct_books": {},  # size -> books synthesized (the rest: variants), when not all
        "sizes": {},
        "synth_seconds": {},
        "ray": {},
    }
    if args.json.is_file():  # sizes measured before (e.g. 10^5 in a separate, longer run) are kept
        old = json.loads(args.json.read_text())
        report["sizes"].update(old.get("sizes", {}))
        for key in ("ray", "ray_runs", "synth_seconds", "distinct_books", "runs"):
            report.setdefault(key, {}).update(old.get(key, {}))
    for n in args.sizes:
        work = args.out / f"{n}"
        print(f"{n} pages in {work}", flush=True)
        for stage in args.stages:  # every stage run starts from nothing (no resume)
            for old in OUTPUTS[stage]:
                shutil.rmtree(work / old, ignore_errors=True)
        report["synth_seconds"][str(n)] = measure("synth", work, n, args)["seconds"]
        if args.distinct_books and args.distinct_books * BOOK_PAGES < n:
            report["distinct_books"][str(n)] = args.distinct_books
        sizes = report["sizes"].setdefault(str(n), {})
        sizes.update({stage: measure(stage, work, n, args) for stage in args.stages})
        when = report.setdefault("runs", {}).setdefault(str(n), {})  # date and commit of each row
        when.update({stage: [report["date_utc"], report["commit"]] for stage in args.stages})
        if n in (args.ray_sizes or []):
            ray = {stage: measure(stage, work, n, args, ray=True) for stage in ("annotate", "embed")}
            report.setdefault("ray_runs", {})[str(n)] = ray
            local = report["sizes"][str(n)]
            report["ray"][str(n)] = {
                stage: {
                    "local_pages_per_s": local[stage]["pages_per_s"],
                    "ray_pages_per_s": row["pages_per_s"],
                    "ray_over_local": round(row["pages_per_s"] / local[stage]["pages_per_s"], 3),
                    "local_tree_cpu_ms_per_page": local[stage]["tree_cpu_ms_per_page"],
                    "ray_tree_cpu_ms_per_page": row["tree_cpu_ms_per_page"],
                    "ray_peak_tree_rss_mb": row["peak_tree_rss_mb"],
                }
                for stage, row in ray.items()
            }
        report["extrapolation_1e6"] = extrapolate(report["sizes"])
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(json.dumps({"extrapolation_1e6": report["extrapolation_1e6"], "ray": report["ray"]}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
