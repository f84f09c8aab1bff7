"""COMICS text cloze (Iyyer et al., CVPR 2017; miyyer/comics ``folds/``) as a ``datasets`` builder.

Input: a folder of the fold CSV files ``text_cloze_{split}_{difficulty}.csv`` (split: train, dev,
test; difficulty: easy, hard). Configs are the difficulties; splits are the files present.
CSV columns: ``book_id, page_id, answer_panel_id, context_panel_{0..2}_id,
context_text_{i}_{j}`` (OCR text of box j of context panel i, empty when the panel has fewer
boxes), ``answer_candidate_{0..2}_text, correct_answer`` (0-based).

Row schema (:data:`FEATURES`):

=================  ======================  ==================================================
row                int32                   0-based data row of the CSV (header excluded)
book_id            int32                   COMICS book id
page_id            int32                   page number within the book (COMICS numbering)
answer_panel_id    int32                   panel whose text is to be picked
context_panel_ids  list[int32]             the context panels, in reading order
context_texts      list[list[string]]      per context panel, its non-empty text boxes in order
candidates         list[string]            candidate texts for the answer panel
answer             int32                   index of the right candidate in ``candidates``
=================  ======================  ==================================================

Metric: accuracy (random: 1 / number of candidates). Errors name the file, line and column.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import datasets

from ..dataspec import DataSpecError
from ._common import build, split_key

FILE_PATTERN = re.compile(r"^text_cloze_(?P<split>[a-z]+)_(?P<difficulty>easy|hard)\.csv$")
DIFFICULTIES = ("easy", "hard")
N_CONTEXT = 3
N_CANDIDATES = 3

FEATURES = datasets.Features(
    {
        "row": datasets.Value("int32"),
        "book_id": datasets.Value("int32"),
        "page_id": datasets.Value("int32"),
        "answer_panel_id": datasets.Value("int32"),
        "context_panel_ids": datasets.List(datasets.Value("int32")),
        "context_texts": datasets.List(datasets.List(datasets.Value("string"))),
        "candidates": datasets.List(datasets.Value("string")),
        "answer": datasets.Value("int32"),
    }
)

_CITATION = """@inproceedings{iyyer2017amazing,
  title={The Amazing Mysteries of the Gutter: Drawing Inferences Between Panels in Comic Book Narratives},
  author={Iyyer, Mohit and Manjunatha, Varun and Guha, Anupam and Vyas, Yogarshi and Boyd-Graber, Jordan
          and Daum{\\'e} III, Hal and Davis, Larry},
  booktitle={CVPR}, year={2017}}"""


def fold_files(data_dir: str | Path, difficulty: str) -> dict[str, Path]:
    """``{split: csv path}`` of one difficulty in ``data_dir``."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"unknown COMICS cloze difficulty {difficulty!r}; expected one of {DIFFICULTIES}")
    found = {}
    for path in sorted(Path(data_dir).iterdir()):
        match = FILE_PATTERN.match(path.name)
        if match and match["difficulty"] == difficulty:
            found[match["split"]] = path
    return {split: found[split] for split in sorted(found, key=split_key)}


def _integer(raw: dict, file: str, line: int, column: str) -> int:
    value = raw.get(column)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DataSpecError(
            f"expected an integer, got {value!r}", field=column, file=file, line=line
        ) from None


def _required_columns() -> list[str]:
    columns = ["book_id", "page_id", "answer_panel_id"]
    columns += [f"context_panel_{i}_id" for i in range(N_CONTEXT)]
    columns += [f"context_text_{i}_{j}" for i in range(N_CONTEXT) for j in range(3)]
    columns += [f"answer_candidate_{k}_text" for k in range(N_CANDIDATES)]
    return [*columns, "correct_answer"]


def read_fold(path: str | Path):
    """Yield the rows of one fold CSV as dicts of :data:`FEATURES`."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in _required_columns() if c not in header]
        if missing:
            raise DataSpecError(f"missing column(s) {', '.join(missing)}", file=str(path), line=1)
        box_columns = [
            sorted(
                (c for c in header if re.fullmatch(rf"context_text_{i}_\d+", c)),
                key=lambda c: int(c.rsplit("_", 1)[1]),
            )
            for i in range(N_CONTEXT)
        ]
        for index, raw in enumerate(reader):
            line = reader.line_num

            if None in raw:
                raise DataSpecError(
                    f"row has more fields than the header ({len(header)})", file=str(path), line=line
                )
            if any(raw[c] is None for c in header):
                raise DataSpecError(
                    f"row has fewer fields than the header ({len(header)})", file=str(path), line=line
                )
            answer = _integer(raw, str(path), line, "correct_answer")
            if not 0 <= answer < N_CANDIDATES:
                raise DataSpecError(
                    f"{answer} is not a candidate index (0..{N_CANDIDATES - 1})",
                    field="correct_answer",
                    file=str(path),
                    line=line,
                )
            yield {
                "row": index,
                "book_id": _integer(raw, str(path), line, "book_id"),
                "page_id": _integer(raw, str(path), line, "page_id"),
                "answer_panel_id": _integer(raw, str(path), line, "answer_panel_id"),
                "context_panel_ids": [
                    _integer(raw, str(path), line, f"context_panel_{i}_id") for i in range(N_CONTEXT)
                ],
                "context_texts": [[raw[c] for c in columns if raw[c].strip()] for columns in box_columns],
                "candidates": [raw[f"answer_candidate_{k}_text"] for k in range(N_CANDIDATES)],
                "answer": answer,
            }


@dataclass
class ComicsClosureConfig(datasets.BuilderConfig):
    """One difficulty of the text cloze folds."""


class ComicsClosure(datasets.GeneratorBasedBuilder):
    """COMICS text cloze folds -> rows {context_texts, candidates, answer}."""

    BUILDER_CONFIG_CLASS = ComicsClosureConfig
    BUILDER_CONFIGS: ClassVar[list] = [
        ComicsClosureConfig(name=d, description=f"text cloze, {d} candidates") for d in DIFFICULTIES
    ]
    DEFAULT_CONFIG_NAME = "easy"

    @classmethod
    def input_files(cls, data_dir: Path, config: str, **_options) -> list[Path]:
        files = list(fold_files(data_dir, config).values())
        if not files:
            raise FileNotFoundError(
                f"no COMICS text cloze file text_cloze_<split>_{config}.csv in {data_dir}"
            )
        return files

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=FEATURES,
            homepage="https://github.com/miyyer/comics",
            license="MIT (folds); the comics are public-domain Golden-Age books",
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        self.input_files(Path(self.config.data_dir), self.config.name)  # raises when there is none
        by_split = fold_files(self.config.data_dir, self.config.name)
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"path": str(path)})
            for split, path in by_split.items()
        ]

    def _generate_examples(self, path: str):
        for row in read_fold(path):
            yield row["row"], row


def load_comics_closure(
    data_dir: str | Path, difficulty: str = "easy", split: str | None = None, cache_dir=None
) -> datasets.DatasetDict | datasets.Dataset:
    """The text cloze folds of ``difficulty`` in ``data_dir`` as a DatasetDict keyed by split
    (train, dev, test: whichever files are present), or one Dataset for ``split``."""
    return build(ComicsClosure, difficulty, data_dir, cache_dir=cache_dir, split=split)
