"""Panels, reading order and lettering of `ingest` + `annotate` against an ACBF book's ground truth.

    python scripts/eval_acbf.py [ACBF] [--ocr rapidocr] [--open-mantra DIR] [--json docs/bench/craphound.json]

ACBF defaults to ../shared/data/craphound-acbf/Doctorow, Cory - Craphound-1.1.acbf. Its image folder
is ingested and annotated (classical detector, ``--ocr``) in a temporary folder through the CLI, then
scored in-process with the same functions as `eval panels` and `eval text`: panel P/R/F1, AP, reading
order over matched pages and over all true panels (merges and splits), and balloon-level text (all
kinds and per kind). With ``--open-mantra`` the OpenMantra pages are annotated the way
scripts/check_figures.py does (rtl, no OCR) and their panel figures, incl. the order over all true
panels, are added per book. Nothing is copied from the data folders.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from comics_analysis.benchmarks.report import write_results
from comics_analysis.metrics.panels import evaluate_panels
from comics_analysis.metrics.text import evaluate_text
from comics_analysis.sources import open_pages

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CRAPHOUND = DATA / "craphound-acbf" / "Doctorow, Cory - Craphound-1.1.acbf"


def _cli(*args: str) -> float:
    start = time.perf_counter()
    command = [sys.executable, "-m", "comics_analysis", "--quiet", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def _panels(truth, pred) -> dict:
    report = evaluate_panels(truth, pred)
    return {
        "overall": report["overall"].as_dict(),
        "books": {k: v.as_dict() for k, v in report["books"].items()},
        "missing": report["missing"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("acbf", nargs="?", type=Path, default=CRAPHOUND)
    parser.add_argument("--lang", help="text layer (default: the first the file declares)")
    parser.add_argument("--ocr", default="rapidocr", choices=["rapidocr", "tesseract", "none"])
    parser.add_argument("--open-mantra", type=Path, help="OpenMantra folder (annotation.json, images/)")
    parser.add_argument("--json", type=Path, help="write the figures here (with date, machine, commit)")
    args = parser.parse_args()

    truth = open_pages(args.acbf, lang=args.lang, argument="acbf").pages()
    payload: dict = {"benchmark": "acbf", "book": args.acbf.name, "detector": "classical", "ocr": args.ocr}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        payload["ingest_s"] = _cli("ingest", str(args.acbf.parent), "--out", str(tmp / "ingest"))
        payload["annotate_s"] = _cli(
            "annotate",
            str(tmp / "ingest"),
            "--out",
            str(tmp / "ann"),
            "--detector",
            "classical",
            "--ocr",
            args.ocr,
        )
        pred = open_pages(tmp / "ann", argument="pred").pages()
        payload["panels"] = _panels(truth, pred)
        payload["text"] = {"all": evaluate_text(truth, pred)["overall"].as_dict()}
        for kind in ("dialogue", "narration"):
            payload["text"][kind] = evaluate_text(truth, pred, kinds=(kind,))["overall"].as_dict()
        if args.open_mantra:
            _cli("ingest", str(args.open_mantra / "images"), "--out", str(tmp / "om-ingest"))
            _cli(
                "annotate",
                str(tmp / "om-ingest"),
                "--out",
                str(tmp / "om-ann"),
                "--direction",
                "rtl",
                "--ocr",
                "none",
            )
            om_truth = open_pages(args.open_mantra / "annotation.json", argument="open-mantra").pages()
            payload["openmantra_panels"] = _panels(om_truth, open_pages(tmp / "om-ann").pages())
    o, t = payload["panels"]["overall"], payload["text"]["all"]
    print(
        f"panels: P {o['precision']:.3f} R {o['recall']:.3f} F1 {o['f1']:.3f}; "
        f"order exact {o['order_exact']} tau {o['kendall_tau']}; order all {o['order_all']:.3f} "
        f"tau all {o['kendall_tau_all']:.3f}, {o['merged_panels']} merged, "
        f"{o['unassigned_panels']} unassigned"
    )
    print(
        f"text: units exact {t['units_exact']}/{t['truth']} (P {t['unit_precision']:.3f} "
        f"R {t['unit_recall']:.3f}), merged rate {t['merged_unit_rate']}, CER {t['cer']}, "
        f"words P {t['word_precision']} R {t['word_recall']}"
    )
    if args.json:
        print(f"wrote {write_results(args.json, payload)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
