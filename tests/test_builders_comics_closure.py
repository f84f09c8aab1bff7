"""COMICS text cloze builder: the real dev-easy fold and small hand-made folds."""

import csv

import datasets
import pytest

from comics_analysis.dataset_builders import load
from comics_analysis.dataset_builders.comics_closure import FEATURES, load_comics_closure
from comics_analysis.dataspec import DataSpecError

HEADER = (
    "book_id,page_id,answer_panel_id,context_panel_0_id,context_panel_1_id,context_panel_2_id,"
    + ",".join(f"context_text_{i}_{j}" for i in range(3) for j in range(3))
    + ",answer_candidate_0_text,answer_candidate_1_text,answer_candidate_2_text,correct_answer"
)


def _line(answer="1", book="7"):
    return f'{book},3,4,1,2,3,"hi , there",second box,,,,,last,,,cand a,"cand, b",cand c,{answer}'


@pytest.fixture(scope="module")
def real(shared_data, tmp_path_factory):
    return load_comics_closure(
        shared_data / "comics-closure", cache_dir=str(tmp_path_factory.mktemp("hf-datasets"))
    )


def test_real_dev_easy_fold(real, shared_data):
    assert list(real) == ["dev"]
    dev = real["dev"]
    assert dev.num_rows == 10_092 and dev.features == FEATURES
    with open(shared_data / "comics-closure" / "text_cloze_dev_easy.csv", encoding="utf-8", newline="") as f:
        raw = list(csv.DictReader(f))
    assert len(raw) == dev.num_rows
    for i in (0, 5_000, 10_091):  # rows read back field for field
        row, line = dev[i], raw[i]
        assert (
            row["row"] == i
            and row["book_id"] == int(line["book_id"])
            and row["page_id"] == int(line["page_id"])
        )
        assert row["candidates"] == [line[f"answer_candidate_{k}_text"] for k in range(3)]
        assert row["context_texts"] == [
            [line[f"context_text_{p}_{j}"] for j in range(3) if line[f"context_text_{p}_{j}"].strip()]
            for p in range(3)
        ]
        assert row["answer"] == int(line["correct_answer"])
    assert sorted(set(dev["answer"])) == [0, 1, 2]
    assert all(len(c) == 3 for c in dev["candidates"]) and all(len(c) == 3 for c in dev["context_texts"])


def test_splits_difficulties_and_parquet_round_trip(tmp_path):
    (tmp_path / "text_cloze_dev_hard.csv").write_text("\n".join([HEADER, _line("0"), _line("2", "8")]) + "\n")
    (tmp_path / "text_cloze_test_hard.csv").write_text("\n".join([HEADER, _line("1")]) + "\n")
    (tmp_path / "text_cloze_dev_easy.csv").write_text("\n".join([HEADER, _line()]) + "\n")
    hard = load("comics_closure", data_dir=tmp_path, config="hard")
    assert {s: d.num_rows for s, d in hard.items()} == {"dev": 2, "test": 1}
    assert hard["dev"][0] == {
        "row": 0,
        "book_id": 7,
        "page_id": 3,
        "answer_panel_id": 4,
        "context_panel_ids": [1, 2, 3],
        "context_texts": [["hi , there", "second box"], [], ["last"]],
        "candidates": ["cand a", "cand, b", "cand c"],
        "answer": 0,
    }
    assert load_comics_closure(tmp_path, "easy", split="dev").num_rows == 1
    path = tmp_path / "out" / "dev.parquet"
    hard["dev"].to_parquet(str(path))
    reloaded = datasets.load_dataset("parquet", data_files={"dev": str(path)}, split="dev")
    assert reloaded.features == FEATURES and reloaded.to_list() == hard["dev"].to_list()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [HEADER, _line(), _line("3")],
            r"text_cloze_dev_easy\.csv:3: field correct_answer: 3 is not a candidate",
        ),
        ([HEADER, _line(book="seven")], r"text_cloze_dev_easy\.csv:2: field book_id: expected an integer"),
        (
            [HEADER.replace(",correct_answer", ""), "1"],
            r"text_cloze_dev_easy\.csv:1: missing column\(s\) correct_answer",
        ),
        ([HEADER, _line() + ",extra"], r"text_cloze_dev_easy\.csv:2: row has more fields"),
        ([HEADER, "1,2,3"], r"text_cloze_dev_easy\.csv:2: row has fewer fields"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, lines, message):
    (tmp_path / "text_cloze_dev_easy.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataSpecError, match=message):
        load_comics_closure(tmp_path)


def test_no_fold_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"text_cloze_<split>_easy\.csv"):
        load_comics_closure(tmp_path)
    with pytest.raises(ValueError, match="difficulty"):
        load_comics_closure(tmp_path, "medium")


def test_edited_input_is_rebuilt_not_served_from_cache(tmp_path):
    path = tmp_path / "text_cloze_dev_easy.csv"
    path.write_text("\n".join([HEADER, _line("1")]) + "\n")
    assert load_comics_closure(tmp_path, split="dev")["answer"] == [1]
    path.write_text("\n".join([HEADER, _line("2"), _line("0")]) + "\n")
    assert load_comics_closure(tmp_path, split="dev")["answer"] == [2, 0]
