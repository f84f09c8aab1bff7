"""`export comicinfo`: page types and page facts back to comic readers and library managers."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import Commands


def cmd_export_comicinfo(args: argparse.Namespace) -> int:
    from ..interop import export_comicinfo

    result = export_comicinfo(args.annotations, args.out, mode=args.mode, library=args.library)
    print(result.summary_text())
    return 1 if result.errors else 0


def cmd_export_acbf(args: argparse.Namespace) -> int:
    from ..interop import export_acbf

    result = export_acbf(
        args.annotations, args.out, mode=args.mode, library=args.library, lang=args.lang, images=args.images
    )
    print(result.summary_text())
    return 1 if result.errors else 0


def cmd_export_detection(args: argparse.Namespace) -> int:
    from ..interop import export_coco, export_yolo

    run = export_coco if args.export_command == "coco" else export_yolo
    print(run(args.annotations, args.out, images=args.images, images_root=args.image_root).summary_text())
    return 0


def register(commands: Commands) -> None:
    ex_sub = commands.group(
        "export",
        help="write results in the formats comic readers and tools read (ComicInfo, ACBF, COCO, YOLO)",
        dest="export_command",
        metavar="FORMAT",
    )
    p = ex_sub.add_parser(
        "comicinfo",
        help="ComicInfo.xml per book: <Pages> with page types, double pages and image sizes",
        description="Keeps the book's own ComicInfo fields; writes a sidecar OUT/<book path>.ComicInfo.xml, "
        "a copy of each CBZ with it inside (--mode copy), or rewrites the CBZs themselves "
        "(--mode in-place: atomically; the original is untouched if anything fails).",
    )
    p.add_argument("annotations", type=Path, help="an annotate output folder")
    p.add_argument("--out", type=Path, help="output folder (sidecar and copy modes)")
    p.add_argument(
        "--mode", choices=["sidecar", "copy", "in-place"], default="sidecar", help="default: sidecar"
    )
    p.add_argument("--library", type=Path, help="the folder that was ingested (copy and in-place modes)")
    p.set_defaults(func=cmd_export_comicinfo)
    p = ex_sub.add_parser(
        "acbf",
        help="ACBF 1.1 per book: frames (panels in reading order) and a text layer, for guided view",
        description="Frames from the panels (their polygons when known), text-areas from the lettering units "
        "(polygon, kind, text), the book's metadata kept. Writes a sidecar OUT/<book path>.acbf, a copy of "
        "each CBZ with it inside (--mode copy), or rewrites the CBZs themselves (--mode in-place: "
        "atomically; the original is untouched if anything fails). Also reads ingest's groundtruth/ folder.",
    )
    p.add_argument(
        "annotations", type=Path, help="an annotate output folder (or a folder of DataSpec .jsonl)"
    )
    p.add_argument("--out", type=Path, help="output folder (sidecar and copy modes)")
    p.add_argument(
        "--mode", choices=["sidecar", "copy", "in-place"], default="sidecar", help="default: sidecar"
    )
    p.add_argument("--library", type=Path, help="the folder that was ingested (copy and in-place modes)")
    p.add_argument("--lang", help="language of the text layer (default: the book's, else und)")
    p.add_argument(
        "--images",
        choices=["entries", "embed"],
        default="entries",
        help="entries: name each page's image in the book (default); embed: the page images inside the .acbf",
    )
    p.set_defaults(func=cmd_export_acbf)
    for name, what in (
        ("coco", "COCO annotations.json in CoMix's layout (reads back with --detector coco:FILE)"),
        ("yolo", "YOLO images/ + labels/ + data.yaml (classes 0 panel, 1 character, 2 text, 3 face)"),
    ):
        p = ex_sub.add_parser(name, help=what)
        p.add_argument("annotations", type=Path, help="an annotate output folder")
        p.add_argument("--out", type=Path, required=True, help="output folder")
        p.add_argument(
            "--images", choices=["link", "copy", "none"], default="link", help="page images (default: link)"
        )
        p.add_argument("--image-root", type=Path, help="root of the image paths (default: as recorded)")
        p.set_defaults(func=cmd_export_detection)
