"""Page stream segmentation on real labelled books (issue 18.4, 18.5): the zero-shot segmenter (the
default of `segment`), a model trained on synthetic books only, models trained on synthetic books
plus the other real books (leave-one-book-out), optionally the README recipe's model, and both
trivial baselines, per book and pooled.

    python scripts/eval_pss_real.py [--work DIR] [--json docs/bench/pss-real.json]
        [--synthetic synthetic:60:0:real] [--val-synthetic synthetic:24:2:real] [--epochs 12]
        [--plain-model pss/run/best]

The books and their labels are tests/data/pss_real_labels.json (pages of ../shared/data labelled by
eye). Each book is run through the CLI as a user would: `ingest`, `annotate --detector classical
--ocr rapidocr` (right to left where the labels say so), the labels written into the DataSpec
records (source "gt"), `pss features --page-stats` (vision `pixels`, text `minilm`). Training (all
through `train pss`, page statistics beside the vectors, validation on held-out synthetic books
only, so no constant is fitted to a real book; ``--val-synthetic``: a separate store of synthetic
books for validation, `--val-features`, instead of a fifth of the training books):

* synthetic only: `pss features SYNTHETIC --page-stats`, `train pss` on it;
* synthetic + real, leave one book out: for each real book, `train pss` on the synthetic books plus
  the other real books (`--extra-features REAL --exclude-books BOOK`), tested on that book.

``--plain-model``: also score a model trained elsewhere (e.g. the README recipe on plain
`synthetic:90:0`, which reads no statistics). Metrics: `comics_analysis.metrics.pss` (scheme
"ours": accuracy, macro-F1 over the labels present in the book, per-class F1, story-start F1, PQ,
boundary F1, MnDD). Nothing is copied from the data folder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from comics_analysis.annotate.pipeline import read_annotations
from comics_analysis.benchmarks.pss import real_labels
from comics_analysis.benchmarks.report import write_results
from comics_analysis.dataspec import write_page_types
from comics_analysis.inference.features import FeatureStore
from comics_analysis.inference.pss import book_arrays, load_pss_model, predict_books, zero_shot_predictions
from comics_analysis.metrics.pss import evaluate_with_baselines

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LABELS = ROOT / "tests" / "data" / "pss_real_labels.json"
KEYS = ("accuracy", "macro_f1", "story_start_f1", "pq", "boundary_f1_0", "boundary_f1_1", "mndd")


def _cli(*args: str) -> float:
    start = time.perf_counter()
    command = [sys.executable, "-m", "comics_analysis", "--quiet", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def _metrics(result: dict) -> dict:
    return {
        **{k: result[k] for k in KEYS},
        "macro_f1_labels": result["macro_f1_labels"],
        "per_class_f1": {label: result["per_class"][label]["f1"] for label in result["macro_f1_labels"]},
        "pages": result["pages"],
    }


def _score(truth: list[dict], systems: dict[str, list[dict]]) -> dict:
    scored = {}
    for name, preds in systems.items():
        results = evaluate_with_baselines(truth, preds)
        scored[name] = _metrics(results["model"])
        for baseline in ("all_story", "cover_first_back_last"):
            scored[baseline] = _metrics(results[baseline])
    return scored


def _train(
    payload: dict, name: str, out: Path, synthetic: Path, epochs: int, val: Path | None, *extra: str
) -> Path:
    if val is not None:
        extra = ("--val-features", str(val), *extra)
    if not (out / "best").is_dir():
        payload["seconds"][f"train {name}"] = _cli(
            "train", "pss", str(synthetic), "--out", str(out), "--epochs", str(epochs),
            "--patience", "6", "--threads", "2", "--overwrite", *extra,
        )  # fmt: skip
    return out / "best"


def _pages(prediction: dict) -> list[str]:
    return [t + ("*" if s else "") for t, s in zip(prediction["page_types"], prediction["story_start"])]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--synthetic", default="synthetic:60:0:real", help="the synthetic training books")
    parser.add_argument(
        "--val-synthetic", help="validation books of every training (default: a fifth of --synthetic)"
    )
    parser.add_argument("--epochs", type=int, default=30, help="epochs of every training (patience 6)")
    parser.add_argument("--plain-model", type=Path, help="also score this trained model (no statistics)")
    parser.add_argument("--work", type=Path, help="keep the intermediate folders here (default: temporary)")
    parser.add_argument("--json", type=Path, help="write the figures here (with date, machine, commit)")
    args = parser.parse_args()

    spec = json.loads(args.labels.read_text(encoding="utf-8"))
    payload: dict = {
        "benchmark": "pss-real",
        "labels": str(args.labels.relative_to(ROOT)),
        "synthetic": args.synthetic,
        "val_synthetic": args.val_synthetic,
        "epochs": args.epochs,
        "seconds": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        features = work / "features"
        for ingest in dict.fromkeys(b["ingest"] for b in spec["books"]):
            direction = next(b["direction"] for b in spec["books"] if b["ingest"] == ingest)
            name = ingest.replace("/", "_")
            if not (work / name / "ann").is_dir():
                payload["seconds"][f"ingest {ingest}"] = _cli(
                    "ingest", str(args.data / ingest), "--out", str(work / name / "ingest")
                )
                payload["seconds"][f"annotate {ingest}"] = _cli(
                    "annotate", str(work / name / "ingest"), "--out", str(work / name / "ann"),
                    "--detector", "classical", "--ocr", "rapidocr", "--direction", direction,
                )  # fmt: skip
            pages = read_annotations(work / name / "ann")
            write_page_types(work / name / "ann", real_labels(args.labels, pages), source="gt")
            payload["seconds"][f"features {ingest}"] = _cli(
                "pss", "features", str(work / name / "ann"), "--out", str(features), "--page-stats"
            )
        synthetic = work / "synthetic-features"
        if not synthetic.is_dir():
            payload["seconds"][f"features {args.synthetic}"] = _cli(
                "pss", "features", args.synthetic, "--out", str(synthetic), "--page-stats"
            )
        val = None
        if args.val_synthetic:
            val = work / "synthetic-val-features"
            if not val.is_dir():
                payload["seconds"][f"features {args.val_synthetic}"] = _cli(
                    "pss", "features", args.val_synthetic, "--out", str(val), "--page-stats"
                )
        store = FeatureStore(features)
        books = book_arrays(store, list(store.books()))
        source_of = {}
        for ingest in dict.fromkeys(bk["ingest"] for bk in spec["books"]):
            for page in read_annotations(work / ingest.replace("/", "_") / "ann"):
                source_of[page.book_id] = page.provenance.source_path
        by_source = {bk["source_path"]: bk["name"] for bk in spec["books"]}
        names = {b["book_id"]: by_source[source_of[b["book_id"]]] for b in books}
        start = time.perf_counter()
        systems: dict[str, list[dict]] = {"zero_shot": zero_shot_predictions(store, books)}
        payload["seconds"]["zero-shot"] = time.perf_counter() - start
        model = _train(payload, "synthetic only", work / "run-synthetic", synthetic, args.epochs, val)
        systems["synthetic_model"] = predict_books(load_pss_model(model), books, 32, 16)
        lobo = []
        for b in books:
            fold = _train(
                payload, f"synthetic + real without {names[b['book_id']]}",
                work / f"run-lobo-{names[b['book_id']]}", synthetic, args.epochs, val,
                "--extra-features", str(features), "--exclude-books", b["book_id"],
            )  # fmt: skip
            lobo += predict_books(load_pss_model(fold), [b], 32, 16)
        systems["synthetic_real_lobo"] = lobo
        if args.plain_model:
            systems["plain_model"] = predict_books(load_pss_model(args.plain_model), books, 32, 16)
            payload["plain_model"] = str(args.plain_model)
        payload["systems"] = {
            "zero_shot": "zero-shot segmenter (no training data; the default of `segment`)",
            "synthetic_model": f"train pss on {args.synthetic} only (page statistics beside the vectors)",
            "synthetic_real_lobo": f"train pss on {args.synthetic} + the 3 other real books, tested on the "
            "held-out book (leave-one-book-out)",
            "plain_model": "the given --plain-model (README recipe: plain synthetic books, no statistics)",
            "all_story": "baseline: every page a story page, the first one a story start",
            "cover_first_back_last": "baseline: first page cover, last page back cover, story between",
        }
        truth = [
            {"book_id": b["book_id"], "page_types": b["page_types"], "story_start": b["story_start"]}
            for b in books
        ]
        payload["books"] = {}
        for i, b in enumerate(books):
            payload["books"][names[b["book_id"]]] = {
                "book_id": b["book_id"],
                "pages": len(b["page_ids"]),
                "truth_pages": _pages(truth[i]),
                "predicted_pages": {k: _pages(v[i]) for k, v in systems.items()},
                "systems": _score([truth[i]], {k: [v[i]] for k, v in systems.items()}),
            }
        payload["pooled"] = _score(truth, systems)
    rows = [("pooled", payload["pooled"])] + [(n, v["systems"]) for n, v in payload["books"].items()]
    for name, scored in rows:
        print(name)
        for system, m in scored.items():
            print(
                f"  {system:<22} acc {m['accuracy']:.3f} macro-F1 {m['macro_f1']:.3f} "
                f"start-F1 {m['story_start_f1']:.3f} PQ {m['pq']:.3f}"
            )
    if args.json:
        print(f"wrote {write_results(args.json, payload)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
