"""Alignment of VLM readings to detector panels, and the subsets built on it."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from comics_analysis.annotate.align import (
    AlignConfig,
    is_aligned,
    is_perfect_match,
    merge_vlm,
    select,
    text_similarity,
    uses_ocr_fallback,
    vlm_read_panels,
)
from comics_analysis.annotate.vlm import VlmPage
from comics_analysis.dataspec import Page, read_jsonl, write_jsonl
from comics_analysis.dataspec.hf import from_hf_row, write_parquet

W, H = 1000, 1500
# a 2x2 grid page: panels 0 1 / 2 3 (LTR reading order)
GRID = [(20, 20, 470, 700), (510, 20, 470, 700), (20, 760, 470, 720), (510, 760, 470, 720)]
WORDS = ["WHERE IS THE MAP", "UNDER THE OLD BRIDGE", "LATER THAT NIGHT", "KRAKABOOM"]


def detected(boxes=GRID, ocr=True, scores=None, words=WORDS) -> Page:
    """A page as ``annotate`` writes it: detector panels in reading order, OCR blocks inside them."""
    texts = []
    if ocr:
        for k, (x, y, _w, _h) in enumerate(boxes):
            if k < len(words) and words[k]:
                texts.append(
                    {"bbox": [x + 40, y + 40, 200, 60], "text": words[k], "panel": k, "source": "ocr"}
                )
    return Page(
        page_id="book-0000aaaa/p0000",
        book_id="book-0000aaaa",
        page_index=0,
        width=W,
        height=H,
        panels=[
            {"bbox": list(b), "order": k, "score": (scores or [0.9] * len(boxes))[k]}
            for k, b in enumerate(boxes)
        ],
        texts=texts,
        provenance={"ocr": "rapidocr" if ocr else None},
    )


def box_2d(x, y, w, h, dx=0, dy=0):
    return [
        round((y + dy) / H * 1000),
        round((x + dx) / W * 1000),
        round((y + h + dy) / H * 1000),
        round((x + w + dx) / W * 1000),
    ]


def vlm(panels, summary="a page"):
    return VlmPage.model_validate({"panels": panels, "summary": summary})


def vpanel(box, words, label="dialogue", description="a scene"):
    return {
        "box_2d": box,
        "text": [{"label": label, "text": w} for w in words],
        "description": description,
        "characters": ["Ann"],
    }


def test_jittered_boxes_match_one_to_one_and_text_lands_in_its_panel():
    reading = vlm([vpanel(box_2d(*b, dx=15, dy=-12), [WORDS[k]]) for k, b in enumerate(GRID)])
    merged = merge_vlm(detected(), reading, name="m", prompt_version="v2-grounded-1")
    q = merged.quality
    assert (q.match_kind, q.detector_panels, q.vlm_panels, q.matched) == ("iou", 4, 4, 4)
    assert [(m.detector, m.vlm) for m in q.matches] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert 0.9 < q.mean_iou < 1.0
    assert [p.text.dialogue for p in merged.panels] == [[w] for w in WORDS]
    assert merged.panels[0].description == "a scene" and merged.panels[0].characters == ["Ann"]
    assert merged.summary == "a page" and merged.provenance.vlm == "m"
    # the summary never enters lettered text
    assert all("a page" not in t.text for t in merged.texts)
    assert is_aligned(merged) and is_perfect_match(merged)


def test_missing_panel_with_text_folded_into_a_neighbour_is_relocated_by_ocr():
    # the VLM skipped panel 1 and wrote its words into panel 0
    reading = vlm(
        [
            vpanel(box_2d(*GRID[0]), [WORDS[0], WORDS[1]]),
            vpanel(box_2d(*GRID[2]), [WORDS[2]], label="caption"),
            vpanel(box_2d(*GRID[3]), [WORDS[3]], label="sfx"),
        ]
    )
    merged = merge_vlm(detected(), reading)
    assert merged.panels[0].text.dialogue == [WORDS[0]]
    assert merged.panels[1].text.dialogue == [WORDS[1]]
    assert merged.panels[2].text.narration == [WORDS[2]] and merged.panels[3].text.sfx == [WORDS[3]]
    assert "vlm_text_moved:1>1" in merged.quality.flags
    assert is_aligned(merged) and not is_perfect_match(merged)


def test_missing_panel_whose_text_was_dropped_keeps_its_ocr_text_or_fails_strictly():
    reading = vlm([vpanel(box_2d(*GRID[k]), [WORDS[k]]) for k in (0, 2, 3)])
    data = detected().to_dict()
    for k, panel in enumerate(data["panels"]):  # as annotate fills panel text from OCR
        panel["text"]["dialogue"] = [WORDS[k]]
    merged = merge_vlm(Page.from_dict(data), reading)
    assert "det_unread:1" in merged.quality.flags
    assert merged.panels[0].text.dialogue == [WORDS[0]]  # a read panel: the VLM text, once (not added)
    # the skipped panel keeps the lettering OCR read in it, marked as OCR's, placed by its box
    assert merged.panels[1].text.dialogue == [WORDS[1]]
    assert [(t.text, t.panel, t.source) for t in merged.texts if t.source == "ocr" and t.panel == 1] == [
        (WORDS[1], 1, "ocr")
    ]
    assert vlm_read_panels(merged) == {0, 2, 3}
    assert is_aligned(merged) and uses_ocr_fallback(merged)
    assert not is_aligned(merged, ocr_fallback=False)
    assert [p.page_id for p in select([merged], "aligned", ocr_fallback=False)] == []
    # a textless missed panel is harmless, but only when OCR ran to prove it has no lettering
    words = [WORDS[0], "", WORDS[2], WORDS[3]]
    textless = merge_vlm(detected(words=words), reading)
    assert is_aligned(textless, ocr_fallback=False) and not uses_ocr_fallback(textless)
    assert not is_aligned(merge_vlm(detected(ocr=False), reading))


def test_ocr_fallback_never_covers_a_panel_the_vlm_read():
    """The VLM read panel 1 through a small box inside it but gave no text, while OCR saw words
    there: the page stays out of ``aligned`` (the VLM's reading contradicts OCR's)."""
    x, y, w, h = GRID[1]
    reading = vlm(
        [vpanel(box_2d(*GRID[0]), [WORDS[0]])]
        + [vpanel(box_2d(x + 100, y + 100, w / 3, h / 3), [])]
        + [vpanel(box_2d(*GRID[k]), [WORDS[k]]) for k in (2, 3)]
    )
    merged = merge_vlm(detected(), reading)
    assert "vlm_contained:1>1" in merged.quality.flags and "det_unread:1" in merged.quality.flags
    assert 1 in vlm_read_panels(merged)
    assert not is_aligned(merged) and not is_aligned(merged, ocr_fallback=False)


def test_panel_split_in_two_by_the_vlm_keeps_its_text_inside():
    x, y, w, h = GRID[2]
    reading = vlm(
        [
            vpanel(box_2d(*GRID[0]), [WORDS[0]]),
            vpanel(box_2d(*GRID[1]), [WORDS[1]]),
            vpanel(box_2d(x, y, w, h / 2), [WORDS[2]]),
            vpanel(box_2d(x, y + h / 2, w, h / 2), []),
            vpanel(box_2d(*GRID[3]), [WORDS[3]]),
        ]
    )
    merged = merge_vlm(detected(), reading)
    assert merged.panels[2].text.dialogue == [WORDS[2]]
    assert any(f.startswith("vlm_contained:") for f in merged.quality.flags)
    assert len(merged.panels) == 4
    assert is_aligned(merged) and not is_perfect_match(merged)


def test_a_vlm_box_across_two_panels_is_unplaced_and_not_aligned():
    x0, y0, _, _ = GRID[0]
    x1, y1, w1, h1 = GRID[1]
    reading = vlm(
        [
            vpanel(box_2d(x0, y0, x1 + w1 - x0, y1 + h1 - y0), ["SOMETHING ELSE ENTIRELY"]),
            vpanel(box_2d(*GRID[2]), [WORDS[2]]),
            vpanel(box_2d(*GRID[3]), [WORDS[3]]),
        ]
    )
    merged = merge_vlm(detected(words=["", "", WORDS[2], WORDS[3]]), reading)
    assert "vlm_unplaced:0" in merged.quality.flags
    kept = [t for t in merged.texts if t.text == "SOMETHING ELSE ENTIRELY"]
    assert len(kept) == 1 and kept[0].panel == -1 and kept[0].source == "vlm"
    assert not is_aligned(merged)


def test_a_panel_the_detector_missed_is_added_from_the_vlm_in_reading_order():
    boxes = [GRID[0], GRID[2], GRID[3]]  # the detector missed the top-right panel
    reading = vlm([vpanel(box_2d(*GRID[k]), [WORDS[k]]) for k in range(4)])
    merged = merge_vlm(detected(boxes=boxes, words=[WORDS[0], WORDS[2], WORDS[3]]), reading)
    assert [p.source for p in merged.panels] == ["detector", "vlm", "detector", "detector"]
    assert merged.panels[1].text.dialogue == [WORDS[1]]
    assert [p.order for p in merged.panels] == [0, 1, 2, 3]
    assert "vlm_added:1" in merged.quality.flags
    assert is_aligned(merged)


def test_low_score_detections_are_optional_and_count_rule_ignores_them():
    boxes = [*GRID, (300, 300, 60, 60)]  # a small spurious box, low score
    reading = vlm([vpanel(box_2d(*GRID[k]), [WORDS[k]]) for k in range(4)])
    merged = merge_vlm(detected(boxes=boxes, scores=[0.9, 0.9, 0.9, 0.9, 0.2]), reading)
    assert merged.quality.detector_panels == 4
    assert is_perfect_match(merged) and is_aligned(merged)
    # counted as a panel, the unmatched box is harmless only while OCR vouches it has no lettering
    assert is_aligned(merged, min_score=0.1)
    blind = merge_vlm(detected(boxes=boxes, scores=[0.9, 0.9, 0.9, 0.9, 0.2], ocr=False), reading)
    assert is_aligned(blind) and not is_aligned(blind, min_score=0.1)


def test_vlm_without_boxes_pairs_by_order_and_checks_text_against_ocr():
    reading = vlm([{"text": [{"text": w}]} for w in WORDS])
    merged = merge_vlm(detected(), reading)
    q = merged.quality
    assert q.match_kind == "order" and [m.text_sim for m in q.matches] == [1.0] * 4
    assert [p.text.dialogue for p in merged.panels] == [[w] for w in WORDS]
    assert is_aligned(merged)
    # the same count but the VLM read the panels in another order: OCR relocates the text,
    # and the pairing fails the check, so the page is not aligned
    swapped = vlm([{"text": [{"text": WORDS[k]}]} for k in (1, 0, 2, 3)])
    merged = merge_vlm(detected(), swapped)
    assert [p.text.dialogue for p in merged.panels] == [[w] for w in WORDS]
    assert not is_aligned(merged) and is_perfect_match(merged)
    # counts differ: nothing paired
    short = merge_vlm(detected(), vlm([{"text": [{"text": WORDS[0]}]}]))
    assert short.quality.matches == [] and not is_aligned(short)
    assert any(f.startswith("order_count_mismatch") for f in short.quality.flags)


def test_thresholds_reapply_from_stored_records(tmp_path):
    x, y, w, h = GRID[3]
    boxes = [box_2d(*GRID[k]) for k in range(3)] + [box_2d(x, y, w * 0.75, h * 0.8)]  # IoU 0.6
    merged = merge_vlm(detected(), vlm([vpanel(b, [WORDS[k]]) for k, b in enumerate(boxes)]))
    iou3 = next(m.iou for m in merged.quality.matches if m.vlm == 3)
    assert 0.5 < iou3 < 0.7
    write_jsonl([merged], tmp_path / "p.jsonl")
    (stored,) = read_jsonl(tmp_path / "p.jsonl")
    write_parquet([stored], tmp_path / "p.parquet")
    (row,) = pq.read_table(tmp_path / "p.parquet").to_pylist()
    back = from_hf_row(row)
    assert back.quality == merged.quality
    for page in (merged, stored, back):
        assert is_aligned(page, min_iou=0.5) and not is_aligned(page, min_iou=0.7)
        assert select([page], "aligned", min_iou=0.5) == [page]
        assert select([page], "aligned", min_iou=0.7) == []
    with pytest.raises(ValueError, match="unknown subset 'best'"):
        select([merged], "best")


def test_remerge_replaces_the_previous_vlm_reading():
    first = merge_vlm(detected(), vlm([vpanel(box_2d(*GRID[k]), [WORDS[k]]) for k in range(4)]))
    again = merge_vlm(first, vlm([vpanel(box_2d(*GRID[k]), [WORDS[k]]) for k in range(4)]))
    assert len([t for t in again.texts if t.source == "vlm"]) == 4
    assert again.quality == first.quality


def test_text_similarity_ignores_case_punctuation_and_line_breaks():
    assert text_similarity("Where is\nthe MAP?", "WHERE IS THE MAP") == 1.0
    assert text_similarity("", "") is None and text_similarity("A", "") == 0.0
    assert text_similarity("KRAKABOOM", "UNDER THE BRIDGE") < 0.5
    assert AlignConfig().min_iou == 0.5


def test_simulated_vlm_on_synthetic_pages_meets_the_alignment_targets():
    """The acceptance experiment at small scale (README has the 300-page run)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "eval_align", Path(__file__).parents[1] / "scripts" / "eval_align_synthetic.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = module.run(pages=45, seed=7, ocr="truth", errors=module.VlmErrors(), thresholds=())
    assert report["alignment_precision"] >= 0.98
    acc = report["text_to_panel_accuracy"]
    assert acc["aligned"] >= acc["count_equality"]
    assert report["kept"]["aligned"] >= 1.2 * report["kept"]["count_equality"]
    assert report["kept"]["count_equality"] <= report["kept"]["aligned_strict"] <= report["kept"]["aligned"]
    assert acc["aligned_strict"] >= acc["count_equality"]
    assert sum(report["events"].values()) >= 45
    assert np.isfinite(report["kept_ratio"])


def test_subsets_cli_applies_the_ocr_fallback_switch(tmp_path, capsys):
    from comics_analysis.cli import main
    from comics_analysis.dataspec import read_pages, write_jsonl

    reading = vlm([vpanel(box_2d(*GRID[k]), [WORDS[k]]) for k in (0, 2, 3)])
    fallback = merge_vlm(detected(), reading)  # panel 1 keeps OCR lettering
    textless = merge_vlm(detected(words=[WORDS[0], "", WORDS[2], WORDS[3]]), reading)
    textless = Page.from_dict({**textless.to_dict(), "page_id": "book-0000aaaa/p0001", "page_index": 1})
    write_jsonl([fallback, textless], tmp_path / "pages.jsonl")
    for extra, expected in (([], 2), (["--no-ocr-fallback"], 1)):
        out = tmp_path / f"aligned{len(extra)}.jsonl"
        argv = ["dataspec", "subsets", str(tmp_path / "pages.jsonl"), "--write", "aligned", "--out", str(out)]
        assert main(argv + extra) == 0
        assert len(read_pages(out)) == expected
    printed = capsys.readouterr().out
    assert "1 aligned page(s) keep OCR lettering" in printed


def test_evaluate_alignment_scores_ocr_lettering_kept_in_a_skipped_panel():
    from comics_analysis.metrics.align import evaluate_alignment

    truth = detected()  # ground truth: four panels, one line of lettering each
    reading = vlm([vpanel(box_2d(*GRID[k]), [WORDS[k]]) for k in (0, 2, 3)])
    merged = merge_vlm(detected(), reading)
    case = (truth, merged, [0, 2, 3], [[0], [2], [3]])
    report = evaluate_alignment([case])
    assert report["kept"] == {"count_equality": 0, "aligned": 1, "aligned_strict": 0}
    assert report["text_items"]["aligned"] == 4 and report["text_to_panel_accuracy"]["aligned"] == 1.0
    # OCR "lettering" over no true text in the skipped panel counts as a wrong item
    x, y, _w, _h = GRID[1]
    data = detected().to_dict()
    data["texts"].append({"bbox": [x + 300, y + 500, 100, 40], "text": "ZZZ", "panel": 1, "source": "ocr"})
    noisy = merge_vlm(Page.from_dict(data), reading)
    report = evaluate_alignment([(truth, noisy, [0, 2, 3], [[0], [2], [3]])])
    assert report["text_items"]["aligned"] == 5 and report["text_to_panel_accuracy"]["aligned"] == 0.8


def test_comic_pages_aligned_config_follows_the_ocr_fallback_switch():
    from comics_analysis.dataset_builders.comic_pages import collection_stats, plan_splits

    reading = vlm([vpanel(box_2d(*GRID[k]), [WORDS[k]]) for k in (0, 2, 3)])
    pages = [merge_vlm(detected(), reading)]
    with_fallback, strict = collection_stats(pages), collection_stats(pages, ocr_fallback=False)
    assert with_fallback["configs"]["aligned"]["pages"] == 1 and with_fallback["ocr_fallback"] is True
    assert strict["configs"]["aligned"]["pages"] == 0 and strict["ocr_fallback"] is False
    assert plan_splits(pages, "aligned", ocr_fallback=False) == {}
