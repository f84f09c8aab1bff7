"""ComicsPAP (Comics: Pick-A-Panel; VLR-CVC/ComicsPAP, arXiv 2503.08561) as a ``datasets`` builder.

Five skills, one config each: ``sequence_filling``, ``char_coherence``, ``visual_closure``,
``text_closure``, ``caption_relevance``. Splits on the Hub: ``val`` (labels) and ``test``
(labels held by the competition server), later also ``train``.

Row schema, the Hub's own (:data:`FEATURES`):

======================  ===========  ==========================================================
sample_id               string       the sample's id
context                 list[Image]  the context panels in reading order (empty for
                                     caption_relevance)
options                 list[Image]  the candidate panels
index                   int32        where the missing panel goes among ``context``
                                     (0..len(context)); -1 when there is no context
solution_index          int32        index of the right option; -1 or null where the label
                                     is hidden
split                   string       the split name
task_type               string       the skill
previous_panel_caption  string       caption_relevance: the caption of the panel before the
                                     missing one; else null or empty
======================  ===========  ==========================================================

Sources: :func:`load_comicspap` reads the Hub at the pinned :data:`PINNED_REVISION` when no
``data_dir`` is given (``datasets.load_dataset("VLR-CVC/ComicsPAP", skill, revision=...)``), or
a local folder in the Hub's layout: ``<data_dir>/<skill>/<split>-NNNNN-of-NNNNN.parquet`` (a
``snapshot_download`` of the dataset repo, or any Parquet in this schema). Every local row is
checked; errors name the file, row and field.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import datasets

from ..dataspec import DataSpecError
from ._common import build, split_key

HUB_ID = "VLR-CVC/ComicsPAP"
# The dataset repo's commit "Update README.md" (all five skills; val, test and train splits).
PINNED_REVISION = "0fde0c1ff630e112937ebca83e2d96a4f533ddfa"
SKILLS = ("sequence_filling", "char_coherence", "visual_closure", "text_closure", "caption_relevance")
SPLIT_FILE = re.compile(r"^(?P<split>[a-z]+)(?:-\d+-of-\d+)?\.parquet$")

FEATURES = datasets.Features(
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

_CITATION = """@article{vivoli2025comicspap,
  title={ComicsPAP: understanding comic strips by picking the correct panel},
  author={Vivoli, Emanuele and Llabr{\\'e}s, Artemis and Souibgui, Mohamed Ali and Bertini, Marco
          and Valveny Llobet, Ernest and Karatzas, Dimosthenis},
  journal={arXiv:2503.08561}, year={2025}}"""


def skill_files(data_dir: str | Path, skill: str) -> dict[str, list[Path]]:
    """``{split: [parquet shards]}`` of one skill in a local folder of the Hub's layout."""
    if skill not in SKILLS:
        raise ValueError(f"unknown ComicsPAP skill {skill!r}; expected one of {', '.join(SKILLS)}")
    folder = Path(data_dir) / skill
    if not folder.is_dir():
        raise FileNotFoundError(
            f"ComicsPAP: no folder {folder} (expected <data_dir>/<skill>/<split>-*.parquet)"
        )
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        match = SPLIT_FILE.match(path.name)
        if match:
            found.setdefault(match["split"], []).append(path)
    if not found:
        raise FileNotFoundError(f"ComicsPAP: no <split>-*.parquet file in {folder}")
    return {split: found[split] for split in sorted(found, key=split_key)}


def _image(value, *, file: str, row: int, field: str) -> dict:
    if isinstance(value, dict) and (value.get("bytes") or value.get("path")):
        return {"bytes": value.get("bytes"), "path": value.get("path")}
    raise DataSpecError(
        f"row {row}: expected an image ({{bytes, path}}), got {type(value).__name__}", field=field, file=file
    )


def check_row(raw: dict, *, file: str, row: int) -> dict:
    """One Parquet row as a checked example of :data:`FEATURES` (``row`` is 0-based)."""

    def fail(field: str, reason: str):
        raise DataSpecError(f"row {row}: {reason}", field=field, file=file)

    missing = [name for name in FEATURES if name not in raw]
    if missing:
        fail(missing[0], f"missing column(s) {', '.join(missing)}")
    if not isinstance(raw["sample_id"], str) or not raw["sample_id"]:
        fail("sample_id", "expected a non-empty string")
    for name in ("context", "options"):
        if not isinstance(raw[name], list):
            fail(name, f"expected a list of images, got {type(raw[name]).__name__}")
    context = [_image(v, file=file, row=row, field=f"context[{i}]") for i, v in enumerate(raw["context"])]
    options = [_image(v, file=file, row=row, field=f"options[{i}]") for i, v in enumerate(raw["options"])]
    if not options:
        fail("options", "no options")
    for name in ("index", "solution_index"):
        if raw[name] is None and name == "solution_index":  # a hidden label may be null too
            continue
        if not isinstance(raw[name], int) or isinstance(raw[name], bool):
            fail(name, f"expected an integer, got {raw[name]!r}")
    lowest = -1 if not context else 0
    if not lowest <= raw["index"] <= len(context):
        fail("index", f"{raw['index']} is outside {lowest}..{len(context)} ({len(context)} context panels)")
    if raw["solution_index"] is not None and not -1 <= raw["solution_index"] < len(options):
        fail("solution_index", f"{raw['solution_index']} is not -1 or an option index (< {len(options)})")
    return {
        "sample_id": raw["sample_id"],
        "context": context,
        "options": options,
        "index": raw["index"],
        "solution_index": raw["solution_index"],
        "split": raw["split"],
        "task_type": raw["task_type"],
        "previous_panel_caption": raw["previous_panel_caption"],
    }


def read_parquet_rows(path: str | Path, batch_size: int = 32):
    """Checked rows of one ComicsPAP Parquet shard, read in batches (images stay encoded)."""
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        handle = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DataSpecError(f"not a readable Parquet file: {exc}", file=str(path)) from None
    columns = handle.schema_arrow.names
    missing = [name for name in FEATURES if name not in columns]
    if missing:
        raise DataSpecError(f"missing column(s) {', '.join(missing)}", file=str(path))
    row = 0
    for batch in handle.iter_batches(batch_size=batch_size, columns=list(FEATURES)):
        for raw in batch.to_pylist():
            yield row, check_row(raw, file=str(path), row=row)
            row += 1


@dataclass
class ComicsPapConfig(datasets.BuilderConfig):
    """One ComicsPAP skill."""


class ComicsPap(datasets.GeneratorBasedBuilder):
    """ComicsPAP from a local Parquet folder in the Hub's layout (one config per skill)."""

    BUILDER_CONFIG_CLASS = ComicsPapConfig
    BUILDER_CONFIGS: ClassVar[list] = [
        ComicsPapConfig(name=skill, description=f"ComicsPAP {skill}") for skill in SKILLS
    ]
    DEFAULT_CONFIG_NAME = "sequence_filling"

    @classmethod
    def input_files(cls, data_dir: Path, config: str, **_options) -> list[Path]:
        return [p for paths in skill_files(data_dir, config).values() for p in paths]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=FEATURES,
            homepage=f"https://huggingface.co/datasets/{HUB_ID}",
            license="cc-by-sa-4.0",
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"paths": [str(p) for p in paths]})
            for split, paths in skill_files(self.config.data_dir, self.config.name).items()
        ]

    def _generate_examples(self, paths: list[str]):
        for path in paths:
            for row, example in read_parquet_rows(path):
                yield f"{Path(path).name}:{row}", example


def load_comicspap(
    skill: str = "sequence_filling",
    data_dir: str | Path | None = None,
    split: str | None = None,
    revision: str = PINNED_REVISION,
    cache_dir=None,
) -> datasets.DatasetDict | datasets.Dataset:
    """One ComicsPAP skill as a DatasetDict keyed by split (or one Dataset for ``split``).

    From ``data_dir`` (the Hub's folder layout) when given; else from the Hub at ``revision``,
    which needs network access (HF_HUB_OFFLINE unset) and downloads GBs per skill."""
    if skill not in SKILLS:
        raise ValueError(f"unknown ComicsPAP skill {skill!r}; expected one of {', '.join(SKILLS)}")
    if data_dir is not None:
        return build(ComicsPap, skill, data_dir, cache_dir=cache_dir, split=split)
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}:
        raise RuntimeError(
            f"ComicsPAP: HF_HUB_OFFLINE is set, so {HUB_ID} cannot be downloaded; "
            "pass data_dir= a local copy "
            f"(huggingface_hub.snapshot_download({HUB_ID!r}, repo_type='dataset', revision={revision!r}))"
        )
    return datasets.load_dataset(HUB_ID, skill, split=split, revision=revision, cache_dir=cache_dir)
