"""Align a VLM reading of a page with the detector's panels, and the DataSpec subsets (DESIGN 3.3).

The detector's boxes are the geometric truth; the VLM brings the lettered text, descriptions and
characters. Two ways to pair them:

- ``iou`` (the VLM gave ``box_2d``): one-to-one Hungarian matching on IoU. A VLM panel that no
  detector panel matches is either *contained* in one (its text goes there, e.g. when the VLM
  split a panel), *added* as a panel of its own when it overlaps no detector panel (a panel the
  detector missed), or *unplaced* (its geometry contradicts the detector's; its text is kept on
  the page with ``panel = -1``).
- ``order`` (no boxes, e.g. the earlier v1 schema): the k-th VLM panel goes to the k-th detector
  panel in reading order, only when the counts agree; each pair is checked against the OCR text
  found inside the detector panel (``text_sim``) and the detector layout must not overlap.

Everything needed to decide membership of a subset is stored in ``Page.quality`` (every match
with its IoU / text similarity, flags for the rest), so :func:`is_aligned` re-applies any
threshold to stored records without re-running the detector or the VLM.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..dataspec import Page, assign_panel
from ..dataspec.geometry import intersection, iou
from .reading_order import reading_order
from .vlm.schema import VlmPage

# VLM labels -> DataSpec text kinds (a thought balloon is lettered dialogue)
KIND_OF_LABEL = {"dialogue": "dialogue", "thought": "dialogue", "caption": "narration", "sfx": "sfx"}


@dataclass(frozen=True)
class AlignConfig:
    min_iou: float = 0.5  # a VLM box and a detector box are the same panel
    min_score: float = 0.5  # detector panels scored lower are optional (the earlier count rule)
    contain: float = 0.8  # share of a VLM box inside a detector panel that places its text there
    max_overlap: float = 0.1  # a VLM box overlapping detector panels less than this is a missed panel
    min_text_sim: float = 0.7  # order pairing: VLM text vs OCR text in the paired detector panel
    locate_sim: float = 0.75  # a VLM text item reads the same words as an OCR block: it sits there


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def text_similarity(a: str, b: str) -> float | None:
    """0-1 agreement of two readings of the same lettering (OCR vs VLM); None when both are empty.

    Token-sort ratio: word order and OCR line breaks do not matter, misread letters cost a little,
    and shared common words alone do not make two different lines agree."""
    from rapidfuzz import fuzz

    a, b = _norm(a), _norm(b)
    if not a and not b:
        return None
    if not a or not b:
        return 0.0
    return round(fuzz.token_sort_ratio(a, b) / 100.0, 4)


def _locate(items: list, ocr: list[dict], min_sim: float) -> dict[int, int]:
    """VLM text item index -> OCR block index, one to one, where both read the same words."""
    if not items or not ocr:
        return {}
    from scipy.optimize import linear_sum_assignment

    sims = np.zeros((len(items), len(ocr)))
    for n, (_, item) in enumerate(items):
        if len(_norm(item.text)) < 3:  # "OH!" matches too many blocks to place anything
            continue
        for b, block in enumerate(ocr):
            sims[n, b] = text_similarity(item.text, block["text"]) or 0.0
    rows, cols = linear_sum_assignment(-sims)
    return {int(n): int(b) for n, b in zip(rows, cols) if sims[n, b] >= min_sim}


def _kept(panel, min_score: float) -> bool:
    return panel.score is None or panel.score >= min_score


def merge_vlm(
    page: Page,
    vlm: VlmPage,
    *,
    name: str | None = None,
    prompt_version: str | None = None,
    config: AlignConfig = AlignConfig(),
) -> Page:
    """``page`` (detector panels, OCR text boxes) with the VLM's reading merged in."""
    width, height = page.width, page.height
    det = [p.bbox for p in page.panels]
    vlm_boxes = [p.bbox(width, height) for p in vlm.panels]
    flags = [f for f in page.quality.flags if not f.startswith(("vlm_", "det_", "order_"))]
    kept_count = sum(_kept(p, config.min_score) for p in page.panels)

    # target[i] = detector panel index receiving VLM panel i's text, or -1; added = new panels
    target: list[int] = [-1] * len(vlm.panels)
    matches: list[dict] = []
    added: list[int] = []
    contained: list[int] = []  # VLM panels inside a detector panel (flagged once indices are final)
    if vlm.panels and all(b is not None for b in vlm_boxes):
        kind = "iou"
        if det:
            from scipy.optimize import linear_sum_assignment

            scores = np.array([[iou(d, v) for d in det] for v in vlm_boxes])
            for i, j in zip(*linear_sum_assignment(-scores)):
                if scores[i, j] > 0:
                    matches.append({"detector": int(j), "vlm": int(i), "iou": round(float(scores[i, j]), 4)})
                    if scores[i, j] >= config.min_iou:
                        target[i] = int(j)
        for i, box in enumerate(vlm_boxes):
            if target[i] >= 0:
                continue
            inside = assign_panel(box, det, min_share=config.contain)
            overlap = sum(intersection(box, d) for d in det) / (box[2] * box[3])
            if inside >= 0:
                target[i] = inside
                contained.append(i)
            elif overlap < config.max_overlap:
                added.append(i)
                flags.append(f"vlm_added:{i}")
            else:
                flags.append(f"vlm_unplaced:{i}")
    elif vlm.panels:
        kind = "order"
        kept = [j for j, p in enumerate(page.panels) if _kept(p, config.min_score)]
        if len(kept) == len(vlm.panels):
            for i, j in enumerate(kept):
                target[i] = j
                matches.append({"detector": j, "vlm": i})
            if any(iou(det[a], det[b]) > config.max_overlap for a in kept for b in kept if a < b):
                flags.append("order_overlap")
        else:
            flags.append(f"order_count_mismatch:{len(kept)}!={len(vlm.panels)}")
    else:
        kind = "iou"  # the VLM saw no panels: every kept detector panel is unmatched

    # the final panel list: detector panels plus the ones only the VLM saw, in reading order
    boxes = det + [vlm_boxes[i] for i in added]
    order = reading_order(boxes, page.reading_direction)
    new_index = {old: new for new, old in enumerate(order)}
    panels = []
    for old in order:
        if old < len(det):
            panel = page.panels[old].model_dump()
        else:
            panel = {"bbox": list(boxes[old]), "score": None, "source": "vlm", "text": {}}
        panel["order"] = new_index[old]
        panels.append(panel)
    for k, i in enumerate(added):
        target[i] = len(det) + k
    target = [new_index[t] if t >= 0 else -1 for t in target]
    flags.extend(f"vlm_contained:{i}>{target[i]}" for i in contained)
    for m in matches:
        m["detector"] = new_index[m["detector"]]

    # OCR boxes re-assigned (an added panel may hold some)
    final_boxes = [tuple(p["bbox"]) for p in panels]
    texts = []
    for t in page.texts:
        if t.source == "vlm":
            continue  # a re-merge replaces the previous VLM reading
        item = t.model_dump()
        # a page number stays outside every panel (an added VLM panel may cover the margin)
        item["panel"] = -1 if t.kind == "page_number" else assign_panel(t.bbox, final_boxes)
        texts.append(item)
    ocr = [t for t in texts if t["source"] == "ocr"] if page.provenance.ocr else []
    if kind == "order":  # each pairing checked against the lettering OCR found in that panel
        for m in matches:
            seen = " ".join(t["text"] for t in ocr if t["panel"] == m["detector"])
            said = " ".join(item.text for item in vlm.panels[m["vlm"]].text)
            m["text_sim"] = text_similarity(seen, said) if page.provenance.ocr else None

    # every VLM text item: at the OCR block that reads the same words when there is one (its box
    # places it), else in the panel its VLM panel went to
    items = [(i, item) for i, vp in enumerate(vlm.panels) for item in vp.text if item.text.strip()]
    located = _locate(items, ocr, config.locate_sim)
    # panels the VLM read (its panels' targets, and where OCR located its text): VLM text replaces OCR's
    read = (set(target) | {ocr[b]["panel"] for b in located.values()}) - {-1}
    for k in read:
        panels[k]["text"] = {"dialogue": [], "narration": [], "sfx": []}
    for i, vp in enumerate(vlm.panels):
        k = target[i]
        if k >= 0 and vp.description:
            panels[k]["description"] = " ".join(filter(None, [panels[k].get("description"), vp.description]))
        if k >= 0:
            panels[k]["characters"] = list(dict.fromkeys([*panels[k].get("characters", []), *vp.characters]))
    for n, (i, item) in enumerate(items):
        k, box = target[i], vlm_boxes[i]
        if n in located:
            block = ocr[located[n]]
            if block["panel"] != k:
                flags.append(f"vlm_text_moved:{n}>{block['panel']}")
            k, box = block["panel"], block["bbox"]
        elif box is None:
            box = final_boxes[k] if k >= 0 else (0.0, 0.0, float(width), float(height))
        text_kind = KIND_OF_LABEL[item.label]
        if k >= 0:
            panels[k]["text"][text_kind].append(item.text)
        texts.append({"bbox": list(box), "text": item.text, "kind": text_kind, "panel": k, "source": "vlm"})
    explained = set(located.values())
    for k in sorted({t["panel"] for b, t in enumerate(ocr) if b not in explained and t["panel"] >= 0}):
        flags.append(f"det_unread:{k}")  # lettering OCR saw in panel k that no VLM item accounts for
    good = [m for m in matches if m.get("iou") is None or m["iou"] >= config.min_iou]
    ious = [m["iou"] for m in good if m.get("iou") is not None]
    data = page.to_dict()
    data.update(
        panels=panels,
        texts=texts,
        summary=vlm.summary or page.summary,
        quality={
            "detector_panels": kept_count,
            "vlm_panels": len(vlm.panels),
            "match_kind": kind,
            "matched": len(good),
            "mean_iou": round(float(np.mean(ious)), 4) if ious else None,
            "matches": sorted(matches, key=lambda m: m["vlm"]),
            "flags": flags,
        },
    )
    data["provenance"].update(vlm=name, prompt_version=prompt_version)
    return Page.from_dict(data)


# --- subsets (DESIGN 3.3) ------------------------------------------------------------------------
def is_perfect_match(page: Page) -> bool:
    """The earlier rule, kept for comparability: as many detector panels (score >= 0.5) as VLM panels."""
    q = page.quality
    return q.vlm_panels is not None and q.detector_panels == q.vlm_panels


def _flagged(flags: Iterable[str], prefix: str) -> set[int]:
    return {int(f.split(":")[1].split(">")[0]) for f in flags if f.startswith(prefix)}


def _targets(flags: Iterable[str], prefix: str) -> set[int]:
    """The ``k`` of flags ``prefix i>k``."""
    return {int(f.split(">")[1]) for f in flags if f.startswith(prefix) and ">" in f}


def is_aligned(
    page: Page,
    min_iou: float = 0.5,
    min_text_sim: float = 0.7,
    min_score: float = 0.5,
    ocr_fallback: bool = True,
) -> bool:
    """Whether every panel and every piece of lettering of ``page`` is placed consistently.

    With boxes: every VLM panel is matched to a detector panel (IoU >= ``min_iou``), lies inside
    one, or was added where the detector saw nothing; every detector panel is matched, scored
    below ``min_score``, or (OCR ran) holds no lettering that the VLM's text does not account for.
    ``ocr_fallback`` (default): a detector panel the VLM skipped (no VLM panel matched or inside
    it, no VLM text in it; see :func:`vlm_read_panels`) may hold lettering that only OCR saw: it
    keeps that OCR text (text items with source "ocr", placed by their boxes; the merge leaves
    them there) instead of failing the page. ``ocr_fallback=False``: such a page fails, so every
    lettered panel's text is the VLM's.
    Without boxes: counts agree, the layout does not overlap and each pair's text agrees with
    the OCR text of its panel (``text_sim >= min_text_sim``)."""
    q = page.quality
    if q.vlm_panels is None or q.match_kind not in ("iou", "order"):
        return False
    if q.match_kind == "order":
        return (
            len(q.matches) == q.vlm_panels == q.detector_panels
            and "order_overlap" not in q.flags
            and all(m.text_sim is None or m.text_sim >= min_text_sim for m in q.matches)
        )
    good = [m for m in q.matches if m.iou is not None and m.iou >= min_iou]
    placed = {m.vlm for m in good} | _flagged(q.flags, "vlm_added:") | _flagged(q.flags, "vlm_contained:")
    if placed != set(range(q.vlm_panels)):
        return False
    paired, unread = {m.detector for m in good}, _flagged(q.flags, "det_unread:")
    read = vlm_read_panels(page, min_iou)
    for j, panel in enumerate(page.panels):
        if j in paired or panel.source == "vlm" or (panel.score is not None and panel.score < min_score):
            continue
        if page.provenance.ocr is None:
            return False
        if j in unread and not (ocr_fallback and j not in read):
            return False
    return True


def vlm_read_panels(page: Page, min_iou: float = 0.5) -> set[int]:
    """Panels the VLM read: matched at IoU >= ``min_iou``, holding a VLM panel, or VLM text."""
    q = page.quality
    paired = {m.detector for m in q.matches if m.iou is not None and m.iou >= min_iou}
    return paired | _targets(q.flags, "vlm_contained:") | {t.panel for t in page.texts if t.source == "vlm"}


def uses_ocr_fallback(page: Page, **thresholds) -> bool:
    """In ``aligned`` only with ``ocr_fallback=True``: some panel's lettering is OCR's."""
    return is_aligned(page, **{**thresholds, "ocr_fallback": True}) and not is_aligned(
        page, **{**thresholds, "ocr_fallback": False}
    )


SUBSETS: dict[str, Callable[..., bool]] = {
    "all": lambda page, **_: True,
    "aligned": lambda page, **kw: is_aligned(page, **kw),
    "perfect_match": lambda page, **_: is_perfect_match(page),
}


def select(pages: Iterable[Page], subset: str, **thresholds) -> list[Page]:
    """The pages of a named subset; thresholds (``min_iou``, ...) apply to ``aligned``."""
    if subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r}; expected one of {', '.join(SUBSETS)}")
    return [p for p in pages if SUBSETS[subset](p, **thresholds)]


def subsets_text(pages: Iterable[Page], min_iou: float = 0.5, ocr_fallback: bool = True) -> str:
    """Pages and share of each subset (all / aligned / perfect_match), for a terminal."""
    pages = list(pages)
    total = len(pages)
    lines = [f"{'subset':<15}{'pages':>8}{'share':>8}"]
    for name in SUBSETS:
        n = sum(SUBSETS[name](p, min_iou=min_iou, ocr_fallback=ocr_fallback) for p in pages)
        lines.append(f"{name:<15}{n:>8}{n / max(1, total):>8.1%}")
    if ocr_fallback:
        n = sum(uses_ocr_fallback(p, min_iou=min_iou) for p in pages)
        lines.append(
            f"  ({n} aligned page(s) keep OCR lettering in a panel the VLM skipped; "
            f"--no-ocr-fallback drops them)"
        )
    return "\n".join(lines)
