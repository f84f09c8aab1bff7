"""CoSMo PSS builder: the real split files (labels only), a small fixture with images, the taxonomy."""

import json
from collections import Counter

import datasets
import pytest
from PIL import Image

from comics_analysis.dataset_builders import export, load
from comics_analysis.dataset_builders.cosmo_pss import (
    FEATURES,
    UNLABELLED,
    book_counts,
    book_labels,
    counts_markdown,
    load_cosmo_pss,
    page_counts,
    story_start_counts,
)
from comics_analysis.dataspec import PAGE_TYPES, DataSpecError
from comics_analysis.dataspec.taxonomy import (
    COSMO5_LABELS,
    COSMO_V4_LABELS,
    FROM_COSMO5,
    FROM_COSMO_V4,
    TO_COSMO5,
    TO_COSMO_V4,
    collapse,
    cosmo_cover_type,
    expand,
)


@pytest.fixture(scope="module")
def cosmo_dir(shared_data):
    return shared_data / "cosmo-pss-splits"


@pytest.fixture(scope="module")
def cosmo(cosmo_dir, tmp_path_factory):
    return load_cosmo_pss(cosmo_dir, cache_dir=str(tmp_path_factory.mktemp("hf-datasets")))


def test_real_splits_book_counts(cosmo, cosmo_dir):
    assert [(split, ds.num_rows) for split, ds in cosmo.items()] == [
        ("train", 301),
        ("val", 43),
        ("test", 87),
    ]
    assert book_counts(cosmo_dir) == {"train": 301, "val": 43, "test": 87}
    assert cosmo["train"].features == FEATURES
    ids = [i for ds in cosmo.values() for i in ds["book_id"]]
    assert len(ids) == len(set(ids)) == 431  # no book in two splits


def test_real_splits_page_counts_match_rows(cosmo, cosmo_dir):
    counts = page_counts(cosmo_dir)
    cosmo5 = page_counts(cosmo_dir, "cosmo5")
    for split, ds in cosmo.items():
        recomputed, recomputed5 = Counter(), Counter()
        for row in ds:
            assert (
                len(row["page_ids"]) == len(row["page_types"]) == len(row["story_start"]) == row["num_pages"]
            )
            assert row["images"] == []  # labels only
            for page_type, start, label in zip(
                row["page_types"], row["story_start"], row["cosmo_labels"], strict=True
            ):
                recomputed[page_type or UNLABELLED] += 1
                recomputed5[label or UNLABELLED] += 1
                assert label == collapse(page_type, start, "cosmo5")
                assert not start or page_type == "story"
        assert counts[split] == {k: recomputed.get(k, 0) for k in (*PAGE_TYPES, UNLABELLED)}
        assert cosmo5[split] == {k: recomputed5.get(k, 0) for k in (*COSMO5_LABELS, UNLABELLED)}
        assert sum(counts[split].values()) == sum(ds["num_pages"])
        assert story_start_counts(cosmo_dir)[split] == sum(sum(s) for s in ds["story_start"])
    # Every CoSMo category is represented; the taxonomy classes CoSMo does not label stay empty.
    total = Counter()
    for split_counts in counts.values():
        total.update(split_counts)
    assert min(total[k] for k in ("cover", "story", "advertisement", "text_backmatter", "back_cover")) > 0
    assert total["preview"] == total["credits_indicia"] == total["art_backmatter"] == total["other"] == 0


def test_real_splits_report_the_two_inverted_ranges(cosmo):
    skipped = [
        (row["book_id"], issue)
        for ds in cosmo.values()
        for row in ds
        for issue in row["label_issues"]
        if issue.endswith("skipped")
    ]
    assert len(skipped) == 2
    assert all("page_end" in issue and "< page_start" in issue for _, issue in skipped)


def _book(hash_code="0123abcd", title="Test Comics 001"):
    return {
        "id": 7,
        "dlid": "99",
        "hash_code": hash_code,
        "title": title,
        "subdb": "comics",
        "split": "new",
        "covers": [{"id": 1, "title": "Front", "page_start": 0, "page_end": 0}],
        "stories": [
            {"id": 2, "story_id": "99_1", "title": "The Start", "page_start": 1, "page_end": 4},
            {"id": 3, "story_id": "99_2", "title": "The Start continue", "page_start": 6, "page_end": 7},
            {"id": 4, "story_id": "99_3", "title": "Second", "page_start": 8, "page_end": 9},
        ],
        "textstories": [{"id": 5, "title": "Prose", "page_start": 10, "page_end": 11}],
        "advertisements": [{"id": 6, "title": "Ad", "page_start": 4, "page_end": 5}],
    }


def test_book_labels_precedence_continuation_and_covers():
    labels = book_labels(_book())
    assert labels["num_pages"] == 12
    assert labels["page_types"] == [
        "cover",
        "story",
        "story",
        "story",
        "advertisement",  # the ad range overrides the story's last page
        "advertisement",
        "story",
        "story",
        "story",
        "story",
        "text_backmatter",
        "text_backmatter",
    ]
    assert [i for i, s in enumerate(labels["story_start"]) if s] == [1, 8]  # "continue" starts nothing
    assert labels["cosmo_labels"][:2] == ["cover", "first-page"] and labels["cosmo_labels"][10] == "textstory"
    assert labels["label_issues"] == ["page 4: advertisements[0] overrides stories[0]"]
    # With 14 images the two last pages are unlabelled.
    assert book_labels(_book(), num_pages=14)["page_types"][12:] == [None, None]


def test_images_joined_from_folder_and_parquet_round_trip(tmp_path):
    data = tmp_path / "splits"
    data.mkdir()
    (data / "comics_train.json").write_text(json.dumps([_book(), _book("feedbeef", "Other 002")]))
    (data / "comics_test.json").write_text(json.dumps([_book("00ff00ff", "Third")]))
    pages = tmp_path / "pages" / "0123abcd"
    pages.mkdir(parents=True)
    for i in range(13):  # natural order: 2.jpg before 10.jpg
        Image.new("RGB", (30 + i, 40), (i * 10, 0, 0)).save(pages / f"{i}.jpg")
    dd = load("cosmo_pss", data_dir=data, image_dir=tmp_path / "pages")
    row = dd["train"][0]
    assert row["num_pages"] == 13 and len(row["images"]) == 13
    assert [im.size[0] for im in row["images"]] == [30 + i for i in range(13)]
    assert row["page_types"][12] is None and row["page_ids"][12] == "test-comics-001-0123abcd/p0012"
    assert dd["train"][1]["images"] == [] and dd["train"][1]["num_pages"] == 12  # no folder: labels only

    files = export("cosmo_pss", tmp_path / "parquet", data_dir=data, image_dir=tmp_path / "pages")
    assert sorted(p.name for p in files) == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]
    train = tmp_path / "parquet" / "train-00000-of-00001.parquet"
    reloaded = datasets.load_dataset("parquet", data_files={"train": str(train)}, split="train")
    undecoded = FEATURES.copy()
    undecoded["images"] = datasets.List(datasets.Image(decode=False))
    assert reloaded.features == FEATURES
    expected = dd["train"].cast(undecoded).to_list()
    assert reloaded.cast(undecoded).to_list() == expected
    assert expected[0]["images"][2]["path"] == "0123abcd/2.jpg"
    assert expected[0]["images"][2]["bytes"] == (pages / "2.jpg").read_bytes()


def test_bad_range_names_file_book_and_field(tmp_path):
    (tmp_path / "splits").mkdir()
    book = _book()
    book["stories"][1]["page_start"] = -3
    (tmp_path / "comics_val.json").write_text(json.dumps([_book("aaaabbbb"), book]))
    with pytest.raises(DataSpecError) as err:
        load_cosmo_pss(tmp_path)
    assert "comics_val.json" in str(err.value) and "[1].stories[1].page_start" in str(err.value)
    with pytest.raises(FileNotFoundError, match=r"comics_<split>\.json"):
        load_cosmo_pss(tmp_path / "splits")


def test_taxonomy_maps_are_complete_and_consistent():
    assert set(TO_COSMO5) == set(TO_COSMO_V4) == set(PAGE_TYPES)
    assert set(v for v in TO_COSMO5.values() if v) <= set(COSMO5_LABELS)
    assert set(v for v in TO_COSMO_V4.values() if v) <= set(COSMO_V4_LABELS)
    assert set(FROM_COSMO5) == set(COSMO5_LABELS) and set(FROM_COSMO_V4) == set(COSMO_V4_LABELS)
    for label in COSMO5_LABELS:  # 5-class labels survive expand -> collapse
        assert collapse(*expand(label), scheme="cosmo5") == label
    for label in ("credits", "art", "back_cover", "advertisement", "first-page"):
        assert collapse(*expand(label, "cosmo_v4"), scheme="cosmo_v4") == label
    assert collapse(None) is None and collapse("story", True, "ours") == "story"
    with pytest.raises(ValueError, match="unknown page type"):
        collapse("splash")
    assert cosmo_cover_type("Front", 0, 0, 51) == "cover"
    assert cosmo_cover_type("Back", 50, 50, 51) == "back_cover"
    assert cosmo_cover_type("Amazing Man Comics", 51, 51, 51) == "back_cover"
    assert cosmo_cover_type("Amazing Man Comics", 13, 13, 51) == "cover_internal"


def test_counts_table_for_the_card(cosmo, cosmo_dir):
    table = counts_markdown(page_counts(cosmo_dir))
    lines = table.splitlines()
    assert lines[0] == "| label | train | val | test | total |"
    total = sum(sum(ds["num_pages"]) for ds in cosmo.values())
    assert lines[-1].startswith("| total |") and lines[-1].endswith(f"| {total:,} |")
    assert len(lines) == 2 + len(PAGE_TYPES) + 2  # header, rule, labels, unlabelled, total


def test_export_writes_a_card_with_the_counts_and_reloads(cosmo, cosmo_dir, tmp_path):
    out = tmp_path / "cosmo"
    shards = export("cosmo_pss", out, data_dir=cosmo_dir, cache_dir=str(tmp_path / "cache"))
    card = (out / "README.md").read_text()
    assert counts_markdown(page_counts(cosmo_dir)) in card
    assert counts_markdown(page_counts(cosmo_dir, "cosmo5")) in card
    assert "| train | 301 |" in card and "| val | 43 |" in card and "| test | 87 |" in card
    assert len(shards) == 3
    reloaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "c2"))
    assert {split: ds.num_rows for split, ds in reloaded.items()} == {"train": 301, "val": 43, "test": 87}
    assert reloaded["test"]["page_types"] == cosmo["test"]["page_types"]
