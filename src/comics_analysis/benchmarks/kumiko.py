"""Kumiko (njean42/kumiko, the published classical panel extractor) beside our classical detector:
the report rows of ``panels-kumiko.json`` (written by scripts/eval_kumiko.py) and the side-by-side
section of docs/benchmarks.md. Kumiko itself is never imported: it runs as an external program."""

from __future__ import annotations

import json
from pathlib import Path

from ..dataspec import markdown_table
from .extractors import PANEL_BOOKS, Row, _num, _order, panels_table


def _panels_kumiko(d: dict) -> list[Row]:
    """scripts/eval_kumiko.py: Kumiko per dev book, ours from the same run as the reference."""
    ours = d.get("ours", {})
    rows = []
    for key, b in d.items():
        if not (isinstance(b, dict) and "f1" in b):
            continue
        label = PANEL_BOOKS.get(key, key)
        name = f"Panels per dev book, Kumiko (same pages): {label} ({b['pages']} pages, {b['truth']} panels)"
        mine = ours.get(key)
        ref = f"ours F1 {_num(mine['f1'])}, AP50 {_num(mine['ap50'])} (same run)" if mine else ""
        rows += [
            Row(
                name,
                "P / R / F1 @ IoU 0.5",
                f"{_num(b['precision'])} / {_num(b['recall'])} / {_num(b['f1'])}",
                ref,
            ),
            Row(name, "AP50 (no scores: ties); exact count", f"{_num(b['ap50'])}; {_num(b['exact_count'])}"),
            Row(name, "order exact / tau (matched pages); all true panels", _order(b)),
        ]
    for book, w in d.get("wins", {}).items():
        rows.append(
            Row(
                f"Panels, Kumiko vs ours page by page: {PANEL_BOOKS.get(book, book)}",
                "pages with the higher page F1: Kumiko / ours / ties",
                f"{len(w['kumiko'])} / {len(w['ours'])} / {w['ties']}",
            )
        )
    speed = d.get("speed")
    if speed:
        rows.append(
            Row(
                f"Panels, Kumiko vs ours: speed ({speed['pages']} pages, same run)",
                "seconds per page: Kumiko (wall with process start) / ours",
                f"{speed['kumiko_s_per_page']:.3f} ({speed['kumiko_wall_s_per_page']:.3f}) / "
                f"{speed['ours_s_per_page']:.3f}",
            )
        )
    return rows


def kumiko_section(bench_dir: Path) -> list[str]:
    """docs/benchmarks.md's side-by-side panel table, ours (panels-dev.json) with Kumiko's row under
    each book (panels-kumiko.json); nothing when either file is absent."""
    dev, theirs = bench_dir / "panels-dev.json", bench_dir / "panels-kumiko.json"
    if not (dev.exists() and theirs.exists()):
        return []
    d = json.loads(theirs.read_text(encoding="utf-8"))
    speed = d.get("speed", {})
    wins = [
        (PANEL_BOOKS.get(book, book), len(w["kumiko"]), len(w["ours"]), w["ties"])
        for book, w in d.get("wins", {}).items()
    ]
    lines = [
        "",
        "## Panels: our classical detector and Kumiko on the same pages",
        "",
        f"Kumiko ({d.get('kumiko', {}).get('version') or 'version not recorded'}) run by "
        f"`scripts/eval_kumiko.py` on {str(d.get('date', 'an unrecorded date'))[:10]}, scored with the same "
        "scorer as ours (F1 at IoU 0.5; Kumiko gives no scores, so its AP50 ranks its panels as ties). "
        "Our rows are docs/bench/panels-dev.json.",
        "",
        *panels_table(json.loads(dev.read_text(encoding="utf-8")), d).split("\n"),
    ]
    if wins:
        lines += [
            "",
            *markdown_table(["book", "Kumiko better", "ours better", "same page F1"], wins).split("\n"),
        ]
    if speed:
        lines += [
            "",
            f"Seconds per page in the same run ({speed['pages']} pages, {d.get('machine')}, "
            f"{d.get('cores')} cores): ours {speed['ours_s_per_page']:.3f}, Kumiko "
            f"{speed['kumiko_s_per_page']:.3f} ({speed['kumiko_wall_s_per_page']:.3f} with its process "
            f"start).{' Measured as ' + speed['note'] + '.' if speed.get('note') else ''}",
        ]
    return lines
