"""Simulated VLM readings of synthetic pages, with the errors real models make, for measuring
alignment against ground truth (no model, no network).

From a page's ground truth (panels in reading order, lettered text per panel) it writes the JSON a
grounded (v2) VLM would answer, after: box jitter (per edge, plus a page-wide offset), a missing
panel (its text dropped or folded into a neighbour), an extra panel (one panel split in two) and a
text item put in the neighbouring panel. It also returns, for every VLM panel, the ground-truth
panel it came from, and for every text item the panel it truly belongs to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..dataspec import Page

LABEL_OF_KIND = {"dialogue": "dialogue", "narration": "caption", "sfx": "sfx", "unknown": "dialogue"}


@dataclass(frozen=True)
class VlmErrors:
    jitter: float = 0.03  # s.d. of each box edge, as a share of the panel's side
    offset: float = 6.0  # s.d. of a page-wide shift, on the 0-1000 scale
    missing: float = 0.3  # probability that one panel is left out
    fold_text: float = 0.5  # ... and that its text is then put in a neighbouring panel
    extra: float = 0.15  # probability that one panel is reported as two halves
    wrong_text: float = 0.1  # probability that one text item lands in a neighbouring panel


@dataclass
class SimulatedReading:
    text: str  # what the "model" answered (JSON)
    origin: list[int]  # ground-truth panel of each VLM panel
    item_truth: list[list[int]] = field(default_factory=list)  # true panel of each text item
    events: list[str] = field(default_factory=list)


def simulate_vlm(page: Page, rng: np.random.Generator, errors: VlmErrors = VlmErrors()) -> SimulatedReading:
    width, height = page.width, page.height
    panels = []
    for k, panel in enumerate(page.panels):
        x, y, w, h = panel.bbox
        box = [y / height * 1000, x / width * 1000, (y + h) / height * 1000, (x + w) / width * 1000]
        items = [
            ({"label": LABEL_OF_KIND[t.kind], "text": t.text, "speaker": None}, k)
            for t in page.texts
            if t.panel == k
        ]
        panels.append({"box": box, "items": items, "origin": k, "description": f"panel {k + 1}"})
    events = []
    if len(panels) > 1 and rng.random() < errors.missing:
        k = int(rng.integers(len(panels)))
        gone = panels.pop(k)
        if gone["items"] and rng.random() < errors.fold_text:
            panels[min(k, len(panels) - 1)]["items"] += gone["items"]
            events.append("missing_folded")
        else:
            events.append("missing")
    if panels and rng.random() < errors.extra:
        k = int(rng.integers(len(panels)))
        ymin, xmin, ymax, xmax = panels[k]["box"]
        items = panels[k]["items"]
        half = len(items) // 2
        if ymax - ymin >= xmax - xmin:
            boxes = [[ymin, xmin, (ymin + ymax) / 2, xmax], [(ymin + ymax) / 2, xmin, ymax, xmax]]
        else:
            boxes = [[ymin, xmin, ymax, (xmin + xmax) / 2], [ymin, (xmin + xmax) / 2, ymax, xmax]]
        halves = [
            {**panels[k], "box": boxes[0], "items": items[:half]},
            {**panels[k], "box": boxes[1], "items": items[half:]},
        ]
        panels[k : k + 1] = halves
        events.append("extra")
    if len(panels) > 1 and rng.random() < errors.wrong_text:
        sources = [k for k, p in enumerate(panels) if p["items"]]
        if sources:
            k = int(rng.choice(sources))
            to = k + 1 if k + 1 < len(panels) else k - 1
            panels[to]["items"].append(panels[k]["items"].pop(int(rng.integers(len(panels[k]["items"])))))
            events.append("wrong_text")
    shift = rng.normal(0, errors.offset, size=2)
    out = []
    for p in panels:
        ymin, xmin, ymax, xmax = p["box"]
        sy, sx = (ymax - ymin) * errors.jitter, (xmax - xmin) * errors.jitter
        box = [
            ymin + shift[0] + rng.normal(0, sy),
            xmin + shift[1] + rng.normal(0, sx),
            ymax + shift[0] + rng.normal(0, sy),
            xmax + shift[1] + rng.normal(0, sx),
        ]
        box = [round(min(1000.0, max(0.0, v))) for v in box]
        if box[2] <= box[0] or box[3] <= box[1]:
            box = [round(v) for v in p["box"]]
        out.append(
            {
                "box_2d": box,
                "text": [item for item, _ in p["items"]],
                "description": p["description"],
                "characters": [],
            }
        )
    return SimulatedReading(
        text=json.dumps({"panels": out, "summary": "a synthetic page"}),
        origin=[p["origin"] for p in panels],
        item_truth=[[truth for _, truth in p["items"]] for p in panels],
        events=events,
    )
