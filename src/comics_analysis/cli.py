"""The ``comics-analysis`` command. Thin: every subcommand calls a library function.

Heavy imports happen inside the subcommand that needs them, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__

log = logging.getLogger("comics_analysis")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1060x1600, got {text!r}") from None
    if w < 200 or h < 200:
        raise argparse.ArgumentTypeError(f"page size {w}x{h} is too small (minimum 200x200)")
    return w, h


def _range(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH, e.g. 6-14, got {text!r}") from None
    if not 1 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"need 1 <= LOW <= HIGH, got {text!r}")
    return lo, hi


def _formats(text: str) -> tuple[str, ...]:
    from .synth import FORMATS

    items = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in items if f not in FORMATS]
    if not items or bad:
        raise argparse.ArgumentTypeError(
            f"formats must be a comma list of {', '.join(FORMATS)}, got {text!r}"
        )
    return items


def _print_summary(pages) -> None:
    from .dataspec import counts_by_page_type, format_table, text_kind_counts

    rows = counts_by_page_type(pages)
    table = [
        [r.page_type, r.pages, r.panels, r.texts, r.characters, r.panels_per_page, r.texts_per_page]
        for r in rows
    ]
    total = [
        sum(r.pages for r in rows),
        sum(r.panels for r in rows),
        sum(r.texts for r in rows),
        sum(r.characters for r in rows),
    ]
    table.append(["total", *total, total[1] / max(total[0], 1), total[2] / max(total[0], 1)])
    print(
        format_table(
            ["page_type", "pages", "panels", "text boxes", "characters", "panels/page", "texts/page"], table
        )
    )
    kinds = text_kind_counts(pages)
    print("text boxes by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))


def cmd_synth(args: argparse.Namespace) -> int:
    from .synth import make_library

    books = make_library(
        args.out,
        books=args.books,
        seed=args.seed,
        formats=args.format,
        size=args.size,
        story_pages=args.story_pages,
        image_format=args.image_format,
        show_progress=not args.quiet,
    )
    for book in books:
        print(f"{book.file}  {book.book_id}  {book.pages} pages  {book.kind}/{book.direction}  {book.title}")
    print(
        f"wrote {len(books)} books, {sum(b.pages for b in books)} pages, truth in {Path(args.out) / 'truth'}"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .annotate import annotate, read_annotations
    from .dataspec import read_pages
    from .ingest import ingest
    from .metrics.panels import evaluate_panels
    from .metrics.text import evaluate_text
    from .synth import make_library

    start = time.perf_counter()
    out = Path(args.out)
    total = 8
    print(f"[1/{total}] synthesising a sample library of {args.books} books in {out}")
    books = make_library(
        out, books=args.books, seed=args.seed, formats=("cbz", "pdf"), show_progress=not args.quiet
    )
    for book in books:
        print(f"  {book.file}  {book.pages} pages  {book.kind}/{book.direction}  {book.title}")
    truth = read_pages(out / "truth")
    print(f"\n[2/{total}] ingesting {out / 'books'} into {out / 'ingest'}")
    step = time.perf_counter()
    manifest = ingest([out / "books"], out / "ingest", workers=args.workers, show_progress=not args.quiet)
    _print_ingest_summary(manifest, time.perf_counter() - step)
    joined = {r["page_id"] for r in manifest.rows()} & {p.page_id for p in truth}
    print(f"  {len(joined)} of {len(truth)} ground-truth pages join the manifest by page_id")
    if len(joined) != len(truth):
        print("error: ingested page ids do not match the ground truth", file=sys.stderr)
        return 1
    print(
        f"\n[3/{total}] annotating panels, reading order and text (ocr: {args.ocr}) into {out / 'annotated'}"
    )
    step = time.perf_counter()
    annotate(
        out / "ingest", out / "annotated", ocr=args.ocr, workers=args.workers, show_progress=not args.quiet
    )
    predicted = read_annotations(out / "annotated")
    story = [p for p in truth if p.page_type == "story"]
    panels = evaluate_panels(story, predicted)["overall"]
    print(
        f"  {len(predicted)} pages in {time.perf_counter() - step:.1f} s; on the {len(story)} story pages: "
        f"panel F1 {panels.f1:.3f}, reading order exact {panels.order_exact:.3f}"
    )
    if args.ocr != "none":
        text = evaluate_text(story, predicted, kinds=("dialogue",))["overall"]
        print(
            f"  balloon text: recall {text.recall:.3f}, CER {text.cer:.4f}, panel assignment "
            f"{text.panel_accuracy:.3f}"
        )
    print(f"\nground truth of {len(truth)} pages in {len(books)} books:")
    _print_summary(truth)

    from .dataset_builders import export_comic_pages

    print(f"\n[4/{total}] building the Hugging Face dataset (comic_pages) into {out / 'dataset'}")
    step = time.perf_counter()
    export = export_comic_pages(
        out / "annotated", out / "dataset", configs=["all"], show_progress=not args.quiet
    )
    splits = ", ".join(f"{split} {len(files)} shard(s)" for split, files in export.files["all"].items())
    print(f"  {len(predicted)} pages ({splits}) + card in {time.perf_counter() - step:.1f} s")

    from .training.closure_lite import TrainConfig, train_closure_lite

    print(
        f"\n[5/{total}] training Closure Lite ({args.model_config}, {args.train_steps} steps on CPU, "
        f"text tower frozen) on the dataset into {out / 'closure-lite'}"
    )
    step = time.perf_counter()
    trained = train_closure_lite(
        TrainConfig(
            out=str(out / "closure-lite"),
            dataset=str(out / "dataset"),
            data_config="all",
            model_config=args.model_config,
            steps=args.train_steps,
            batch_size=8,
            warmup_steps=max(1, args.train_steps // 10),
            eval_every=args.train_steps,
            freeze_backbones="text",
            progress=not args.quiet,
            report_to="none",
        )
    )
    shown = ", ".join(f"{k} {v:.3f}" for k, v in trained.metrics.items() if isinstance(v, float))
    print(f"  {trained.step} steps in {time.perf_counter() - step:.1f} s; held-out: {shown}")

    from .space.demo import run_demo_tail

    tail = run_demo_tail(
        out / "annotated", trained.final_dir, out, step=(6, total), show_progress=not args.quiet
    )
    print(
        f"\ndemo finished in {time.perf_counter() - start:.1f} s; outputs in {out} (dataset, closure-lite, "
        f"store.zarr, analysis)"
    )
    if tail.url:
        print(f"the Space is at {tail.url}")
    return 0


def _print_ingest_summary(manifest, seconds: float) -> None:
    from collections import Counter

    rows = manifest.rows()
    statuses = Counter(r["status"] for r in rows)
    books = len({r["book_id"] for r in rows})
    print(
        f"{len(rows)} pages from {books} books in {seconds:.1f} s "
        f"({len(rows) / max(seconds, 1e-9):.1f} pages/s)"
    )
    print("page status: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    dups = sum(r["duplicate_of"] is not None for r in rows)
    near = sum(r["near_duplicate_of"] is not None for r in rows)
    print(f"duplicates flagged: {dups} exact, {near} near")
    errors = Counter(e["kind"] for e in manifest.error_rows())
    if errors:
        print("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(errors.items())))


def cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest import ingest

    start = time.perf_counter()
    manifest = ingest(
        args.sources,
        args.out,
        root=args.root,
        workers=args.workers,
        num_shards=args.num_shards,
        shard_index=args.shard_index,
        output_format=args.image_format,
        dpi=args.dpi,
        max_pixels=args.max_pixels,
        max_entry_bytes=args.max_entry_mb << 20,
        pdf_mode=args.pdf_mode,
        near_duplicate_distance=args.near_duplicate_distance,
        show_progress=not args.quiet,
    )
    _print_ingest_summary(manifest, time.perf_counter() - start)
    where = (
        "manifest.parquet"
        if args.num_shards == 1
        else f"shards/ (merge with: comics-analysis ingest-merge {args.out})"
    )
    print(f"wrote {args.out}/{where}")
    return 0


def cmd_ingest_merge(args: argparse.Namespace) -> int:
    from .ingest import merge_shards

    start = time.perf_counter()
    manifest = merge_shards(args.out, near_duplicate_distance=args.near_duplicate_distance)
    _print_ingest_summary(manifest, time.perf_counter() - start)
    print(f"wrote {args.out}/manifest.parquet")
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    from .annotate import annotate, read_annotations

    start = time.perf_counter()
    files = annotate(
        args.ingest_dir,
        args.out,
        detector=args.detector,
        direction=args.direction,
        ocr=args.ocr,
        ocr_lang=args.ocr_lang,
        vlm=args.vlm,
        vlm_min_iou=args.vlm_min_iou,
        workers=args.workers,
        num_shards=args.num_shards,
        shard_index=args.shard_index,
        show_progress=not args.quiet,
    )
    print(
        f"annotated {len(files)} books in {time.perf_counter() - start:.1f} s -> "
        f"{Path(args.out) / 'dataspec'}"
    )
    if args.vlm:
        _print_subsets(read_annotations(args.out), args.vlm_min_iou)
    return 0


def _print_subsets(pages, min_iou: float = 0.5, ocr_fallback: bool = True) -> None:
    from .annotate.align import SUBSETS, uses_ocr_fallback

    total = len(pages)
    print(f"{'subset':<15}{'pages':>8}{'share':>8}")
    for name in SUBSETS:
        n = sum(SUBSETS[name](p, min_iou=min_iou, ocr_fallback=ocr_fallback) for p in pages)
        print(f"{name:<15}{n:>8}{n / max(1, total):>8.1%}")
    if ocr_fallback:
        n = sum(uses_ocr_fallback(p, min_iou=min_iou) for p in pages)
        print(
            f"  ({n} aligned page(s) keep OCR lettering in a panel the VLM skipped; "
            f"--no-ocr-fallback drops them)"
        )


def cmd_vlm(args: argparse.Namespace) -> int:
    from .annotate.vlm import VlmConfig, load_prices, run_vlm

    price_in, price_out = args.price_in, args.price_out
    if args.prices:
        table = load_prices(args.prices)
        if args.model not in table and price_in is None:
            raise ValueError(
                f"{args.prices} has no prices for model {args.model!r}; known: {', '.join(table)}"
            )
        price_in = table.get(args.model, (price_in, price_out))[0] if price_in is None else price_in
        price_out = table.get(args.model, (price_in, price_out))[1] if price_out is None else price_out
    config = VlmConfig(
        model=args.model,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        prompt_version=args.prompt_version,
        max_side=args.max_side,
        max_tokens=args.max_tokens,
        timeout=args.timeout,
        max_retries=args.max_retries,
        json_mode=not args.no_json_mode,
        cache_dir=str(args.cache) if args.cache else str(args.out / "cache"),
        price_in=price_in or 0.0,
        price_out=price_out or 0.0,
    )
    start = time.perf_counter()
    totals = run_vlm(
        args.ingest_dir,
        args.out,
        config,
        concurrency=args.concurrency,
        max_cost=args.max_cost,
        limit=args.limit,
        show_progress=not args.quiet,
    )
    seconds = time.perf_counter() - start
    print(
        f"{totals.pages} pages: {totals.read} read ({totals.cached} from the cache), {totals.skipped} done "
        f"before, {totals.failed} failed, {totals.parse_failed} unparseable, {totals.not_started} not started"
    )
    print(
        f"tokens in {totals.input_tokens:,} out {totals.output_tokens:,}; cost {totals.cost:.4f}; "
        f"{seconds:.1f} s -> {args.out}/pages"
    )
    if totals.stopped == "max_cost":
        print(f"stopped: the budget --max-cost {args.max_cost} was reached; re-run to continue")
    for failure in totals.failures[:5]:
        print(f"failed: {failure['page_id']}: {failure['error']}")
    return 1 if totals.failed else 0


def cmd_subsets(args: argparse.Namespace) -> int:
    from .annotate.align import select
    from .dataspec import write_jsonl

    pages = _load_dataspec(args.dataspec, "en")
    _print_subsets(pages, args.min_iou, not args.no_ocr_fallback)
    if args.write:
        if args.out is None:
            raise ValueError("--write needs --out FILE.jsonl")
        chosen = select(pages, args.write, min_iou=args.min_iou, ocr_fallback=not args.no_ocr_fallback)
        write_jsonl(chosen, args.out)
        print(f"wrote {len(chosen)} pages of {args.write} (min IoU {args.min_iou}) to {args.out}")
    return 0


def _load_dataspec(path: Path, lang: str):
    from .annotate import read_annotations
    from .dataspec import pages_from_openmantra, read_pages

    if path.is_file() and path.suffix == ".json" and path.name.startswith("annotation"):
        return pages_from_openmantra(path, lang=lang)
    if path.is_dir() and (path / "dataspec").is_dir():
        return read_annotations(path)
    return read_pages(path)


def _load_pages(args: argparse.Namespace):
    """(truth, predictions) of an `eval` subcommand; both take any accepted form."""
    return _load_dataspec(args.gt, args.lang), _load_dataspec(args.pred, args.lang)


def cmd_eval_panels(args: argparse.Namespace) -> int:
    import json

    from .dataspec import format_table
    from .metrics.panels import evaluate_panels

    truth, pred = _load_pages(args)
    report = evaluate_panels(truth, pred, threshold=args.iou)
    rows = []
    for name, s in [*report["books"].items(), ("overall", report["overall"])]:
        rows.append(
            [
                name,
                s.pages,
                s.truth,
                s.pred,
                s.precision,
                s.recall,
                s.f1,
                s.ap,
                s.ap50,
                s.exact_count,
                s.order_exact if s.order_exact is not None else "-",
                s.kendall_tau or "-",
            ]
        )
    print(
        format_table(
            [
                "book",
                "pages",
                "true",
                "pred",
                "P",
                "R",
                f"F1@{args.iou}",
                "AP",
                "AP50",
                "exact count",
                "order exact",
                "tau",
            ],
            rows,
        )
    )
    if report["missing"]:
        print(f"{len(report['missing'])} true pages had no prediction, e.g. {report['missing'][0]}")
    if args.json:
        payload = {
            "overall": report["overall"].as_dict(),
            "books": {k: v.as_dict() for k, v in report["books"].items()},
            "missing": report["missing"],
        }
        Path(args.json).write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.json}")
    return 0


def cmd_eval_text(args: argparse.Namespace) -> int:
    import json

    from .dataspec import format_table
    from .metrics.text import evaluate_text

    truth, pred = _load_pages(args)
    kinds = tuple(args.kinds.split(",")) if args.kinds else None
    report = evaluate_text(truth, pred, kinds=kinds, iou=args.iou)
    s = report["overall"]
    print(
        format_table(
            ["pages", "true", "pred", "matched", "P", "R", "CER", "exact text", "kind acc", "panel acc"],
            [
                [
                    s.pages,
                    s.truth,
                    s.pred,
                    s.matched,
                    s.precision,
                    s.recall,
                    s.cer if s.cer is not None else "-",
                    s.exact_text if s.exact_text is not None else "-",
                    s.kind_accuracy if s.kind_accuracy is not None else "-",
                    s.panel_accuracy if s.panel_accuracy is not None else "-",
                ]
            ],
        )
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"overall": s.as_dict(), "missing": report["missing"]}, indent=2)
        )
        print(f"wrote {args.json}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .dataspec import DataSpecError, read_pages

    failed = 0
    total = []
    for path in args.paths:
        try:
            pages = read_pages(path)
        except (DataSpecError, OSError) as exc:
            print(f"INVALID {exc}", file=sys.stderr)
            failed += 1
            continue
        total.extend(pages)
        clamped = sum(any(f.startswith("clamped:") for f in p.quality.flags) for p in pages)
        print(f"ok {path}: {len(pages)} pages ({clamped} with clamped boxes)")
    if total and args.summary:
        _print_summary(total)
    return 1 if failed else 0


def cmd_from_legacy(args: argparse.Namespace) -> int:
    from .dataspec import load_legacy_v03, write_jsonl

    files = sorted(Path(p) for p in args.files)
    pages = [
        load_legacy_v03(path, book_id=args.book_id, page_index=i, image_root=args.image_root)
        for i, path in enumerate(files)
    ]
    count = write_jsonl(pages, args.out)
    print(f"converted {count} v0.3 pages of {args.book_id} -> {args.out}")
    return 0


def cmd_from_openmantra(args: argparse.Namespace) -> int:
    from .dataspec import pages_from_openmantra, write_jsonl

    pages = pages_from_openmantra(
        args.annotation, lang=args.lang, image_lang=args.image_lang, image_root=args.image_root
    )
    count = write_jsonl(pages, args.out)
    print(f"converted {count} OpenMantra pages ({len({p.book_id for p in pages})} books) -> {args.out}")
    return 0


def _ratios(text: str) -> tuple[float, float, float]:
    from .dataset_builders.comic_pages import parse_ratios

    try:
        return parse_ratios(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def cmd_dataset_build(args: argparse.Namespace) -> int:
    from .dataset_builders.comic_pages import CONFIGS, export_comic_pages

    configs = None
    if args.config:
        configs = [c.strip() for c in args.config.split(",") if c.strip()]
        bad = [c for c in configs if c not in CONFIGS]
        if bad or not configs:
            raise ValueError(f"--config: expected a comma list of {', '.join(CONFIGS)}, got {args.config!r}")
    start = time.perf_counter()
    result = export_comic_pages(
        args.dataspec_dir,
        args.out,
        configs=configs,
        image_dir=args.images,
        min_iou=args.min_iou,
        ocr_fallback=not args.no_ocr_fallback,
        split_ratios=args.split_ratios,
        shard_rows=args.shard_rows,
        max_shard_bytes=args.shard_mb << 20,
        license=args.license,
        pretty_name=args.pretty_name,
        show_progress=not args.quiet,
    )
    seconds = time.perf_counter() - start
    stats = result.stats
    print(f"{'config':<15}{'pages':>8}{'books':>7}{'train':>8}{'val':>6}{'test':>6}{'shards':>8}{'MB':>9}")
    for name, info in stats["configs"].items():
        splits = info["splits"]
        shards = sum(len(f) for f in result.files.get(name, {}).values())
        mb = f"{result.parquet_bytes[name] / 1e6:.1f}" if name in result.parquet_bytes else "-"
        print(
            f"{name:<15}{info['pages']:>8}{info['books']:>7}"
            + "".join(
                f"{splits.get(s, {}).get('pages', 0):>{w}}"
                for s, w in (("train", 8), ("validation", 6), ("test", 6))
            )
            + f"{shards or '-':>8}{mb:>9}"
        )
    images, parquet = sum(result.image_bytes.values()), sum(result.parquet_bytes.values())
    print(
        f"wrote {result.shards} Parquet shards ({parquet / 1e6:.1f} MB for {images / 1e6:.1f} MB of images, "
        f"{parquet / max(images, 1):.3f}x), stats.json and README.md to {result.folder} in {seconds:.1f} s"
    )
    return 0


def cmd_dataset_push(args: argparse.Namespace) -> int:
    from .dataset_builders.publish import push_dataset, stage_upload

    if args.dry_run:
        for name in stage_upload(args.folder):
            print(name)
        return 0
    url = push_dataset(args.folder, args.repo_id, private=args.private, token_env=args.token_env)
    print(f"pushed {args.folder} to https://huggingface.co/datasets/{args.repo_id} ({url})")
    return 0


def _print_hits(hits, as_json: bool) -> None:
    import json

    if as_json:
        print(json.dumps([h.as_dict() for h in hits], indent=2, ensure_ascii=False))
        return
    if not hits:
        print("no results")
    for rank, h in enumerate(hits, start=1):
        where = h.page_id if h.panel is None else f"{h.page_id} panel {h.panel}"
        box = "" if h.bbox is None else " bbox " + ",".join(f"{v:.3f}" for v in h.bbox)
        text = " | ".join(h.text)
        if len(text) > 100:  # display only; --json gives the full text
            text = text[:97] + "..."
        print(f"{rank:>3}  {h.score:.4f}  {where}  [{h.page_type or '-'}]{box}  {text}")


def cmd_search(args: argparse.Namespace) -> int:
    import numpy as np

    from .store import StoreSearch

    kinds = [args.page is not None, args.vector is not None, args.text is not None, args.image is not None]
    if sum(kinds) != 1:
        raise ValueError(
            "give one query: --page ID [--panel K], --vector FILE.npy, --text TEXT or --image FILE"
        )
    if args.panel is not None and args.page is None:
        raise ValueError("--panel needs --page")
    vector = None
    if args.vector is not None:
        vector = np.load(args.vector)
    elif args.text is not None or args.image is not None:
        from .store.query import model_query_vector

        if args.model is None:
            raise ValueError("--text and --image need --model DIR")
        vector = model_query_vector(args.model, text=args.text, image=args.image)
    searcher = StoreSearch(args.store, backend=args.backend)
    hits = searcher.search(
        vector=vector,
        page=args.page,
        panel=args.panel,
        k=args.k,
        level=args.level,
        book_id=args.book,
        page_type=args.page_type,
        min_panels=args.min_panels,
        max_panels=args.max_panels,
        has_text=args.has_text,
        ann=args.ann,
        nprobe=args.nprobe,
    )
    _print_hits(hits, args.json)
    return 0


def cmd_store_info(args: argparse.Namespace) -> int:
    import json

    from .store import open_store

    info = open_store(args.store).info()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    attrs = info["attrs"]
    print(f"store {info['path']}")
    for key in (
        "model_id",
        "model_revision",
        "config_hash",
        "created_utc",
        "schema_version",
        "embedding_dtype",
    ):
        print(f"  {key}: {attrs.get(key)}")
    print(
        f"  rows: {info['visible_rows']} visible of {attrs['row_count']} planned; "
        f"chunks {info['finished_chunks']}/{info['num_chunks']} finished "
        f"({'complete' if info['complete'] else 'INCOMPLETE'})"
    )
    print(
        f"  books: {info['books']}, real panels: {info['real_panels']}, "
        f"dims: P={attrs['panels']} D={attrs['dim']}"
    )
    vectors = info["visible_rows"] + info["real_panels"]
    total = info["bytes_on_disk"]
    print(
        f"  bytes on disk: {total:,} ({total / max(1, info['visible_rows']):.0f} B/page, "
        f"{total / max(1, vectors):.0f} B per stored vector)"
    )
    for part, size in info["bytes_by_part"].items():
        print(f"    {part}: {size:,}")
    return 0


def cmd_store_index(args: argparse.Namespace) -> int:
    from .store import StoreSearch

    start = time.perf_counter()
    searcher = StoreSearch(args.store)
    index = searcher.build_ann(
        args.level, nlist=args.nlist, nprobe=args.nprobe, target_recall=args.target_recall
    )
    cal = index.meta["calibration"]
    measured = (
        f"; recall@{cal['k']} {cal['recall']:.3f} on {cal['queries']} held-out stored vectors"
        if cal["recall"] is not None
        else ""
    )
    print(
        f"built a FAISS IVF index ({index.meta['n']} {args.level} vectors, nlist {index.nlist}, "
        f"nprobe {index.nprobe}{measured}) in {time.perf_counter() - start:.1f} s "
        f"-> {searcher.index_path(args.level)}"
    )
    return 0


def cmd_pss_features(args: argparse.Namespace) -> int:
    import json

    from .training.pss_features import dataset_pages, extract_features

    summary = extract_features(
        dataset_pages(args.dataset, image_root=args.image_root),
        args.out,
        vision=args.vision,
        text=args.text,
        device=args.device,
        show_progress=not args.quiet,
    )
    print(json.dumps(summary, indent=2))
    return 0


def cmd_pss_convert_v4(args: argparse.Namespace) -> int:
    from .modeling.cosmo_pss.convert import convert_cosmo_v4

    model = convert_cosmo_v4(args.checkpoint, heads=args.heads)
    model.save_pretrained(args.out)
    c, bert = model.config, model.config.bert_config
    print(
        f"converted {args.checkpoint} -> {args.out}: text {c.text_dim}-d + vision {c.vision_dim}-d "
        f"features, BERT {bert['num_hidden_layers']} x {c.hidden_size} ({bert['num_attention_heads']} "
        f"heads), {len(c.labels)} legacy classes ({', '.join(c.labels)}); "
        f"{sum(p.numel() for p in model.parameters()):,} parameters"
    )
    return 0


def cmd_train_pss(args: argparse.Namespace) -> int:
    import json

    from .training.cosmo_pss import PssTrainConfig, train_pss

    cfg = PssTrainConfig(
        features=str(args.features),
        out=str(args.out),
        val_features=str(args.val_features) if args.val_features else None,
        val_fraction=args.val_fraction,
        seed=args.seed,
        epochs=args.epochs,
        windows_per_book=args.windows_per_book,
        window_range=args.window_range,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        label_smoothing=args.label_smoothing,
        patience=args.patience,
        hidden_size=args.hidden_size,
        layers=args.layers,
        heads=args.heads,
        transitions=args.transitions,
        threads=args.threads,
    )
    summary = train_pss(cfg, resume=args.resume, show_progress=not args.quiet)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))
    return 0


def _write_page_types(folder: Path, predictions: list[dict]) -> int:
    """Set page_type / story_start of the DataSpec records in ``folder`` that were segmented."""
    from .dataspec import read_pages, write_json, write_jsonl

    by_page = {
        pid: (t, s)
        for p in predictions
        for pid, t, s in zip(p["page_ids"], p["page_types"], p["story_start"], strict=True)
    }
    updated = 0
    for file in sorted(f for f in folder.rglob("*") if f.suffix in {".json", ".jsonl"} and f.is_file()):
        pages = read_pages(file)
        hit = False
        for page in pages:
            if page.page_id in by_page:
                page.page_type, page.story_start = by_page[page.page_id]
                updated += 1
                hit = True
        if hit and file.suffix == ".jsonl":
            write_jsonl(pages, file)
        elif hit:
            write_json(pages[0], file)
    return updated


def cmd_segment(args: argparse.Namespace) -> int:
    import json

    from .modeling.cosmo_pss import CosmoPssForPageClassification
    from .training.cosmo_pss import book_segments, load_books, predict_books, segments_table
    from .training.pss_features import FeatureStore

    store = FeatureStore(args.features)
    known = store.books()
    wanted = list(known) if args.books == ["all"] else args.books
    missing = [b for b in wanted if b not in known]
    if missing:
        raise KeyError(f"books not in the feature store {args.features}: {', '.join(missing[:5])}")
    model = CosmoPssForPageClassification.from_pretrained(args.model)
    window = None if args.window <= 0 else args.window
    predictions = predict_books(model, load_books(args.features, wanted), window, args.stride)
    result = []
    for prediction in predictions:
        segs = book_segments(prediction)
        print(segments_table(prediction["book_id"], segs))
        result.append({**prediction, "segments": segs})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": str(args.model), "books": result}, indent=2) + "\n")
    if args.store:
        from .store import set_page_types

        types = {pid: t for p in predictions for pid, t in zip(p["page_ids"], p["page_types"], strict=True)}
        changed = set_page_types(args.store, types)
        print(f"page_type of {changed} store rows updated in {args.store}")
    if args.dataspec:
        updated = _write_page_types(args.dataspec, predictions)
        logging.getLogger(__name__).info("page_type written to %d DataSpec records", updated)
    return 0


def cmd_train_closure_lite(args: argparse.Namespace) -> int:
    from .training.closure_lite import TrainConfig, train_closure_lite

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set: expected KEY=VALUE (a ClosureLiteConfig field), got {item!r}")
        try:
            overrides[key] = json.loads(value)
        except ValueError:
            overrides[key] = value
    cfg = TrainConfig(
        out=str(args.out),
        dataset=str(args.dataset),
        data_config=args.data_config,
        image_root=str(args.images) if args.images else None,
        variant=args.variant,
        model_config=args.model_config,
        model_overrides=overrides,
        use_layout=not args.no_layout,
        steps=args.steps,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        lr=args.lr,
        backbone_lr_mult=args.backbone_lr_mult,
        weight_decay=args.weight_decay,
        warmup_steps=args.warmup_steps,
        max_grad_norm=args.max_grad_norm,
        mixed_precision=args.mixed_precision,
        seed=args.seed,
        freeze_backbones=args.freeze_backbones,
        lora=args.lora,
        lora_r=args.lora_r,
        eval_every=args.eval_every,
        eval_batch_size=args.eval_batch_size,
        max_eval_pages=args.max_eval_pages,
        save_every=args.save_every,
        best_metric=args.best_metric,
        log_every=args.log_every,
        max_time_s=args.max_time,
        stop_after=args.stop_after,
        val_fraction=args.val_fraction,
        synthetic_pages=args.synthetic_pages,
        synthetic_val_pages=args.synthetic_val_pages,
        synthetic_size=args.synthetic_size,
        report_to=args.report_to,
        progress=not args.quiet,
    )
    result = train_closure_lite(cfg, resume=args.resume)
    if not result.metrics:
        print(f"paused at step {result.step}; continue with the same command and --resume")
        return 0
    print(f"trained {result.step} steps in {result.wall_time_s:.1f} s; final model: {result.final_dir}")
    if result.best_dir is not None:
        best = result.best
        print(
            f"best model ({best['metric']} = {best['value']:.4f} at step {best['step']}): {result.best_dir}"
        )
    for key, value in result.metrics.items():
        if isinstance(value, float):
            print(f"  {key:<28}{value:.4f}")
    return 0


def cmd_push_model(args: argparse.Namespace) -> int:
    from .hub import push_model, stage_model_upload

    if args.dry_run:
        for name in stage_model_upload(args.folder, args.repo_id, args.license):
            print(name)
        return 0
    url = push_model(
        args.folder, args.repo_id, private=args.private, token_env=args.token_env, license=args.license
    )
    print(f"pushed {args.folder} to https://huggingface.co/{args.repo_id} ({url})")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from .store.embed import embed_store

    result = embed_store(
        args.dataset,
        args.model,
        args.out,
        config=args.config,
        image_root=args.images,
        num_shards=args.num_shards,
        shard_index=args.shard_index,
        batch_size=args.batch_size,
        chunk_pages=args.chunk_pages,
        dtype=args.dtype,
        model_id=args.model_id,
        revision=args.revision,
        threads=args.threads,
        show_progress=not args.quiet,
    )
    s = result.summary
    print(
        f"process {result.process_index}/{result.num_processes} (writer shard {result.shard_index} of "
        f"{result.num_shards}): {result.pages} pages, {result.panels} panels in {result.seconds:.1f} s "
        f"({result.pages_per_second:.2f} pages/s); chunks written {len(s.written_chunks)}, skipped "
        f"{s.skipped_chunks}; store {'complete' if s.complete else 'incomplete'}: {s.store}"
    )
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from .analysis import analyze_store

    result = analyze_store(
        args.store,
        args.out,
        clusters=args.clusters,
        neighbors=args.neighbors,
        seed=args.seed,
        outlier_threshold=args.outlier_threshold,
        outlier_reference=args.outlier_reference,
        method=args.method,
    )
    print(result.summary_text())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .space import SpaceConfig, launch

    config = SpaceConfig.from_env(
        store=args.store,
        model=args.model,
        pages=args.pages,
        image_root=args.images,
        analysis=args.analysis,
    )
    launch(config, host=args.host, port=args.port, share=False, block=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="comics-analysis",
        description="Turn digital comics into DataSpec pages, datasets, embeddings and models.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default INFO)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="same as --log-level DEBUG")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors; no progress bars"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "synth",
        help="generate a synthetic comic library with exact ground truth",
        description="Generate seeded synthetic comic books (CBZ/PDF) and their DataSpec "
        "ground truth. The same seed gives byte-identical files.",
    )
    p.add_argument(
        "--books", type=int, default=3, help="number of books (kinds cycle issue, anthology, manga)"
    )
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="library seed (default 0)")
    p.add_argument("--format", type=_formats, default=("cbz",), help="container formats, cycled: cbz,pdf")
    p.add_argument(
        "--size", type=_size, default=(1060, 1600), help="page size WIDTHxHEIGHT (default 1060x1600)"
    )
    p.add_argument("--story-pages", type=_range, default=(6, 14), help="story pages per book LOW-HIGH")
    p.add_argument(
        "--image-format", choices=["jpeg", "png"], default="jpeg", help="page image encoding in CBZ"
    )
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        "demo",
        help="run the main job on an embedded sample (what `make demo` runs)",
        description="The whole pipeline on a generated sample: synth -> ingest -> annotate -> dataset -> "
        "train Closure Lite (short CPU schedule) -> embed -> analyze -> serve the Space on 127.0.0.1 "
        "(DEMO_NO_SERVE=1: stop after writing everything and print a sample query).",
    )
    p.add_argument(
        "--out", type=Path, default=Path("demo_output"), help="output folder (default demo_output)"
    )
    p.add_argument("--books", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--ocr", default="rapidocr", choices=["rapidocr", "tesseract", "none"])
    p.add_argument("--model-config", default="lite", help="Closure Lite preset: tiny or lite (default)")
    p.add_argument("--train-steps", type=int, default=60, help="optimiser steps of the short training run")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "ingest",
        help="extract pages from comic files into page images + a Parquet manifest",
        description="Walk files and folders, extract and validate every page of CBZ/ZIP, CBR/RAR, CB7/7z, "
        "CBT/TAR, PDF, EPUB and image folders. Resumable: finished containers are skipped on re-runs.",
    )
    p.add_argument("sources", nargs="+", type=Path, help="files and folders (a folder of images is a book)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--root", type=Path, help="library root for relative paths (default: common folder)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--num-shards", type=int, default=1, help="split the library into K shards (e.g. Slurm)")
    p.add_argument("--shard-index", type=int, default=0, help="which shard this run does, 0..K-1")
    p.add_argument(
        "--image-format",
        default="keep",
        choices=["keep", "png", "jpeg", "webp"],
        help="page file format (keep = original bytes when JPEG/PNG/WebP)",
    )
    p.add_argument("--dpi", type=float, default=150.0, help="PDF rendering resolution (default 150)")
    p.add_argument(
        "--pdf-mode",
        default="auto",
        choices=["auto", "render"],
        help="auto: keep the image of single-image pages as is; render: rasterise every page at --dpi",
    )
    p.add_argument("--max-pixels", type=int, default=200_000_000, help="decompression bomb cap per image")
    p.add_argument("--max-entry-mb", type=int, default=256, help="largest archive entry read, in MiB")
    p.add_argument(
        "--near-duplicate-distance",
        type=int,
        default=4,
        help="perceptual-hash bits within which pages are flagged near-duplicates (-1: off)",
    )
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "ingest-merge",
        help="merge the shard manifests of a sharded ingest",
        description="Merge OUT/shards/* into OUT/manifest.parquet once every shard has finished.",
    )
    p.add_argument("out", type=Path)
    p.add_argument("--near-duplicate-distance", type=int, default=4)
    p.set_defaults(func=cmd_ingest_merge)

    p = sub.add_parser(
        "annotate",
        help="detect panels and reading order on ingested pages, write DataSpec v1",
        description="Annotate every page of an ingest folder (its manifest.parquet) into DataSpec JSON Lines "
        "under OUT/dataspec/, one file per book. Resumable: finished books are skipped.",
    )
    p.add_argument("ingest_dir", type=Path, help="output folder of `comics-analysis ingest`")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument(
        "--detector",
        default="classical",
        help="panel detector: classical; hf:NAME_OR_PATH (a transformers object detector, needs the 'ml' "
        "extra); coco:FILE to import COCO predictions (category 1)",
    )

    p.add_argument(
        "--direction",
        default="auto",
        choices=["auto", "ltr", "rtl"],
        help="reading direction (auto: ComicInfo manga flag, else ltr)",
    )
    p.add_argument(
        "--ocr",
        default="rapidocr",
        choices=["rapidocr", "tesseract", "none"],
        help="OCR engine for lettered text (rapidocr's models ship in its wheel)",
    )
    p.add_argument("--ocr-lang", help="tesseract languages, e.g. eng, jpn, jpn_vert, eng+jpn")
    p.add_argument(
        "--vlm",
        type=Path,
        help="merge VLM readings from this folder (`comics-analysis vlm` output, or v1 / v2 JSON or DataSpec "
        "v0.3 files named like the pages) and align them to the detected panels",
    )
    p.add_argument("--vlm-min-iou", type=float, default=0.5, help="IoU at which a VLM box matches a panel")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--num-shards", type=int, default=1)
    p.add_argument("--shard-index", type=int, default=0)
    p.set_defaults(func=cmd_annotate)

    p = sub.add_parser(
        "vlm",
        help="read ingested pages with a vision-language model (any OpenAI-compatible endpoint)",
        description="Send every ok page of an ingest folder to a chat endpoint (OpenRouter, vLLM, Ollama, LM "
        "Studio, HF Inference Providers, Gemini's OpenAI-compatible endpoint) and write the raw answer and "
        "the "
        "parsed JSON per page under OUT/pages/. Resumable; cached by (image, model, prompt version). "
        "The API key is read from --api-key-env and never printed.",
    )
    p.add_argument("ingest_dir", type=Path, help="output folder of `comics-analysis ingest`")
    p.add_argument("--model", required=True, help="model name as the endpoint knows it")
    p.add_argument("--base-url", required=True, help="e.g. http://localhost:11434/v1 (Ollama)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key")
    p.add_argument("--prompt-version", default="v2-grounded-1")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    p.add_argument("--max-cost", type=float, help="stop starting pages once this much is spent")
    p.add_argument("--prices", type=Path, help='JSON price table {model: {"input": X, "output": Y}} per Mtok')
    p.add_argument("--price-in", type=float, help="price per million input tokens (overrides --prices)")
    p.add_argument("--price-out", type=float, help="price per million output tokens (overrides --prices)")
    p.add_argument("--max-side", type=int, default=1536, help="longest image side sent, in pixels")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--max-retries", type=int, default=5)
    p.add_argument("--no-json-mode", action="store_true", help="for servers that reject response_format")
    p.add_argument("--cache", type=Path, help="answer cache folder (default OUT/cache)")
    p.add_argument("--limit", type=int, help="only the first N pages")
    p.set_defaults(func=cmd_vlm)

    ev = sub.add_parser(
        "eval",
        help="evaluate predictions against ground truth",
        description="Evaluation of annotations and models against ground truth.",
    )
    ev_sub = ev.add_subparsers(dest="eval_command", metavar="TASK", required=True)
    p = ev_sub.add_parser(
        "panels",
        help="panel detection and reading order: P/R/F1, AP, exact count, order",
        description="Pages are paired by page_id, else by book folder + image file name.",
    )
    p.add_argument(
        "--gt",
        required=True,
        type=Path,
        help="OpenMantra annotation.json, a DataSpec .jsonl/.json/folder, or an annotate output folder",
    )
    p.add_argument("--pred", required=True, type=Path, help="annotate output folder or DataSpec files")
    p.add_argument("--iou", type=float, default=0.5)
    p.add_argument("--lang", default="ja", help="OpenMantra text language (ja, en, zh)")
    p.add_argument("--json", type=Path, help="write the report as JSON")
    p.set_defaults(func=cmd_eval_panels)
    p = ev_sub.add_parser(
        "text",
        help="lettered text: detection P/R, CER, kind and panel assignment accuracy",
        description="Text boxes are paired one-to-one by IoU; CER folds case and spaces.",
    )
    p.add_argument("--gt", required=True, type=Path, help="DataSpec ground truth (e.g. a synth truth folder)")
    p.add_argument("--pred", required=True, type=Path, help="annotate output folder or DataSpec files")
    p.add_argument("--kinds", help="only true boxes of these kinds, e.g. dialogue or dialogue,narration")
    p.add_argument("--iou", type=float, default=0.3)
    p.add_argument("--lang", default="ja", help="OpenMantra text language (ja, en, zh)")
    p.add_argument("--json", type=Path, help="write the report as JSON")
    p.set_defaults(func=cmd_eval_text)
    from .cli_eval import add_eval_commands

    add_eval_commands(ev_sub)

    ds = sub.add_parser(
        "dataspec",
        help="validate and convert DataSpec records",
        description="Validate DataSpec v1 files and convert earlier formats into them.",
    )
    ds_sub = ds.add_subparsers(dest="dataspec_command", metavar="ACTION", required=True)
    p = ds_sub.add_parser("validate", help="check .json/.jsonl files or folders against DataSpec v1")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--summary", action="store_true", help="print counts per page type")
    p.set_defaults(func=cmd_validate)
    p = ds_sub.add_parser("from-legacy", help="convert DataSpec v0.3 page files (one book) to v1 JSON Lines")
    p.add_argument("files", nargs="+", type=Path, help="v0.3 JSON files; sorted by name = page order")
    p.add_argument("--book-id", required=True, help="canonical book id, e.g. my-comic-1a2b3c4d")
    p.add_argument("--image-root", type=Path, help="folder the page_image_path values are relative to")
    p.add_argument("--out", required=True, type=Path, help="output .jsonl")
    p.set_defaults(func=cmd_from_legacy)
    p = ds_sub.add_parser("from-openmantra", help="convert an OpenMantra annotation.json to v1 JSON Lines")
    p.add_argument("annotation", type=Path)
    p.add_argument("--lang", default="ja", choices=["ja", "en", "zh"], help="which text to keep (default ja)")
    p.add_argument("--image-lang", choices=["ja", "en", "zh"], help="which page images (default: --lang)")
    p.add_argument("--image-root", type=Path, help="folder of the images/ tree (default: beside the file)")
    p.add_argument("--out", required=True, type=Path, help="output .jsonl")
    p.set_defaults(func=cmd_from_openmantra)
    p = ds_sub.add_parser(
        "subsets",
        help="count (and write) the all / aligned / perfect_match subsets of annotated pages",
        description="Apply the subset rules to stored records; thresholds change without re-running "
        "anything.",
    )
    p.add_argument("dataspec", type=Path, help="annotate output folder or .jsonl files")
    p.add_argument("--min-iou", type=float, default=0.5)
    p.add_argument(
        "--no-ocr-fallback",
        action="store_true",
        help="aligned: drop pages where a panel the VLM skipped keeps OCR lettering",
    )
    p.add_argument("--write", choices=["all", "aligned", "perfect_match"], help="write this subset to --out")
    p.add_argument("--out", type=Path, help="JSON Lines file for --write")
    p.set_defaults(func=cmd_subsets)

    dd = sub.add_parser(
        "dataset",
        help="build Hugging Face datasets (Parquet + card) from annotated pages, and push them",
        description="Build a dataset folder that datasets.load_dataset(folder) reads, and publish it.",
    )
    dd_sub = dd.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    p = dd_sub.add_parser(
        "build",
        help="comic_pages: DataSpec pages + images -> Parquet shards, stats.json and a dataset card",
        description="Write the all / aligned / perfect_match configs of an annotate output as "
        "OUT/<config>/<split>-NNNNN-of-NNNNN.parquet (images embedded as stored), split by a hash of "
        "book_id, plus OUT/stats.json and OUT/README.md (dataset card with configs, statistics, "
        "provenance). Load with datasets.load_dataset(OUT, name=CONFIG).",
    )
    p.add_argument("dataspec_dir", type=Path, help="annotate output folder (or a folder of DataSpec .jsonl)")
    p.add_argument("--out", required=True, type=Path, help="dataset folder to write (replaced if it exists)")
    p.add_argument(
        "--config",
        help="comma list of all, aligned, perfect_match (default: every config that has pages)",
    )
    p.add_argument(
        "--images", type=Path, help="root of the image paths (default: the ingest folder annotate recorded)"
    )
    p.add_argument(
        "--min-iou", type=float, default=0.5, help="IoU threshold of the aligned rule (default 0.5)"
    )
    p.add_argument(
        "--no-ocr-fallback",
        action="store_true",
        help="aligned: leave out pages where a panel the VLM skipped keeps OCR lettering",
    )
    p.add_argument(
        "--split-ratios",
        type=_ratios,
        default=(0.8, 0.1, 0.1),
        help="train,validation,test shares of books (default 0.8,0.1,0.1)",
    )
    p.add_argument("--shard-rows", type=_positive, help="at most this many pages per Parquet shard")
    p.add_argument(
        "--shard-mb", type=_positive, default=500, help="at most about this many MiB per shard (default 500)"
    )
    p.add_argument(
        "--license", default="unknown", help="licence id for the card, e.g. cc-by-4.0 (default unknown)"
    )
    p.add_argument("--pretty-name", default="Comic pages (DataSpec v1)", help="title of the dataset card")
    p.set_defaults(func=cmd_dataset_build)
    p = dd_sub.add_parser(
        "push",
        help="upload a built dataset folder (shards, stats.json, card) to the Hugging Face Hub",
        description="Create the dataset repo if needed and upload exactly the files the card's configs "
        "name, plus README.md and stats.json. Needs a write token (never printed).",
    )
    p.add_argument("folder", type=Path, help="output folder of `comics-analysis dataset build`")
    p.add_argument("--repo-id", required=True, help="USER/NAME or ORG/NAME on the Hub")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument(
        "--token-env",
        default="HF_TOKEN",
        help="environment variable holding the token (default HF_TOKEN, else the `hf auth login` token)",
    )
    p.add_argument("--dry-run", action="store_true", help="list the files that would be uploaded and stop")
    p.set_defaults(func=cmd_dataset_push)

    p = sub.add_parser(
        "search",
        help="search an embedding store: more like a page or panel, or a query vector",
        description="Exact cosine top-k (default) or a FAISS index (--ann, built by `store index`) over page "
        "or panel vectors, with filters. --text/--image need the Closure Lite model (--model DIR).",
    )
    p.add_argument("store", type=Path, help="embedding store folder (Zarr v3)")
    p.add_argument("--page", help="page id: pages like this one (the page itself is left out)")
    p.add_argument("--panel", type=int, help="with --page: panels like this panel (index in reading order)")
    p.add_argument("--vector", type=Path, help="a query vector saved with numpy.save (.npy)")
    p.add_argument("--text", help="text query (needs --model)")
    p.add_argument("--image", type=Path, help="image query: a page or a crop (needs --model)")
    p.add_argument("--model", type=Path, help="Closure Lite model folder for --text / --image")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--level", choices=["page", "panel"], help="search pages or panels (default: the query's)")
    p.add_argument("--book", action="append", help="only this book id (repeatable)")
    p.add_argument("--page-type", action="append", help="only this page type (repeatable)")
    p.add_argument("--min-panels", type=int, help="only pages with at least N stored panels")
    p.add_argument("--max-panels", type=int, help="only pages with at most N stored panels")
    text = p.add_mutually_exclusive_group()
    text.add_argument(
        "--has-text", dest="has_text", action="store_const", const=True, help="only hits with text"
    )
    text.add_argument(
        "--no-text", dest="has_text", action="store_const", const=False, help="only hits without"
    )
    p.add_argument("--ann", action="store_true", help="use the saved FAISS index instead of exact search")
    p.add_argument("--nprobe", type=int, help="with --ann: inverted lists scanned (default: the index's)")
    p.add_argument(
        "--backend", default="auto", choices=["auto", "faiss", "numpy"], help="exact search backend"
    )
    p.add_argument("--json", action="store_true", help="print the hits as JSON (full text)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "embed",
        help="embed pages with a Closure Lite model into an embedding store (Zarr v3)",
        description="Write page and panel embeddings in whole chunks with a progress manifest; a re-run "
        "resumes (finished chunks are skipped). DATASET: an annotate output folder, a comic_pages export "
        "folder (`dataset build`), a datasets save_to_disk folder or DataSpec .jsonl files. Under "
        "`accelerate launch` every process embeds its own chunks (on CPU: ACCELERATE_USE_CPU=1 "
        "accelerate launch --multi_gpu --num_processes N -m comics_analysis embed ...).",
    )
    p.add_argument("dataset", type=Path, help="annotate output, comic_pages export or DataSpec files")
    p.add_argument("--model", required=True, help="Closure Lite model folder (or Hub repo id)")
    p.add_argument("--out", required=True, type=Path, help="store folder (created, or resumed)")
    p.add_argument("--config", default="all", help="comic_pages config to embed (default all)")
    p.add_argument("--images", type=Path, help="root of the records' image paths (default: as recorded)")
    p.add_argument("--num-shards", type=int, default=1, help="split the chunks into K shards (e.g. Slurm)")
    p.add_argument("--shard-index", type=int, default=0, help="which shard this run writes, 0..K-1")
    p.add_argument("--batch-size", type=int, default=16, help="pages per forward pass (default 16)")
    p.add_argument("--chunk-pages", type=int, default=1024, help="pages per store chunk (default 1024)")
    p.add_argument("--dtype", choices=["float16", "int8"], default="float16", help="vector storage")
    p.add_argument("--model-id", help="model id recorded in the store (default: the --model value)")
    p.add_argument("--revision", help="model revision (Hub commit; default: weights hash of a folder)")
    p.add_argument("--threads", type=int, help="torch CPU threads per process")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser(
        "analyze",
        help="UMAP map, k-means clusters, plots, a cluster report and outlier scores of a store",
        description="Writes OUT/points.csv (page_id, x, y, cluster, outlier score and flag, panel count, "
        "page type), OUT/map_*.png, OUT/clusters.json + clusters.md and OUT/outliers.json.",
    )
    p.add_argument("store", type=Path, help="embedding store folder")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--clusters", type=int, help="k of k-means (default: about sqrt(pages / 2), 2..12)")
    p.add_argument("--neighbors", type=int, default=15, help="UMAP n_neighbors (default 15)")
    p.add_argument("--method", choices=["umap", "pca"], default="umap", help="2-D map (default umap)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--outlier-threshold",
        type=float,
        default=3.0,
        help="robust z-score above which a page is flagged (default 3)",
    )
    p.add_argument(
        "--outlier-reference",
        choices=["multi-panel", "all"],
        default="multi-panel",
        help="pages the outlier score measures against: those with 2+ detected panels (default; all "
        "pages when fewer than 10%% have them) or all pages",
    )
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser(
        "serve",
        help="run the comics-search Gradio app on a store (what the Space runs)",
        description="Search by text / image / page id, view pages with their panels and text, browse a "
        "book, see the UMAP map. Paths default to the COMICS_STORE, COMICS_MODEL, COMICS_PAGES, "
        "COMICS_IMAGES and COMICS_ANALYSIS environment variables.",
    )
    p.add_argument("store", nargs="?", type=Path, help="embedding store folder (default $COMICS_STORE)")
    p.add_argument("--model", type=Path, help="Closure Lite model folder, for text and image queries")
    p.add_argument("--pages", type=Path, help="the pages embedded (default: as the store recorded)")
    p.add_argument("--images", type=Path, help="root of the page image paths (default: as recorded)")
    p.add_argument("--analysis", type=Path, help="`analyze` output folder for the map tab")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: a free port)")
    p.set_defaults(func=cmd_serve)

    st = sub.add_parser(
        "store",
        help="inspect an embedding store and build its FAISS index",
        description="Embedding stores are written by `comics_analysis.store.write_store` "
        "(`comics-analysis embed`, or `comics_analysis.store.write_store` with any embedding function).",
    )
    st_sub = st.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    p = st_sub.add_parser("info", help="attributes, progress and bytes on disk of a store")
    p.add_argument("store", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_store_info)
    p = st_sub.add_parser("index", help="build and save a FAISS IVF index (for `search --ann`)")
    p.add_argument("store", type=Path)
    p.add_argument("--level", choices=["page", "panel"], default="page")
    p.add_argument("--nlist", type=int, help="inverted lists (default sqrt(n))")
    p.add_argument(
        "--nprobe", type=int, help="lists scanned per query (default: calibrated to --target-recall)"
    )
    p.add_argument(
        "--target-recall",
        type=float,
        default=0.95,
        help="without --nprobe: the smallest nprobe whose recall@10 vs exact search reaches this "
        "(measured on held-out stored vectors; default 0.95)",
    )
    p.set_defaults(func=cmd_store_index)
    # ---------------------------------------------------------------- page stream segmentation
    ps = sub.add_parser("pss", help="page stream segmentation: page features, cosmo-v4 conversion")
    ps_sub = ps.add_subparsers(dest="pss_command", metavar="ACTION", required=True)
    p = ps_sub.add_parser("features", help="vision + text vector per page, cached in Zarr by page_id")
    p.add_argument("dataset", help="a DataSpec .json/.jsonl file or folder, or synthetic:N_BOOKS[:SEED]")
    p.add_argument("--out", type=Path, required=True, help="feature store folder (appended to if it exists)")
    p.add_argument("--vision", default="pixels", help="pixels (offline), store:PATH, or a HF vision model")
    p.add_argument("--text", default="minilm", help="minilm (offline package) or a HF text model")
    p.add_argument("--image-root", help="root of the DataSpec image paths (default: the dataset folder)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_pss_features)
    p = ps_sub.add_parser(
        "convert-v4",
        help="a published cosmo-v4 checkpoint -> a CosmoPssForPageClassification folder",
        description="Reads the checkpoint weights-only (.pt with model_state_dict, or .safetensors), checks "
        "every tensor against the cosmo-v4 layout and writes save_pretrained output (config, weights, "
        "remote code). Predictions keep the 9 legacy labels.",
    )
    p.add_argument("checkpoint", type=Path, help="checkpoint.pt or model.safetensors")
    p.add_argument("--out", type=Path, required=True, help="model folder to write")
    p.add_argument("--heads", type=int, default=4, help="attention heads (not in the shapes; published: 4)")
    p.set_defaults(func=cmd_pss_convert_v4)

    tr = sub.add_parser(
        "train",
        help="train models (Closure Lite, CoSMo PSS) with Accelerate",
        description="Training loops over an Accelerate Accelerator; launch with `accelerate launch` for "
        "several processes or GPUs.",
    )
    tr_sub = tr.add_subparsers(dest="train_command", metavar="MODEL", required=True)
    p = tr_sub.add_parser("pss", help="CoSMo PSS on a feature store (Accelerate)")
    p.add_argument("features", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--val-features", type=Path, help="validation store (default: a split of FEATURES)")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--windows-per-book", type=int, default=4)
    p.add_argument("--window-range", type=_range, default=(8, 48), help="window length range, e.g. 8-48")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--patience", type=int, default=5, help="epochs without a better validation macro-F1")
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--transitions", choices=["none", "counted", "learned"], default="counted")
    p.add_argument("--threads", type=int)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.set_defaults(func=cmd_train_pss)

    p = sub.add_parser("segment", help="page types and segments of books (per book, overlapping windows)")
    p.add_argument("books", nargs="+", help="book ids in the feature store, or 'all'")
    p.add_argument("--features", type=Path, required=True)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--window", type=int, default=32, help="pages per window (0: the whole book)")
    p.add_argument("--stride", type=int, default=16)
    p.add_argument("--json", type=Path, help="write per-page labels and segments here")
    p.add_argument("--dataspec", type=Path, help="DataSpec folder whose records get page_type/story_start")
    p.add_argument("--store", type=Path, help="embedding store whose page_type column gets the predictions")
    p.set_defaults(func=cmd_segment)

    p = tr_sub.add_parser(
        "closure-lite",
        help="Closure Lite panel/page embeddings: train, evaluate on held-out pages, checkpoint, resume",
        description="Writes OUT/final and OUT/best (save_pretrained + processor; load with "
        "AutoModel.from_pretrained(DIR, trust_remote_code=True)), OUT/metrics.jsonl and resumable "
        "checkpoints in OUT/checkpoints.",
    )
    p.add_argument(
        "--dataset",
        required=True,
        help="'synthetic', a DataSpec/annotate folder, a comic_pages export or a save_to_disk folder",
    )
    p.add_argument("--data-config", help="comic_pages config of an export (default aligned, else all)")
    p.add_argument("--images", type=Path, help="root of the image paths of a DataSpec folder")
    p.add_argument("--variant", default="base", choices=["base", "denoise", "context", "context-denoise"])
    p.add_argument("--model-config", default="tiny", help="tiny, lite, base or a config.json / model folder")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a ClosureLiteConfig field")
    p.add_argument("--out", required=True, type=Path, help="run folder")
    p.add_argument("--steps", type=_positive, default=1000, help="optimiser steps (default 1000)")
    p.add_argument("--batch-size", type=_positive, default=16, help="pages per process per micro-step")
    p.add_argument("--grad-accum", type=_positive, default=1, help="micro-steps per optimiser step")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--backbone-lr-mult", type=float, default=0.1, help="LR multiplier of the towers")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-steps", type=int, default=50)
    p.add_argument("--max-grad-norm", type=float, default=1.0, help="clip gradients (0: off)")
    p.add_argument("--mixed-precision", default="auto", choices=["auto", "no", "fp16", "bf16"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--freeze-backbones",
        nargs="?",
        const="both",
        default="none",
        choices=["none", "vision", "text", "both"],
        help="freeze the towers (no value: both)",
    )
    p.add_argument(
        "--lora",
        nargs="?",
        const="auto",
        choices=["auto", "vision", "text", "both"],
        help="PEFT LoRA adapters on the towers (auto: the pretrained ones); the rest trains fully",
    )
    p.add_argument("--lora-r", type=_positive, default=8)
    p.add_argument("--no-layout", action="store_true", help="ablation: no panel position / layout features")
    p.add_argument("--eval-every", type=_positive, default=200)
    p.add_argument("--eval-batch-size", type=_positive, default=32)
    p.add_argument("--max-eval-pages", type=_positive)
    p.add_argument("--save-every", type=_positive, help="checkpoint every N steps (default: --eval-every)")
    p.add_argument("--best-metric", default="next_panel_accuracy", help="validation metric of OUT/best")
    p.add_argument("--log-every", type=_positive, default=10)
    p.add_argument("--max-time", type=float, help="stop (evaluate, save) after this many seconds")
    p.add_argument(
        "--stop-after", type=_positive, help="pause after N steps of this invocation (then --resume)"
    )
    p.add_argument("--resume", nargs="?", const=True, help="resume from the latest checkpoint (or this one)")
    p.add_argument(
        "--val-fraction", type=float, default=0.1, help="books held out without a validation split"
    )
    p.add_argument("--synthetic-pages", type=_positive, default=800)
    p.add_argument("--synthetic-val-pages", type=_positive, default=100)
    p.add_argument("--synthetic-size", type=_size, default=(530, 800), help="WIDTHxHEIGHT of synthetic pages")
    p.add_argument(
        "--report-to",
        default="auto",
        help="Accelerate trackers: auto (tensorboard if installed), none, names",
    )
    p.set_defaults(func=cmd_train_closure_lite)

    pu = sub.add_parser("push", help="publish a trained model to the Hugging Face Hub")
    pu_sub = pu.add_subparsers(dest="push_command", metavar="WHAT", required=True)
    p = pu_sub.add_parser(
        "model",
        help="upload a trained Closure Lite folder with a rendered model card",
        description="Render README.md (model card: data, config, metrics, intended use, limits) into DIR "
        "and upload it with the weights, remote code and processor files. Needs a write token.",
    )
    p.add_argument("folder", type=Path, help="OUT/final or OUT/best of `train closure-lite`")
    p.add_argument("--repo-id", required=True, help="USER/NAME or ORG/NAME on the Hub")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--license", default="apache-2.0", help="licence id of the card (default apache-2.0)")
    p.add_argument(
        "--token-env",
        default="HF_TOKEN",
        help="environment variable holding the token (default HF_TOKEN, else the `hf auth login` token)",
    )
    p.add_argument("--dry-run", action="store_true", help="render the card, list the files and stop")
    p.set_defaults(func=cmd_push_model)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = "DEBUG" if args.verbose else ("WARNING" if args.quiet else args.log_level)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which SIMD build it loaded
    from .dataspec import DataSpecError

    try:
        return args.func(args)
    except DataSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyError, RuntimeError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
