"""Description search: a text query against the panels' VLM scene descriptions (issue 17.3,
"semantic text ... over VLM descriptions when present").

A store embedded by ``embed`` keeps each stored panel's description (DataSpec
``Panel.description``, what a VLM annotator wrote about the scene; never lettered text) in its
``panel_description`` array [page, panel]. The descriptions are embedded with the offline MiniLM
text encoder (:class:`comics_analysis.inference.text.TextEncoder`, ``"minilm"``; mean-pooled,
unit vectors), once, into ``STORE/index/description-minilm.npz`` (the described panels' store
rows and slots and their vectors, float16; rebuilt when the finished chunks change); a query is
the same encoder's vector of the text, and panels rank by cosine similarity. Hits are panels
(with their box); their ``text`` is the description. This is a different space from the
Closure Lite model's (``search --text``): no model is needed, and a description is matched by
meaning (MiniLM), not by the lettering.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..dataspec import atomic_write
from .reader import EmbeddingStore
from .search import INDEX_DIR, Filters, Hit, StoreSearch, _as_list

log = logging.getLogger(__name__)

ENCODER = "minilm"
INDEX_FILE = "description-minilm.npz"


def _encoder(encoder: Any):
    if encoder is not None:
        return encoder
    from ..inference.text import TextEncoder  # lazy: torch + transformers

    return TextEncoder(ENCODER)


def description_index(
    store: str | Path | EmbeddingStore, encoder: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(store rows, panel slots, unit MiniLM vectors [m, 384] float32) of the described panels:
    read from ``STORE/index/description-minilm.npz``, or computed and saved there when it is
    missing or was made from other finished chunks. ``encoder``: a ``texts -> [N, D]`` callable (default:
    the offline MiniLM)."""
    st = store if isinstance(store, EmbeddingStore) else EmbeddingStore(store)
    descriptions = st.panel_descriptions
    if descriptions is None:
        raise ValueError(
            f"{st.path}: the store keeps no panel descriptions (embedded before stores kept them, or "
            "written without them); embed the pages again into a new folder "
            "(`comics-analysis embed PAGES --model MODEL --out NEW`) for description search"
        )
    path = st.path / INDEX_DIR / INDEX_FILE
    finished = np.array(st.finished, np.int64)
    if path.is_file():
        with np.load(path) as saved:
            if np.array_equal(saved["finished"], finished):
                return saved["rows"], saved["slots"], saved["vectors"].astype(np.float32)
        log.info("%s: made from other finished chunks; embedding the descriptions again", path)
    described = np.vectorize(lambda d: bool(d and d.strip()), otypes=[bool])(descriptions)
    positions, slots = np.nonzero(described & st.panel_mask)
    texts = [descriptions[i, j] for i, j in zip(positions, slots)]
    vectors = np.asarray(_encoder(encoder)(texts), np.float32).reshape(len(texts), -1)
    rows = st.rows[positions]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        np.savez(handle, finished=finished, rows=rows, slots=slots, vectors=vectors.astype(np.float16))
    log.info("%s: %d panel descriptions embedded with %s", path, len(rows), ENCODER)
    return rows, slots, vectors


def search_descriptions(
    store: str | Path | EmbeddingStore | StoreSearch,
    text: str,
    *,
    k: int = 10,
    book_id: Sequence[str] | str | None = None,
    page_type: Sequence[str] | str | None = None,
    min_panels: int | None = None,
    max_panels: int | None = None,
    encoder: Any = None,
) -> list[Hit]:
    """The ``k`` panels whose VLM description is nearest in meaning to ``text`` (MiniLM cosine;
    see the module doc), with the page filters of :meth:`StoreSearch.search`; each hit's ``text``
    is the panel's description."""
    if not text or not text.strip():
        raise ValueError("the description query (text) is empty")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    searcher = store if isinstance(store, StoreSearch) else StoreSearch(store)
    st = searcher.store
    encoder = _encoder(encoder)
    rows, slots, vectors = description_index(st, encoder)
    filters = Filters(_as_list(book_id), _as_list(page_type), min_panels, max_panels)
    searcher.check_filters(filters.book_id, filters.page_type)
    positions = np.searchsorted(st.rows, rows)
    if filters.active():
        keep = filters.page_mask(st)[positions]
        positions, slots, vectors = positions[keep], slots[keep], vectors[keep]
    if not len(positions):
        return []
    query = np.asarray(encoder([text]), np.float32)[0]
    scores = vectors @ query
    top = np.argsort(-scores, kind="stable")[:k]
    hits = []
    for i in top:
        hit = searcher._hit(int(positions[i]) * st.panels + int(slots[i]), float(scores[i]), "panel")
        hit.text = [str(st.group["panel_description"][st.rows[positions[i]], slots[i]])]
        hits.append(hit)
    return hits
