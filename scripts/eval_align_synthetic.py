"""Alignment of simulated VLM readings to detected panels on synthetic pages (issue 5 acceptance).

    python scripts/eval_align_synthetic.py --pages 300 --ocr rapidocr

Per page: the classical detector and OCR run on the rendered page (as ``annotate`` does); a
simulated grounded VLM reads the ground truth with the errors of
:class:`comics_analysis.synth.vlm.VlmErrors` (box jitter, a missing panel, a split panel, text in
the wrong panel); its JSON goes through the real parser and :func:`merge_vlm`. Compares the pages
kept and the text-to-panel accuracy of count equality (the earlier rule, sort-order join), of the
``aligned`` subset (a panel the VLM skipped keeps its OCR lettering; those OCR items are scored
too) and of ``aligned`` without that fallback, and the alignment precision of ``aligned``.

``--ocr truth`` uses the ground-truth text boxes as the OCR localisation (fast, no engine);
``--ocr rapidocr`` runs the real engine (about 1 s per page).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from comics_analysis.annotate.align import merge_vlm
from comics_analysis.annotate.pipeline import AnnotateOptions, annotate_page
from comics_analysis.annotate.vlm import parse_vlm_json
from comics_analysis.dataspec import Page, assign_panel
from comics_analysis.metrics.align import RULES, evaluate_alignment
from comics_analysis.synth import LAYOUTS, make_page
from comics_analysis.synth.vlm import VlmErrors, simulate_vlm


def detected_page(synth, index: int, direction: str, ocr: str) -> Page:
    record = synth.record
    row = {
        "page_id": record.page_id,
        "book_id": record.book_id,
        "page_index": index,
        "path": f"{index}.png",
        "source_path": "synthetic",
        "source_entry": f"{index}.png",
        "sha256": "-",
        "reading_direction": direction,
    }
    page = annotate_page(synth.image, row, AnnotateOptions(ocr="none" if ocr == "truth" else ocr))
    if ocr != "truth":
        return page
    data = page.to_dict()
    boxes = [p.bbox for p in page.panels]
    data["texts"] = [
        {
            "bbox": list(t.bbox),
            "text": t.text,
            "kind": t.kind,
            "panel": assign_panel(t.bbox, boxes),
            "source": "ocr",
        }
        for t in record.texts
    ]
    data["provenance"]["ocr"] = "ground-truth boxes"
    return Page.from_dict(data)


def prepare(pages: int, seed: int, ocr: str) -> list[tuple]:
    """(ground truth, detected page) per synthetic page: rendering, detection and OCR run once."""
    prepared = []
    for i in range(pages):
        direction = "rtl" if (i // len(LAYOUTS)) % 2 else "ltr"
        synth = make_page(
            (seed, i),
            layout=LAYOUTS[i % len(LAYOUTS)],
            direction=direction,
            book_id="synthetic-align000",
            page_index=i,
        )
        prepared.append((synth.record, detected_page(synth, i, direction, ocr)))
    return prepared


def simulate(prepared: list[tuple], seed: int, errors: VlmErrors, thresholds=(0.3, 0.5, 0.7)) -> dict:
    rng = np.random.default_rng(seed)
    cases, events = [], Counter()
    for truth, detected in prepared:
        reading = simulate_vlm(truth, rng, errors)
        events.update(reading.events or ["clean"])
        parsed = parse_vlm_json(reading.text)
        merged = merge_vlm(detected, parsed.page, name="simulated", prompt_version="v2-grounded-1")
        cases.append((truth, merged, reading.origin, reading.item_truth))
    report = evaluate_alignment(cases)
    report["by_threshold"] = {t: evaluate_alignment(cases, min_iou=t) for t in thresholds}
    report["events"] = dict(events)
    return report


def run(pages: int, seed: int, ocr: str, errors: VlmErrors, thresholds=(0.3, 0.5, 0.7)) -> dict:
    return simulate(prepare(pages, seed, ocr), seed, errors, thresholds)


SWEEP = [(m, e) for m in (0.1, 0.3, 0.5) for e in (0.15, 0.3, 0.5)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--ocr", default="truth", choices=["truth", "rapidocr", "tesseract", "none"])
    parser.add_argument("--missing", type=float, default=VlmErrors.missing)
    parser.add_argument("--extra", type=float, default=VlmErrors.extra)
    parser.add_argument("--wrong-text", type=float, default=VlmErrors.wrong_text)
    parser.add_argument("--sweep", action="store_true", help="also vary the missing / extra rates")
    parser.add_argument("--out", type=Path, default=Path("bench_output/eval_align_synthetic.json"))
    args = parser.parse_args()
    errors = VlmErrors(missing=args.missing, extra=args.extra, wrong_text=args.wrong_text)
    start = time.perf_counter()
    prepared = prepare(args.pages, args.seed, args.ocr)
    report = simulate(prepared, args.seed, errors)
    report.update(seconds=round(time.perf_counter() - start, 1), ocr=args.ocr, errors=errors.__dict__)
    kept, acc = report["kept"], report["text_to_panel_accuracy"]
    print(f"{args.pages} synthetic pages, OCR {args.ocr}, simulated VLM errors {errors.__dict__}")
    print(f"events: {report['events']}")
    print(f"{'rule':<22}{'pages kept':>12}{'share':>8}{'text->panel acc':>18}")
    for rule in RULES:
        print(f"{rule:<22}{kept[rule]:>12}{report['kept_share'][rule]:>8.3f}{acc[rule]:>18.4f}")
    print(
        f"aligned / count equality: {report['kept_ratio']:.2f}x pages; strict (no OCR fallback) "
        f"{report['kept_ratio_strict']:.2f}x"
    )
    print(f"alignment precision (aligned pages, IoU >= 0.5): {report['alignment_precision']:.4f}")
    for t, r in report["by_threshold"].items():
        print(
            f"  min IoU {t}: aligned pages {r['kept']['aligned']}, text acc "
            f"{r['text_to_panel_accuracy']['aligned']}, precision {r['alignment_precision']}"
        )
    if args.sweep:
        print(
            f"\n{'missing':>8}{'extra':>7}{'count eq.':>11}{'aligned':>9}{'ratio':>7}"
            f"{'acc c.e.':>10}{'acc al.':>9}{'prec.':>7}{'strict':>7}{'ratio':>7}{'acc':>8}"
        )
        report["sweep"] = []
        for missing, extra in SWEEP:
            r = simulate(
                prepared, args.seed, VlmErrors(missing=missing, extra=extra, wrong_text=args.wrong_text), ()
            )
            acc = r["text_to_panel_accuracy"]
            report["sweep"].append(
                {
                    "missing": missing,
                    "extra": extra,
                    **{
                        k: r[k]
                        for k in (
                            "kept",
                            "kept_ratio",
                            "kept_ratio_strict",
                            "text_to_panel_accuracy",
                            "alignment_precision",
                        )
                    },
                }
            )
            print(
                f"{missing:>8}{extra:>7}{r['kept']['count_equality']:>11}{r['kept']['aligned']:>9}"
                f"{r['kept_ratio']:>7.2f}{acc['count_equality']:>10.4f}{acc['aligned']:>9.4f}"
                f"{r['alignment_precision']:>7.4f}{r['kept']['aligned_strict']:>7}"
                f"{r['kept_ratio_strict']:>7.2f}{acc['aligned_strict']:>8.4f}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
