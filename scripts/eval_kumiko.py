"""Kumiko (njean42/kumiko, the published classical panel extractor) on the same dev pages as
scripts/eval_panels_dev.py, scored with the same scorer, beside our classical detector.

    python scripts/eval_kumiko.py --kumiko /path/to/kumiko/kumiko [--python /path/to/python]
                                  [--synthetic 54] [--only BOOK] [--json docs/bench/panels-kumiko.json]
                                  [--render DIR] [--kumiko-version TEXT]

Kumiko is not a dependency of this project (AGPL-3.0, and it needs opencv < 5): it is only run as
an external program that you point at with ``--kumiko`` (its ``kumiko`` CLI script), under the
Python given by ``--python`` (one with opencv-python-headless < 5 and numpy; default: the Python
running this script). Each dev page (the same pages and pixels eval_panels_dev.py scores: the two
OpenMantra books, Craphound from its ACBF file, ``--synthetic`` story pages) is written as PNG to a
temporary folder, one folder per reading direction; Kumiko runs once per folder
(``kumiko -i DIR -o OUT.json`` plus ``--rtl`` for manga) and its panels are taken in its own
order. If a folder run fails, its pages are run one by one and a page that still fails counts
as no panel (listed under ``errors``). Our classical detector runs on the same images in this
process; both are scored by eval_panels_dev's ``page_pair`` + ``evaluate_panels``.

Prints both tables, the pages each side wins (page F1 at IoU 0.5) and seconds per page; ``--json``
writes Kumiko's per-book metrics at the top level (the layout of panels-dev.json, so
``comics-analysis eval report`` puts them next to ours), ours from the same run under ``ours``,
per-page counts, wins, speed, date, machine and Kumiko's version. ``--render DIR`` draws the pages
Kumiko wins, ours and Kumiko's side by side (true boxes green, predicted red).
Kumiko gives no panel scores: AP50 ranks its panels as ties.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling eval_panels_dev.py

from comics_analysis.annotate.detectors.classical import ClassicalConfig, detect_classical
from comics_analysis.annotate.reading_order import reading_order
from comics_analysis.benchmarks.report import write_results
from comics_analysis.metrics.panels import evaluate_panels
from eval_panels_dev import _pages, _render, page_pair, print_books, report_json


def kumiko_command(kumiko: Path, python: str, target: Path, out: Path, rtl: bool) -> list[str]:
    """The command line that runs Kumiko's CLI on an image or a folder of images."""
    return [python, str(kumiko), "-i", str(target), "-o", str(out), *(["--rtl"] if rtl else [])]


def read_kumiko(infos: list[dict]) -> dict[str, dict]:
    """Kumiko's JSON output (a list with one entry per image: ``filename``, ``size`` [w, h],
    ``panels`` [[x, y, w, h], ...] in its reading order, ``processing_time`` in seconds) by filename."""
    if not isinstance(infos, list):
        raise ValueError(f"Kumiko output: expected a list of pages, got {type(infos).__name__}")
    out = {}
    for info in infos:
        try:
            name, (width, height), panels = info["filename"], info["size"], info["panels"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"Kumiko output: page entry {info!r:.120} lacks filename/size/panels ({exc})"
            ) from None
        out[name] = {
            "size": (int(width), int(height)),
            "panels": [[float(v) for v in box] for box in panels],
            "seconds": info.get("processing_time"),
        }
    return out


def kumiko_boxes(panels: list[list[float]], width: int, height: int) -> list[tuple[float, ...]]:
    """Kumiko's boxes clipped to the image (its panel expansion may overshoot), in its order;
    boxes left with less than 1 px are dropped."""
    boxes = []
    for x, y, w, h in panels:
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(float(width), x + w), min(float(height), y + h)
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            boxes.append((x0, y0, x1 - x0, y1 - y0))
    return boxes


def run_kumiko(kumiko: Path, python: str, folder: Path, rtl: bool) -> tuple[dict[str, dict], float, dict]:
    """Kumiko on every image of ``folder``: (pages by filename, wall seconds, errors by filename)."""
    out = folder.parent / f"{folder.name}-kumiko.json"
    start = time.perf_counter()
    done = subprocess.run(kumiko_command(kumiko, python, folder, out, rtl), capture_output=True, text=True)
    if done.returncode == 0 and out.exists():
        return read_kumiko(json.loads(out.read_text())), time.perf_counter() - start, {}
    print(f"Kumiko failed on {folder} (exit {done.returncode}): {done.stderr.strip()[-300:]}; page by page")
    pages, errors = {}, {}
    for image in sorted(folder.iterdir()):
        one = folder.parent / f"{image.stem}-kumiko.json"
        done = subprocess.run(kumiko_command(kumiko, python, image, one, rtl), capture_output=True, text=True)
        if done.returncode == 0 and one.exists():
            pages.update(read_kumiko(json.loads(one.read_text())))
        else:
            errors[image.name] = done.stderr.strip()[-300:] or f"exit {done.returncode}"
    return pages, time.perf_counter() - start, errors


def kumiko_version(kumiko: Path) -> str | None:
    """The git commit of Kumiko's checkout, when it is one."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=kumiko.parent, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def page_f1(truth: int, pred: int, tp: int) -> float:
    return 1.0 if truth + pred == 0 else 2 * tp / (truth + pred)


def wins(ours: list, theirs: list) -> dict:
    """Per book: the pages where Kumiko's page F1 at IoU 0.5 is higher, where ours is, and the ties
    (``ours`` and ``theirs``: the ``pages`` results of two :func:`evaluate_panels` reports)."""
    by_key = {r.key: r for r in theirs}
    out: dict[str, dict] = {}
    for r in ours:
        book = out.setdefault(r.book, {"kumiko": [], "ours": [], "ties": 0})
        k = by_key[r.key]
        a, b = page_f1(r.truth, r.pred, r.tp), page_f1(k.truth, k.pred, k.tp)
        if b > a:
            book["kumiko"].append(r.key)
        elif a > b:
            book["ours"].append(r.key)
        else:
            book["ties"] += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kumiko", type=Path, required=True, help="Kumiko's `kumiko` CLI script")
    parser.add_argument("--python", default=sys.executable, help="a Python with opencv < 5 and numpy")
    parser.add_argument("--kumiko-version", help="what to record as Kumiko's version (default: git commit)")
    parser.add_argument("--synthetic", type=int, default=54, help="synthetic story pages (0: none)")
    parser.add_argument("--only", help="only books whose name contains this")
    parser.add_argument("--json", type=Path, help="write the metrics here")
    parser.add_argument("--render", type=Path, help="draw the pages Kumiko wins here (PNG)")
    args = parser.parse_args()
    if not args.kumiko.is_file():
        raise SystemExit(f"--kumiko {args.kumiko}: no such file (give Kumiko's `kumiko` script)")

    cfg = ClassicalConfig()
    with tempfile.TemporaryDirectory(prefix="eval-kumiko-") as tmp:
        tmp = Path(tmp)
        records, ours_seconds = [], 0.0  # (page, book, direction, filename, ours)
        for n, (page, image, book) in enumerate(_pages(args.synthetic, args.only)):
            direction = page.reading_direction
            name = f"{n:05d}.png"
            (tmp / direction).mkdir(exist_ok=True)
            image.save(tmp / direction / name, compress_level=1)
            start = time.perf_counter()
            detections = detect_classical(image, cfg)
            ours_seconds += time.perf_counter() - start
            order = reading_order([d.bbox for d in detections], direction)
            ours = ([detections[i].bbox for i in order], [detections[i].score for i in order])
            records.append((page, book, direction, name, ours))
        found, wall, errors = {}, 0.0, {}
        for direction in sorted({r[2] for r in records}):
            pages, seconds, failed = run_kumiko(args.kumiko, args.python, tmp / direction, direction == "rtl")
            found.update({f"{direction}/{k}": v for k, v in pages.items()})
            errors.update({f"{direction}/{k}": v for k, v in failed.items()})
            wall += seconds

        truth, ours_pred, kumiko_pred, kumiko_seconds = [], [], [], 0.0
        for page, book, direction, name, (boxes, scores) in records:
            got = found.get(f"{direction}/{name}", {"size": (page.width, page.height), "panels": []})
            if tuple(got["size"]) != (page.width, page.height):
                raise ValueError(
                    f"{book} page {page.page_index}: Kumiko read {got['size']}, not the page size"
                )
            kumiko_seconds += got.get("seconds") or 0.0
            true_page, pred_page = page_pair(page, book, boxes, scores)
            kboxes = kumiko_boxes(got["panels"], page.width, page.height)
            truth.append(true_page)
            ours_pred.append(pred_page)
            kumiko_pred.append(page_pair(page, book, kboxes, [None] * len(kboxes))[1])

        ours_report, kumiko_report = evaluate_panels(truth, ours_pred), evaluate_panels(truth, kumiko_pred)
        print("ours (classical detector):")
        print_books(ours_report)
        print("Kumiko:")
        print_books(kumiko_report)
        ours_json, kumiko_json = report_json(ours_report), report_json(kumiko_report)
        won = wins(ours_report["pages"], kumiko_report["pages"])
        for book, w in won.items():
            print(
                f"  {book}: Kumiko better on {len(w['kumiko'])} pages, ours on {len(w['ours'])}, "
                f"{w['ties']} ties"
            )
        count = len(records)
        speed = {
            "pages": count,
            "ours_s_per_page": ours_seconds / count,
            "kumiko_s_per_page": kumiko_seconds / count,
            "kumiko_wall_s_per_page": wall / count,
            "note": "ours: detect_classical on the decoded image, in process; Kumiko: its own "
            "processing_time (reads the PNG, then detects); wall: Kumiko's processes from start to exit",
        }
        print(
            f"seconds per page: ours {speed['ours_s_per_page']:.3f}, Kumiko {speed['kumiko_s_per_page']:.3f} "
            f"(wall with process start {speed['kumiko_wall_s_per_page']:.3f}); {len(errors)} Kumiko errors"
        )
        if args.render:
            args.render.mkdir(parents=True, exist_ok=True)
            losing = {key for w in won.values() for key in w["kumiko"]}
            for (_, _, direction, name, _), t, o, k in zip(
                records, truth, ours_pred, kumiko_pred, strict=True
            ):
                if t.page_id in losing:
                    image = Image.open(tmp / direction / name).convert("RGB")
                    stem = t.page_id.replace("/", "_")
                    true_boxes = [p.bbox for p in t.panels]
                    _render(
                        image,
                        true_boxes,
                        [(p.bbox, p.score) for p in o.panels],
                        args.render / f"{stem}-ours.png",
                    )
                    _render(
                        image,
                        true_boxes,
                        [(p.bbox, 1.0) for p in k.panels],
                        args.render / f"{stem}-kumiko.png",
                    )

    if args.json:
        write_results(
            args.json,
            {
                "kumiko": {
                    "script": str(args.kumiko),
                    "version": args.kumiko_version or kumiko_version(args.kumiko),
                    "python": args.python,
                },
                **kumiko_json,
                "ours": ours_json,
                "wins": won,
                "speed": speed,
                "errors": errors,
            },
        )


if __name__ == "__main__":
    main()
