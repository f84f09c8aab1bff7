"""Annotation accuracy on synthetic story pages with exact ground truth (issue 4 acceptance).

    python scripts/eval_annotate_synthetic.py --pages 200 --ocr rapidocr

Pages cycle through every layout kind and both reading directions at 1060x1600. Reports panel
P/R/F1@0.5, AP, exact count, reading-order exact rate and Kendall tau, and for lettering the
text-block recall, CER on balloon (dialogue) text, kind accuracy and text-to-panel assignment.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from comics_analysis.annotate.pipeline import AnnotateOptions, annotate_page
from comics_analysis.metrics.panels import evaluate_panels
from comics_analysis.metrics.text import evaluate_text
from comics_analysis.synth import LAYOUTS, make_page


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--ocr", default="rapidocr", choices=["rapidocr", "tesseract", "none"])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=Path("bench_output/eval_synthetic.json"))
    args = parser.parse_args()

    truth, pred = [], []
    start = time.perf_counter()
    for i in range(args.pages):
        layout = LAYOUTS[i % len(LAYOUTS)]
        direction = "rtl" if (i // len(LAYOUTS)) % 2 else "ltr"
        page = make_page(
            (args.seed, i),
            layout=layout,
            direction=direction,
            book_id="synthetic-eval0000",
            page_index=i,
            story_start=i % 7 == 0,
        )
        record = page.record
        row = {
            "page_id": record.page_id,
            "book_id": record.book_id,
            "page_index": i,
            "path": f"{i}.png",
            "source_path": "synthetic",
            "source_entry": f"{i}.png",
            "sha256": "-",
            "reading_direction": direction,
        }
        pred.append(annotate_page(page.image, row, AnnotateOptions(ocr=args.ocr)))
        truth.append(record)
    seconds = time.perf_counter() - start
    panels = evaluate_panels(truth, pred)["overall"]
    report = {"pages": args.pages, "ocr": args.ocr, "seconds": seconds, "panels": panels.as_dict()}
    print(f"{args.pages} synthetic story pages (9 layouts, LTR and RTL), {seconds:.0f} s")
    print(
        f"panels: P {panels.precision:.3f} R {panels.recall:.3f} F1 {panels.f1:.3f} AP {panels.ap:.3f} "
        f"AP50 {panels.ap50:.3f} exact count {panels.exact_count:.3f} order exact {panels.order_exact:.3f} "
        f"tau {panels.kendall_tau:.3f}"
    )
    if args.ocr != "none":
        text = evaluate_text(truth, pred)["overall"]
        dialogue = evaluate_text(truth, pred, kinds=("dialogue",))["overall"]
        report["text"], report["dialogue"] = asdict(text), asdict(dialogue)
        print(
            f"text blocks: P {text.precision:.3f} R {text.recall:.3f} CER {text.cer:.4f} "
            f"kind accuracy {text.kind_accuracy:.3f} panel assignment {text.panel_accuracy:.3f}"
        )
        print(
            f"balloon (dialogue) text: R {dialogue.recall:.3f} CER {dialogue.cer:.4f} "
            f"exact {dialogue.exact_text:.3f} panel assignment {dialogue.panel_accuracy:.3f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
