"""`synth` and `demo`: a synthetic library, and the whole pipeline on one (what `make demo` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import Commands, formats, page_range, positive, size


def cmd_synth(args: argparse.Namespace) -> int:
    from ..synth import make_library

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
    from ..space.demo import run_demo

    tail = run_demo(
        args.out,
        books=args.books,
        seed=args.seed,
        workers=args.workers,
        ocr=args.ocr,
        model_config=args.model_config,
        train_steps=args.train_steps,
        keep_checkpoints=args.keep_checkpoints,
        show_progress=not args.quiet,
    )
    print(
        f"\ndemo finished in {tail.seconds:.1f} s; outputs in {args.out} (dataset, pss, closure-lite, "
        f"store.zarr, analysis)"
    )
    if tail.url:
        print(f"the Space is at {tail.url}")
    print(f"open the Space on these outputs with:\n  {tail.serve_command}")
    return 0


def register(commands: Commands) -> None:
    p = commands.sub.add_parser(
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
    p.add_argument(
        "--format", type=formats, default=("cbz",), help="container formats, cycled: cbz,pdf (default cbz)"
    )
    p.add_argument(
        "--size", type=size, default=(1060, 1600), help="page size WIDTHxHEIGHT (default 1060x1600)"
    )
    p.add_argument(
        "--story-pages", type=page_range, default=(6, 14), help="story pages per book LOW-HIGH (default 6-14)"
    )
    p.add_argument(
        "--image-format", choices=["jpeg", "png"], default="jpeg", help="page image encoding in CBZ"
    )
    p.set_defaults(func=cmd_synth)

    p = commands.sub.add_parser(
        "demo",
        help="run the main job on an embedded sample (what `make demo` runs)",
        description="The whole pipeline on a generated sample: synth -> ingest -> annotate -> page types "
        "(segment) -> dataset -> train Closure Lite (lite: heads only on the frozen, cached Lite0 and MiniLM "
        "towers; a short CPU schedule) -> embed -> analyze -> serve the "
        "Space on 127.0.0.1 (DEMO_NO_SERVE=1: stop after writing everything). Ends by printing the "
        "`serve` command that opens the Space on what it wrote.",
    )
    p.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder")
    p.add_argument("--books", type=positive, default=3, help="books in the sample library")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample library")
    p.add_argument("--workers", type=positive, default=1, help="worker processes of ingest and annotate")
    p.add_argument(
        "--ocr", default="rapidocr", choices=["rapidocr", "tesseract", "none"], help="OCR engine of annotate"
    )
    p.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep the training checkpoints and the best-model copy (by default only the final "
        "model is kept, its weights as float16)",
    )
    p.add_argument(
        "--model-config",
        default="lite",
        help="Closure Lite preset: tiny, lite (default; frozen EfficientNet-Lite0 vision tower) or lite-vit",
    )
    p.add_argument("--train-steps", type=int, default=60, help="optimiser steps of the short training run")
    p.set_defaults(func=cmd_demo)
