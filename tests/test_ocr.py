"""OCR adapters run the real engines on rendered text; grouping and kind cues on hand-made pages."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from comics_analysis.annotate.ocr import (
    ENGINES,
    TextBlock,
    TextLine,
    classify_block,
    group_lines,
    make_engine,
)
from comics_analysis.annotate.pipeline import AnnotateOptions, annotate_page
from comics_analysis.metrics.text import evaluate_text
from comics_analysis.synth import LAYOUTS, make_page
from comics_analysis.synth.fonts import font


def line(x, y, w, h, text="WORD"):
    return TextLine((x, y, w, h), text, 0.9)


def test_group_lines_by_hand():
    balloon = [
        line(100, 100, 200, 20, "HELLO THERE"),
        line(110, 126, 180, 20, "GENERAL"),
        line(130, 152, 140, 20, "KENOBI."),
    ]
    other = [line(600, 100, 150, 20, "FAR AWAY")]
    words = [line(100, 400, 60, 20, "TWO"), line(100 + 60 + 8, 401, 80, 20, "WORDS")]  # one line, split
    blocks = group_lines(balloon + other + words)
    assert [b.text for b in blocks] == ["HELLO THERE GENERAL KENOBI.", "FAR AWAY", "TWO WORDS"]
    assert blocks[0].bbox == (100, 100, 200, 72)
    # vertical text (tategaki): columns read right to left, one block
    columns = [
        line(300, 100, 24, 200, "ゆめの"),
        line(270, 100, 24, 160, "つばさ"),
        line(100, 100, 24, 100, "べつ"),
    ]
    vertical = group_lines(columns, vertical=True)
    assert [b.text for b in vertical] == ["べつ", "ゆめのつばさ"]


def _page_with_cues():
    image = Image.new("L", (800, 800), 120)
    draw = ImageDraw.Draw(image)
    draw.ellipse([100, 100, 400, 260], fill=255)  # balloon
    draw.rectangle([0, 500, 360, 560], fill=225)  # caption box flush with the panel's left edge
    return np.asarray(image)


def test_kind_cues_by_hand():
    grey = _page_with_cues()
    panel = (0.0, 0.0, 800.0, 800.0)
    block = lambda x, y, w, h: TextBlock((x, y, w, h), "T", 0.9, [TextLine((x, y, w, h), "T", 0.9)])  # noqa: E731
    assert classify_block(block(170, 160, 160, 20), grey, panel, 20) == "dialogue"
    assert classify_block(block(20, 520, 300, 20), grey, panel, 20) == "narration"
    assert classify_block(block(500, 600, 200, 60), grey, panel, 20) == "sfx"  # 3x taller lettering on art
    assert classify_block(block(500, 300, 150, 20), grey, panel, 20) == "unknown"  # ordinary text on art


def _rendered_pages(n):
    pages = []
    for i in range(n):
        page = make_page(
            (i, 31),
            layout=LAYOUTS[i % len(LAYOUTS)],
            size=(700, 1050),
            book_id="ocr-00000000",
            page_index=i,
            direction="rtl" if i % 2 else "ltr",
        )
        pages.append(page)
    return pages


def _annotate(pages, engine, lang=None):
    out = []
    for page in pages:
        record = page.record
        row = {
            "page_id": record.page_id,
            "book_id": record.book_id,
            "page_index": record.page_index,
            "path": "x.png",
            "source_path": "s",
            "source_entry": f"{record.page_index}.png",
            "sha256": "0",
            "reading_direction": record.reading_direction,
        }
        out.append(annotate_page(page.image, row, AnnotateOptions(ocr=engine, ocr_lang=lang)))
    return out


def test_rapidocr_on_rendered_lettering():
    pytest.importorskip("rapidocr", reason="the 'ocr' extra is not installed")
    pages = _rendered_pages(4)
    predicted = _annotate(pages, "rapidocr")
    report = evaluate_text([p.record for p in pages], predicted)["overall"]
    assert report.recall >= 0.9 and report.precision >= 0.8, report  # extra blocks: split balloons, art
    assert report.cer <= 0.05, report
    assert report.kind_accuracy >= 0.9 and report.panel_accuracy >= 0.95, report


def test_default_rapidocr_reads_as_much_as_the_reference():
    """The default path (``rapidocr``: detection on the scaled page, width-batched recognition of the
    found lines) reads horizontal lettering at least as well as rapidocr's own pipeline
    (``rapidocr-reference``) on the same pages; both are recorded under their names."""
    pytest.importorskip("rapidocr", reason="the 'ocr' extra is not installed")
    pages = _rendered_pages(3)
    new, reference = _annotate(pages, "rapidocr"), _annotate(pages, "rapidocr-reference")
    records = [p.record for p in pages]
    new_report = evaluate_text(records, new)["overall"]
    reference_report = evaluate_text(records, reference)["overall"]
    assert new_report.recall >= reference_report.recall, (new_report, reference_report)
    assert new_report.cer <= max(reference_report.cer, 0.05), (new_report, reference_report)
    assert {p.provenance.ocr for p in new} == {"rapidocr"}
    assert {p.provenance.ocr for p in reference} == {"rapidocr-reference"}
    assert "lines" in new[0].provenance.ocr_version and "lines" not in reference[0].provenance.ocr_version
    assert make_engine("rapidocr").read(Image.new("RGB", (600, 900), "white")) == []  # nothing found


def _vertical_page(columns, size=28, gap=6):
    """Columns read top to bottom, right to left (each a line of text turned a quarter turn)."""
    page = Image.new("RGB", (700, 1050), "white")
    x, boxes = 620, []
    for text in columns:
        line = Image.new("RGB", (font("bold", size).getbbox(text)[2] + 8, size + 10), "white")
        ImageDraw.Draw(line).text((4, 2), text, font=font("bold", size), fill="black")
        column = line.rotate(-90, expand=True)
        page.paste(column, (x, 120))
        boxes.append((x, 120, column.width, column.height))
        x -= column.width + gap
    return page, boxes


def test_rapidocr_reads_vertical_columns():
    """Tall lines (vertical lettering) are found one column each, not merged with their close
    neighbours, and turned before the horizontal recogniser reads them."""
    pytest.importorskip("rapidocr", reason="the 'ocr' extra is not installed")
    columns = ["WINGS OF DREAMS", "COATED WITH WAX", "FLY HIGHER", "MELT IN THE SUN", "WHY FLY"]
    page, boxes = _vertical_page(columns)
    lines = sorted(make_engine("rapidocr").read(page), key=lambda t: -t.bbox[0])  # right to left
    assert [t.text for t in lines] == columns
    for t, (x, y, _, h) in zip(lines, boxes):
        assert t.bbox[3] > 3 * t.bbox[2]  # a column, in the page's own pixels
        assert abs(t.bbox[0] - x) <= 8 and abs(t.bbox[1] - y) <= 8 and abs(t.bbox[3] - h) <= 16
    assert [b.text for b in group_lines(lines, vertical=True)] == ["".join(columns)]  # one balloon


def test_merged_lines_are_found_again_at_full_resolution():
    """Tightly stacked small lettering merges into one box when the page is detected at a low
    scale; such a box (much thicker than the page's median line) is detected again inside itself
    at full resolution, so every line is read."""
    pytest.importorskip("rapidocr", reason="the 'ocr' extra is not installed")
    from comics_analysis.annotate.ocr import RapidOcrEngine

    lines = [
        "THE TRUNK WAS FULL",
        "OF OLD COWBOY TOYS",
        "AND BILLY LOVED THEM",
        "MORE THAN ANYTHING",
        "HE EVER OWNED",
    ]
    page = Image.new("RGB", (1000, 1500), "white")
    draw = ImageDraw.Draw(page)
    for top in (200, 700):
        for i, text in enumerate(lines):
            draw.text((300, top + 17 * i), text, font=font("bold", 15), fill="black")
    refined = [t.text for t in RapidOcrEngine(det_scale=0.4).read(page)]
    assert sorted(refined) == sorted(2 * lines)
    merged = [t.text for t in RapidOcrEngine(det_scale=0.4, refine_scale=None).read(page)]
    assert len(merged) < len(refined)  # without the second look, lines are lost


OPENMANTRA = Path(__file__).resolve().parents[2] / "shared" / "data" / "open-mantra"


@pytest.mark.skipif(
    not (OPENMANTRA / "annotation.json").is_file(), reason="../shared/data/open-mantra is absent"
)
def test_rapidocr_on_real_vertical_japanese():
    """Real tategaki pages (OpenMantra, one per book): the default path reads as many of the
    lettered characters as rapidocr's own pipeline (a width-squeezed detector merged columns and
    lost a third of them)."""
    pytest.importorskip("rapidocr", reason="the 'ocr' extra is not installed")
    from collections import Counter

    from comics_analysis.dataspec import pages_from_openmantra

    pages = pages_from_openmantra(OPENMANTRA / "annotation.json", lang="ja")
    chosen = [
        next(p for p in pages if p.book_id == book and len(p.texts) >= 6)
        for book in {p.book_id for p in pages}
    ]
    chars = lambda texts: Counter(c for t in texts for c in t if not c.isspace())  # noqa: E731
    recall = {}
    for name in ("rapidocr", "rapidocr-reference"):
        engine = make_engine(name)
        hit = total = 0
        for page in chosen:
            truth = chars(t.text for t in page.texts)
            read = chars(t.text for t in engine.read(Image.open(OPENMANTRA / page.image).convert("RGB")))
            hit, total = hit + sum((truth & read).values()), total + sum(truth.values())
        recall[name] = hit / total
    assert recall["rapidocr"] >= max(0.75, recall["rapidocr-reference"] - 0.02), recall


@pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract is not installed (apt-get install tesseract-ocr)"
)
def test_tesseract_on_rendered_lettering():
    pytest.importorskip("pytesseract", reason="the 'ocr' extra is not installed")
    pages = _rendered_pages(3)
    predicted = _annotate(pages, "tesseract", "eng")
    report = evaluate_text([p.record for p in pages], predicted, kinds=("dialogue",))["overall"]
    assert report.recall >= 0.6 and report.cer <= 0.1, report
    with pytest.raises(RuntimeError, match="no language data"):
        make_engine("tesseract", lang="klingon")


def test_engine_names():
    assert make_engine("none") is None
    assert {"rapidocr", "rapidocr-reference"} <= set(ENGINES)
    for name in ("easyocr", "rapidocr-fast"):  # rapidocr-fast (it lost vertical text) is gone
        with pytest.raises(ValueError, match="unknown OCR engine"):
            make_engine(name)


@pytest.mark.parametrize("name", ["rapidocr", "rapidocr-reference"])
def test_small_pages_are_upscaled_before_ocr(name):
    pytest.importorskip("rapidocr", reason="the 'ocr' extra is not installed")
    image = Image.new("RGB", (420, 200), "white")
    ImageDraw.Draw(image).text((20, 80), "SMALL LETTERS HERE", font=font("bold", 14), fill="black")
    lines = make_engine(name).read(image)
    assert [t.text for t in lines] == ["SMALL LETTERS HERE"]
    x, y, w, _ = lines[0].bbox
    assert 10 <= x <= 30 and 70 <= y <= 90 and w < 300  # boxes come back in the page's own pixels
