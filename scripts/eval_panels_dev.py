"""Classical panel detection on every real dev book (and synthetic pages), in-process, detection only.

    python scripts/eval_panels_dev.py [--synthetic 54] [--set FIELD=VALUE] [--json OUT]
                                      [--render DIR] [--only BOOK] [--misses]

Books: the two OpenMantra books (../shared/data/open-mantra, rtl) and Craphound (the ACBF file in
../shared/data/craphound-acbf, ltr), read in place, plus ``--synthetic`` story pages cycling the
layouts and gutters (every other page with balloons across its gutters). Each page is detected
with :func:`detect_classical` (no OCR), put in reading order and scored with
:func:`comics_analysis.metrics.panels.evaluate_panels`. Prints one row per book: P/R/F1@0.5, AP50,
exact count, merged and unassigned true panels; ``--misses`` lists the pages not matched
one-to-one, ``--render DIR`` draws them as PNGs (true boxes green, predicted boxes red with their
score) to look at, ``--json`` writes the table and per-page counts (to compare two runs).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from PIL import Image, ImageDraw

from comics_analysis.annotate.detectors.classical import ClassicalConfig, detect_classical
from comics_analysis.annotate.reading_order import reading_order
from comics_analysis.dataspec import Page
from comics_analysis.metrics.panels import evaluate_panels, match_boxes
from comics_analysis.sources import open_pages
from comics_analysis.synth import GUTTERS, LAYOUTS, make_page

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BOOKS = {
    "open-mantra": DATA / "open-mantra" / "annotation.json",
    "craphound": DATA / "craphound-acbf" / "Doctorow, Cory - Craphound-1.1.acbf",
}


def _config(pairs: list[str]) -> ClassicalConfig:
    fields = {f.name for f in dataclasses.fields(ClassicalConfig)}
    values = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in fields:
            raise SystemExit(f"unknown ClassicalConfig field {name!r}; known: {', '.join(sorted(fields))}")
        values[name] = float(value) if "." in value else int(value)
    return ClassicalConfig(**values)


def _pages(synthetic: int, only: str | None):
    """(truth page, image, book name) of every dev page."""
    for name, path in BOOKS.items():
        if not path.exists():
            print(f"skipped {name}: {path} is absent")
            continue
        source = open_pages(path, argument=name)
        for page in source.pages():
            book = page.book_id if name == "open-mantra" else name
            if only and only not in book:
                continue
            yield page, source.load_image(page).convert("RGB"), book
    gutters = sorted(GUTTERS)
    for i in range(synthetic):
        if only and only != "synthetic":
            break
        page = make_page(
            (7, i),
            layout=LAYOUTS[i % len(LAYOUTS)],
            gutter=gutters[(i // len(LAYOUTS)) % len(gutters)],
            crossing=2 * (i % 2),
            book_id="synthetic-dev00000",
            page_index=i,
        )
        yield page.record, page.image, "synthetic"


def page_pair(page: Page, book: str, boxes, scores, source: str = "detector") -> tuple[Page, Page]:
    """(truth, prediction) records of one dev page: ``boxes`` in reading order, ``scores`` (None:
    unscored) beside them; both keyed ``book/pNNNN`` so that :func:`evaluate_panels` pairs them."""
    panels = [
        {"bbox": list(box), "score": score, "source": source, "order": k}
        for k, (box, score) in enumerate(zip(boxes, scores, strict=True))
    ]
    fields = page.model_dump(exclude={"panels", "texts", "quality", "book_id", "page_id"})
    page_id = f"{book}/p{page.page_index:04d}"
    return (
        Page(**fields, book_id=book, page_id=page_id, panels=page.panels),
        Page(**fields, book_id=book, page_id=page_id, panels=panels),
    )


def print_books(report: dict) -> None:
    """One row per book of an :func:`evaluate_panels` report."""
    print(
        f"{'book':>24} {'pages':>5} {'truth':>5} {'pred':>5} {'P':>6} {'R':>6} {'F1':>6} {'AP50':>6} "
        f"{'exact':>6} merged unassigned"
    )
    for name, s in sorted(report["books"].items()):
        print(
            f"{name[:24]:>24} {s.pages:5d} {s.truth:5d} {s.pred:5d} {s.precision:6.3f} {s.recall:6.3f} "
            f"{s.f1:6.3f} {s.ap50:6.3f} {s.exact_count:6.3f} {s.merged_panels:6d} {s.unassigned_panels:6d}"
        )


def report_json(report: dict) -> dict:
    """The per-book metrics and per-page counts [truth, pred, matched, merged, unassigned]."""
    out = {name: s.as_dict() for name, s in sorted(report["books"].items())}
    out["pages"] = {r.key: [r.truth, r.pred, r.tp, r.merged, r.unassigned] for r in report["pages"]}
    return out


def _render(image: Image.Image, truth, pred, out: Path) -> None:
    image = image.copy()
    draw = ImageDraw.Draw(image)
    width = max(2, image.height // 300)
    for x, y, w, h in truth:
        draw.rectangle([x, y, x + w, y + h], outline=(0, 200, 0), width=width)
    for (x, y, w, h), score in pred:
        draw.rectangle([x + width, y + width, x + w - width, y + h - width], outline=(230, 0, 0), width=width)
        draw.text((x + 3 * width, y + 3 * width), f"{score:.2f}", fill=(230, 0, 0))
    scale = 900 / image.height
    image.resize((round(image.width * scale), 900)).save(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--synthetic", type=int, default=54, help="synthetic story pages (0: none)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="config override")
    parser.add_argument("--only", help="only books whose name contains this")
    parser.add_argument("--json", type=Path, help="write the per-book metrics here")
    parser.add_argument("--render", type=Path, help="write failing pages here as PNG")
    parser.add_argument("--misses", action="store_true", help="list pages not matched one-to-one")
    args = parser.parse_args()

    cfg = _config(args.set)
    truth, pred, seconds = [], [], 0.0
    if args.render:
        args.render.mkdir(parents=True, exist_ok=True)
    for page, image, book in _pages(args.synthetic, args.only):
        start = time.perf_counter()
        detections = detect_classical(image, cfg)
        seconds += time.perf_counter() - start
        order = reading_order([d.bbox for d in detections], page.reading_direction)
        true_page, pred_page = page_pair(
            page, book, [detections[i].bbox for i in order], [detections[i].score for i in order]
        )
        truth.append(true_page)
        pred.append(pred_page)
        true_boxes = [p.bbox for p in page.panels]
        if args.render and (
            len(match_boxes(true_boxes, [d.bbox for d in detections])) != len(true_boxes)
            or len(detections) != len(true_boxes)
        ):
            _render(
                image,
                true_boxes,
                [(d.bbox, d.score) for d in detections],
                args.render / f"{book.replace('/', '_')}-{page.page_index:03d}.png",
            )
    report = evaluate_panels(truth, pred)
    print_books(report)
    print(f"detection: {len(truth) / seconds:.1f} pages/s ({seconds:.1f} s)")
    if args.misses:
        for r in report["pages"]:
            if r.tp != r.truth or r.pred != r.truth:
                print(
                    f"  {r.key}: truth {r.truth} pred {r.pred} matched {r.tp} "
                    f"merged {r.merged} unassigned {r.unassigned}"
                )
    if args.json:
        out = report_json(report)
        out["config"] = dataclasses.asdict(cfg)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
