"""CoMix builder: a COCO file in CoMix's unified format over synthetic pages with known truth."""

import json
import random
from collections import Counter

import datasets
import pytest

from comics_analysis.dataset_builders import export, load
from comics_analysis.dataset_builders.comix import FEATURES, load_comix
from comics_analysis.dataspec import DataSpecError, from_hf_row
from comics_analysis.synth import make_page

SIZE = (300, 420)
CATEGORIES = [
    {"id": 1, "name": "panel"},
    {"id": 2, "name": "character"},
    {"id": 3, "name": "balloon"},
    {"id": 4, "name": "text"},
    {"id": 5, "name": "onomatopoeia"},
    {"id": 7, "name": "face"},
    {"id": 6, "name": "link_sbsc"},
]


def _coco_fixture(root, books=("b0ok1", "b0ok2"), pages_per_book=3):
    """Synthetic pages saved as <book>/<n>.jpg plus the COCO val.json CoMix would ship."""
    rng = random.Random(0)
    coco = {"images": [], "annotations": [], "categories": CATEGORIES}
    truth = {}
    for b, book in enumerate(books):
        (root / book).mkdir(parents=True)
        for p in range(pages_per_book):
            page = make_page((b, p), size=SIZE)
            name = f"{book}/{p * 5}.jpg"  # 0, 5, 10: natural order differs from string order
            page.image.save(root / name, quality=90)
            image_id = 100 * b + p
            coco["images"].append({"id": image_id, "file_name": name, "width": SIZE[0], "height": SIZE[1]})
            boxes = [(1, pn.bbox) for pn in page.record.panels]
            boxes += [(5 if t.kind == "sfx" else 4, t.bbox) for t in page.record.texts]
            boxes += [(7 if c.label == "face" else 2, c.bbox) for c in page.record.characters]
            boxes += [(3, t.bbox) for t in page.record.texts if t.kind == "dialogue"]  # a balloon per line
            rng.shuffle(boxes)  # CoMix files carry no reading order
            for category, bbox in boxes:
                coco["annotations"].append(
                    {
                        "id": len(coco["annotations"]) + 1,
                        "image_id": image_id,
                        "category_id": category,
                        "bbox": [round(v, 2) for v in bbox],
                        "area": bbox[2] * bbox[3],
                        "iscrowd": 0,
                    }
                )
            coco["annotations"].append(  # a balloon-character link: not a box, ignored
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": 6,
                    "bbox": [0, 0, 0, 0],
                }
            )
            truth[name] = page.record
    (root / "val.json").write_text(json.dumps(coco))
    return coco, truth


@pytest.fixture
def comix_dir(tmp_path):
    root = tmp_path / "comix"
    coco, truth = _coco_fixture(root)
    return root, coco, truth


def test_pages_carry_the_ground_truth(comix_dir):
    root, _coco, truth = comix_dir
    ds = load_comix(root, split="val")
    assert ds.features == FEATURES and ds.num_rows == 6
    assert ds[1]["provenance"]["source_entry"] == "b0ok1/5.jpg"
    assert ds["page_index"] == [0, 1, 2, 0, 1, 2]
    assert {im.size for im in ds["image"]} == {SIZE}  # decoded pages
    for row in ds.cast_column("image", datasets.Image(decode=False)):
        page = from_hf_row(row)  # a valid DataSpec page
        expected = truth[page.provenance.source_entry]
        assert page.image == page.provenance.source_entry  # relative to the image root
        assert (page.width, page.height) == SIZE
        # Panels come back in reading order, as the synthetic truth has them.
        assert [p.bbox for p in page.panels] == [tuple(round(v, 2) for v in p.bbox) for p in expected.panels]
        assert all(p.source == "gt" for p in page.panels)
        # Texts: CoMix kinds (text -> unknown, onomatopoeia -> sfx), assigned to the true panel.
        assert Counter((t.kind, t.panel, t.bbox) for t in page.texts) == Counter(
            ("sfx" if t.kind == "sfx" else "unknown", t.panel, tuple(round(v, 2) for v in t.bbox))
            for t in expected.texts
        )
        panels = [t.panel for t in page.texts]
        assert panels == sorted(panels, key=lambda k: (k < 0, k))  # panel by panel, outside last
        labels = Counter(c.label for c in page.characters)
        assert labels["character"] == sum(c.label == "character" for c in expected.characters)
        assert labels["face"] == sum(c.label == "face" for c in expected.characters)
        assert labels["balloon"] == sum(t.kind == "dialogue" for t in expected.texts)
    books = sorted(set(ds["book_id"]))
    assert len(books) == 2 and all(b.startswith(("b0ok1-", "b0ok2-")) for b in books)


def test_parquet_round_trip_is_identical(comix_dir, tmp_path):
    root, _coco, _truth = comix_dir
    built = load("comix", data_dir=root)["val"]
    files = export("comix", tmp_path / "parquet", data_dir=root)
    assert [p.name for p in files] == ["val-00000-of-00001.parquet"]
    reloaded = datasets.Dataset.from_parquet(str(files[0]))
    assert reloaded.features == FEATURES
    undecoded = FEATURES.copy()
    undecoded["image"] = datasets.Image(decode=False)
    rows = built.cast(undecoded).to_list()
    assert reloaded.cast(undecoded).to_list() == rows
    assert rows[0]["image"]["path"] == "b0ok1/0.jpg"
    assert rows[0]["image"]["bytes"] == (root / "b0ok1" / "0.jpg").read_bytes()


def test_rtl_reading_direction_reorders_panels(comix_dir):
    root, _coco, _truth = comix_dir
    ltr = load_comix(root, split="val")
    rtl = load_comix(root, split="val", reading_direction="rtl")
    assert set(rtl["reading_direction"]) == {"rtl"}
    for a, b in zip(ltr["panels"], rtl["panels"], strict=True):
        assert sorted(map(tuple, (p["bbox"] for p in a))) == sorted(map(tuple, (p["bbox"] for p in b)))
    assert ltr["panels"] != rtl["panels"]


def test_missing_images_error_or_label_only(comix_dir):
    root, _coco, _truth = comix_dir
    (root / "b0ok2" / "5.jpg").unlink()
    with pytest.raises(DataSpecError) as err:
        load_comix(root)
    assert "val.json" in str(err.value) and "b0ok2/5.jpg" in str(err.value) and "/p0001" in str(err.value)
    ds = load_comix(root, require_images=False, split="val")
    assert ds[4]["image"] is None and ds[4]["provenance"]["source_entry"] == "b0ok2/5.jpg"
    assert ds[3]["image"] is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c["annotations"][3].update(category_id=9), "annotations[3].category_id"),
        (lambda c: c["annotations"][4].update(bbox=[1, 2, 3]), "annotations[4].bbox"),
        (lambda c: c["annotations"][5].update(image_id=12345), "annotations[5].image_id"),
        (lambda c: c["images"][1].update(width=0), "images[1].width"),
    ],
)
def test_bad_annotations_name_file_and_field(comix_dir, change, field):
    root, coco, _truth = comix_dir
    change(coco)
    (root / "val.json").write_text(json.dumps(coco))
    with pytest.raises(DataSpecError) as err:
        load_comix(root)
    assert "val.json" in str(err.value) and f"field {field}" in str(err.value)
