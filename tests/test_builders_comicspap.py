"""ComicsPAP builder on a fixture written in the Hub's schema and folder layout (no network)."""

import io

import datasets
import pytest
from PIL import Image

from comics_analysis.dataset_builders import load
from comics_analysis.dataset_builders.comicspap import (
    FEATURES,
    PINNED_REVISION,
    SKILLS,
    load_comicspap,
)
from comics_analysis.dataspec import DataSpecError

# The Hub's dataset_info, written out here independently of the package.
HUB_FEATURES = datasets.Features(
    {
        "sample_id": datasets.Value("string"),
        "context": datasets.List(datasets.Image()),
        "options": datasets.List(datasets.Image()),
        "index": datasets.Value("int32"),
        "solution_index": datasets.Value("int32"),
        "split": datasets.Value("string"),
        "task_type": datasets.Value("string"),
        "previous_panel_caption": datasets.Value("string"),
    }
)


def _png(colour: int, size=(24, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (colour, 255 - colour, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def _rows(skill: str, split: str, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        caption = skill == "caption_relevance"
        context = [] if caption else [{"bytes": _png(10 * i + k), "path": None} for k in range(3)]
        rows.append(
            {
                "sample_id": f"{skill[:4]}{split}{i:04d}",
                "context": context,
                "options": [{"bytes": _png(100 + 10 * i + k), "path": None} for k in range(4)],
                "index": -1 if caption else i % 4,
                "solution_index": i % 4 if split == "val" else -1,
                "split": split,
                "task_type": skill,
                "previous_panel_caption": f"caption {i}" if caption else None,
            }
        )
    return rows


def _write(root, skill: str, split: str, rows: list[dict], shards: int = 1):
    folder = root / skill
    folder.mkdir(parents=True, exist_ok=True)
    ds = datasets.Dataset.from_list(rows, features=HUB_FEATURES)
    for s in range(shards):
        ds.shard(shards, s, contiguous=True).to_parquet(
            str(folder / f"{split}-{s:05d}-of-{shards:05d}.parquet")
        )


@pytest.fixture
def pap_dir(tmp_path):
    root = tmp_path / "ComicsPAP"
    for skill in ("sequence_filling", "caption_relevance"):
        _write(root, skill, "val", _rows(skill, "val", 5), shards=2)
        _write(root, skill, "test", _rows(skill, "test", 3))
    return root


def _undecoded(ds):
    features = ds.features.copy()
    for name in ("context", "options"):
        features[name] = datasets.List(datasets.Image(decode=False))
    return ds.cast(features)


def test_schema_is_the_hubs():
    assert FEATURES == HUB_FEATURES
    assert SKILLS == (
        "sequence_filling",
        "char_coherence",
        "visual_closure",
        "text_closure",
        "caption_relevance",
    )
    assert len(PINNED_REVISION) == 40 and int(PINNED_REVISION, 16) >= 0


@pytest.mark.parametrize("skill", ["sequence_filling", "caption_relevance"])
def test_local_parquet_folder_loads_with_identical_rows(pap_dir, skill):
    dd = load_comicspap(skill, data_dir=pap_dir)
    assert set(dd) == {"val", "test"}
    assert (dd["val"].num_rows, dd["test"].num_rows) == (5, 3)
    assert dd["val"].features == HUB_FEATURES
    for split in ("val", "test"):
        files = sorted(str(p) for p in (pap_dir / skill).glob(f"{split}-*.parquet"))
        direct = datasets.load_dataset("parquet", data_files={split: files}, split=split)
        assert _undecoded(dd[split]).to_list() == _undecoded(direct).to_list()
        assert _undecoded(dd[split]).to_list() == [
            {**r, "context": [{"bytes": c["bytes"], "path": None} for c in r["context"]]}
            for r in _rows(skill, split, dd[split].num_rows)
        ]
    row = dd["val"][1]
    assert row["options"][0].size == (24, 16)  # decoded images
    assert len(row["context"]) == (0 if skill == "caption_relevance" else 3)


def test_hidden_labels_may_be_null(tmp_path):
    rows = _rows("visual_closure", "test", 2)
    rows[0]["solution_index"] = None
    _write(tmp_path, "visual_closure", "test", rows)
    assert load_comicspap("visual_closure", data_dir=tmp_path, split="test")["solution_index"] == [None, -1]


def test_load_dispatch_and_single_split(pap_dir):
    val = load("comicspap", data_dir=pap_dir, config="caption_relevance", split="val")
    assert isinstance(val, datasets.Dataset) and val.num_rows == 5
    assert val["index"] == [-1] * 5 and val["previous_panel_caption"][2] == "caption 2"


def test_bad_solution_index_names_file_row_and_field(tmp_path):
    rows = _rows("text_closure", "val", 3)
    rows[2]["solution_index"] = 7
    _write(tmp_path, "text_closure", "val", rows)
    with pytest.raises(DataSpecError) as err:
        load_comicspap("text_closure", data_dir=tmp_path)
    message = str(err.value)
    assert "val-00000-of-00001.parquet" in message and "row 2" in message and "solution_index" in message


def test_bad_index_and_missing_column(tmp_path):
    rows = _rows("char_coherence", "val", 2)
    rows[0]["index"] = 5  # only 3 context panels
    _write(tmp_path, "char_coherence", "val", rows)
    with pytest.raises(DataSpecError, match=r"row 0.*field index|field index.*row 0"):
        load_comicspap("char_coherence", data_dir=tmp_path)
    folder = tmp_path / "visual_closure"
    folder.mkdir()
    datasets.Dataset.from_dict({"sample_id": ["a"]}).to_parquet(str(folder / "val.parquet"))
    with pytest.raises(DataSpecError, match="missing column"):
        load_comicspap("visual_closure", data_dir=tmp_path)


def test_missing_folder_unknown_skill_and_offline_hub(tmp_path):
    with pytest.raises(FileNotFoundError, match="sequence_filling"):
        load_comicspap("sequence_filling", data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown ComicsPAP skill"):
        load_comicspap("panel_sorting", data_dir=tmp_path)
    with pytest.raises(RuntimeError, match="HF_HUB_OFFLINE"):  # conftest sets it: never the network
        load_comicspap("sequence_filling")
