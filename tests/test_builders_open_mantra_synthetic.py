"""The open_mantra builder on the real files, and the synthetic generator as a builder."""

import io

import pytest
from PIL import Image

from comics_analysis.dataset_builders import export, load
from comics_analysis.dataspec import from_hf_row, hf_features


def test_open_mantra_real_pages(shared_data, tmp_path):
    ds = load("open_mantra", data_dir=shared_data / "open-mantra", cache_dir=str(tmp_path / "cache"))
    assert list(ds) == ["test"]
    test = ds["test"]
    assert test.features == hf_features()
    assert test.num_rows == 78
    pages = [from_hf_row(row) for row in test.cast_column("image", hf_features(False)["image"])]
    assert sum(len(p.panels) for p in pages) == 385
    assert len({p.book_id for p in pages}) == 2
    assert all(p.reading_direction == "rtl" for p in pages)
    assert any(t.text for p in pages for t in p.texts)
    first = test[0]["image"]
    assert first.size == (pages[0].width, pages[0].height)  # the embedded original, decodable

    english = load(
        "open_mantra", data_dir=shared_data / "open-mantra", config="en", cache_dir=str(tmp_path / "cache")
    )["test"]
    words = " ".join(t["text"] for row in english.select(range(5)) for t in row["texts"])
    assert any(c.isascii() and c.isalpha() for c in words)

    shards = export(
        "open_mantra",
        tmp_path / "om",
        data_dir=shared_data / "open-mantra",
        cache_dir=str(tmp_path / "cache"),
    )
    from datasets import load_dataset

    back = load_dataset(
        "parquet", data_files=[str(s) for s in shards], split="train", cache_dir=str(tmp_path / "c2")
    )
    assert back.num_rows == 78 and back[3]["page_id"] == test[3]["page_id"]
    assert back[3]["panels"] == test[3]["panels"]


def test_open_mantra_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"annotation\.json not found"):
        load("open_mantra", data_dir=tmp_path, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=r"no 'fr' text"):
        load("open_mantra", data_dir=tmp_path, config="fr")


def test_synthetic_pages_builder(tmp_path):
    kwargs = {"n_pages": 13, "size": (300, 450), "seed": 4, "cache_dir": str(tmp_path / "cache")}
    ds = load("synthetic", **kwargs)["train"]
    assert ds.num_rows == 13 and ds.features == hf_features()
    rows = ds.cast_column("image", hf_features(False)["image"])
    pages = [from_hf_row(row) for row in rows]
    types = {p.page_type for p in pages}
    assert "story" in types and len(types) >= 2  # other kinds are represented
    assert {p.reading_direction for p in pages} == {"ltr", "rtl"}
    assert all(p.width == 300 and p.height == 450 for p in pages)
    assert any(p.panels for p in pages) and any(p.texts for p in pages)
    assert Image.open(io.BytesIO(rows[0]["image"]["bytes"])).size == (300, 450)
    again = load("synthetic", **{**kwargs, "cache_dir": str(tmp_path / "other")})["train"]
    assert again.cast_column("image", hf_features(False)["image"])[:] == rows[:]  # reproducible


def test_synthetic_books_builder(tmp_path):
    ds = load(
        "synthetic",
        config="books",
        n_books=3,
        story_pages=(2, 3),
        size=(240, 360),
        cache_dir=str(tmp_path / "cache"),
    )["train"]
    assert ds.num_rows == 3
    assert [row["kind"] for row in ds] == ["issue", "anthology", "manga"]
    for row in ds:
        assert len(row["page_ids"]) == len(row["page_types"]) == len(row["story_start"]) == len(row["images"])
        assert row["page_types"][0] == "cover" and any(row["story_start"])
        assert row["images"][0].size == (240, 360)
    assert ds[2]["reading_direction"] == "rtl"
    with pytest.raises(ValueError, match="unknown synthetic config"):
        load("synthetic", config="panels")
