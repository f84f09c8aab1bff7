"""CoMix / CDF ground truth (emanuelevivoli/CoMix, "comix.coco") as DataSpec pages.

Input: a folder of COCO files, one per split (``<split>.json``, e.g. ``val.json``, ``test.json``:
CoMix's unified annotations of one source dataset), and the page images under ``image_dir``
(default: the same folder). COCO ``images`` give ``id, file_name, width, height``;
``file_name`` is ``<book>/<page file>`` (CoMix keeps the last two path parts).
``annotations`` give ``image_id, category_id, bbox`` ([x, y, w, h] pixels) and optionally
``score``. CoMix category ids: 1 panel, 2 character, 3 balloon, 4 text, 5 onomatopoeia,
7 face (6, link_sbsc, is a keypoint link and is ignored).

Each image becomes one DataSpec v1 page (:data:`FEATURES` = ``dataspec.hf_features()``, so rows
read back with ``dataspec.from_hf_row``):

- ``book_id`` = ``slug(book folder)-sha8``, the hash taken over the book's sorted page file
  names (no container exists to hash); ``page_index`` = position of the file in natural order
  within its book; ``provenance.source_entry`` = the COCO ``file_name``.
- ``panels``: category 1, ordered by ``annotate.reading_order`` (``reading_direction`` option);
  source ``gt``.
- ``texts``: category 4 (kind ``unknown``) and 5 (kind ``sfx``), empty ``text`` (CoMix boxes
  carry no transcription), each assigned to the panel holding most of it; ordered panel by
  panel (texts outside every panel last), each group in reading order.
- ``characters``: labelled boxes that are neither panels nor text: ``character`` (2),
  ``face`` (7) and ``balloon`` (3), label = the CoMix category name.

Boxes poking out of the page are clamped (recorded in ``quality.flags``); invalid ones raise a
``DataSpecError`` naming the COCO file, the annotation and the field. Missing images are an
error unless ``require_images=False``, which keeps the page without an image.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import datasets

from ..annotate.reading_order import reading_order
from ..dataspec import (
    DataSpecError,
    Page,
    Provenance,
    TextBox,
    assign_panel,
    hf_features,
    make_book_id,
    make_page_id,
    sha256_bytes,
    to_hf_row,
)
from ..dataspec.coco import CATEGORIES, CATEGORY_IDS, IGNORED_CATEGORIES, read_coco
from ..ingest.entries import natural_key
from ._common import build, find_split_files, split_generators

SPLIT_FILE = re.compile(r"^(?P<split>[a-z]+)\.json$")
PANEL, TEXT, ONOMATOPOEIA = CATEGORY_IDS["panel"], CATEGORY_IDS["text"], CATEGORY_IDS["onomatopoeia"]
BOX_LABELS = {CATEGORY_IDS[name]: name for name in ("character", "face", "balloon")}

FEATURES = hf_features()

_CITATION = """@article{vivoli2024comix,
  title={CoMix: A Comprehensive Benchmark for Multi-Task Comic Understanding},
  author={Vivoli, Emanuele and Bertini, Marco and Karatzas, Dimosthenis},
  journal={arXiv:2407.03550}, year={2024}}"""


def split_files(data_dir: str | Path) -> dict[str, Path]:
    return find_split_files(data_dir, SPLIT_FILE, "CoMix: no COCO file <split>.json")


def _book_and_page(file_name: str) -> tuple[str, str]:
    parts = PurePosixPath(file_name.replace("\\", "/")).parts
    return ("/".join(parts[:-1]) or "book", parts[-1])


def pages_from_coco(
    path: str | Path,
    image_dir: str | Path | None = None,
    reading_direction: str = "ltr",
    require_images: bool = True,
) -> list[Page]:
    """All pages of one CoMix COCO file, books in order of their folder names."""
    path = Path(path)
    root = Path(image_dir) if image_dir is not None else path.parent
    data = read_coco(path)
    images: dict[Any, dict[str, Any]] = {}
    for i, image in enumerate(data["images"]):
        field = f"images[{i}]"
        if not isinstance(image, dict) or "id" not in image or not isinstance(image.get("file_name"), str):
            raise DataSpecError("needs 'id' and 'file_name'", field=field, file=str(path))
        for key in ("width", "height"):
            if not isinstance(image.get(key), int) or image[key] < 1:
                raise DataSpecError(
                    f"expected a size >= 1, got {image.get(key)!r}", field=f"{field}.{key}", file=str(path)
                )
        if image["id"] in images:
            raise DataSpecError(f"duplicate image id {image['id']!r}", field=f"{field}.id", file=str(path))
        images[image["id"]] = image
    anns: dict[Any, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for a, ann in enumerate(data.get("annotations", [])):
        field = f"annotations[{a}]"
        if not isinstance(ann, dict) or ann.get("image_id") not in images:
            raise DataSpecError(
                f"unknown image_id {ann.get('image_id') if isinstance(ann, dict) else None!r}",
                field=f"{field}.image_id",
                file=str(path),
            )
        category = ann.get("category_id")
        if category in IGNORED_CATEGORIES:
            continue
        if category not in CATEGORIES:
            raise DataSpecError(
                f"unknown CoMix category {category!r}; expected one of {sorted(CATEGORIES)}",
                field=f"{field}.category_id",
                file=str(path),
            )
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            raise DataSpecError(f"expected [x, y, w, h], got {bbox!r}", field=f"{field}.bbox", file=str(path))
        anns[ann["image_id"]].append((a, ann))

    books: dict[str, list[Any]] = defaultdict(list)
    for image_id, image in images.items():
        books[_book_and_page(image["file_name"])[0]].append(image_id)
    pages: list[Page] = []
    for book in sorted(books, key=natural_key):
        ids = sorted(books[book], key=lambda i: natural_key(_book_and_page(images[i]["file_name"])[1]))
        names = "\n".join(images[i]["file_name"] for i in ids)
        book_id = make_book_id(PurePosixPath(book).name, sha256_bytes(names.encode("utf-8")))
        for page_index, image_id in enumerate(ids):
            pages.append(
                _page(
                    images[image_id],
                    anns[image_id],
                    book_id,
                    page_index,
                    root,
                    reading_direction,
                    require_images,
                    path,
                )
            )
    return pages


def _page(image, anns, book_id, page_index, root, direction, require_images, path) -> Page:
    page_id = make_page_id(book_id, page_index)
    file_name = image["file_name"].replace("\\", "/")
    exists = (root / file_name).is_file()
    if require_images and not exists:
        raise DataSpecError(
            f"image not found: {root / file_name} (pass require_images=False to keep label-only pages)",
            page_id=page_id,
            field="file_name",
            file=str(path),
        )
    by_category: dict[int, list[tuple[int, dict]]] = defaultdict(list)
    for a, ann in anns:
        by_category[ann["category_id"]].append((a, ann))

    def box(a: int, ann: dict) -> tuple[float, float, float, float]:
        x, y, w, h = (float(v) for v in ann["bbox"])
        if w < 1 or h < 1:
            raise DataSpecError(
                f"box {ann['bbox']} needs w >= 1 and h >= 1",
                page_id=page_id,
                field=f"annotations[{a}].bbox",
                file=str(path),
            )
        return (x, y, w, h)

    def score(ann: dict) -> float:
        return float(ann.get("score", 1.0))

    raw_panels = [(box(a, ann), score(ann)) for a, ann in by_category[PANEL]]
    order = reading_order([b for b, _ in raw_panels], direction)
    panels = [
        {"bbox": raw_panels[k][0], "score": raw_panels[k][1], "source": "gt", "order": i}
        for i, k in enumerate(order)
    ]
    panel_boxes = [p["bbox"] for p in panels]
    texts = []
    for category, kind in ((TEXT, "unknown"), (ONOMATOPOEIA, "sfx")):
        for a, ann in by_category[category]:
            b = box(a, ann)
            texts.append(
                TextBox(
                    bbox=b,
                    text="",
                    kind=kind,
                    panel=assign_panel(b, panel_boxes),
                    score=score(ann),
                    source="gt",
                )
            )
    texts = _in_reading_order(texts, len(panels), direction)
    characters = [
        {"bbox": box(a, ann), "label": label, "score": score(ann), "source": "gt"}
        for category, label in BOX_LABELS.items()
        for a, ann in by_category[category]
    ]
    try:
        return Page(
            page_id=page_id,
            book_id=book_id,
            page_index=page_index,
            image=file_name if exists else None,
            width=image["width"],
            height=image["height"],
            reading_direction=direction,
            panels=panels,
            texts=texts,
            characters=characters,
            provenance=Provenance(source_path=path.name, source_entry=file_name),
        )
    except DataSpecError as exc:
        raise exc.located(str(path)) from None


def _in_reading_order(texts: list[TextBox], n_panels: int, direction: str) -> list[TextBox]:
    """Texts panel by panel (texts outside every panel last), each group in reading order."""
    ordered = []
    for panel in [*range(n_panels), -1]:
        group = [t for t in texts if t.panel == panel]
        ordered += [group[i] for i in reading_order([t.bbox for t in group], direction)]
    return ordered


@dataclass
class ComixConfig(datasets.BuilderConfig):
    """``image_dir``: root the COCO ``file_name``s are relative to (default: ``data_dir``);
    ``reading_direction``: ``ltr`` (comics) or ``rtl`` (manga); ``require_images``."""

    image_dir: str | None = None
    reading_direction: str = "ltr"
    require_images: bool = True


class Comix(datasets.GeneratorBasedBuilder):
    """CoMix COCO ground truth + local images -> DataSpec v1 page rows."""

    BUILDER_CONFIG_CLASS = ComixConfig
    BUILDER_CONFIGS: ClassVar[list] = [
        ComixConfig(name="pages", description="DataSpec pages with ground-truth boxes")
    ]
    DEFAULT_CONFIG_NAME = "pages"

    @classmethod
    def input_files(cls, data_dir: Path, config: str, image_dir: str | None = None, **_options) -> list[Path]:
        files = list(split_files(data_dir).values())
        root = Path(image_dir) if image_dir is not None else Path(data_dir)
        for coco in list(files):
            for image in read_coco(coco)["images"]:
                candidate = root / str(image.get("file_name", "")).replace("\\", "/")
                if candidate.is_file():
                    files.append(candidate)
        return files

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=__doc__,
            features=FEATURES,
            homepage="https://github.com/emanuelevivoli/CoMix",
            license="annotations: see CoMix; images: their source datasets' licences",
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        return split_generators(split_files(self.config.data_dir))

    def _generate_examples(self, path: str):
        root = Path(self.config.image_dir or self.config.data_dir)
        pages = pages_from_coco(
            path,
            root,
            reading_direction=self.config.reading_direction,
            require_images=self.config.require_images,
        )
        for page in pages:  # image bytes embedded, path kept relative to the image root
            yield page.page_id, to_hf_row(page, image_root=root, embed_image=page.image is not None)


def load_comix(
    data_dir: str | Path,
    image_dir: str | Path | None = None,
    reading_direction: str = "ltr",
    require_images: bool = True,
    split: str | None = None,
    cache_dir=None,
) -> datasets.DatasetDict | datasets.Dataset:
    """CoMix COCO splits in ``data_dir`` as DataSpec page rows (DatasetDict keyed by split)."""
    options = {
        "image_dir": None if image_dir is None else str(image_dir),
        "reading_direction": reading_direction,
        "require_images": require_images,
    }
    return build(Comix, None, data_dir, cache_dir=cache_dir, split=split, **options)
