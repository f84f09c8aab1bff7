"""What a store is written from: anything :func:`comics_analysis.sources.open_pages` accepts (an
annotate output, DataSpec files, a comic_pages export, a ``datasets`` Dataset, a list of
:class:`~comics_analysis.dataspec.Page`, ...). Each page reaches the embedding function as a
:class:`~comics_analysis.sources.PageItem`: the validated record plus ``load_image()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..sources import PageItem, PageSource, open_pages


def page_source(source: Any, image_root: str | Path | None = None) -> PageSource:
    """The :class:`~comics_analysis.sources.PageSource` of ``source`` (see ``open_pages``)."""
    return open_pages(source, image_root=image_root, argument="source")


__all__ = ["PageItem", "PageSource", "page_source"]
