"""Synthetic comics: ground truth agrees with the pixels, books are well formed, output is deterministic."""

import hashlib
import io
import itertools
import json
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image

from comics_analysis.dataspec import book_id_for_file, read_jsonl
from comics_analysis.synth import (
    BOOK_KINDS,
    GUTTERS,
    LAYOUTS,
    make_book,
    make_layout,
    make_library,
    make_page,
    plan_book,
    write_cbz,
    write_pdf,
)

SMALL = (530, 800)
BLACK = np.array([0, 0, 0])


def _contains(outer, inner) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and inner[0] + inner[2] <= outer[0] + outer[2]
        and inner[1] + inner[3] <= outer[1] + outer[3]
    )


def _edges(pixels: np.ndarray, box):
    """For each side: (1 px just outside the box, 1 px just inside it), or None outside the page."""
    x, y, w, h = (int(v) for v in box)
    height, width = pixels.shape[:2]
    return {
        "top": (pixels[y - 1, x : x + w] if y > 0 else None, pixels[y, x : x + w]),
        "bottom": (pixels[y + h, x : x + w] if y + h < height else None, pixels[y + h - 1, x : x + w]),
        "left": (pixels[y : y + h, x - 1] if x > 0 else None, pixels[y : y + h, x]),
        "right": (pixels[y : y + h, x + w] if x + w < width else None, pixels[y : y + h, x + w - 1]),
    }


def check_panels_match_pixels(page) -> int:
    """Every panel box edge sits exactly on a drawn boundary; returns the number of edges checked."""
    pixels = np.asarray(page.image)
    gutter = np.array(GUTTERS[page.gutter])
    boxes = [p.bbox for p in page.record.panels]
    checked = 0
    for i, box in enumerate(boxes):
        inset = any(j != i and _contains(other, box) for j, other in enumerate(boxes))
        for side, (outside, inside) in _edges(pixels, box).items():
            where = f"{page.layout} panel {i} {side} edge of {box}"
            framed = bool((inside == BLACK).all(axis=-1).all())
            if inset:
                assert framed, f"{where}: inset panels are framed"
                assert (outside != BLACK).any(axis=-1).mean() > 0.9, f"{where}: frame is wider than the box"
            else:
                if (
                    not framed or page.gutter == "black"
                ):  # borderless: the art must differ from the gutter all along the edge
                    assert (inside != gutter).any(axis=-1).mean() > 0.98, f"{where}: no art at the edge"
                if outside is not None:
                    assert (outside == gutter).all(), f"{where}: the pixel row outside is not gutter"
            checked += 1
    return checked


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("direction", ["ltr", "rtl"])
@pytest.mark.parametrize("gutter", sorted(GUTTERS))
def test_panel_boxes_match_drawn_borders(layout, direction, gutter):
    edges = 0
    for seed in range(3):
        seeds = (seed, LAYOUTS.index(layout), direction == "rtl", sorted(GUTTERS).index(gutter))
        page = make_page(
            seeds, layout=layout, direction=direction, size=SMALL, story_start=seed == 0, gutter=gutter
        )
        assert (page.layout, page.gutter) == (layout, gutter)
        assert len(page.record.panels) >= 1
        edges += check_panels_match_pixels(page)
    assert edges >= 12


def test_border_check_catches_a_box_off_by_one_pixel():
    page = make_page(3, layout="grid", size=SMALL)
    x, y, w, h = page.record.panels[0].bbox
    page.record.panels[0].bbox = (x - 1, y, w + 1, h)
    with pytest.raises(AssertionError, match="left edge"):
        check_panels_match_pixels(page)
    page.record.panels[0].bbox = (x + 1, y, w - 1, h)
    with pytest.raises(AssertionError, match="left edge"):
        check_panels_match_pixels(page)


def test_full_size_pages_match_too():
    for seed, layout in enumerate(("irregular", "inset", "nested")):
        check_panels_match_pixels(make_page(seed, layout=layout))


@pytest.mark.parametrize("seed", range(12))
def test_text_boxes_lie_inside_their_panels_and_hold_ink(seed):
    page = make_page((seed, 1), size=SMALL, direction="rtl" if seed % 2 else "ltr", story_start=seed % 3 == 0)
    record = page.record
    pixels = np.asarray(page.image).astype(int)
    assert record.texts, "story pages carry lettering"
    for text in record.texts:
        assert 0 <= text.panel < len(record.panels)
        assert _contains(record.panels[text.panel].bbox, text.bbox), f"{text.text!r} leaves its panel"
        # the smallest panel that contains the text is its panel (insets own their own text)
        holders = [i for i, p in enumerate(record.panels) if _contains(p.bbox, text.bbox)]
        smallest = min(holders, key=lambda i: record.panels[i].bbox[2] * record.panels[i].bbox[3])
        assert smallest == text.panel
        x, y, w, h = (round(v) for v in text.bbox)
        crop = pixels[y : y + h, x : x + w]
        assert crop.std() > 20, f"no visible ink in the box of {text.text!r}"
        assert text.text.strip() and text.kind in {"dialogue", "narration", "sfx"}
    for i, panel in enumerate(record.panels):
        mine = [t for t in record.texts if t.panel == i]
        assert panel.text.dialogue == [t.text for t in mine if t.kind == "dialogue"]
        assert panel.text.narration == [t.text for t in mine if t.kind == "narration"]
        assert panel.text.sfx == [t.text for t in mine if t.kind == "sfx"]
    for box in record.characters:
        assert box.label in {"character", "face"}


def test_reading_order_follows_direction():
    for seed in range(6):
        rng = np.random.default_rng(seed)
        ltr = make_layout("grid", rng, 1000, 1500, "ltr")
        rng = np.random.default_rng(seed)
        rtl = make_layout("grid", rng, 1000, 1500, "rtl")
        assert [p.rect for p in ltr] != [p.rect for p in rtl]
        assert sorted(p.rect for p in ltr) == sorted(p.rect for p in rtl)
        for a, b in itertools.pairwise(ltr):
            assert (b.y > a.y) or (b.y == a.y and b.x > a.x)
        for a, b in itertools.pairwise(rtl):
            assert (b.y > a.y) or (b.y == a.y and b.x < a.x)
    nested = make_layout("nested", np.random.default_rng(1), 1000, 1500, "rtl")
    tall = max(nested, key=lambda p: p.h)
    stack = [p for p in nested if p.x != tall.x and p.w != 1000 - 2 * p.x]
    assert nested.index(tall) < min(nested.index(p) for p in stack)
    assert all(p.x < tall.x for p in stack), "manga pages put the tall panel on the right, read first"


def test_non_story_pages():
    for seed, page_type in enumerate(
        ["cover", "credits_indicia", "advertisement", "text_backmatter", "art_backmatter", "back_cover"]
    ):
        page = make_page(seed, page_type=page_type, size=SMALL)
        assert page.record.page_type == page_type
        assert page.record.panels == []
        assert page.record.texts and all(t.panel == -1 and t.text for t in page.record.texts)
        assert np.asarray(page.image).std() > 10, f"{page_type} is not blank"
    with pytest.raises(ValueError, match="unknown synthetic page type"):
        make_page(0, page_type="index")
    with pytest.raises(ValueError, match="unknown layout"):
        make_page(0, layout="diagonal")


@pytest.mark.parametrize("kind", BOOK_KINDS)
def test_book_plans(kind):
    for seed in range(10):
        plan = plan_book(np.random.default_rng(seed), kind)
        types = [t for t, _ in plan]
        assert types[0] == "cover" and types[-1] == "back_cover"
        starts = [i for i, (t, s) in enumerate(plan) if s]
        assert all(types[i] == "story" for i in starts)
        first_story = types.index("story")
        assert plan[first_story][1], "the first story page starts a story"
        assert types.count("story") >= 4
        if kind == "anthology":
            assert len(starts) >= 2
        else:
            assert len(starts) == 1
    with pytest.raises(ValueError, match="unknown book kind"):
        plan_book(np.random.default_rng(0), "magazine")


def test_manga_book_is_rtl_and_cbz_carries_comic_info(tmp_path):
    book = make_book(5, kind="manga", size=SMALL, story_pages=(3, 4))
    assert book.meta.direction == "rtl"
    records = write_cbz(book, tmp_path / "m.cbz", padded_names=False)
    assert all(r.reading_direction == "rtl" for r in records)
    assert {r.book_id for r in records} == {book_id_for_file(tmp_path / "m.cbz")}
    with zipfile.ZipFile(tmp_path / "m.cbz") as archive:
        names = archive.namelist()
        info = ElementTree.fromstring(archive.read("ComicInfo.xml"))
        assert info.findtext("Manga") == "YesAndRightToLeft"
        assert info.findtext("PageCount") == str(len(records))
        assert names[1:] == [f"page{i + 1}.jpg" for i in range(len(records))]
        for record in records:
            data = archive.read(record.provenance.source_entry)
            assert hashlib.sha256(data).hexdigest() == record.provenance.image_sha256
            assert Image.open(io.BytesIO(data)).size == (record.width, record.height)
    assert [r.page_id for r in records] == [f"{records[0].book_id}/p{i:04d}" for i in range(len(records))]


def test_pdf_has_one_image_page_per_page(tmp_path):
    import pypdfium2

    book = make_book(2, kind="issue", size=SMALL, story_pages=(2, 3))
    records = write_pdf(book, tmp_path / "b.pdf", dpi=150)
    pdf = pypdfium2.PdfDocument(str(tmp_path / "b.pdf"))
    try:
        assert len(pdf) == len(records) == len(book.pages)
        width, height = pdf[0].get_size()
        assert (round(width), round(height)) == (round(SMALL[0] * 72 / 150), round(SMALL[1] * 72 / 150))
        rendered = np.asarray(pdf[1].render(scale=150 / 72).to_pil().convert("RGB")).astype(int)
    finally:
        pdf.close()
    original = np.asarray(book.pages[1].image).astype(int)
    assert rendered.shape == original.shape
    assert np.abs(rendered - original).mean() < 6  # JPEG inside the PDF, then rasterised


def _library_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_library(tmp_path):
    kwargs = dict(books=3, formats=("cbz", "pdf"), size=(400, 600), story_pages=(2, 3), show_progress=False)
    first = make_library(tmp_path / "a", seed=11, **kwargs)
    second = make_library(tmp_path / "b", seed=11, **kwargs)
    other = make_library(tmp_path / "c", seed=12, **kwargs)
    files_a, files_b = _library_bytes(tmp_path / "a"), _library_bytes(tmp_path / "b")
    assert files_a == files_b
    assert any(name.endswith(".pdf") for name in files_a) and any(name.endswith(".cbz") for name in files_a)
    assert [b.book_id for b in first] == [b.book_id for b in second] != [b.book_id for b in other]
    library = json.loads(files_a["library.json"])
    assert [b["kind"] for b in library["books"]] == list(BOOK_KINDS)
    for summary in first:
        truth = read_jsonl(tmp_path / "a" / summary.truth)
        assert len(truth) == summary.pages
        assert {p.book_id for p in truth} == {book_id_for_file(tmp_path / "a" / summary.file)}
        assert all(p.provenance.source_path == summary.file for p in truth)
        assert [p.page_index for p in truth] == list(range(len(truth)))
        assert any(p.story_start for p in truth)


@pytest.mark.parametrize("size", [(106, 160), (160, 240)])
def test_every_page_kind_is_valid_on_small_pages(size):
    from comics_analysis.synth import PAGE_KINDS

    for kind in PAGE_KINDS:
        for seed in range(4):
            page = make_page(seed, page_type=kind, size=size).record  # validation raises if a box is outside
            assert all(t.bbox[1] + t.bbox[3] <= size[1] for t in page.texts)


def test_balloons_across_gutters_leave_the_plain_page_alone_when_off():
    plain = make_page(3, layout="grid", size=SMALL)
    assert make_page(3, layout="grid", size=SMALL, crossing=0).image.tobytes() == plain.image.tobytes()
    crossed = make_page(3, layout="grid", size=SMALL, crossing=2)
    assert crossed.record.panels == plain.record.panels
    assert crossed.image.tobytes() != plain.image.tobytes()
    extra = crossed.record.texts[len(plain.record.texts) :]
    assert crossed.record.texts[: len(plain.record.texts)] == plain.record.texts
    assert 1 <= len(extra) <= 2 and all(t.kind == "dialogue" for t in extra)
    # each balloon straddles a gutter: its text box reaches outside the panel it is assigned to
    for text in extra:
        x, y, w, h = text.bbox
        px, py, pw, ph = crossed.record.panels[text.panel].bbox
        assert x < px or y < py or x + w > px + pw or y + h > py + ph
