"""OpenMantra (Hinami et al., AAAI 2021; mantra-inc/open-mantra-dataset) as DataSpec pages.

Input: the dataset folder: ``annotation.json`` and the ``images/`` it names. Configs are the
languages of the text (``ja``, ``en``, ``zh``); the page images are the Japanese originals unless
``image_lang`` says otherwise (only they are lettered in the language of the original). One split,
``test``: 78 pages of 2 books, 385 panels, right to left. The benchmark of manga translation and
of panel detection on real pages.

Rows are DataSpec v1 pages (``dataspec.hf_features()``; read back with ``dataspec.from_hf_row``):
ground-truth panels in the annotation's reading order, text boxes (the README calls them speech
bubbles: kind ``dialogue``) with the text of the config's language, each assigned to the panel
holding most of it; image bytes embedded, paths relative to the dataset folder. Licence: CC BY-NC
4.0 (the dataset's); errors name the annotation file, page and field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import datasets

from ..dataspec import DataSpecError, hf_features, pages_from_openmantra, to_hf_row
from ._common import build

LANGUAGES = ("ja", "en", "zh")
FEATURES = hf_features()

_CITATION = """@inproceedings{hinami2021towards,
  title={Towards Fully Automated Manga Translation},
  author={Hinami, Ryota and Ishiwatari, Shonosuke and Yasuda, Kazuhiko and Matsui, Yusuke},
  booktitle={AAAI}, year={2021}}"""


@dataclass
class OpenMantraConfig(datasets.BuilderConfig):
    """``image_lang``: which page images to embed (default: ``ja``, the lettered originals)."""

    image_lang: str | None = "ja"


class OpenMantra(datasets.GeneratorBasedBuilder):
    """OpenMantra annotation.json + images -> DataSpec v1 page rows (rtl, ground truth)."""

    BUILDER_CONFIG_CLASS = OpenMantraConfig
    BUILDER_CONFIGS: ClassVar[list] = [
        OpenMantraConfig(name=lang, description=f"ground-truth pages with the {lang} text")
        for lang in LANGUAGES
    ]
    DEFAULT_CONFIG_NAME = "ja"

    @classmethod
    def input_files(
        cls, data_dir: Path, config: str, image_lang: str | None = "ja", **_options
    ) -> list[Path]:
        annotation = Path(data_dir) / "annotation.json"
        if not annotation.is_file():
            raise FileNotFoundError(f"OpenMantra: annotation.json not found in {data_dir}")
        try:
            books = json.loads(annotation.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataSpecError(f"cannot read OpenMantra annotation: {exc}", file=str(annotation)) from None
        images = [
            Path(data_dir) / page["image_paths"][image_lang or config]
            for book in books
            for page in book.get("pages", [])
            if isinstance(page.get("image_paths"), dict) and (image_lang or config) in page["image_paths"]
        ]
        return [annotation, *(p for p in images if p.is_file())]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=FEATURES,
            homepage="https://github.com/mantra-inc/open-mantra-dataset",
            license="CC BY-NC 4.0",
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name=datasets.Split.TEST)]

    def _generate_examples(self):
        root = Path(self.config.data_dir)
        pages = pages_from_openmantra(
            root / "annotation.json", lang=self.config.name, image_lang=self.config.image_lang
        )
        for page in pages:
            yield page.page_id, to_hf_row(page, image_root=root, embed_image=True)


def load_open_mantra(
    data_dir: str | Path,
    lang: str = "ja",
    image_lang: str | None = "ja",
    split: str | None = None,
    cache_dir=None,
) -> datasets.DatasetDict | datasets.Dataset:
    """OpenMantra pages with the ``lang`` text as a DatasetDict (one split, ``test``)."""
    if lang not in LANGUAGES:
        raise ValueError(f"OpenMantra has no {lang!r} text; expected one of {', '.join(LANGUAGES)}")
    return build(OpenMantra, lang, data_dir, cache_dir=cache_dir, split=split, image_lang=image_lang)
