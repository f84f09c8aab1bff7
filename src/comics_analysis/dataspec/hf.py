"""DataSpec <-> Hugging Face ``datasets`` rows (Image feature for the page, List of structs)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from .io import atomic_write, resolve_image
from .records import Page, Provenance


@lru_cache(maxsize=1)
def _keep_bytes_image():
    """``datasets.Image`` that keeps bytes it is given. The stock feature drops them whenever the
    row's relative path happens to exist from the current folder (a dataset built from inside
    the ingest folder had no images). Serialized as, and equal to, a plain ``Image``."""
    from dataclasses import dataclass

    from datasets import Image

    @dataclass(repr=False, eq=False)
    class KeepBytesImage(Image):
        def encode_example(self, value):
            if isinstance(value, dict) and value.get("bytes"):
                return {"bytes": value["bytes"], "path": value.get("path")}
            return super().encode_example(value)

        def __eq__(self, other):
            return isinstance(other, Image) and (self.mode, self.decode, self.id) == (
                other.mode,
                other.decode,
                other.id,
            )

        __hash__ = Image.__hash__

        def __repr__(self):
            return f"Image(mode={self.mode!r}, decode={self.decode!r})"

    return KeepBytesImage


def _image_feature(decode: bool):
    return _keep_bytes_image()(decode=decode)


def hf_features(decode_images: bool = True):
    """The ``datasets.Features`` of a DataSpec v1 page row. Imports ``datasets`` lazily."""
    from datasets import Features, List, Value

    bbox = List(Value("float64"), length=4)
    strings = List(Value("string"))
    panel = {
        "bbox": bbox,
        "score": Value("float64"),
        "source": Value("string"),
        "order": Value("int32"),
        "text": {"dialogue": strings, "narration": strings, "sfx": strings},
        "description": Value("string"),
        "characters": strings,
        "polygon": List(List(Value("float64"), length=2)),
    }
    text = {
        "bbox": bbox,
        "text": Value("string"),
        "kind": Value("string"),
        "panel": Value("int32"),
        "score": Value("float64"),
        "source": Value("string"),
        "polygon": List(List(Value("float64"), length=2)),
    }
    box = {"bbox": bbox, "label": Value("string"), "score": Value("float64"), "source": Value("string")}
    quality = {
        "detector_panels": Value("int32"),
        "vlm_panels": Value("int32"),
        "match_kind": Value("string"),
        "matched": Value("int32"),
        "mean_iou": Value("float64"),
        "matches": List(
            {
                "detector": Value("int32"),
                "vlm": Value("int32"),
                "iou": Value("float64"),
                "text_sim": Value("float64"),
            }
        ),
        "flags": strings,
    }
    provenance = {name: Value("string") for name in Provenance.model_fields}
    return Features(
        {
            "schema_version": Value("string"),
            "page_id": Value("string"),
            "book_id": Value("string"),
            "page_index": Value("int32"),
            "image": _image_feature(decode_images),
            "width": Value("int32"),
            "height": Value("int32"),
            "reading_direction": Value("string"),
            "panels": List(panel),
            "texts": List(text),
            "characters": List(box),
            "page_type": Value("string"),
            "story_start": Value("bool"),
            "summary": Value("string"),
            "quality": quality,
            "provenance": provenance,
        }
    )


def to_hf_row(page: Page, image_root: str | Path | None = None, embed_image: bool = False) -> dict[str, Any]:
    """A ``datasets`` row. The image keeps its relative path; ``embed_image`` adds its bytes."""
    row = page.to_dict()
    if page.image is None:
        row["image"] = None
    else:
        data = None
        if embed_image:
            if image_root is None:
                raise ValueError(f"page {page.page_id}: embedding the image needs image_root")
            data = resolve_image(image_root, page.image, page.page_id).read_bytes()
        row["image"] = {"path": page.image, "bytes": data}
    return row


def encode_hf_row(
    features, page: Page, image_root: str | Path | None = None, embed_image: bool = False
) -> dict[str, Any]:
    """``features.encode_example`` of :func:`to_hf_row`, with embedded bytes kept wherever it runs.

    ``datasets``' Image feature drops the bytes when the row's relative path happens to exist
    from the current folder (run from inside the image folder, every row would lose its image);
    here the bytes read from ``image_root`` always stay, and a row that should embed an image and
    has none raises, naming the page.
    """
    row = to_hf_row(page, image_root, embed_image)
    image = row["image"]
    encoded = features.encode_example(row)
    if embed_image and image is not None:
        encoded["image"] = {"path": image["path"], "bytes": image["bytes"]}
        if not image["bytes"]:
            raise ValueError(f"page {page.page_id}: image {page.image} under {image_root} is empty")
    return encoded


def from_hf_row(row: dict[str, Any]) -> Page:
    """Inverse of :func:`to_hf_row`; accepts decoded (PIL) or undecoded image columns."""
    data = dict(row)
    image = data.get("image")
    if isinstance(image, dict):
        data["image"] = image.get("path")
    elif image is not None and not isinstance(image, str):  # a decoded PIL image
        data["image"] = getattr(image, "filename", None) or None
    return Page.from_dict(data)


def write_parquet(
    pages,
    path: str | Path,
    image_root: str | Path | None = None,
    embed_images: bool = False,
    batch_pages: int = 4096,
) -> int:
    """Pages (any iterable: it is read once, ``batch_pages`` at a time, so memory does not grow
    with the page count) as one Parquet file with the DataSpec ``datasets`` features
    (reloadable with ``datasets.load_dataset("parquet", ...)``). Images keep their relative path;
    bytes only when ``embed_images``. Written atomically; returns the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = hf_features()
    schema = features.arrow_schema
    rows = 0
    with atomic_write(path, "wb") as handle, pq.ParquetWriter(handle, schema, compression="zstd") as writer:
        batch: list[dict[str, Any]] = []
        for page in pages:
            batch.append(encode_hf_row(features, page, image_root, embed_images))
            if len(batch) == batch_pages:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                rows, batch = rows + len(batch), []
        if batch or not rows:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            rows += len(batch)
    return rows
