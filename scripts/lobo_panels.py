"""Leave-one-book-out (LOBO) figures and a sensitivity report for the classical panel detector's
constants (ClassicalConfig), on the real dev books and synthetic pages of eval_panels_dev.py.

    nice -n 10 python scripts/lobo_panels.py [--stage screen|refine|report] [--jobs 1]
        [--cache build/lobo-panels] [--json docs/bench/panels-lobo.json] [--synthetic 54]

1. Grid: each numeric field at its default times 0.7 and 1.4 (``screen``), then times 0.85 and
   1.2 for the fields whose screen changed any page's panels (``refine``; ints rounded, shares
   kept at most 1, repeats dropped); each boolean pass off. One field changed at a time; every
   dev page is detected once per (field, value) and the panels (boxes, scores) are cached under
   ``--cache``, one file per run, written as soon as it is done: an interrupted run resumes (in a
   sub-folder per digest of the detector's source, so a changed detector is run anew).
2. LOBO: for each real book, each field's value chosen by pooled F1@0.5 on the other real books
   and the synthetic pages (one field at a time from the defaults, ties keep the default), then
   the book detected with all chosen values together: its LOBO P/R/F1/AP50/exact/order.
3. Sensitivity: per field and book, F1 over the grid; brittle: one book's F1 moves by more than
   0.02 between the values x0.85..x1.2.
4. Agreed: the fields that every fold moves away from the default in the same direction, each at
   the fold value nearest the default, detected together on every page (one more run): the
   candidates for new defaults, with their dev figures.
``report`` (the default) runs what is missing, prints the tables and writes the JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import multiprocessing
import os
import platform
import time
from pathlib import Path

import numpy as np

from comics_analysis.annotate.detectors.base import Detection
from comics_analysis.annotate.detectors.classical import ClassicalConfig, detect_classical
from comics_analysis.annotate.reading_order import reading_order
from comics_analysis.benchmarks.lobo import agreed, book_f1, brittle, choose, grid_values, sensitivity
from comics_analysis.benchmarks.report import git_commit
from comics_analysis.metrics.panels import evaluate_panels, score_page
from eval_panels_dev import _pages, page_pair

ROOT = Path(__file__).resolve().parents[1]
PER_PAGE = {"gutter_px", "page_side"}  # measured on each page: not constants
SCREEN, REFINE = (0.7, 1.4), (0.85, 1.2)
PAGES: list = []  # (page, grey image, book), loaded once (shared with forked workers)


def _key(page, book: str) -> str:
    return f"{book}/p{page.page_index:04d}"


def _name(field: str, value) -> str:
    return "default" if field is None else f"{field}={value}"


def _detect(job: tuple) -> tuple[str, dict, float]:
    """Detect every loaded page (of ``books`` when given) with one config; (name, panels, s)."""
    name, overrides, books = job
    cfg = dataclasses.replace(ClassicalConfig(), **overrides)
    start = time.perf_counter()
    panels = {}
    for page, grey, book in PAGES:
        if books is None or book in books:
            panels[_key(page, book)] = [[*d.bbox, d.score] for d in detect_classical(grey, cfg)]
    return name, panels, time.perf_counter() - start


def _run(jobs: list[tuple], cache: Path, workers: int) -> None:
    """Run the jobs not cached yet, writing each result as it is done."""
    todo = [j for j in jobs if not (cache / f"{j[0]}.json").exists()]
    if not todo:
        return
    print(f"{len(todo)} runs to do ({len(jobs) - len(todo)} cached)", flush=True)
    if workers > 1:
        pool = multiprocessing.get_context("fork").Pool(workers)
        results = pool.imap_unordered(_detect, todo)
    else:
        pool, results = None, map(_detect, todo)
    overrides = {j[0]: j[1] for j in todo}
    for k, (name, panels, seconds) in enumerate(results, 1):
        tmp = cache / f".{name}.tmp"
        tmp.write_text(json.dumps({"overrides": overrides[name], "seconds": seconds, "panels": panels}))
        tmp.replace(cache / f"{name}.json")
        print(f"  [{k}/{len(todo)}] {name}: {len(panels)} pages, {seconds:.1f} s", flush=True)
    if pool is not None:
        pool.close()
        pool.join()


def _load(cache: Path, name: str) -> dict | None:
    path = cache / f"{name}.json"
    return json.loads(path.read_text())["panels"] if path.exists() else None


def _grids(stage_fields: set[str] | None) -> dict[str, dict[float, object]]:
    """field -> {multiplier: value}: the screen grid, plus the refine values for ``stage_fields``."""
    out = {}
    for f in dataclasses.fields(ClassicalConfig):
        if f.name in PER_PAGE:
            continue
        mult = SCREEN + (REFINE if stage_fields is not None and f.name in stage_fields else ())
        out[f.name] = grid_values(f.default, mult)
    return out


def _jobs(grids: dict) -> list[tuple]:
    return [(_name(f, v), {f: v}, None) for f, g in grids.items() for v in g.values() if v != g[1.0]]


def _pairs(panels: dict):
    """(truth, prediction) page pairs of cached panels, for evaluate_panels."""
    truth, pred = [], []
    for page, _, book in PAGES:
        key = _key(page, book)
        if key in panels:
            dets = [Detection(tuple(p[:4]), p[4]) for p in panels[key]]
            order = reading_order([d.bbox for d in dets], page.reading_direction)
            t, q = page_pair(page, book, [dets[i].bbox for i in order], [dets[i].score for i in order])
            truth.append(t)
            pred.append(q)
    return truth, pred


def _counts(panels: dict) -> dict[str, tuple[int, int, int]]:
    """page key -> (truth, pred, tp) at IoU 0.5."""
    out = {}
    for t, q in zip(*_pairs(panels), strict=True):
        r = score_page(t.page_id, "", [p.bbox for p in t.panels], [p.bbox for p in q.panels])
        out[t.page_id] = (r.truth, r.pred, r.tp)
    return out


def _summary(panels: dict, book: str) -> dict:
    """One book's P/R/F1/AP50/exact/order, and "key": its key in panels-dev.json (the README's row)."""
    report = evaluate_panels(*_pairs({k: v for k, v in panels.items() if k.rsplit("/", 1)[0] == book}))
    s = report["overall"]
    keys = ("pages", "truth", "pred", "tp", "precision", "recall", "f1", "ap50", "exact_count")
    out = {k: getattr(s, k) for k in keys} | {"order_exact": s.order_exact, "order_all": s.order_all}
    return out | {"key": next(iter(report["books"]))}


def _changed(default: dict, other: dict) -> bool:
    return any(np.round(default[k], 1).tolist() != np.round(other[k], 1).tolist() for k in default)


def _code_key() -> str:
    """A digest of the detector's source (annotate/detectors/*.py): the cache's sub-folder."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "comics_analysis" / "annotate" / "detectors").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", choices=["screen", "refine", "report"], default="report")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "lobo-panels")
    parser.add_argument("--json", type=Path, help="write the report here (docs/bench/panels-lobo.json)")
    parser.add_argument("--synthetic", type=int, default=54, help="synthetic story pages")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (fork)")
    parser.add_argument("--limit", type=float, default=0.02, help="brittle: F1 range near the default")
    parser.add_argument("--machine", default=f"{platform.node()}, {os.cpu_count()} cores")
    args = parser.parse_args()
    args.cache = args.cache / _code_key()  # results of other detector code are never reused
    args.cache.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    for page, image, book in _pages(args.synthetic, None):
        PAGES.append((page, np.asarray(image.convert("L")), book))
    books = {_key(p, b): b for p, _, b in PAGES}
    real = sorted({b for b in books.values() if b != "synthetic"})
    print(f"{len(PAGES)} pages loaded in {time.perf_counter() - start:.1f} s: {', '.join(real)} + synthetic")

    _run([("default", {}, None)], args.cache, 1)
    default = _load(args.cache, "default")
    screen = _grids(None)
    _run(_jobs(screen), args.cache, args.jobs)
    if args.stage == "screen":
        return
    moved = {
        f
        for f, g in screen.items()
        if any((p := _load(args.cache, _name(f, v))) is not None and _changed(default, p) for v in g.values())
    }
    grids = _grids(moved)
    _run(_jobs(grids), args.cache, args.jobs)
    if args.stage == "refine":
        return
    _report(args, grids, moved, default, books, real)


def _report(args, grids, moved, default, books, real) -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(ClassicalConfig) if f.name in grids}
    base = _counts(default)
    results = {}
    for field, grid in grids.items():
        results[field] = {}
        for value in grid.values():
            panels = default if value == grid[1.0] else _load(args.cache, _name(field, value))
            if panels is None:
                raise SystemExit(
                    f"run {_name(field, value)} is missing from {args.cache}: run --stage refine"
                )
            results[field][value] = base if panels is default else _counts(panels)
    near = {f: [v for m, v in g.items() if REFINE[0] <= m <= REFINE[1]] for f, g in grids.items()}

    lobo, choices = {}, {}
    for book in real:
        chosen = choices[book] = choose(results, defaults, books, book)
        changes = {f: v for f, v in chosen.items() if v != defaults[f]}
        name = "lobo-" + book.replace("/", "_")
        saved = _load(args.cache, name)
        if changes and (
            saved is None or json.loads((args.cache / f"{name}.json").read_text())["overrides"] != changes
        ):
            (args.cache / f"{name}.json").unlink(missing_ok=True)
            _run([(name, changes, {book})], args.cache, 1)
            saved = _load(args.cache, name)
        panels = saved if changes else {k: v for k, v in default.items() if books[k] == book}
        figures = _summary(panels, book)
        lobo[book] = {
            "key": figures.pop("key"),
            "changed": changes,
            "single": {f: book_f1(results[f][v], books, book) for f, v in changes.items()},
            "dev": {k: v for k, v in _summary(default, book).items() if k != "key"},
            "lobo": figures,
        }
    sens = sensitivity(results, books, near)
    shaky = brittle({f: s for f, s in sens.items() if not isinstance(defaults[f], bool)}, args.limit)
    # the fields every fold moves the same way, each at the fold value nearest its default, together
    moves = {f: min(v, key=lambda x: abs(x - defaults[f])) for f, v in agreed(choices, defaults).items()}
    proposal = {"changed": moves, "books": {}}
    if moves:
        _run([("agreed", moves, None)], args.cache, 1)
        run = _load(args.cache, "agreed")
        proposal["books"] = {b: {k: v for k, v in _summary(run, b).items() if k != "key"} for b in real}
        proposal["books"]["synthetic"] = {k: v for k, v in _summary(run, "synthetic").items() if k != "key"}
    _print(lobo, sens, shaky, grids, moved)
    print(f"\nagreed by every fold, together: {moves}")
    for b, f in proposal["books"].items():
        print(f"  {b}: F1 {f['f1']:.3f} (dev {book_f1(base, books, b):.3f}), exact {f['exact_count']:.3f}")
    if args.json:
        out = {
            "date": datetime.date.today().isoformat(),
            "machine": args.machine,
            "commit": git_commit(ROOT),
            "protocol": "coordinate-wise one-at-a-time selection by pooled F1@0.5 on the other real "
            "books + synthetic pages; ties keep the default; the left-out book detected with all "
            "chosen values together",
            "grid": {f: {str(m): v for m, v in g.items()} for f, g in grids.items()},
            "refined": sorted(moved),
            "books": lobo,
            "sensitivity": sens,
            "brittle": [{"field": f, "book": b, "near_range": r} for f, b, r in shaky],
            "agreed": proposal,
            "f1": {
                f: {
                    str(v): {b: book_f1(c, books, b) for b in sorted(set(books.values()))}
                    for v, c in r.items()
                }
                for f, r in results.items()
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")


def _print(lobo, sens, shaky, grids, moved) -> None:
    values = sum(len(g) for g in grids.values())
    print(f"\n{len(grids)} fields, {values} grid values; refined: {len(moved)} (booleans included)")
    print(f"{'book':>28} {'dev F1':>7} {'LOBO F1':>7} {'P':>6} {'R':>6} {'AP50':>6} {'exact':>6}  changed")
    for book, r in lobo.items():
        d, f = r["dev"], r["lobo"]
        changed = ", ".join(f"{k}={v}" for k, v in r["changed"].items()) or "(defaults)"
        print(
            f"{book[-28:]:>28} {d['f1']:7.3f} {f['f1']:7.3f} {f['precision']:6.3f} {f['recall']:6.3f} "
            f"{f['ap50']:6.3f} {f['exact_count']:6.3f}  {changed}"
        )
    print("\nsensitivity: F1 range over the grid (near: x0.85..x1.2), fields that move any book:")
    for field, per_book in sens.items():
        if any(s["range"] > 0 for s in per_book.values()):
            cells = "  ".join(
                f"{b.split('/')[-2] if b.count('/') > 1 else b}: {s['range']:.3f} ({s['near']:.3f})"
                for b, s in per_book.items()
            )
            print(f"  {field:>14}  {cells}")
    print(f"\nbrittle (one book moves > limit between x0.85 and x1.2): {len(shaky)}")
    for field, book, r in shaky:
        print(f"  {field} on {book}: {r:.3f}")


if __name__ == "__main__":
    main()
