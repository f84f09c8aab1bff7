"""Same figures before and after a refactor: small fixed-seed runs through the public CLI.

    python scripts/check_figures.py --write docs/bench/figures-reference.json   # record
    python scripts/check_figures.py --check docs/bench/figures-reference.json   # compare

Three runs, each on one thread with fixed seeds, through the same commands a user types:
- CoSMo PSS: `pss features synthetic:24:0` (train) and `synthetic:12:1` (held out), `train pss`
  (3 epochs), `eval pss` -> the model's and both baselines' metrics;
- Closure Lite: `train closure-lite --model-config tiny` on synthetic pages (40 steps) -> the
  held-out metrics of the final model;
- `eval panels` on OpenMantra (../shared/data/open-mantra, ingested and annotated in place with
  the classical detector, `--ocr none`).
Timings are dropped; every number of the reference must match to 1e-9 (``--check`` exits 1 and
lists the differences); metrics added since the reference was recorded are listed, not failed.
The OpenMantra part is skipped with a message when the data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPEN_MANTRA = ROOT.parent / "shared" / "data" / "open-mantra"
TIMING_KEYS = {"time_s", "seconds", "pages_per_second", "wall_time_s", "date", "machine", "commit", "cores"}


def _cli(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "comics_analysis", "--quiet", *[a for a in args if a != "--quiet"]]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        tail = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}\n{tail}")


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in TIMING_KEYS and k != "run_info"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def pss_figures(tmp: Path) -> dict:
    _cli("pss", "features", "synthetic:24:0", "--out", str(tmp / "pss-train"), "--quiet")
    _cli("pss", "features", "synthetic:12:1", "--out", str(tmp / "pss-test"), "--quiet")
    _cli(
        "train", "pss", str(tmp / "pss-train"), "--out", str(tmp / "pss-run"),
        "--epochs", "3", "--threads", "1", "--quiet",
    )  # fmt: skip
    report = tmp / "pss.json"
    _cli("eval", "pss", "--features", str(tmp / "pss-test"), "--model", str(tmp / "pss-run" / "best"),
         "--json", str(report))  # fmt: skip
    return _strip(json.loads(report.read_text()))


def closure_lite_figures(tmp: Path) -> dict:
    out = tmp / "closure-lite"
    _cli(
        "train", "closure-lite", "--dataset", "synthetic", "--model-config", "tiny", "--out", str(out),
        "--synthetic-pages", "48", "--synthetic-val-pages", "16", "--synthetic-size", "265x400",
        "--steps", "40", "--batch-size", "8", "--warmup-steps", "4", "--eval-every", "20",
        "--seed", "0", "--report-to", "none", "--quiet",
    )  # fmt: skip
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    evals = [line for line in lines if any(k.startswith("eval") or "recall" in k for k in line)]
    return _strip({"evals": evals})


def openmantra_figures(tmp: Path) -> dict | None:
    if not (OPEN_MANTRA / "annotation.json").is_file():
        print(f"OpenMantra not found at {OPEN_MANTRA}: its figures are not checked", file=sys.stderr)
        return None
    _cli("ingest", str(OPEN_MANTRA / "images"), "--out", str(tmp / "om-ingest"), "--quiet")
    _cli("annotate", str(tmp / "om-ingest"), "--out", str(tmp / "om-annotated"), "--direction", "rtl",
         "--ocr", "none", "--quiet")  # fmt: skip
    report = tmp / "om.json"
    _cli("eval", "panels", "--gt", str(OPEN_MANTRA / "annotation.json"), "--pred",
         str(tmp / "om-annotated"), "--json", str(report))  # fmt: skip
    return _strip(json.loads(report.read_text()))


def _diff(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        # a figure of the reference that is gone is a difference; a metric added since is not
        out = [f"{path}/{k}: missing from this run" for k in sorted(set(a) - set(b))]
        for k in sorted(set(a) & set(b)):
            out += _diff(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float | int):
        return [] if abs(a - b) <= 1e-9 else [f"{path}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def _added(a, b, path="") -> list[str]:
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return []
    out = [f"{path}/{k}" for k in sorted(set(b) - set(a))]
    return out + [d for k in sorted(set(a) & set(b)) for d in _added(a[k], b[k], f"{path}/{k}")]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="record the figures in this JSON file")
    group.add_argument("--check", type=Path, help="compare against figures recorded with --write")
    parser.add_argument("--only", choices=["pss", "closure_lite", "openmantra"], action="append")
    args = parser.parse_args()
    runs = {"pss": pss_figures, "closure_lite": closure_lite_figures, "openmantra": openmantra_figures}
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in runs.items():
            if args.only and name not in args.only:
                continue
            print(f"running {name} ...", flush=True)
            (Path(tmp) / name).mkdir()
            figures[name] = run(Path(tmp) / name)
    # paths inside the temporary folder differ from run to run
    figures = json.loads(json.dumps(figures).replace(str(Path(tmp)), "<tmp>"))
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        if args.only and args.write.exists():  # the runs not asked for keep their recorded figures
            figures = {**json.loads(args.write.read_text()), **figures}
        args.write.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.write}")
        return 0
    reference = json.loads(args.check.read_text())
    differences = []
    for name, value in figures.items():
        if value is None or reference.get(name) is None:
            continue
        differences += _diff(reference[name], value, name)
    added = [
        f"{name}: {k}"
        for name, value in figures.items()
        if isinstance(value, dict)
        for k in _added(reference.get(name) or {}, value)
    ]
    if added:
        print(f"{len(added)} figures are new since the reference (not compared), e.g. {added[0]}")
    if differences:
        print(f"{len(differences)} figures differ from {args.check}:")
        print("\n".join(f"  {d}" for d in differences[:50]))
        return 1
    print(f"identical to {args.check}: {', '.join(k for k, v in figures.items() if v is not None)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
