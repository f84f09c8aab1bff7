"""`eval closure-text / comicspap / pss / report`: public benchmarks and the benchmark report."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import Commands, write_json


def cmd_closure_text(args: argparse.Namespace) -> int:
    from ..benchmarks.closure_text import PUBLISHED, evaluate_cloze, hf_text_encoder, memoised
    from ..benchmarks.report import run_info
    from ..dataset_builders.comics_closure import fold_files, read_fold
    from ..dataspec import format_table
    from ..inference.closure_lite import closure_lite_text_encoder

    files = fold_files(args.data, args.difficulty)
    if args.split not in files:
        raise FileNotFoundError(
            f"no text_cloze_{args.split}_{args.difficulty}.csv in {args.data} "
            f"(found splits: {', '.join(files) or 'none'})"
        )
    rows = list(read_fold(files[args.split]))
    if args.limit:
        rows = rows[: args.limit]
    if args.model is not None:
        encoder, name = closure_lite_text_encoder(args.model), f"closure-lite:{args.model.name}"
    else:
        encoder, name = hf_text_encoder(args.encoder), args.encoder
    encoder = memoised(encoder)  # candidates are encoded once for all context modes
    results = [
        evaluate_cloze(rows, encoder, name, context, args.resamples, args.seed) for context in args.context
    ]
    table = [
        [r.encoder, r.context, r.n, f"{100 * r.accuracy:.1f}", f"{100 * r.ci_low:.1f}-{100 * r.ci_high:.1f}"]
        for r in results
    ]
    print(format_table(["encoder", "context", "rows", "accuracy %", "95% CI"], table))
    print("published (test folds, trained): " + "; ".join(f"{s} {e} (easy)" for s, e, _, _ in PUBLISHED))
    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "comics-text-cloze",
                "fold": f"{args.split}-{args.difficulty}",
                "file": files[args.split].name,
                "protocol": "zero-shot: cosine between the context embedding and each candidate's",
                **run_info(),
                "results": [r.as_dict() for r in results],
                "published": [
                    {"system": s, "easy": e, "hard": h, "source": src} for s, e, h, src in PUBLISHED
                ],
            },
        )
    return 0


def cmd_comicspap(args: argparse.Namespace) -> int:
    from ..benchmarks.comicspap import evaluate_skills, write_results
    from ..benchmarks.report import run_info
    from ..dataset_builders.comicspap import SKILLS, load_comicspap
    from ..dataspec import format_table

    skills = args.skills or list(SKILLS)
    samples = {}
    for skill in skills:
        ds = load_comicspap(skill, data_dir=args.data_dir, split=args.split)
        if args.limit:
            ds = ds.select(range(min(args.limit, ds.num_rows)))
        samples[skill] = list(ds)
    if args.protocol == "vlm":
        if not (args.vlm_model and args.base_url):
            raise ValueError("--protocol vlm needs --vlm-model NAME and --base-url URL")
        from ..annotate.vlm import VlmClient, VlmConfig
        from ..benchmarks.comicspap import PROMPT_VERSION, vlm_predictor

        config = VlmConfig(
            model=args.vlm_model,
            base_url=args.base_url,
            api_key_env=args.api_key_env,
            max_side=args.max_side,
            max_tokens=args.max_tokens,
            timeout=args.timeout,
            json_mode=False,
            cache_dir=str(args.cache or args.out / "cache"),
        )
        predictor = vlm_predictor(VlmClient(config), font_path=args.font, concurrency=args.concurrency)
        protocol = f"vlm:{args.vlm_model} ({PROMPT_VERSION})"
    else:
        if args.model is None:
            raise ValueError("--protocol embedding needs --model DIR (a Closure Lite model folder)")
        from ..benchmarks.comicspap import embedding_predictor
        from ..inference.closure_lite import load_closure_lite

        loaded = load_closure_lite(args.model)
        predictor = embedding_predictor(loaded.model, loaded.processor)
        protocol = f"embedding:closure-lite:{args.model.name}"
    per_skill, overall = evaluate_skills(samples, predictor, protocol)
    written = write_results(args.out, per_skill, overall)
    rows = [
        [
            skill,
            r["num_examples"],
            "-" if r.get("accuracy") is None else f"{100 * r['accuracy']:.1f}",
            f"{100 * r['random_baseline']:.1f}",
        ]
        for skill, r in overall["skill_results"].items()
    ]
    total = overall["overall_accuracy"]
    rows.append(
        [
            "total",
            overall["total_samples"],
            "-" if total is None else f"{100 * total:.1f}",
            f"{100 * overall['random_baseline']:.1f}",
        ]
    )
    print(format_table(["skill", "samples", "accuracy %", "random %"], rows))
    print(f"wrote {len(written)} files to {args.out}")
    if args.json:
        write_json(
            args.json, {"benchmark": "comicspap", "split": args.split, **run_info(), "overall": overall}
        )
    return 0


def cmd_pss(args: argparse.Namespace) -> int:
    from ..benchmarks.report import run_info
    from ..dataspec import format_table
    from ..inference.features import FeatureStore
    from ..inference.pss import evaluate_books, load_books, load_pss_model
    from ..metrics.pss import SUMMARY_KEYS

    known = FeatureStore(args.features).books()
    wanted = list(known) if args.books == ["all"] else args.books
    missing = [b for b in wanted if b not in known]
    if missing:
        raise KeyError(f"books not in the feature store {args.features}: {', '.join(missing[:5])}")
    books = load_books(args.features, wanted)
    unlabelled = [b["book_id"] for b in books if not any(t for t in b["page_types"])]
    if unlabelled:
        raise ValueError(
            f"{args.features}: book(s) without page-type labels, nothing to score: "
            f"{', '.join(unlabelled[:5])}"
        )
    model = load_pss_model(args.model)
    window = None if args.window <= 0 else args.window
    results = evaluate_books(model, books, window, args.stride, scheme=args.scheme)
    first = next(iter(results.values()))
    print(
        f"{first['books']} books, {first['pages']} labelled pages, scheme {args.scheme} "
        f"(macro-F1 over {', '.join(first['macro_f1_labels'])})"
    )
    rows = [[name, *(f"{r[k]:.3f}" for k in SUMMARY_KEYS)] for name, r in results.items()]
    print(format_table(["system", *SUMMARY_KEYS], rows))
    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "pss",
                "features": str(args.features),
                "model": str(args.model),
                "window": window,
                "stride": args.stride,
                **run_info(),
                **results,
            },
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..benchmarks.report import collect, render_markdown

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
    p.add_argument("--split", default="dev")
    p.add_argument("--difficulty", default="easy", choices=["easy", "hard"])
    p.add_argument("--encoder", default="minilm", help="HF text model name or folder (default minilm)")
    p.add_argument("--model", type=Path, help="a Closure Lite model folder (its text tower)")
    p.add_argument(
        "--context", nargs="+", default=["all"], choices=["all", "last"], help="context modes (default all)"
    )
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--split", default="val")
    p.add_argument("--skills", nargs="+", help="default: all five")
    p.add_argument("--protocol", choices=["vlm", "embedding"], default="vlm")
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
    p.add_argument("--api-key-env", default="OPENAI_API_KEY")
    p.add_argument("--max-side", type=int, default=4096, help="downscale renderings larger than this")
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--cache", type=Path, help="answer cache (default OUT/cache)")
    p.add_argument(
        "--font", help="TrueType font for the rendering (the authors used Arial; default DejaVu Sans)"
    )
    p.set_defaults(func=cmd_comicspap)

    p = ev_sub.add_parser(
        "pss",
        help="page stream segmentation: a CoSMo PSS model against both trivial baselines",
        description="Scores the model's page types and story starts on labelled books of a feature store "
        "(`pss features`): accuracy, macro-F1, segment PQ, boundary F1 at +-0 / +-1, MnDD, beside "
        "all-story and cover-first/back-last on the same books.",
    )
    p.add_argument("--features", required=True, type=Path, help="feature store of labelled books")
    p.add_argument("--model", required=True, type=Path, help="model folder (`train pss` output /model)")
    p.add_argument("--books", nargs="+", default=["all"], help="book ids (default all)")
    p.add_argument("--window", type=int, default=32, help="pages per window (0: the whole book)")
    p.add_argument("--stride", type=int, default=16)
    p.add_argument("--scheme", choices=["ours", "cosmo5", "cosmo_v4"], default="ours", help="label scheme")
    p.add_argument("--json", type=Path, help="write the results (with date, machine, commit)")
    p.set_defaults(func=cmd_pss)

    p = ev_sub.add_parser(
        "report",
        help="gather every benchmark result JSON into one Markdown table",
        description="Reads the result files in --bench-dir and lists the benchmarks that have none yet.",
    )
    p.add_argument("--bench-dir", type=Path, default=Path("docs/bench"))
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    p.set_defaults(func=cmd_report)
