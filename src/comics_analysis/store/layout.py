"""The embedding store's layout (DESIGN 3.4): names, dims, dtypes, codecs and attributes.

A store is a folder::

    STORE/zarr.json                 Zarr v3 group; attributes below; consolidated metadata
    STORE/<array>/...               the arrays (chunks of ``chunk_pages`` pages along ``page``)
    STORE/text/chunk-000000.parquet lettered text of the pages of chunk 0 (one row per text line)
    STORE/progress/shard-000-of-001.json   the chunks a writer shard has finished

A chunk's rows count only once its number is in a progress file: chunk files and the text file
are written first, the progress file last (atomically), so a killed writer leaves nothing that
a reader takes for data, and a resumed writer redoes exactly the unfinished chunks.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

SCHEMA_VERSION = "1.0"
PANELS = 16  # panel axis of write_store by default (an embed_fn of its own)
# panel axis of a store a model embeds (embed_store's max_panels by default): the model has no panel
# positions, so it reads all of a page's panels up to this many, more than its training cap (16);
# pages with more are flagged (logged by page id, counted in the summary)
EMBED_PANELS = 32
DIM = 384
CHUNK_PAGES = 1024
EMBEDDING_DTYPES = ("float16", "int8")

TEXT_DIR = "text"
PROGRESS_DIR = "progress"
TEXT_COLUMNS = ("page_id", "panel", "kind", "order", "text")

# name -> (dims, dtype, fill value); shapes follow from the dims
COMMON_ARRAYS: dict[str, tuple[tuple[str, ...], str, Any]] = {
    "panel_mask": (("page", "panel"), "bool", False),
    "panel_bbox": (("page", "panel", "coord"), "float32", 0.0),
    "reading_order": (("page", "panel"), "int8", -1),
    "page_id": (("page",), "str", ""),
    "book_id": (("page",), "str", ""),
    "page_index": (("page",), "int32", -1),
    "page_type": (("page",), "str", ""),
}


def embedding_arrays(dtype: str, image_vectors: bool = False) -> dict[str, tuple[tuple[str, ...], str, Any]]:
    """The vector arrays of a store of ``dtype`` (int8 adds one float32 scale per vector);
    ``image_vectors``: also image-only panel vectors (``panel_image_embedding``, the vision tower's
    projection of the crop alone: what a crop query is compared with, "where does this crop come
    from")."""
    if dtype not in EMBEDDING_DTYPES:
        raise ValueError(f"embedding dtype must be one of {', '.join(EMBEDDING_DTYPES)}, got {dtype!r}")
    arrays = {
        "page_embedding": (("page", "dim"), dtype, 0),
        "panel_embedding": (("page", "panel", "dim"), dtype, 0),
    }
    if image_vectors:
        arrays["panel_image_embedding"] = (("page", "panel", "dim"), dtype, 0)
    if dtype == "int8":
        arrays["page_scale"] = (("page",), "float32", 0.0)
        arrays["panel_scale"] = (("page", "panel"), "float32", 0.0)
        if image_vectors:
            arrays["panel_image_scale"] = (("page", "panel"), "float32", 0.0)
    return arrays


# per-page values the embedding function measures on the page image, or the writer takes from the
# record (a store may lack them: written before they were kept, or by an embed_fn without them)
PAGE_COLUMNS: dict[str, tuple[tuple[str, ...], str, Any]] = {
    # lines of body text (comics_analysis.inference.prose.prose_lines): analyze's not-a-comic score
    "prose_lines": (("page",), "int16", -1),
    # each stored panel's VLM scene description (DataSpec Panel.description; "" none), taken from
    # the records: what a description search (store.describe) embeds with MiniLM
    "panel_description": (("page", "panel"), "str", ""),
}


def all_arrays(
    dtype: str, image_vectors: bool = False, page_columns: tuple[str, ...] = ()
) -> dict[str, tuple[tuple[str, ...], str, Any]]:
    """Every array of a store; ``page_columns``: the names of :data:`PAGE_COLUMNS` it keeps."""
    unknown = sorted(set(page_columns) - set(PAGE_COLUMNS))
    if unknown:
        raise ValueError(f"unknown page column(s) {unknown}; known: {', '.join(PAGE_COLUMNS)}")
    columns = {name: PAGE_COLUMNS[name] for name in page_columns}
    return {**embedding_arrays(dtype, image_vectors), **COMMON_ARRAYS, **columns}


def compressor(dtype: str):
    """Blosc + zstd; byte shuffle for multi-byte types (float16 vectors shrink ~15%, zero slots ~100%)."""
    from zarr.codecs import BloscCodec

    shuffle = "noshuffle" if dtype in ("bool", "int8", "str") else "shuffle"
    return BloscCodec(cname="zstd", clevel=5, shuffle=shuffle)


def config_hash(settings: dict[str, Any]) -> str:
    """A stable short hash of the writer settings (model, revision, config, dtype, shapes)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_hash(page_ids: list[str]) -> str:
    """Hash of the row plan (page ids in row order): a resumed or sharded run must match it."""
    digest = hashlib.sha256()
    for page_id in page_ids:
        digest.update(page_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]
