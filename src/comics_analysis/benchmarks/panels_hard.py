"""The classical panel detector on generated hard pages, one row per failure kind (issue 16).

:func:`evaluate_hard` draws ``pages`` pages of each kind of :data:`comics_analysis.synth.hard.HARD_KINDS`
(seeds ``first_seed`` ...), detects panels (no OCR), puts them in reading order and scores them:
P / R / F1 @ IoU 0.5, AP50 with the detector's scores and with all scores equal (do the scores
rank?), exact panel count, pages returned as one panel (covering half the page or more) although
they hold several, and how the page's ``quality.flags``
(:func:`comics_analysis.annotate.quality.page_flags`) split between the pages the detector got
wrong (any true panel unmatched or a wrong count) and those it got right. :func:`hard_rows` and
:func:`hard_section` turn the result file (``docs/bench/panels-hard.json``) into the benchmark
report's rows and its per-kind table.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter

from tqdm.auto import tqdm

from ..annotate.detectors.classical import ClassicalConfig, detect_classical
from ..annotate.quality import ONE_PANEL, page_flags
from ..annotate.reading_order import reading_order
from ..dataspec import markdown_table
from ..metrics.panels import coco_ap, score_page, summarise
from ..synth.hard import HARD_KINDS, make_hard_page
from .extractors import Row, _num


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def score_hard_page(page, config: ClassicalConfig | None = None) -> dict:
    """Detect, order, score and flag one :class:`~comics_analysis.synth.hard.HardPage`."""
    start = time.perf_counter()
    detections = detect_classical(page.image, config)
    seconds = time.perf_counter() - start
    order = reading_order([d.bbox for d in detections], page.record.reading_direction)
    pred = [(list(detections[i].bbox), float(detections[i].score)) for i in order]
    truth = [list(p.bbox) for p in page.record.panels]
    result = score_page(page.record.page_id, page.params.kind, truth, [b for b, _ in pred])
    area = page.params.width * page.params.height
    flags = page_flags(page.image, [b for b, _ in pred])
    return {
        "key": page.record.page_id,
        "result": result,
        "truth": truth,
        "pred": pred,
        "right": result.tp == result.truth == result.pred,
        "whole_page": len(truth) > 1 and len(pred) == 1 and pred[0][0][2] * pred[0][0][3] >= ONE_PANEL * area,
        "flags": flags,
        "seconds": seconds,
    }


def _summary(scored: list[dict]) -> dict:
    summary = summarise([s["result"] for s in scored]).as_dict()
    summary.pop("extra", None)
    truth = [s["truth"] for s in scored]
    summary["ap"], summary["ap50"] = coco_ap(truth, [s["pred"] for s in scored])
    _, summary["ap50_equal_scores"] = coco_ap(truth, [[(b, 1.0) for b, _ in s["pred"]] for s in scored])
    right = [s for s in scored if s["right"]]
    wrong = [s for s in scored if not s["right"]]
    panel = lambda s: any(f.startswith("panels:") for f in s["flags"])  # noqa: E731
    summary.update(
        whole_page_with_gutters=sum(s["whole_page"] for s in scored),
        whole_page_flagged=sum(
            s["whole_page"] and any(f.startswith("panels:whole") for f in s["flags"]) for s in scored
        ),
        right=len(right),
        wrong=len(wrong),
        right_flagged=sum(bool(s["flags"]) for s in right),
        wrong_flagged=sum(bool(s["flags"]) for s in wrong),
        right_panel_flagged=sum(panel(s) for s in right),
        wrong_panel_flagged=sum(panel(s) for s in wrong),
        flag_counts=dict(sorted(Counter(f for s in scored for f in s["flags"]).items())),
        seconds=sum(s["seconds"] for s in scored),
        right_by_art={
            art: f"{sum(s['right'] for s in scored if s['params']['art'] == art)}/"
            f"{sum(s['params']['art'] == art for s in scored)}"
            for art in sorted({s["params"]["art"] for s in scored})
        },
    )
    flagged = summary["wrong_flagged"] + summary["right_flagged"]
    summary["flag_precision"] = _ratio(summary["wrong_flagged"], flagged)
    summary["flag_recall"] = _ratio(summary["wrong_flagged"], len(wrong))
    panel_flagged = summary["wrong_panel_flagged"] + summary["right_panel_flagged"]
    summary["panel_flag_precision"] = _ratio(summary["wrong_panel_flagged"], panel_flagged)
    summary["panel_flag_recall"] = _ratio(summary["wrong_panel_flagged"], len(wrong))
    return summary


def evaluate_hard(
    pages: int,
    kinds: list[str] | None = None,
    config: ClassicalConfig | None = None,
    first_seed: int = 0,
    on_page=None,
) -> dict:
    """Per-kind and overall figures over ``pages`` generated pages of each of ``kinds`` (default:
    all); ``on_page(page, scored)`` is called after each page (to render failures)."""
    kinds = list(HARD_KINDS) if kinds is None else kinds
    unknown = [k for k in kinds if k not in HARD_KINDS]
    if unknown:
        raise ValueError(f"kinds: unknown {', '.join(unknown)}; expected some of {', '.join(HARD_KINDS)}")
    if pages < 1:
        raise ValueError(f"pages must be >= 1, got {pages}")
    config = config or ClassicalConfig()
    per_kind: dict[str, list[dict]] = {}
    with tqdm(total=pages * len(kinds), desc="hard pages", unit="page") as bar:
        for kind in kinds:
            for seed in range(first_seed, first_seed + pages):
                page = make_hard_page(kind, seed, book_id=f"hard-{kind.replace('_', '-')}")
                scored = score_hard_page(page, config)
                if on_page is not None:
                    on_page(page, scored)
                scored["params"] = dataclasses.asdict(page.params)
                per_kind.setdefault(kind, []).append(scored)
                bar.update()
    every = [s for scored in per_kind.values() for s in scored]
    return {
        "pages_per_kind": pages,
        "first_seed": first_seed,
        "config": dataclasses.asdict(config),
        "kinds": {kind: _summary(scored) for kind, scored in per_kind.items()},
        "all": _summary(every),
        "pages": {
            s["key"]: {
                "truth": s["result"].truth,
                "pred": s["result"].pred,
                "tp": s["result"].tp,
                "right": s["right"],
                "flags": s["flags"],
                "params": {k: s["params"][k] for k in ("width", "height", "gutter", "line", "art", "paper")},
            }
            for s in every
        },
    }


def _flags(k: dict, prefix: str = "") -> str:
    return (
        f"{k[f'wrong_{prefix}flagged']}/{k['wrong']} wrong, {k[f'right_{prefix}flagged']}/{k['right']} right"
    )


def hard_rows(d: dict) -> list[Row]:
    """The report's rows of a panels-hard.json result: the overall figures."""
    a = d["all"]
    name = f"Panels on generated hard pages, classical detector ({a['pages']} pages, {len(d['kinds'])} kinds)"
    return [
        Row(name, "P / R / F1 @ IoU 0.5", f"{_num(a['precision'])} / {_num(a['recall'])} / {_num(a['f1'])}"),
        Row(
            name,
            "AP50 (scores); AP50 (all scores equal)",
            f"{_num(a['ap50'])}; {_num(a['ap50_equal_scores'])}",
        ),
        Row(
            name,
            "exact count; whole-page panel on a page of several",
            f"{_num(a['exact_count'])}; {a['whole_page_with_gutters']}",
        ),
        Row(name, "pages flagged (any flag)", _flags(a)),
        Row(name, "pages flagged (panels:* flags)", _flags(a, "panel_")),
    ]


def hard_section(d: dict, date: str, machine: str, commit: str) -> list[str]:
    """Markdown lines: the per-kind table of a panels-hard.json result."""
    headers = ["kind", "pages", "panels", "P", "R", "F1@0.5", "AP50", "AP50 equal scores", "exact count"]
    headers += ["merged / missed panels", "whole-page panel (flagged)", "flagged wrong", "flagged right"]
    headers += ["panels:* flagged wrong / right", "right pages by art"]
    rows = []
    for kind, k in [*d["kinds"].items(), ("all kinds", d["all"])]:
        rows.append(
            (
                kind,
                k["pages"],
                k["truth"],
                _num(k["precision"]),
                _num(k["recall"]),
                _num(k["f1"]),
                _num(k["ap50"]),
                _num(k["ap50_equal_scores"]),
                _num(k["exact_count"]),
                f"{k['merged_panels']} / {k['unassigned_panels']}",
                f"{k['whole_page_with_gutters']} ({k['whole_page_flagged']})",
                f"{k['wrong_flagged']}/{k['wrong']}",
                f"{k['right_flagged']}/{k['right']}",
                f"{k['wrong_panel_flagged']}/{k['wrong']} / {k['right_panel_flagged']}/{k['right']}",
                ", ".join(f"{art} {v}" for art, v in k["right_by_art"].items()),
            )
        )
    n, first = d["pages_per_kind"], d["first_seed"]
    return [
        "",
        "## Panels on generated hard pages, per failure kind",
        "",
        f"`python scripts/eval_panels_hard.py --pages {n} --json docs/bench/panels-hard.json`, "
        f"measured {date[:10]} on {machine} (commit {commit}): {n} pages of each kind "
        f"(`comics_analysis.synth.hard`, seeds {first}-{first + n - 1}; "
        "size, paper, gutter, frame width, panel count, art and direction drawn per page), the classical "
        "detector without OCR. A page is wrong when a true panel is unmatched at IoU 0.5 or the count "
        "differs; flagged: it carries any `quality.flags` entry (`paper:unusual_tone` included) / a "
        "`panels:*` one. Merged: predicted panels covering 2+ true ones; missed: true panels no "
        "predicted one covers by half. Whole-page panel: the only predicted panel, over half the page, "
        "on a page of several (flagged: it carries a `panels:whole_page_*` flag). Art: western "
        "(gradients, scenery, figures), manga (light line art, screentone), dense (dark masses).",
        "",
        *markdown_table(headers, rows).split("\n"),
    ]
