"""OCR of vertical Japanese lettering on the real OpenMantra pages, per book and per engine.

    python scripts/eval_ocr_openmantra.py [DATA] [--engines rapidocr-reference rapidocr] [--json OUT]

A held-out check for OCR settings tuned on Western pages (scripts/bench_annotate.py --mode ocr
uses Craphound): each page of DATA (default ../shared/data/open-mantra) is read by every engine and
scored as a bag of characters (whitespace dropped) against the page's Japanese text boxes:
character recall and precision per book, and the seconds each engine spent.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from PIL import Image

from comics_analysis.annotate.ocr import make_engine
from comics_analysis.benchmarks.report import write_results
from comics_analysis.dataspec import pages_from_openmantra


def _chars(texts) -> Counter:
    return Counter(c for text in texts for c in text if not c.isspace())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", nargs="?", type=Path, default=Path("../shared/data/open-mantra"))
    parser.add_argument("--engines", nargs="+", default=["rapidocr-reference", "rapidocr"])
    parser.add_argument("--json", type=Path, help="write the results here (with date, machine, commit)")
    args = parser.parse_args()

    pages = pages_from_openmantra(args.data / "annotation.json", lang="ja")
    engines = {name: make_engine(name) for name in args.engines}
    totals: dict[str, dict[str, list[float]]] = {}  # book -> engine -> [matched, true, predicted, seconds]
    for page in pages:
        image = Image.open(args.data / page.image).convert("RGB")
        truth = _chars(t.text for t in page.texts)
        for name, engine in engines.items():
            start = time.perf_counter()
            lines = engine.read(image)
            seconds = time.perf_counter() - start
            pred = _chars(line.text for line in lines)
            row = totals.setdefault(page.book_id, {}).setdefault(name, [0, 0, 0, 0.0])
            row[0] += sum((truth & pred).values())
            row[1] += sum(truth.values())
            row[2] += sum(pred.values())
            row[3] += seconds
    books = {
        book: {
            name: {
                "char_recall": m / max(t, 1),
                "char_precision": m / max(p, 1),
                "seconds": round(s, 1),
                "pages": sum(page.book_id == book for page in pages),
            }
            for name, (m, t, p, s) in by_engine.items()
        }
        for book, by_engine in totals.items()
    }
    print(f"{'book':<28}{'engine':<16}{'char recall':>12}{'precision':>11}{'seconds':>9}")
    for book, by_engine in books.items():
        for name, r in by_engine.items():
            print(
                f"{book:<28}{name:<16}{r['char_recall']:>12.3f}{r['char_precision']:>11.3f}{r['seconds']:>9.1f}"
            )
    if args.json:
        payload = {"benchmark": "ocr_openmantra", "data": args.data.name, "books": books}
        print(f"wrote {write_results(args.json, payload)}")


if __name__ == "__main__":
    main()
