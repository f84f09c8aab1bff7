"""Classical panel detection on generated hard pages, one row per failure kind (issue 16).

    python scripts/eval_panels_hard.py [--pages 20] [--kinds KIND ...] [--first-seed 0]
                                       [--set FIELD=VALUE] [--json OUT] [--render DIR]
    python scripts/eval_panels_hard.py --dev-flags OUT.json

Draws ``--pages`` pages of each kind of ``comics_analysis.synth.hard`` (seeded: the same pages on
every run), detects and scores them with :func:`comics_analysis.benchmarks.panels_hard.evaluate_hard`
and prints P/R/F1@0.5, AP50 (the detector's scores, then all scores equal), exact count,
whole-page panels on pages of several, and the quality flags on the wrong and on the right pages.
``--json`` writes the result file that ``comics-analysis eval report`` turns into a per-kind table;
``--render DIR`` draws the wrong pages (true boxes green, predicted red with score and flags).
``--dev-flags OUT`` instead runs the detector and ``page_flags`` over the real dev books (the
pages of scripts/eval_panels_dev.py) and writes each page's flags and whether it was right, to
compare the flags of two versions of quality.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from comics_analysis.annotate.detectors.classical import detect_classical
from comics_analysis.annotate.quality import page_flags
from comics_analysis.annotate.reading_order import reading_order
from comics_analysis.benchmarks.panels_hard import evaluate_hard
from comics_analysis.benchmarks.report import write_results
from comics_analysis.metrics.panels import score_page
from comics_analysis.synth.hard import HARD_KINDS
from eval_panels_dev import _config, _pages, _render


def _num(v) -> str:
    return "     -" if v is None else f"{v:6.3f}"


def dev_flags(cfg, out: Path) -> None:
    """Flags and rightness of every real dev page (no synthetic ones)."""
    pages = {}
    for page, image, book in _pages(0, None):
        detections = detect_classical(image, cfg)
        order = reading_order([d.bbox for d in detections], page.reading_direction)
        pred = [list(detections[i].bbox) for i in order]
        truth = [p.bbox for p in page.panels]
        r = score_page(page.page_id, book, truth, pred)
        pages[f"{book}/p{page.page_index:04d}"] = {
            "right": r.tp == r.truth == r.pred,
            "flags": page_flags(image, pred),
        }
    flagged = {k: v for k, v in pages.items() if v["flags"]}
    right = sum(v["right"] for v in pages.values())
    print(
        f"{len(pages)} dev pages, {right} right; flagged: {sum(not v['right'] for v in flagged.values())} "
        f"wrong, {sum(v['right'] for v in flagged.values())} right"
    )
    for key, v in flagged.items():
        print(f"  {key}: {'right' if v['right'] else 'wrong'} {', '.join(v['flags'])}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(pages, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=20, help="pages of each kind")
    parser.add_argument("--kinds", nargs="+", choices=list(HARD_KINDS), help="only these kinds")
    parser.add_argument("--first-seed", type=int, default=0, help="the first page's seed")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="config override")
    parser.add_argument("--json", type=Path, help="write the result file here")
    parser.add_argument("--render", type=Path, help="write the wrong pages here as PNG")
    parser.add_argument("--dev-flags", type=Path, help="flags on the real dev pages, written here")
    args = parser.parse_args()
    cfg = _config(args.set)
    if args.dev_flags:
        dev_flags(cfg, args.dev_flags)
        return

    def render(page, scored) -> None:
        if args.render and not scored["right"]:
            args.render.mkdir(parents=True, exist_ok=True)
            name = f"{page.params.kind}-{page.params.seed:03d}-{'+'.join(scored['flags']).replace(':', '_')}"
            _render(page.image, scored["truth"], scored["pred"], args.render / f"{name}.png")

    d = evaluate_hard(args.pages, args.kinds, cfg, args.first_seed, on_page=render)
    print(
        f"{'kind':>16} {'pages':>5} {'truth':>5} {'pred':>5} {'P':>6} {'R':>6} {'F1':>6} {'AP50':>6} "
        f"{'AP50=':>6} {'exact':>6} whole flagged(wrong/right) panels:*(wrong/right)"
    )
    for kind, k in [*d["kinds"].items(), ("all", d["all"])]:
        print(
            f"{kind:>16} {k['pages']:5d} {k['truth']:5d} {k['pred']:5d} {_num(k['precision'])} "
            f"{_num(k['recall'])} {_num(k['f1'])} {_num(k['ap50'])} {_num(k['ap50_equal_scores'])} "
            f"{_num(k['exact_count'])} {k['whole_page_with_gutters']:3d}({k['whole_page_flagged']}) "
            f"{k['wrong_flagged']:3d}/{k['wrong']:<3d} {k['right_flagged']:3d}/{k['right']:<3d} "
            f"{k['wrong_panel_flagged']:3d}/{k['wrong']:<3d} {k['right_panel_flagged']:3d}/{k['right']:<3d}"
        )
    a = d["all"]
    print(
        f"flag precision / recall: any flag {_num(a['flag_precision'])} / {_num(a['flag_recall'])}; "
        f"panels:* {_num(a['panel_flag_precision'])} / {_num(a['panel_flag_recall'])}; "
        f"detection {a['pages'] / a['seconds']:.2f} pages/s"
    )
    if args.json:
        write_results(args.json, d)


if __name__ == "__main__":
    main()
