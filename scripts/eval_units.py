"""Balloon-level text units from the same OCR lines, grouped by distance alone and from the image.

    python scripts/eval_units.py [--acbf ACBF] [--open-mantra DIR] [--engine rapidocr] [--json OUT]

Each page of the Craphound ACBF book (default ../shared/data/craphound-acbf) and of OpenMantra
(default ../shared/data/open-mantra, vertical Japanese, right to left) is read once by the OCR
engine and its panels found by the classical detector; the lines are then made into units two ways
and scored with ``metrics.text.evaluate_text`` per book: ``distance`` (``group_lines`` alone, what
annotate did before balloons.py) and ``balloons`` (``annotate.pipeline.page_texts``: closed paper
and tinted regions, lobes, page numbers). Units exactly matched (IoU >= 0.5), merged-unit rate,
CER over the pairs, word P/R (the same for both: grouping moves no word). Nothing is copied.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from comics_analysis.annotate.detectors.classical import detect_classical
from comics_analysis.annotate.ocr import classify_block, group_lines, make_engine
from comics_analysis.annotate.pipeline import page_texts
from comics_analysis.annotate.reading_order import reading_order
from comics_analysis.benchmarks.report import write_results
from comics_analysis.dataspec import Page, assign_panel, pages_from_openmantra
from comics_analysis.metrics.text import evaluate_text
from comics_analysis.sources import open_pages

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CRAPHOUND = DATA / "craphound-acbf" / "Doctorow, Cory - Craphound-1.1.acbf"
FIGURES = ("units_exact", "truth", "pred", "unit_recall", "unit_precision", "merged_unit_rate")
FIGURES += ("cer", "word_precision", "word_recall", "kind_accuracy")


def by_distance(image: Image.Image, lines, panels, direction: str) -> list[dict]:
    """Units as annotate made them before balloons.py: lines grouped by distance alone."""
    vertical = sum(t.bbox[3] > 1.5 * t.bbox[2] for t in lines) > len(lines) / 2
    median_line = float(np.median([t.bbox[2] if vertical else t.bbox[3] for t in lines]))
    grey = np.asarray(image.convert("L"))
    texts = []
    for block in group_lines(lines, vertical=vertical):
        panel = assign_panel(block.bbox, panels)
        kind = classify_block(block, grey, panels[panel] if panel >= 0 else None, median_line)
        texts.append({"bbox": list(block.bbox), "text": block.text, "kind": kind, "panel": panel})
    return texts


def score(truth: list[Page], images: list[Path], engine, direction: str) -> dict:
    preds = {"distance": [], "balloons": []}
    seconds = {"ocr": 0.0, "distance": 0.0, "balloons": 0.0}
    for page, path in zip(truth, images):
        image = Image.open(path).convert("RGB")
        detections = detect_classical(image)
        panels = [tuple(detections[i].bbox) for i in reading_order([d.bbox for d in detections], direction)]
        start = time.perf_counter()
        lines = engine.read(image)
        seconds["ocr"] += time.perf_counter() - start
        for name, make in (("distance", by_distance), ("balloons", page_texts)):
            start = time.perf_counter()
            texts = make(image, lines, panels, direction) if lines else []
            seconds[name] += time.perf_counter() - start
            data = page.to_dict()
            data["panels"] = [{"bbox": list(b), "order": i} for i, b in enumerate(panels)]
            data["texts"] = texts
            preds[name].append(Page.from_dict(data))
    result = {}
    for name, pages in preds.items():
        overall = evaluate_text(truth, pages)["overall"].as_dict()
        result[name] = {k: overall[k] for k in FIGURES} | {"seconds": round(seconds[name], 2)}
    result["ocr_seconds"] = round(seconds["ocr"], 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--acbf", type=Path, default=CRAPHOUND)
    parser.add_argument("--open-mantra", type=Path, default=DATA / "open-mantra")
    parser.add_argument("--engine", default="rapidocr", choices=["rapidocr", "rapidocr-fast", "tesseract"])
    parser.add_argument("--json", type=Path, help="write the figures here (with date, machine, commit)")
    args = parser.parse_args()

    engine = make_engine(args.engine)
    books = {}
    truth = open_pages(args.acbf, argument="acbf").pages()
    books[args.acbf.stem] = score(truth, [args.acbf.parent / p.image for p in truth], engine, "ltr")
    mantra = pages_from_openmantra(args.open_mantra / "annotation.json", lang="ja")
    for book in sorted({p.book_id for p in mantra}):
        pages = [p for p in mantra if p.book_id == book]
        books[book] = score(pages, [args.open_mantra / p.image for p in pages], engine, "rtl")
    print(f"{'book':<40}{'units':<10}{'exact':>10}{'P':>7}{'R':>7}{'merged':>8}{'CER':>7}{'words P/R':>13}")
    for book, result in books.items():
        for name in ("distance", "balloons"):
            r = result[name]
            print(
                f"{book[:39]:<40}{name:<10}{r['units_exact']:>5}/{r['truth']:<4}{r['unit_precision']:>7.3f}"
                f"{r['unit_recall']:>7.3f}{r['merged_unit_rate']:>8.3f}{r['cer']:>7.3f}"
                f"{r['word_precision']:>7.3f}/{r['word_recall']:.3f}"
            )
    if args.json:
        payload = {"benchmark": "text_units", "engine": args.engine, "books": books}
        print(f"wrote {write_results(args.json, payload)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
