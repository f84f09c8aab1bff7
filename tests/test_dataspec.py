"""DataSpec v1: validation errors name page and field; JSON, JSONL and datasets round trips."""

import json

import pytest

from comics_analysis.dataspec import (
    DataSpecError,
    Page,
    dumps_compact,
    from_hf_row,
    hf_features,
    read_json,
    read_jsonl,
    read_pages,
    to_hf_row,
    write_json,
    write_jsonl,
)

BOOK = "test-book-0badc0de"


def page_dict(**overrides):
    data = {
        "page_id": f"{BOOK}/p0003",
        "book_id": BOOK,
        "page_index": 3,
        "image": "pages/p3.png",
        "width": 800,
        "height": 1200,
        "reading_direction": "rtl",
        "panels": [
            {
                "bbox": [10, 10, 380, 500],
                "score": 0.9,
                "source": "detector",
                "order": 0,
                "text": {"dialogue": ["Hello there."], "narration": [], "sfx": []},
                "description": "A man waves.",
                "characters": ["Bob"],
            },
            {"bbox": [410, 10, 380, 500], "score": 0.8, "source": "detector", "order": 1},
        ],
        "texts": [
            {
                "bbox": [20, 20, 100, 40],
                "text": "Hello there.",
                "kind": "dialogue",
                "panel": 0,
                "score": 0.95,
                "source": "ocr",
                "polygon": [[15, 15], [125, 15], [125, 65], [15, 65]],  # the balloon's outline
            },
            {  # a record without a polygon (written before the field existed) still loads
                "bbox": [300, 1100, 200, 50],
                "text": "THE END",
                "kind": "unknown",
                "panel": -1,
                "source": "ocr",
            },
            {"bbox": [390, 1160, 20, 20], "text": "12", "kind": "page_number", "panel": -1, "source": "ocr"},
        ],
        "characters": [
            {"bbox": [30, 100, 80, 300], "label": "character", "score": 0.7, "source": "detector"}
        ],
        "page_type": "story",
        "story_start": False,
        "summary": "Bob greets someone.",
        "quality": {
            "detector_panels": 2,
            "vlm_panels": 2,
            "match_kind": "aligned",
            "matched": 2,
            "mean_iou": 0.83,
            "matches": [{"detector": 0, "vlm": 0, "iou": 0.8}],
            "flags": [],
        },
        "provenance": {
            "source_path": "books/x.cbz",
            "source_entry": "p3.png",
            "detector": "classical",
            "detector_version": "0.1.0",
            "created_utc": "2026-11-24T00:00:00Z",
        },
    }
    data.update(overrides)
    return data


def test_valid_page_keeps_every_field():
    page = Page.from_dict(page_dict())
    assert page.schema_version == "1.0"
    assert page.panels[0].text.dialogue == ["Hello there."]
    assert page.panels[1].text.all() == []
    assert page.panel_texts(0) == ["Hello there."]
    assert page.quality.matches[0].iou == 0.8
    assert page.quality.flags == []
    assert page.texts[0].polygon == [(15.0, 15.0), (125.0, 15.0), (125.0, 65.0), (15.0, 65.0)]
    assert page.texts[1].polygon is None and page.texts[2].kind == "page_number"


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda d: d["panels"][1].update(bbox=[10, 10, -5, 40]), "panels[1].bbox", "w >= 1"),
        (lambda d: d["texts"][0].update(bbox=[10, 10, 30, 0.5]), "texts[0].bbox", "h >= 1"),
        (
            lambda d: d["panels"][0].update(bbox=[900, 10, 50, 50]),
            "panels[0].bbox",
            "outside the 800x1200 page",
        ),
        (lambda d: d["characters"][0].update(bbox=[-100, -100, 50, 50]), "characters[0].bbox", "outside"),
        (lambda d: d["texts"][0].update(kind="speech"), "texts[0].kind", "'dialogue'"),
        (lambda d: d["panels"][0].update(source="magic"), "panels[0].source", "'detector'"),
        (lambda d: d.pop("width"), "width", "required field is missing"),
        (lambda d: d["texts"][1].pop("text"), "texts[1].text", "required field is missing"),
        (lambda d: d.update(page_id=f"{BOOK}/p0004"), "page_id", "does not match"),
        (lambda d: d.update(book_id="Bad Book", page_id="Bad Book/p0003"), "book_id", "not a slug"),
        (lambda d: d.update(page_type="splash"), "page_type", "unknown page type"),
        (lambda d: d["panels"][1].update(order=0), "panels[1].order", "reading order"),
        (lambda d: d["texts"][0].update(panel=5), "texts[0].panel", "not -1 or a panel index"),
        (lambda d: d.update(reading_direction="ttb"), "reading_direction", "'ltr' or 'rtl'"),
        (lambda d: d.update(extra_field=1), "extra_field", "Extra inputs"),
        (lambda d: d["texts"][0].update(polygon=[[1, 1], [5, 5]]), "texts[0].polygon", "3 or more points"),
    ],
)
def test_invalid_records_name_page_and_field(mutate, field, reason):
    data = page_dict()
    mutate(data)
    with pytest.raises(DataSpecError) as info:
        Page.from_dict(data)
    error = info.value
    assert error.field == field
    assert reason in error.reason
    assert error.page_id == data["page_id"]
    assert f"page {data['page_id']}" in str(error) and f"field {field}" in str(error)


def test_partly_outside_box_is_clamped_and_flagged():
    data = page_dict()
    data["panels"][1]["bbox"] = [700, -20, 200, 300]
    page = Page.from_dict(data)
    assert page.panels[1].bbox == (700.0, 0.0, 100.0, 280.0)
    assert page.quality.flags == ["clamped:panels[1].bbox"]
    data["texts"][0]["polygon"] = [[-5, 10], [50, 10], [50, 1300]]
    assert Page.from_dict(data).texts[0].polygon == [(0.0, 10.0), (50.0, 10.0), (50.0, 1200.0)]
    assert Page.from_dict(data).quality.flags[-1] == "clamped:texts[0].polygon"
    again = Page.from_json(page.to_json())  # already inside: no second flag, same box
    assert again == page


def test_json_round_trip(tmp_path):
    page = Page.from_dict(page_dict())
    assert Page.from_json(page.to_json()) == page
    write_json(page, tmp_path / "p.json")
    assert read_json(tmp_path / "p.json") == page
    assert json.loads((tmp_path / "p.json").read_text())["panels"][0]["bbox"] == [10.0, 10.0, 380.0, 500.0]


def test_jsonl_round_trip_and_folder_reading(tmp_path):
    pages = [Page.from_dict(page_dict()), Page.from_dict(page_dict(page_id=f"{BOOK}/p0004", page_index=4))]
    assert write_jsonl(pages, tmp_path / "book.jsonl") == 2
    assert read_jsonl(tmp_path / "book.jsonl") == pages
    write_json(pages[0], tmp_path / "single.json")
    assert [p.page_id for p in read_pages(tmp_path)] == [pages[0].page_id, pages[1].page_id, pages[0].page_id]
    assert dumps_compact(pages[0]) == dumps_compact(read_jsonl(tmp_path / "book.jsonl")[0])


def test_jsonl_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = Page.from_dict(page_dict()).to_json()
    bad = page_dict(page_index=4, page_id=f"{BOOK}/p0004")
    bad["texts"][0]["kind"] = "whisper"
    path.write_text(good + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataSpecError) as info:
        read_jsonl(path)
    assert info.value.line == 3
    assert f"{path}:3" in str(info.value)
    assert "texts[0].kind" in str(info.value)
    path.write_text("{not json\n")
    with pytest.raises(DataSpecError, match="invalid JSON"):
        read_jsonl(path)


def test_failed_write_keeps_the_existing_file(tmp_path):
    path = tmp_path / "book.jsonl"
    pages = [Page.from_dict(page_dict())]
    write_jsonl(pages, path)
    before = path.read_bytes()
    with pytest.raises(DataSpecError, match="not a Page"):
        write_jsonl([pages[0], {"page_id": "x"}], path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["book.jsonl"]  # no temp file left behind


def test_datasets_row_round_trip_through_parquet(tmp_path):
    from datasets import Dataset, load_dataset
    from PIL import Image

    root = tmp_path / "root"
    (root / "pages").mkdir(parents=True)
    Image.new("RGB", (800, 1200), (200, 10, 10)).save(root / "pages" / "p3.png")
    pages = [
        Page.from_dict(page_dict()),
        Page.from_dict(
            page_dict(
                page_id=f"{BOOK}/p0004",
                page_index=4,
                image=None,
                page_type=None,
                story_start=None,
                panels=[],
                texts=[],
                characters=[],
                summary=None,
            )
        ),
    ]
    features = hf_features()
    rows = [to_hf_row(p, image_root=root, embed_image=p.image is not None) for p in pages]
    dataset = Dataset.from_list(rows, features=features)
    assert dataset.features == features
    dataset.to_parquet(str(tmp_path / "pages.parquet"))

    reloaded = load_dataset(
        "parquet",
        data_files=str(tmp_path / "pages.parquet"),
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    assert reloaded.features == features
    undecoded = reloaded.cast_column("image", hf_features(decode_images=False)["image"])
    back = [from_hf_row(row) for row in undecoded]
    assert back == pages
    first = reloaded[0]["image"]
    assert first.size == (800, 1200) and first.getpixel((5, 5)) == (200, 10, 10)
    with pytest.raises(ValueError, match="image_root"):
        to_hf_row(pages[0], embed_image=True)


def test_validate_files_checks_each_file_and_keeps_going(tmp_path):
    from comics_analysis.dataspec import page_summary_text, validate_files

    good = Page.from_dict(page_dict())
    clamped = page_dict(page_id=f"{BOOK}/p0004", page_index=4)
    clamped["panels"][1]["bbox"] = [700, -20, 200, 300]
    write_jsonl([good, Page.from_dict(clamped)], tmp_path / "good.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"page_id": "a-1/p0000", "book_id": "a-1", "page_index": 0}\n')
    report = validate_files([tmp_path / "bad.jsonl", tmp_path / "good.jsonl", tmp_path / "missing.json"])
    assert [f.ok for f in report.files] == [False, True, False] and report.failed == 2
    assert report.files[0].line().startswith(f"INVALID {tmp_path / 'bad.jsonl'}:1")
    assert report.files[1].line() == f"ok {tmp_path / 'good.jsonl'}: 2 pages (1 with clamped boxes)"
    assert report.files[2].line().startswith("INVALID ")
    assert [p.page_id for p in report.pages] == [f"{BOOK}/p0003", f"{BOOK}/p0004"]
    assert report.summary_text() == page_summary_text(report.pages)
    assert validate_files([]).failed == 0
