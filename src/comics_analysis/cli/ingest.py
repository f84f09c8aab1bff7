"""`ingest`, `ingest-merge`, `annotate` and `vlm`: comic files -> pages -> DataSpec annotations."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ._common import Commands, add_engine_args, engine_options


def cmd_ingest(args: argparse.Namespace) -> int:
    from ..ingest import ingest
    from ..ingest.manifest import summary_text, transient_errors

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
        **({"max_pixels": args.max_pixels} if args.max_pixels else {}),
        max_entry_bytes=args.max_entry_mb << 20,
        pdf_mode=args.pdf_mode,
        entry_timeout=args.entry_timeout,
        near_duplicate_distance=args.near_duplicate_distance,
        show_progress=not args.quiet,
    )
    print(summary_text(manifest, time.perf_counter() - start))
    where = (
        "manifest.parquet"
        if args.num_shards == 1
        else f"shards/ (merge with: comics-analysis ingest-merge {args.out})"
    )
    print(f"wrote {args.out}/{where}")
    retry = transient_errors(manifest)
    if retry:
        for error in retry[:5]:
            print(f"  {error['source_path']}: {error['kind']}: {error['reason']}", file=sys.stderr)
        print(
            f"{len(retry)} container(s) failed for a reason that may pass (missing tool, no space, "
            "I/O error); they were not cached: fix the cause and run the same command again",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_ingest_merge(args: argparse.Namespace) -> int:
    from ..ingest import merge_shards
    from ..ingest.manifest import summary_text

    start = time.perf_counter()
    manifest = merge_shards(args.out, near_duplicate_distance=args.near_duplicate_distance)
    print(summary_text(manifest, time.perf_counter() - start))
    print(f"wrote {args.out}/manifest.parquet")
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    from ..annotate import annotate, read_annotations

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
        engine=engine_options(args),
    )
    print(
        f"annotated {len(files)} books in {time.perf_counter() - start:.1f} s -> "
        f"{Path(args.out) / 'dataspec'}"
    )
    if args.vlm:
        from ..annotate.align import subsets_text

        print(subsets_text(read_annotations(args.out), args.vlm_min_iou))
    unavailable = sum(Path(f).read_text(encoding="utf-8").count('"image:unavailable') for f in files)
    if unavailable:
        print(
            f"{unavailable} page image(s) were unavailable; their books are not marked done: make the "
            "images available and run the same command again",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_vlm(args: argparse.Namespace) -> int:
    from ..annotate.vlm import VlmConfig, resolve_prices, run_vlm

    price_in, price_out = resolve_prices(args.model, args.prices, args.price_in, args.price_out)
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
        price_in=price_in,
        price_out=price_out,
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
        engine=engine_options(args),
        num_shards=args.num_shards,
        shard_index=args.shard_index,
    )
    print(totals.summary_text(time.perf_counter() - start, args.out, args.max_cost))
    return 1 if totals.failed else 0


def register(commands: Commands) -> None:
    p = commands.sub.add_parser(
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
    p.add_argument(
        "--max-pixels",
        type=int,
        help="decompression bomb cap per image (default: Pillow's, 89,478,485 px; annotate uses the same)",
    )
    p.add_argument("--max-entry-mb", type=int, default=256, help="largest archive entry read, in MiB")
    p.add_argument(
        "--entry-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wall-clock cap on decoding one archive entry or rendering one PDF page; past it that entry "
        "or page is refused (time_cap)",
    )
    p.add_argument(
        "--near-duplicate-distance",
        type=int,
        default=4,
        help="perceptual-hash bits within which pages are flagged near-duplicates (-1: off)",
    )
    p.set_defaults(func=cmd_ingest)

    p = commands.sub.add_parser(
        "ingest-merge",
        help="merge the shard manifests of a sharded ingest",
        description="Merge OUT/shards/* into OUT/manifest.parquet once every shard has finished.",
    )
    p.add_argument("out", type=Path, help="the --out folder of the sharded `ingest` runs")
    p.add_argument(
        "--near-duplicate-distance",
        type=int,
        default=4,
        help="perceptual-hash bits within which pages are flagged near-duplicates (-1: off)",
    )
    p.set_defaults(func=cmd_ingest_merge)

    p = commands.sub.add_parser(
        "annotate",
        help="detect panels and reading order on ingested pages, write DataSpec v1",
        description="Annotate every page of an ingest folder (its manifest.parquet) into DataSpec JSON Lines "
        "under OUT/dataspec/, one file per book. Resumable: finished books are skipped.",
    )
    p.add_argument("ingest_dir", type=Path, help="output folder of `comics-analysis ingest`")
    p.add_argument(
        "--out", required=True, type=Path, help="output folder (DataSpec records under OUT/dataspec)"
    )
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
        choices=["rapidocr", "rapidocr-reference", "tesseract", "none"],
        help="OCR engine for lettered text (rapidocr's models ship in its wheel; rapidocr-reference: "
        "rapidocr's own pipeline, the slower baseline the default is measured against)",
    )
    p.add_argument("--ocr-lang", help="tesseract languages, e.g. eng, jpn, jpn_vert, eng+jpn")
    p.add_argument(
        "--vlm",
        type=Path,
        help="merge VLM readings from this folder (`comics-analysis vlm` output, or v1 / v2 JSON or DataSpec "
        "v0.3 files named like the pages) and align them to the detected panels",
    )
    p.add_argument("--vlm-min-iou", type=float, default=0.5, help="IoU at which a VLM box matches a panel")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--num-shards", type=int, default=1, help="split the books into K shards (e.g. Slurm)")
    p.add_argument("--shard-index", type=int, default=0, help="which shard this run does, 0..K-1")
    add_engine_args(p)
    p.set_defaults(func=cmd_annotate)

    p = commands.sub.add_parser(
        "vlm",
        help="read ingested pages with a vision-language model (any OpenAI-compatible endpoint)",
        description="Send every ok page of an ingest folder to a chat endpoint (OpenRouter, vLLM, Ollama, LM "
        "Studio, HF Inference Providers, Gemini's OpenAI-compatible endpoint) and write the raw answer and "
        "the "
        "parsed JSON per page under OUT/pages/. Resumable; cached by (image, model, prompt version). "
        "The API key is read from --api-key-env and never printed. The endpoint is checked once "
        "before the run (GET BASE_URL/models, 5 s): a wrong URL fails at once.",
    )
    p.add_argument("ingest_dir", type=Path, help="output folder of `comics-analysis ingest`")
    p.add_argument("--model", required=True, help="model name as the endpoint knows it")
    p.add_argument("--base-url", required=True, help="e.g. http://localhost:11434/v1 (Ollama)")
    p.add_argument("--out", required=True, type=Path, help="output folder (one JSON file per page)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key")
    p.add_argument("--prompt-version", default="v2-grounded-1", help="prompt and answer schema version")
    p.add_argument(
        "--concurrency", type=int, default=4, help="requests in flight (with --engine ray: over the cluster)"
    )
    p.add_argument(
        "--max-cost",
        type=float,
        help="stop once this much is spent, failed attempts included (needs --prices or --price-in)",
    )
    p.add_argument("--prices", type=Path, help='JSON price table {model: {"input": X, "output": Y}} per Mtok')
    p.add_argument("--price-in", type=float, help="price per million input tokens (overrides --prices)")
    p.add_argument("--price-out", type=float, help="price per million output tokens (overrides --prices)")
    p.add_argument("--max-side", type=int, default=1536, help="longest image side sent, in pixels")
    p.add_argument("--max-tokens", type=int, default=4096, help="answer token limit per page")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument(
        "--max-retries",
        type=int,
        default=5,
        help="retries of a request on 429, 5xx, timeouts and empty answers",
    )
    p.add_argument("--no-json-mode", action="store_true", help="for servers that reject response_format")
    p.add_argument("--cache", type=Path, help="answer cache folder (default OUT/cache)")
    p.add_argument("--limit", type=int, help="only the first N pages")
    p.add_argument("--num-shards", type=int, default=1, help="split the books into K shards (e.g. Slurm)")
    p.add_argument("--shard-index", type=int, default=0, help="which shard this run does, 0..K-1")
    add_engine_args(p, retries="--unit-retries")
    p.set_defaults(func=cmd_vlm)
