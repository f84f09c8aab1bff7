"""CoSMo page stream segmentation splits (mserra0/CoSMo-ComicsPSS) as a ``datasets`` builder.

Input: a folder with ``comics_{split}.json`` (train, val, test): a list of books, each with
``id, dlid, hash_code, title, subdb, split`` and the page ranges ``stories, textstories,
advertisements, covers`` (``page_start``/``page_end``: 0-based, inclusive; the cover is page 0).
Pages outside every range are unlabelled. Optionally an image folder with one sub-folder per
book named by its ``hash_code`` (CoSMo's layout), pages in natural order of their file names.

Labels (DESIGN 4.2, maps in :mod:`comics_analysis.dataspec.taxonomy`): each category maps to
our page type; overlapping ranges resolve by ``COSMO_SPLIT_PRECEDENCE`` (covers over
advertisements over textstories over stories, as CoSMo's loader does); a ``covers`` range is a
front, interior or back cover by :func:`cosmo_cover_type`; ``story_start`` marks the first page
of each story range unless its title says it continues an earlier one. Ranges with
``page_end < page_start`` (two in the published files) are skipped and reported in
``label_issues``, as are overlaps.

One row per book (:data:`FEATURES`):

==============  =====================  ===================================================
book_id         string                 ``slug(title)-hash_code`` (DESIGN 3.1; hash_code is
                                       the 8-hex id CoSMo gives the book)
title, dlid     string                 as in the JSON (dlid: Digital Comic Museum id)
hash_code       string
cosmo_id        int64                  the JSON ``id``
source_split    string                 the JSON ``split`` field, verbatim
num_pages       int32                  number of images when present, else last labelled
                                       page + 1
page_ids        list[string]           ``book_id/pNNNN``
page_types      list[string]           our taxonomy; null where unlabelled
story_start     list[bool]
cosmo_labels    list[string]           the CoSMo 5-class label (``first-page`` for story
                                       starts); null where unlabelled or no counterpart
segments        list[struct]           every range: category, title, story_id,
                                       page_start, page_end (0-based inclusive)
label_issues    list[string]           skipped ranges, overlaps, labels past the last image
images          list[Image]            the page images (bytes embedded, path
                                       ``<hash_code>/<file>``); empty when none found
==============  =====================  ===================================================

:func:`page_counts` gives per-split page counts per label for the dataset card
(:func:`counts_markdown` renders them as a table).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import datasets

from ..dataspec import DataSpecError, make_book_id, make_page_id, markdown_table
from ..dataspec.records import PAGE_TYPES
from ..dataspec.taxonomy import (
    COSMO5_LABELS,
    COSMO_CONTINUATION,
    COSMO_SPLIT_CATEGORIES,
    COSMO_SPLIT_PRECEDENCE,
    collapse,
    cosmo_cover_type,
)
from ._common import build, find_split_files, image_files, split_generators

SPLIT_FILE = re.compile(r"^comics_(?P<split>[a-z]+)\.json$")
UNLABELLED = "unlabelled"

FEATURES = datasets.Features(
    {
        "book_id": datasets.Value("string"),
        "title": datasets.Value("string"),
        "dlid": datasets.Value("string"),
        "hash_code": datasets.Value("string"),
        "cosmo_id": datasets.Value("int64"),
        "source_split": datasets.Value("string"),
        "num_pages": datasets.Value("int32"),
        "page_ids": datasets.List(datasets.Value("string")),
        "page_types": datasets.List(datasets.Value("string")),
        "story_start": datasets.List(datasets.Value("bool")),
        "cosmo_labels": datasets.List(datasets.Value("string")),
        "segments": datasets.List(
            {
                "category": datasets.Value("string"),
                "title": datasets.Value("string"),
                "story_id": datasets.Value("string"),
                "page_start": datasets.Value("int32"),
                "page_end": datasets.Value("int32"),
            }
        ),
        "label_issues": datasets.List(datasets.Value("string")),
        "images": datasets.List(datasets.Image()),
    }
)

_CITATION = """@article{serra2025cosmo,
  title={CoSMo: A Multimodal Transformer for Page Stream Segmentation in Comic Books},
  author={Serra, Marc and Vivoli, Emanuele and others}, journal={arXiv:2507.10053}, year={2025}}"""


def split_files(data_dir: str | Path) -> dict[str, Path]:
    """``{split: path}`` of the ``comics_<split>.json`` files in ``data_dir``."""
    return find_split_files(data_dir, SPLIT_FILE, "no CoSMo split file comics_<split>.json")


def read_split(path: str | Path) -> list[dict[str, Any]]:
    """The book records of one split file, checked; errors name the file, book and field."""
    path = Path(path)
    try:
        books = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataSpecError(f"cannot read CoSMo split file: {exc}", file=str(path)) from None
    if not isinstance(books, list):
        raise DataSpecError(f"expected a list of books, got {type(books).__name__}", file=str(path))
    for b, book in enumerate(books):
        where = f"[{b}]"
        if not isinstance(book, dict):
            raise DataSpecError("a book must be a JSON object", field=where, file=str(path))
        for key in ("hash_code", "title"):
            if not isinstance(book.get(key), str):
                raise DataSpecError("required string is missing", field=f"{where}.{key}", file=str(path))
        if not re.fullmatch(r"[0-9a-f]{8,64}", book["hash_code"]):
            raise DataSpecError(
                f"{book['hash_code']!r} is not a hex hash", field=f"{where}.hash_code", file=str(path)
            )
        for category in COSMO_SPLIT_PRECEDENCE:
            ranges = book.get(category, [])
            if not isinstance(ranges, list):
                raise DataSpecError("expected a list of ranges", field=f"{where}.{category}", file=str(path))
            for r, item in enumerate(ranges):
                for key in ("page_start", "page_end"):
                    value = item.get(key) if isinstance(item, dict) else None
                    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                        raise DataSpecError(
                            f"expected a page index >= 0, got {value!r}",
                            field=f"{where}.{category}[{r}].{key}",
                            file=str(path),
                        )
    return books


def book_labels(book: dict[str, Any], num_pages: int | None = None) -> dict[str, Any]:
    """Per-page labels of one book record: page_types, story_start, cosmo_labels, segments,
    label_issues and num_pages (``num_pages`` given: the number of images)."""
    issues: list[str] = []
    valid: list[tuple[str, int, dict[str, Any]]] = []
    for category in COSMO_SPLIT_PRECEDENCE:
        for r, item in enumerate(book.get(category) or []):
            if item["page_end"] < item["page_start"]:
                issues.append(
                    f"{category}[{r}]: page_end {item['page_end']} < page_start {item['page_start']}; skipped"
                )
                continue
            valid.append((category, r, item))
    last_labelled = max((item["page_end"] for _, _, item in valid), default=-1)
    n = last_labelled + 1 if num_pages is None else num_pages
    if last_labelled >= n:
        issues.append(f"labels reach page {last_labelled} but the book has {n} images; extra labels ignored")
    types: list[str | None] = [None] * n
    owner: list[str | None] = [None] * n
    starts = [False] * n
    for category, r, item in valid:
        start, end = item["page_start"], item["page_end"]
        if category == "covers":
            label = cosmo_cover_type(item.get("title") or "", start, end, n - 1)
        else:
            label = COSMO_SPLIT_CATEGORIES[category]
        for page in range(start, min(end, n - 1) + 1):
            if owner[page] is not None:
                issues.append(f"page {page}: {category}[{r}] overrides {owner[page]}")
            types[page], owner[page] = label, f"{category}[{r}]"
    for category, _r, item in valid:
        title = item.get("title") or ""
        page = item["page_start"]
        if (
            category == "stories"
            and not COSMO_CONTINUATION.search(title)
            and page < n
            and types[page] == "story"
        ):
            starts[page] = True
    segments = [
        {
            "category": category,
            "title": item.get("title") or "",
            "story_id": item.get("story_id") or None,
            "page_start": item["page_start"],
            "page_end": item["page_end"],
        }
        for category, _r, item in sorted(valid, key=lambda v: (v[2]["page_start"], v[2]["page_end"]))
    ]
    return {
        "num_pages": n,
        "page_types": types,
        "story_start": starts,
        "cosmo_labels": [collapse(t, s, "cosmo5") for t, s in zip(types, starts, strict=True)],
        "segments": segments,
        "label_issues": issues,
    }


def book_row(book: dict[str, Any], image_dir: str | Path | None = None) -> dict[str, Any]:
    """One dataset row for a book record; images from ``image_dir/<hash_code>/`` if present."""
    images: list[Path] = []
    if image_dir is not None:
        folder = Path(image_dir) / book["hash_code"]
        if folder.is_dir():
            images = image_files(folder)
    labels = book_labels(book, num_pages=len(images) if images else None)
    book_id = make_book_id(book["title"], book["hash_code"])
    return {
        "book_id": book_id,
        "title": book["title"],
        "dlid": str(book.get("dlid") or ""),
        "hash_code": book["hash_code"],
        "cosmo_id": book.get("id"),
        "source_split": book.get("split"),
        "page_ids": [make_page_id(book_id, i) for i in range(labels["num_pages"])],
        **labels,
        "images": [{"path": f"{book['hash_code']}/{p.name}", "bytes": p.read_bytes()} for p in images],
    }


def _label_counts(files: tuple[tuple[str, str], ...], scheme: str) -> dict[str, dict[str, int]]:
    result = {}
    for split, path in files:
        counts: Counter[str] = Counter()
        for book in read_split(path):
            labels = book_labels(book)
            for page_type, start in zip(labels["page_types"], labels["story_start"], strict=True):
                label = collapse(page_type, start, scheme)
                counts[UNLABELLED if label is None else label] += 1
        result[split] = dict(counts)
    return result


def page_counts(data_dir: str | Path, scheme: str = "ours") -> dict[str, dict[str, int]]:
    """Pages per label per split, label-only (page count = last labelled page + 1), with every
    label of the scheme present (0 when absent) and ``unlabelled`` last. ``scheme``: "ours"
    (our taxonomy; story starts are counted under ``story``) or "cosmo5"."""
    labels = {"ours": PAGE_TYPES, "cosmo5": COSMO5_LABELS}.get(scheme)
    if labels is None:
        raise ValueError(f"unknown scheme {scheme!r}; expected 'ours' or 'cosmo5'")
    files = tuple((split, str(path)) for split, path in split_files(data_dir).items())
    counts = _label_counts(files, scheme)
    return {split: {k: c.get(k, 0) for k in (*labels, UNLABELLED)} for split, c in counts.items()}


def counts_markdown(counts: dict[str, dict[str, int]]) -> str:
    """A Markdown table of :func:`page_counts` output (labels x splits, with totals), for the card."""
    splits = list(counts)
    labels = list(next(iter(counts.values()))) if counts else []
    rows = []
    for label in [*labels, "total"]:
        values = [sum(counts[s].values()) if label == "total" else counts[s][label] for s in splits]
        rows.append([label, *(f"{v:,}" for v in values), f"{sum(values):,}"])
    return markdown_table(["label", *splits, "total"], rows) + "\n"


def story_start_counts(data_dir: str | Path) -> dict[str, int]:
    """Number of story starts per split."""
    return {split: c["first-page"] for split, c in page_counts(data_dir, "cosmo5").items()}


def book_counts(data_dir: str | Path) -> dict[str, int]:
    """Books per split."""
    return {split: len(read_split(path)) for split, path in split_files(data_dir).items()}


@dataclass
class CosmoPssConfig(datasets.BuilderConfig):
    """``image_dir``: folder of ``<hash_code>/`` page-image folders (optional)."""

    image_dir: str | None = None


class CosmoPss(datasets.GeneratorBasedBuilder):
    """CoSMo PSS splits -> one row per book with per-page labels in our taxonomy."""

    BUILDER_CONFIG_CLASS = CosmoPssConfig
    BUILDER_CONFIGS: ClassVar[list] = [
        CosmoPssConfig(name="books", description="one row per book, per-page labels")
    ]
    DEFAULT_CONFIG_NAME = "books"

    @classmethod
    def input_files(cls, data_dir: Path, config: str, image_dir: str | None = None, **_options) -> list[Path]:
        files = list(split_files(data_dir).values())
        if image_dir is not None:
            if not Path(image_dir).is_dir():
                raise FileNotFoundError(f"CoSMo image folder not found: {image_dir}")
            files += [
                p for folder in Path(image_dir).iterdir() if folder.is_dir() for p in image_files(folder)
            ]
        return files

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=FEATURES,
            homepage="https://github.com/mserra0/CoSMo-ComicsPSS",
            license="MIT (labels); images from the Digital Comic Museum are not included",
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        return split_generators(split_files(self.config.data_dir))

    def _generate_examples(self, path: str):
        seen: set[str] = set()
        for b, book in enumerate(read_split(path)):
            row = book_row(book, self.config.image_dir)
            if row["book_id"] in seen:
                raise DataSpecError(f"duplicate book {row['book_id']}", field=f"[{b}].hash_code", file=path)
            seen.add(row["book_id"])
            yield row["book_id"], row


def load_cosmo_pss(
    data_dir: str | Path, image_dir: str | Path | None = None, split: str | None = None, cache_dir=None
) -> datasets.DatasetDict | datasets.Dataset:
    """The CoSMo splits in ``data_dir`` (one row per book); images joined from ``image_dir``."""
    image_dir = None if image_dir is None else str(image_dir)
    return build(CosmoPss, None, data_dir, cache_dir=cache_dir, split=split, image_dir=image_dir)
