"""`eval closure-text / comicspap / pss / report`: public benchmarks and the benchmark report."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import Commands, split, write_json

# the one set of split names (train, validation, test) -> each benchmark's own file names
CLOSURE_SPLITS = {"validation": "dev"}
COMICSPAP_SPLITS = {"validation": "val"}


def cmd_closure_text(args: argparse.Namespace) -> int:
    from ..benchmarks.closure_text import run_closure_text

    result = run_closure_text(
        args.data,
        split=CLOSURE_SPLITS.get(args.split, args.split),
        difficulty=args.difficulty,
        encoder=args.encoder,
        model=args.model,
        contexts=args.context,
        resamples=args.resamples,
        seed=args.seed,
        limit=args.limit,
    )
    print(result.summary_text())
    if args.json:
        write_json(args.json, result.payload())
    return 0


def cmd_comicspap(args: argparse.Namespace) -> int:
    from ..benchmarks.comicspap import run_comicspap

    result = run_comicspap(
        args.out,
        data_dir=args.data_dir,
        split=COMICSPAP_SPLITS.get(args.split, args.split),
        skills=args.skills,
        protocol=args.protocol,
        limit=args.limit,
        cache_dir=args.cache,
        model=args.model,
        vlm_model=args.vlm_model,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        max_side=args.max_side,
        max_tokens=args.max_tokens,
        timeout=args.timeout,
        concurrency=args.concurrency,
        font_path=args.font,
    )
    print(result.summary_text())
    if args.json:
        write_json(args.json, result.payload())
    return 0


def cmd_pss(args: argparse.Namespace) -> int:
    from ..benchmarks.pss import run_pss

    result = run_pss(
        args.features, args.model, args.books, window=args.window, stride=args.stride, scheme=args.scheme
    )
    print(result.summary_text())
    if args.json:
        write_json(args.json, result.payload())
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from ..benchmarks.search_real import run_search_eval, summary_text

    payload = run_search_eval(
        args.pages,
        data_root=args.data,
        towers=args.towers,
        models=args.model,
        lang=args.lang,
        limit=args.limit,
        non_comic=args.non_comic,
        seed=args.seed,
        device=args.device,
        books=args.book,
    )
    print(summary_text(payload))
    if args.json:
        write_json(args.json, payload)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..benchmarks.report import collect, render_markdown, update_readme_panels

    if args.readme is not None:
        changed = update_readme_panels(args.readme, args.bench_dir)
        print(f"{'updated' if changed else 'unchanged'}: the panel table of {args.readme}")
        return 0
    text = render_markdown(args.bench_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    found, missing = collect(args.bench_dir)
    print(f"wrote {args.out}: {sum(len(s['rows']) for s in found)} rows from {len(found)} files")
    for m in missing:
        print(f"missing: {m['pattern']} ({m['produce']})")
    return 0


def register(commands: Commands) -> None:
    ev_sub = commands.group("eval")
    p = ev_sub.add_parser(
        "closure-text",
        help="COMICS text cloze, zero-shot: accuracy with a bootstrap 95%% interval",
        description="Pick the candidate whose embedding is closest to the context's. Encoder: any HF text "
        "model (--encoder, default the offline MiniLM) or a Closure Lite model's text tower (--model).",
    )
    p.add_argument("--data", required=True, type=Path, help="folder of text_cloze_<split>_<difficulty>.csv")
    p.add_argument(
        "--split", type=split, default="validation", help="fold: validation (the files' dev) or test"
    )
    p.add_argument("--difficulty", default="easy", choices=["easy", "hard"], help="candidate difficulty")
    p.add_argument("--encoder", default="minilm", help="HF text model name or folder (default minilm)")
    p.add_argument("--model", type=Path, help="a Closure Lite model folder (its text tower)")
    p.add_argument(
        "--context", nargs="+", default=["all"], choices=["all", "last"], help="context modes (default all)"
    )
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--limit", type=int, help="only the first N rows")
    p.add_argument("--json", type=Path, help="write the results (with date, machine, commit)")
    p.set_defaults(func=cmd_closure_text)

    p = ev_sub.add_parser(
        "comicspap",
        help="ComicsPAP: accuracy per skill and total (VLM or Closure Lite embedding protocol)",
        description="Writes results_<skill>.json and overall_results.json (the authors' layout) to --out. "
        "On test (hidden labels) the same files hold the predictions only.",
    )
    p.add_argument("--data-dir", type=Path, help="local copy in the Hub's layout (default: the Hub)")
    p.add_argument(
        "--split", type=split, default="validation", help="validation (the dataset's val), test or train"
    )
    p.add_argument("--skills", nargs="+", help="default: all five")
    p.add_argument(
        "--protocol",
        choices=["vlm", "embedding"],
        default="vlm",
        help="vlm: a model at --base-url answers; embedding: a Closure Lite model (--model) scores",
    )
    p.add_argument("--out", type=Path, required=True, help="results folder")
    p.add_argument("--limit", type=int, help="only the first N samples per skill")
    p.add_argument(
        "--json", type=Path, help="also write a summary (with date, machine, commit) for the report"
    )
    p.add_argument("--model", type=Path, help="embedding protocol: a Closure Lite model folder")
    p.add_argument("--vlm-model", help="VLM protocol: the model name the endpoint serves")
    p.add_argument(
        "--base-url", help="VLM protocol: OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"
    )
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key")
    p.add_argument("--max-side", type=int, default=4096, help="downscale renderings larger than this")
    p.add_argument("--max-tokens", type=int, default=512, help="answer token limit per sample")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    p.add_argument("--cache", type=Path, help="answer cache (default OUT/cache)")
    p.add_argument(
        "--font", help="TrueType font for the rendering (the authors used Arial; default DejaVu Sans)"
    )
    p.set_defaults(func=cmd_comicspap)

    p = ev_sub.add_parser(
        "pss",
        help="page stream segmentation: a CoSMo PSS model (or zero-shot) against both trivial baselines",
        description="Scores the model's page types and story starts on labelled books of a feature store "
        "(`pss features`): accuracy, macro-F1, segment PQ, boundary F1 at +-0 / +-1, MnDD, beside "
        "all-story and cover-first/back-last on the same books.",
    )
    p.add_argument("--features", required=True, type=Path, help="feature store of labelled books")
    p.add_argument(
        "--model",
        help="model folder (`train pss` output /best) or Hub id; default: the zero-shot segmenter "
        "(features made with --page-stats)",
    )
    p.add_argument("--books", nargs="+", default=["all"], help="book ids (default all)")
    p.add_argument("--window", type=int, default=32, help="pages per window (0: the whole book)")
    p.add_argument("--stride", type=int, default=16, help="pages between window starts")
    p.add_argument("--scheme", choices=["ours", "cosmo5", "cosmo_v4"], default="ours", help="label scheme")
    p.add_argument("--json", type=Path, help="write the results (with date, machine, commit)")
    p.set_defaults(func=cmd_pss)

    p = ev_sub.add_parser(
        "search",
        help="search on real pages without hand labels: crop -> page, quote -> panel, same-book k-NN, "
        "not-a-comic ROC AUC",
        description="Damaged panel crops find their page; lettered lines with OCR errors find their panel "
        "(full-text index); page vectors' same-book 5-NN accuracy; the outlier score separates document "
        "pages drawn in code from the comic pages. The vision towers (and --model folders) side by side; "
        "per book and overall. See docs/search.md.",
    )
    p.add_argument(
        "pages",
        nargs="*",
        type=Path,
        help="page sources with ground-truth panels and texts (ACBF, OpenMantra annotation.json, DataSpec); "
        "default: the real dev books under --data",
    )
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared data folder (dev books)")
    p.add_argument(
        "--towers",
        nargs="*",
        default=["lite", "lite-vit"],
        help="Closure Lite presets whose vision tower "
        "is measured as raw pooled features (default: lite lite-vit; none: only --model)",
    )
    p.add_argument("--model", nargs="*", default=[], type=Path, help="trained Closure Lite model folders")
    p.add_argument("--lang", help="text language (OpenMantra ja by default; ACBF: the first text layer)")
    p.add_argument("--limit", type=int, help="only the first N pages of each book")
    p.add_argument(
        "--book",
        action="append",
        help="only this book of the page sources (book id or its start, e.g. balloon-dream; repeatable): "
        "a model's held-out book",
    )
    p.add_argument("--non-comic", type=int, help="document pages drawn in code (default: 30%% of the pages)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the queries, the non-comic pages and untrained towers"
    )
    p.add_argument("--device", default="cpu", help="torch device of the model, e.g. cpu or cuda")
    p.add_argument(
        "--json",
        type=Path,
        help="write the results (with date, machine, commit), e.g. docs/bench/search-real.json",
    )
    p.set_defaults(func=cmd_search)

    p = ev_sub.add_parser(
        "report",
        help="gather every benchmark result JSON into one Markdown table",
        description="Reads the result files in --bench-dir and lists the benchmarks that have none yet.",
    )
    p.add_argument("--bench-dir", type=Path, default=Path("docs/bench"), help="folder of result JSON files")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"), help="the benchmark page to write")
    p.add_argument(
        "--readme", type=Path, help="instead: rewrite the per-book panel table of this README (its markers)"
    )
    p.set_defaults(func=cmd_report)
