"""`eval panels / text / detection`: annotations against ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import Commands, write_json


def _pages(path: Path, lang: str | None, argument: str, image_root: Path | None = None):
    """The pages of an `eval` argument: any form `comics_analysis.sources.open_pages` accepts."""
    from ..sources import open_pages

    return open_pages(path, image_root=image_root, lang=lang, argument=argument).pages()


def _load_pages(args: argparse.Namespace):
    """(truth, predictions) of an `eval` subcommand; both take any accepted form."""
    return _pages(args.gt, args.lang, "--gt"), _pages(args.pred, args.lang, "--pred")


def cmd_eval_panels(args: argparse.Namespace) -> int:
    import json

    from ..dataspec import format_table
    from ..metrics.panels import evaluate_panels

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
                s.order_all if s.order_all is not None else "-",
                s.kendall_tau_all if s.kendall_tau_all is not None else "-",
                s.merged_panels,
                s.unassigned_panels,
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
                "order all",
                "tau all",
                "merged",
                "unassigned",
            ],
            rows,
        )
    )
    print(
        "order exact / tau: pages whose true panels were all matched; order all / tau all: every true "
        "panel, merged and split panels included (metrics.panels.order_all)"
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

    from ..dataspec import format_table
    from ..metrics.text import evaluate_text

    truth, pred = _load_pages(args)
    kinds = tuple(args.kinds.split(",")) if args.kinds else None
    report = evaluate_text(truth, pred, kinds=kinds, iou=args.iou, unit_iou=args.unit_iou)
    s = report["overall"]

    def opt(value):
        return value if value is not None else "-"

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
                    opt(s.cer),
                    opt(s.exact_text),
                    opt(s.kind_accuracy),
                    opt(s.panel_accuracy),
                ]
            ],
        )
    )
    print(
        format_table(
            [
                f"units exact@{s.unit_iou}",
                "unit P",
                "unit R",
                "merged units",
                "merged rate",
                "word P",
                "word R",
            ],
            [
                [
                    s.units_exact,
                    s.unit_precision,
                    s.unit_recall,
                    s.merged_units,
                    opt(s.merged_unit_rate),
                    opt(s.word_precision),
                    opt(s.word_recall),
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


def cmd_detection(args: argparse.Namespace) -> int:
    from ..benchmarks.detection import run_detection

    result = run_detection(args.gt, args.pred, image_dir=args.image_dir, dataset=args.dataset)
    print(result.summary_text())
    if args.export_coco:
        write_json(args.export_coco, result.coco())
    if args.json:
        write_json(args.json, result.payload())
    return 0


LANG_HELP = "text language: OpenMantra ja (default), en, zh; ACBF a text layer's lang (default: the first)"


def register(commands: Commands) -> None:
    ev_sub = commands.group(
        "eval",
        help="evaluate predictions against ground truth",
        description="Evaluation of annotations and models against ground truth.",
        dest="eval_command",
        metavar="TASK",
    )
    p = ev_sub.add_parser(
        "panels",
        help="panel detection and reading order: P/R/F1, AP, exact count, order",
        description="Pages are paired by page_id, else by book folder + image file name.",
    )
    p.add_argument(
        "--gt",
        required=True,
        type=Path,
        help="OpenMantra annotation.json, an ACBF .acbf book, a DataSpec .jsonl/.json/folder, or an "
        "annotate output folder",
    )
    p.add_argument("--pred", required=True, type=Path, help="annotate output folder or DataSpec files")
    p.add_argument("--iou", type=float, default=0.5, help="IoU at which a predicted panel matches a true one")
    p.add_argument("--lang", help=LANG_HELP)
    p.add_argument("--json", type=Path, help="write the report as JSON")
    p.set_defaults(func=cmd_eval_panels)
    p = ev_sub.add_parser(
        "text",
        help="lettered text: detection P/R, CER, kind and panel assignment accuracy",
        description="Text boxes are paired one-to-one by IoU; CER folds case and spaces. Balloon-level: "
        "units matched one-to-one at --unit-iou, merged units (predicted units holding 2+ true units by "
        "area), bag-of-words precision and recall (case-folded).",
    )
    p.add_argument(
        "--gt",
        required=True,
        type=Path,
        help="DataSpec ground truth (e.g. a synth truth folder), an ACBF .acbf book or an OpenMantra "
        "annotation.json",
    )
    p.add_argument("--pred", required=True, type=Path, help="annotate output folder or DataSpec files")
    p.add_argument("--kinds", help="only true boxes of these kinds, e.g. dialogue or dialogue,narration")
    p.add_argument("--iou", type=float, default=0.3, help="IoU pairing boxes for CER, kind and panel")
    p.add_argument("--unit-iou", type=float, default=0.5, help="IoU of an exactly matched lettering unit")
    p.add_argument("--lang", help=LANG_HELP)
    p.add_argument("--json", type=Path, help="write the report as JSON")
    p.set_defaults(func=cmd_eval_text)

    p = ev_sub.add_parser(
        "detection",
        help="CoMix-style detection: COCO AP / AP50 per class (panel, character, text, face)",
        description="Ground truth: a CoMix/CDF COCO file or DataSpec files; predictions: DataSpec files, an "
        "annotate output folder or a COCO file.",
    )
    p.add_argument(
        "--gt", required=True, type=Path, help="ground truth: a CoMix/CDF COCO file or DataSpec files"
    )
    p.add_argument(
        "--pred",
        required=True,
        type=Path,
        help="predictions: DataSpec files, an annotate output folder or COCO",
    )
    p.add_argument("--image-dir", type=Path, help="page images of COCO files (not needed for scoring)")
    p.add_argument("--dataset", help="dataset name for the report (default: the --gt file name)")
    p.add_argument("--export-coco", type=Path, help="write the predictions as a COCO dict (CoMix layout)")
    p.add_argument("--json", type=Path, help="write the report (with date, machine, commit)")
    p.set_defaults(func=cmd_detection)
