"""Ingest: comic containers (CBZ/CBR/CB7/CBT/PDF/EPUB/folders) -> page files + a Parquet manifest."""

from .base import Book, ContainerError, Limits, RawPage
from .entries import Entry, natural_key, parse_comic_info, plan_pages
from .images import PageImage, PageImageError, process_image
from .manifest import ERROR_SCHEMA, PAGE_SCHEMA, Manifest, assemble, merge_shards, read_manifest
from .pipeline import CONTAINERS, Task, discover, ingest, ingest_container, shard_of

__all__ = [
    "CONTAINERS",
    "ERROR_SCHEMA",
    "PAGE_SCHEMA",
    "Book",
    "ContainerError",
    "Entry",
    "Limits",
    "Manifest",
    "PageImage",
    "PageImageError",
    "RawPage",
    "Task",
    "assemble",
    "discover",
    "ingest",
    "ingest_container",
    "merge_shards",
    "natural_key",
    "parse_comic_info",
    "plan_pages",
    "process_image",
    "read_manifest",
    "shard_of",
]
