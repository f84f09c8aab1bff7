"""`dataspec validate / from-legacy / from-openmantra / subsets` and `dataset build / push`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import Commands, positive, ratios, renamed


def cmd_validate(args: argparse.Namespace) -> int:
    from ..dataspec import validate_files

    report = validate_files(args.paths)
    for check in report.files:
        print(check.line(), file=sys.stdout if check.ok else sys.stderr)
    if report.pages and args.summary:
        print(report.summary_text())
    return 1 if report.failed else 0


def cmd_from_legacy(args: argparse.Namespace) -> int:
    from ..dataspec import load_legacy_v03, write_jsonl

    files = sorted(Path(p) for p in args.files)
    pages = [
        load_legacy_v03(path, book_id=args.book_id, page_index=i, image_root=args.image_root)
        for i, path in enumerate(files)
    ]
    count = write_jsonl(pages, args.out)
    print(f"converted {count} v0.3 pages of {args.book_id} -> {args.out}")
    return 0


def cmd_from_openmantra(args: argparse.Namespace) -> int:
    from ..dataspec import pages_from_openmantra, write_jsonl

    pages = pages_from_openmantra(
        args.annotation, lang=args.lang, image_lang=args.image_lang, image_root=args.image_root
    )
    count = write_jsonl(pages, args.out)
    print(f"converted {count} OpenMantra pages ({len({p.book_id for p in pages})} books) -> {args.out}")
    return 0


def cmd_subsets(args: argparse.Namespace) -> int:
    from ..annotate.align import select, subsets_text
    from ..dataspec import write_jsonl
    from ..sources import open_pages

    pages = open_pages(args.dataspec, lang="en", argument="dataspec").pages()
    print(subsets_text(pages, args.min_iou, not args.no_ocr_fallback))
    if args.write:
        if args.out is None:
            raise ValueError("--write needs --out FILE.jsonl")
        chosen = select(pages, args.write, min_iou=args.min_iou, ocr_fallback=not args.no_ocr_fallback)
        write_jsonl(chosen, args.out)
        print(f"wrote {len(chosen)} pages of {args.write} (min IoU {args.min_iou}) to {args.out}")
    return 0


def cmd_dataset_build(args: argparse.Namespace) -> int:
    from ..dataset_builders.comic_pages import export_comic_pages

    result = export_comic_pages(
        args.dataspec_dir,
        args.out,
        configs=args.config,
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
    print(result.summary_text())
    return 0


def cmd_dataset_push(args: argparse.Namespace) -> int:
    from ..hub import push_dataset, stage_upload

    if args.dry_run:
        for name in stage_upload(args.folder):
            print(name)
        return 0
    url = push_dataset(args.folder, args.repo_id, private=args.private, token_env=args.token_env)
    print(f"pushed {args.folder} to https://huggingface.co/datasets/{args.repo_id} ({url})")
    return 0


def register(commands: Commands) -> None:
    ds_sub = commands.group(
        "dataspec",
        help="validate and convert DataSpec records",
        description="Validate DataSpec v1 files and convert earlier formats into them.",
        dest="dataspec_command",
        metavar="ACTION",
    )
    p = ds_sub.add_parser("validate", help="check .json/.jsonl files or folders against DataSpec v1")
    p.add_argument("paths", nargs="+", type=Path, help="DataSpec .json/.jsonl files or folders")
    p.add_argument("--summary", action="store_true", help="print counts per page type")
    p.set_defaults(func=cmd_validate)
    p = ds_sub.add_parser("from-legacy", help="convert DataSpec v0.3 page files (one book) to v1 JSON Lines")
    p.add_argument("files", nargs="+", type=Path, help="v0.3 JSON files; sorted by name = page order")
    p.add_argument("--book-id", required=True, help="canonical book id, e.g. my-comic-1a2b3c4d")
    p.add_argument("--image-root", type=Path, help="folder the page_image_path values are relative to")
    p.add_argument("--out", required=True, type=Path, help="output .jsonl")
    p.set_defaults(func=cmd_from_legacy)
    p = ds_sub.add_parser("from-openmantra", help="convert an OpenMantra annotation.json to v1 JSON Lines")
    p.add_argument("annotation", type=Path, help="OpenMantra annotation.json")
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
    p.add_argument("--min-iou", type=float, default=0.5, help="IoU threshold of the aligned rule")
    p.add_argument(
        "--no-ocr-fallback",
        action="store_true",
        help="aligned: drop pages where a panel the VLM skipped keeps OCR lettering",
    )
    p.add_argument("--write", choices=["all", "aligned", "perfect_match"], help="write this subset to --out")
    p.add_argument("--out", type=Path, help="JSON Lines file for --write")
    p.set_defaults(func=cmd_subsets)

    dd_sub = commands.group(
        "dataset",
        help="build Hugging Face datasets (Parquet + card) from annotated pages, and push them",
        description="Build a dataset folder that datasets.load_dataset(folder) reads, and publish it.",
        dest="dataset_command",
        metavar="ACTION",
    )
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
        "--image-root",
        dest="images",
        type=Path,
        help="root of the image paths (default: the ingest folder annotate recorded)",
    )
    renamed(p, "--images", "--image-root", dest="images", type=Path)
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
        type=ratios,
        default=(0.8, 0.1, 0.1),
        help="train,validation,test shares of books (default 0.8,0.1,0.1)",
    )
    p.add_argument("--shard-rows", type=positive, help="at most this many pages per Parquet shard")
    p.add_argument(
        "--shard-mb", type=positive, default=500, help="at most about this many MiB per shard (default 500)"
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
