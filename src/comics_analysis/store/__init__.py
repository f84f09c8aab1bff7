"""Embedding store (Zarr v3, xarray-readable; DESIGN 3.4) and search over it.

Needs the ``store`` extra (zarr, xarray; faiss-cpu for the fast exact scan and ANN indexes).
"""

from .ann import AnnIndex, recall_at_k
from .describe import description_index, search_descriptions
from .exact import ExactIndex
from .fulltext import (
    FulltextIndex,
    FulltextMissing,
    build_fulltext,
    normalise,
    open_fulltext,
    rrf,
    search_quote,
)
from .inputs import PageItem, page_source
from .layout import CHUNK_PAGES, DIM, PANELS, SCHEMA_VERSION
from .quantize import dequantize_int8, l2_normalise, quantize_int8
from .reader import EmbeddingStore, StoreError, open_store, verify_store
from .search import Filters, Hit, StoreSearch, hits_text, search, search_store
from .segment import SegmentRun, segment_into_store, set_page_types
from .writer import WriteSummary, write_store

__all__ = [
    "CHUNK_PAGES",
    "DIM",
    "PANELS",
    "SCHEMA_VERSION",
    "AnnIndex",
    "EmbeddingStore",
    "ExactIndex",
    "Filters",
    "FulltextIndex",
    "FulltextMissing",
    "Hit",
    "PageItem",
    "SegmentRun",
    "StoreError",
    "StoreSearch",
    "WriteSummary",
    "build_fulltext",
    "dequantize_int8",
    "description_index",
    "hits_text",
    "l2_normalise",
    "normalise",
    "open_fulltext",
    "open_store",
    "page_source",
    "quantize_int8",
    "recall_at_k",
    "rrf",
    "search",
    "search_descriptions",
    "search_quote",
    "search_store",
    "segment_into_store",
    "set_page_types",
    "verify_store",
    "write_store",
]
