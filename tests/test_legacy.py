"""Converters from DataSpec v0.3 and OpenMantra into v1."""

import json

import pytest
from PIL import Image

from comics_analysis.dataspec import (
    DataSpecError,
    load_legacy_v03,
    page_from_legacy_v03,
    pages_from_openmantra,
)

BOOK = "old-book-12345678"


@pytest.fixture
def legacy_file(tmp_path):
    (tmp_path / "images" / "book").mkdir(parents=True)
    Image.new("RGB", (1000, 1500), "white").save(tmp_path / "images" / "book" / "p001.jpg")
    record = {
        "page_image_path": "images/book/p001.jpg",
        "panels": [
            {
                "panel_coords": [520, 40, 440, 600],
                "order_index": 1,
                "text": {"dialogue": ["Where now?"], "narration": [], "sfx": ["BLAM", "  "]},
            },
            {
                "panel_coords": [40, 40, 440, 600],
                "order_index": 0,
                "text": {"dialogue": [], "narration": ["Meanwhile..."], "sfx": []},
            },
            {"panel_coords": [40, 700, 940, 1000], "order_index": 2, "text": {}},
        ],
    }
    path = tmp_path / "p001.json"
    path.write_text(json.dumps(record))
    return path


def test_legacy_v03_to_v1_keeps_boxes_text_and_order(legacy_file):
    page = load_legacy_v03(legacy_file, book_id=BOOK, page_index=0, image_root=legacy_file.parent)
    assert (page.width, page.height) == (1000, 1500)
    assert page.image == "images/book/p001.jpg"
    assert [p.bbox for p in page.panels] == [
        (40.0, 40.0, 440.0, 600.0),
        (520.0, 40.0, 440.0, 600.0),
        (40.0, 700.0, 940.0, 800.0),
    ]  # last one clamped to the page
    assert [p.order for p in page.panels] == [0, 1, 2]
    assert page.panels[0].text.narration == ["Meanwhile..."]
    assert page.panels[1].text.dialogue == ["Where now?"] and page.panels[1].text.sfx == ["BLAM"]
    assert page.panels[2].text.all() == []
    assert all(p.source == "detector" for p in page.panels)
    assert "legacy:v0.3" in page.quality.flags and "clamped:panels[2].bbox" in page.quality.flags
    assert page.page_id == f"{BOOK}/p0000"


def test_legacy_v03_errors_name_the_problem(legacy_file, tmp_path):
    record = json.loads(legacy_file.read_text())
    with pytest.raises(DataSpecError, match="page size") as info:
        page_from_legacy_v03(record, book_id=BOOK, page_index=0)
    assert info.value.field == "size"
    record["panels"][0]["panel_coords"] = [1, 2, 3]
    with pytest.raises(DataSpecError) as info:
        page_from_legacy_v03(record, book_id=BOOK, page_index=0, size=(1000, 1500))
    assert info.value.field == "panels[0].panel_coords"
    record["page_image_path"] = "E:\\CalibreComics\\x\\p001.jpg"
    with pytest.raises(DataSpecError, match="not under image_root"):
        page_from_legacy_v03(record, book_id=BOOK, page_index=0, size=(1000, 1500))
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"page_image_path": "nope.jpg", "panels": []}))
    with pytest.raises(DataSpecError, match="image not found") as info:
        load_legacy_v03(missing, book_id=BOOK, page_index=0, image_root=tmp_path)
    assert str(missing) in str(info.value)


def test_openmantra_real_annotation(shared_data):
    pages = pages_from_openmantra(shared_data / "open-mantra" / "annotation.json")
    assert len(pages) == 78
    assert sum(len(p.panels) for p in pages) == 385
    assert {p.book_id.rsplit("-", 1)[0] for p in pages} == {"balloon-dream", "tencho-isoro"}
    assert all(p.reading_direction == "rtl" for p in pages)
    first = pages[0]
    assert (first.width, first.height) == (830, 1170)
    assert first.panels[0].bbox == (80.0, 63.0, 671.0, 525.0)
    assert (
        first.texts[0].text == "夢の翼は" and first.texts[0].panel == 0 and first.texts[0].kind == "dialogue"
    )
    assert first.panels[0].text.dialogue[0] == "夢の翼は"
    # Every text assigned to a panel mostly lies inside it.
    for page in pages:
        for text in page.texts:
            if text.panel >= 0:
                px, py, pw, ph = page.panels[text.panel].bbox
                x, y, w, h = text.bbox
                inter = max(0, min(x + w, px + pw) - max(x, px)) * max(0, min(y + h, py + ph) - max(y, py))
                assert inter >= 0.5 * w * h
    english = pages_from_openmantra(
        shared_data / "open-mantra" / "annotation.json", lang="en", image_lang="ja"
    )
    assert english[0].texts[0].text == "the wings of dreams,"
    assert [p.page_id for p in english] == [p.page_id for p in pages]
    with pytest.raises(DataSpecError, match="no image for language 'en'"):
        pages_from_openmantra(shared_data / "open-mantra" / "annotation.json", lang="en")
