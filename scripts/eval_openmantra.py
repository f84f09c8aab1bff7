"""Classical panel detection on the real OpenMantra pages (issue 4 acceptance), end to end in-process.

    python scripts/eval_openmantra.py [DATA] [--set blob_share=0.25] [--misses] [--json OUT]

DATA is the OpenMantra folder holding annotation.json and images/ (default ../shared/data/open-mantra);
nothing is copied. Pages are read in place, detected with the classical detector, put in
right-to-left reading order and scored against the annotation: P/R/F1@0.5, AP, exact panel count,
reading-order exact rate, detection pages/s; ``--misses`` lists every page with a wrong panel count
or unmatched panels.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from PIL import Image

from comics_analysis.annotate.detectors.classical import ClassicalConfig, detect_classical
from comics_analysis.annotate.reading_order import reading_order
from comics_analysis.dataspec import Page, pages_from_openmantra
from comics_analysis.metrics.panels import evaluate_panels


def _config(pairs: list[str]) -> ClassicalConfig:
    fields = {f.name: f.type for f in dataclasses.fields(ClassicalConfig)}
    values = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in fields:
            raise SystemExit(f"unknown ClassicalConfig field {name!r}; known: {', '.join(fields)}")
        values[name] = float(value) if "." in value else int(value)
    return ClassicalConfig(**values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", nargs="?", type=Path, default=Path("../shared/data/open-mantra"))
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="config override")
    parser.add_argument("--misses", action="store_true", help="list pages with wrong counts or misses")
    parser.add_argument("--json", type=Path, help="write the overall and per-book metrics here")
    args = parser.parse_args()

    cfg = _config(args.set)
    truth = pages_from_openmantra(args.data / "annotation.json")
    pred, seconds = [], 0.0
    for page in truth:
        image = Image.open(args.data / page.image).convert("RGB")
        start = time.perf_counter()
        detections = detect_classical(image, cfg)
        seconds += time.perf_counter() - start
        order = reading_order([d.bbox for d in detections], "rtl")
        panels = [
            {"bbox": list(detections[i].bbox), "score": detections[i].score, "source": "detector", "order": k}
            for k, i in enumerate(order)
        ]
        fields = page.model_dump(exclude={"panels", "texts", "quality"})
        pred.append(Page(**fields, panels=panels))
    report = evaluate_panels(truth, pred)
    rows = [("overall", report["overall"]), *sorted(report["books"].items())]
    for name, s in rows:
        print(
            f"{name:>28}: pages {s.pages} truth {s.truth} pred {s.pred} P {s.precision:.3f} "
            f"R {s.recall:.3f} F1 {s.f1:.3f} AP {s.ap:.3f} AP50 {s.ap50:.3f} "
            f"exact count {s.exact_count:.3f} order exact {s.order_exact:.3f} ({s.order_pages} pages)"
        )
    print(f"detection: {len(truth) / seconds:.1f} pages/s (1 core, {seconds:.1f} s)")
    if args.misses:
        by_id = {p.page_id: p for p in truth}
        for r in report["pages"]:
            if r.truth != r.pred or r.tp != r.truth or r.order_exact is False:
                entry = by_id[r.key].image if r.key in by_id else r.key
                order = "  ORDER WRONG" if r.order_exact is False else ""
                print(f"  {entry}: truth {r.truth} pred {r.pred} matched {r.tp}{order}")
    if args.json:
        out = {name: s.as_dict() for name, s in rows}
        out["pages_per_s"] = len(truth) / seconds
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
