"""The synthetic comics generator as a ``datasets`` builder (issue 6): rows with exact ground truth,
reproducible from a seed, no input files.

Configs:

- ``pages``: DataSpec v1 page rows (``dataspec.hf_features()``), ``n_pages`` of them: story
  pages cycling every layout, both reading directions, and one page in five of another kind
  (cover, credits, ad, text page, ...), so page types and zero-panel pages are represented;
- ``books``: one row per book (``n_books``, kinds cycling issue / anthology / manga) with its
  page images in order and, per page, its id, page type and story-start flag: the shape page
  stream segmentation trains on.

The generator itself is ``comics_analysis.synth`` (a data stage below the builders); this module
only wraps it as a builder, beside the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import datasets

from .. import __version__
from ..dataspec import hf_features
from ..synth.book import BOOK_KINDS, encode_image, make_book, make_page
from ..synth.layout import LAYOUTS
from ..synth.pages import PAGE_KINDS
from ._common import fingerprint

OTHER_KINDS = tuple(k for k in PAGE_KINDS if k != "story")

BOOK_FEATURES = datasets.Features(
    {
        "book_id": datasets.Value("string"),
        "title": datasets.Value("string"),
        "kind": datasets.Value("string"),
        "reading_direction": datasets.Value("string"),
        "page_ids": datasets.List(datasets.Value("string")),
        "page_types": datasets.List(datasets.Value("string")),
        "story_start": datasets.List(datasets.Value("bool")),
        "images": datasets.List(datasets.Image()),
    }
)


@dataclass
class SyntheticConfig(datasets.BuilderConfig):
    """``n_pages`` (pages config), ``n_books`` and ``story_pages`` (books config), ``seed``,
    ``width`` x ``height`` of every page."""

    n_pages: int = 100
    n_books: int = 10
    story_pages: tuple[int, int] = (6, 14)
    seed: int = 0
    width: int = 1060
    height: int = 1600


def page_spec(i: int) -> dict:
    """The kind, layout and direction of synthetic page ``i`` (deterministic)."""
    if i % 5 == 4:
        return {"page_type": OTHER_KINDS[(i // 5) % len(OTHER_KINDS)], "layout": None, "direction": "ltr"}
    k = i - i // 5
    return {
        "page_type": "story",
        "layout": LAYOUTS[k % len(LAYOUTS)],
        "direction": "rtl" if (k // len(LAYOUTS)) % 2 else "ltr",
    }


class Synthetic(datasets.GeneratorBasedBuilder):
    """Procedural comic pages / books with exact ground truth."""

    BUILDER_CONFIG_CLASS = SyntheticConfig
    BUILDER_CONFIGS: ClassVar[list] = [
        SyntheticConfig(name="pages", description="DataSpec v1 pages with exact ground truth"),
        SyntheticConfig(name="books", description="whole books: page images, page types, story starts"),
    ]
    DEFAULT_CONFIG_NAME = "pages"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=hf_features() if self.config.name == "pages" else BOOK_FEATURES,
            license="CC0-1.0 (generated)",
        )

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN)]

    def _generate_examples(self):
        c = self.config
        size = (c.width, c.height)
        if c.name == "pages":
            for i in range(c.n_pages):
                synth = make_page(
                    (c.seed, i), size=size, book_id="synthetic-pages000", page_index=i, **page_spec(i)
                )
                page = synth.record
                path = f"synthetic-pages000/p{i:04d}.jpg"
                row = page.model_copy(update={"image": path}).to_dict()
                row["image"] = {"path": path, "bytes": encode_image(synth.image)}
                yield page.page_id, row
            return
        for b in range(c.n_books):
            kind = BOOK_KINDS[b % len(BOOK_KINDS)]
            book = make_book(
                (c.seed, b), kind=kind, number=b + 1, size=size, story_pages=tuple(c.story_pages)
            )
            records = [p.record for p in book.pages]
            yield (
                records[0].book_id,
                {
                    "book_id": records[0].book_id,
                    "title": book.meta.title,
                    "kind": kind,
                    "reading_direction": book.meta.direction,
                    "page_ids": [r.page_id for r in records],
                    "page_types": [r.page_type for r in records],
                    "story_start": [bool(r.story_start) for r in records],
                    "images": [
                        {"path": f"{r.page_id}.jpg", "bytes": encode_image(p.image)}
                        for r, p in zip(records, book.pages)
                    ],
                },
            )


def load_synthetic(
    config: str = "pages",
    *,
    n_pages: int = 100,
    n_books: int = 10,
    story_pages: tuple[int, int] = (6, 14),
    seed: int = 0,
    size: tuple[int, int] = (1060, 1600),
    cache_dir=None,
    split: str | None = None,
):
    """The synthetic ``pages`` or ``books`` as a DatasetDict (one split, ``train``)."""
    if config not in ("pages", "books"):
        raise ValueError(f"unknown synthetic config {config!r}; expected pages or books")
    options = {
        "n_pages": n_pages,
        "n_books": n_books,
        "story_pages": tuple(story_pages),
        "seed": seed,
        "width": size[0],
        "height": size[1],
    }
    key = fingerprint([], "Synthetic", config, sorted(options.items()), __version__)
    builder = Synthetic(config_name=config, cache_dir=cache_dir, hash=key, **options)
    builder.download_and_prepare()
    return builder.as_dataset(split=split)
