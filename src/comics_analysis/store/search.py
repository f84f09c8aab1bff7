"""Search a store: exact cosine top-k (default) or a FAISS IVF index, over page or panel vectors.

Query kinds: a vector (text or image query vectors come from the model), a page id ("more like
this": the page's own vector; the page itself is left out) and a panel (page id + panel index;
that panel is left out). Levels: ``page``, ``panel`` (the model's panel vectors: crop, text and
layout in page context) and ``crop`` (the same panels by their image-only vectors, in stores
that keep them: "where does this crop come from" compares a crop with crops; an image query
searches it by default there). Filters: book_id, page_type, panel count, has_text (at panel level:
the panel's own text). Results carry page_id, panel index, bbox (fractions of the page),
score and the lettered text (the panel's, or the page's at page level)::

    from comics_analysis.store import StoreSearch
    s = StoreSearch("library.zarr")
    hits = s.search(page="my-book-1a2b3c4d/p0007", k=10, page_type="story")
    hits = s.search(vector=v, level="panel", has_text=True)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..inference.closure_lite import model_query_vector
from .ann import AnnIndex
from .exact import ExactIndex
from .reader import EmbeddingStore

log = logging.getLogger(__name__)

LEVELS = ("page", "panel", "crop")  # crop: panels by their image-only vectors
INDEX_DIR = "index"


@dataclass
class Hit:
    page_id: str
    book_id: str
    page_index: int
    page_type: str | None
    panel: int | None  # panel index (reading order) at panel level, None for a page hit
    bbox: tuple[float, float, float, float] | None  # x, y, w, h as fractions of the page
    score: float
    text: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Filters:
    book_id: Sequence[str] | str | None = None
    page_type: Sequence[str] | str | None = None
    min_panels: int | None = None
    max_panels: int | None = None
    has_text: bool | None = None

    def active(self) -> bool:
        return any(v is not None for v in asdict(self).values())

    def page_mask(self, store: EmbeddingStore) -> np.ndarray:
        mask = np.ones(len(store), bool)
        for name, values in (("book_id", store.book_ids), ("page_type", store.page_types)):
            wanted = getattr(self, name)
            if wanted is not None:
                wanted = {wanted} if isinstance(wanted, str) else set(wanted)
                mask &= np.fromiter((v in wanted for v in values), bool, len(values))
        if self.min_panels is not None or self.max_panels is not None:
            counts = store.panel_mask.sum(axis=1)
            if self.min_panels is not None:
                mask &= counts >= self.min_panels
            if self.max_panels is not None:
                mask &= counts <= self.max_panels
        return mask


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class StoreSearch:
    """Search over one store; loads vectors once per level and keeps them (see :mod:`.exact`)."""

    def __init__(self, store: str | Path | EmbeddingStore, backend: str = "auto", threads: int | None = None):
        self.store = store if isinstance(store, EmbeddingStore) else EmbeddingStore(store)
        self.backend = backend
        self.threads = threads
        self._exact: dict[str, tuple[ExactIndex, np.ndarray]] = {}
        self._ann: dict[str, AnnIndex] = {}
        self._present: dict[str, set[str]] = {}

    def check_filters(self, book_id: Sequence[str] | None, page_type: Sequence[str] | None) -> None:
        """A book id or page type that no page of the store has is a mistake, not a search with no
        results: ValueError naming the value, the store and what it holds (or how to add page types)."""
        st = self.store
        for name, wanted in (("book_id", book_id), ("page_type", page_type)):
            if not wanted:
                continue
            if name not in self._present:
                values = st.book_ids if name == "book_id" else st.page_types
                self._present[name] = {str(v) for v in values if v}
            have = self._present[name]
            missing = [w for w in wanted if w not in have]
            if not missing:
                continue
            if name == "page_type" and not have:
                raise ValueError(
                    f"page_type {missing[0]!r}: no page of {st.path} has a page type yet; add them with "
                    f"`comics-analysis pss features ANNOTATIONS --page-stats --out FEATURES` and "
                    f"`comics-analysis segment all --features FEATURES --store {st.path}`"
                )
            shown = ", ".join(sorted(have)[:12]) + (f" ... ({len(have)} in all)" if len(have) > 12 else "")
            raise ValueError(f"{name} {', '.join(map(repr, missing))}: not in {st.path} (it has: {shown})")

    # --- vectors and ids --------------------------------------------------------------------
    def _level_vectors(self, level: str) -> tuple[np.ndarray, np.ndarray]:
        """(vectors [m, D] float32, ids [m]) of a level; panel ids are ``position * P + slot``."""
        st = self.store
        if level == "page":
            return st.page_vectors(), np.arange(len(st), dtype=np.int64)
        vecs, ids = [], []
        for first, vectors, mask in st.iter_panel_chunks(image=level == "crop"):
            pos, slot = np.nonzero(mask)
            vecs.append(vectors[pos, slot])
            ids.append((pos + first) * st.panels + slot)
        if not vecs:
            return np.zeros((0, st.dim), np.float32), np.zeros(0, np.int64)
        return np.concatenate(vecs), np.concatenate(ids).astype(np.int64)

    def exact_index(self, level: str) -> tuple[ExactIndex, np.ndarray]:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
        if level not in self._exact:
            vectors, ids = self._level_vectors(level)
            self._exact[level] = (ExactIndex(vectors, self.backend, self.threads), ids)
        return self._exact[level]

    def _allow_ids(self, level: str, filters: Filters, exclude: int | None) -> np.ndarray | None:
        """A bool mask over the level's id space (positions, or position * P + slot), or None."""
        st = self.store
        if not filters.active() and exclude is None:
            return None
        page_ok = filters.page_mask(st)
        if level == "page":
            allow = page_ok.copy()
            if filters.has_text is not None:
                allow &= st.page_has_text == filters.has_text
        else:
            allow2 = page_ok[:, None] & st.panel_mask
            if filters.has_text is not None:
                allow2 &= st.panel_has_text == filters.has_text
            allow = allow2.reshape(-1)
        if exclude is not None:
            allow[exclude] = False
        return allow

    # --- ANN --------------------------------------------------------------------------------
    def _meta(self, level: str) -> dict:
        return {
            "level": level,
            "plan_hash": self.store.attrs["plan_hash"],
            "config_hash": self.store.attrs["config_hash"],
            "finished_chunks": self.store.finished,
        }

    def index_path(self, level: str) -> Path:
        return self.store.path / INDEX_DIR / f"{level}-ivf.faiss"

    def build_ann(
        self,
        level: str = "page",
        nlist: int | None = None,
        nprobe: int | None = None,
        save: bool = True,
        seed: int = 0,
        target_recall: float = 0.95,
    ) -> AnnIndex:
        vectors, ids = self._level_vectors(level)
        index = AnnIndex.build(
            vectors,
            ids=ids,
            nlist=nlist,
            nprobe=nprobe,
            target_recall=target_recall,
            seed=seed,
            meta=self._meta(level),
        )
        if save:
            index.save(self.index_path(level))
        self._ann[level] = index
        return index

    def ann_index(self, level: str) -> AnnIndex:
        if level not in self._ann:
            path = self.index_path(level)
            index = AnnIndex.load(path)
            expected = self._meta(level)
            for key, value in expected.items():
                if index.meta.get(key) != value:
                    raise ValueError(
                        f"{path}: built for {key}={index.meta.get(key)!r}, the store now has {value!r}; "
                        "rebuild it with `comics-analysis store index`"
                    )
            self._ann[level] = index
        return self._ann[level]

    # --- queries --------------------------------------------------------------------------------
    def query_vector(
        self, page: str | None = None, panel: int | None = None, vector: np.ndarray | None = None
    ) -> tuple[np.ndarray, str, int | None]:
        """(unit query vector, default level, id to leave out) for the query kinds."""
        st = self.store
        if vector is not None:
            if page is not None or panel is not None:
                raise ValueError("give a vector or a page (and panel), not both")
            v = np.asarray(vector, dtype=np.float32).reshape(-1)
            if v.shape[0] != st.dim:
                raise ValueError(f"query vector has {v.shape[0]} dims; the store at {st.path} has {st.dim}")
            norm = float(np.linalg.norm(v))
            if not np.isfinite(norm) or norm == 0:
                raise ValueError("query vector is zero or not finite")
            return v / norm, "page", None
        if page is None:
            raise ValueError("a query needs a vector, a page id, or a page id and a panel index")
        pos = st.locate(page)
        if panel is None:
            return st.page_vectors(np.array([pos]))[0], "page", pos
        if not 0 <= panel < st.panels or not st.panel_mask[pos, panel]:
            raise ValueError(
                f"page {page} has no stored panel {panel} (stored panels: "
                f"{np.flatnonzero(st.panel_mask[pos]).tolist()})"
            )
        return st.panel_vectors(np.array([pos]))[0, panel], "panel", pos * st.panels + panel

    def search(
        self,
        *,
        vector: np.ndarray | None = None,
        page: str | None = None,
        panel: int | None = None,
        k: int = 10,
        level: str | None = None,
        book_id: Sequence[str] | str | None = None,
        page_type: Sequence[str] | str | None = None,
        min_panels: int | None = None,
        max_panels: int | None = None,
        has_text: bool | None = None,
        ann: bool = False,
        nprobe: int | None = None,
    ) -> list[Hit]:
        """Top-``k`` hits for one query (see the module docstring for the kinds and filters)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        q, default_level, own_id = self.query_vector(page, panel, vector)
        level = level or default_level
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
        if level == "crop" and default_level == "panel":  # a stored panel: its own crop vector
            pos, slot = divmod(own_id, self.store.panels)
            q = self.store.panel_vectors(np.array([pos]), image=True)[0, slot]
            default_level = "crop"
        exclude = own_id if level == default_level else None
        filters = Filters(_as_list(book_id), _as_list(page_type), min_panels, max_panels, has_text)
        self.check_filters(filters.book_id, filters.page_type)
        allow = self._allow_ids(level, filters, exclude)
        if ann:
            scores, ids = self.ann_index(level).search(q, k, allow, nprobe=nprobe)
        else:
            index, row_ids = self.exact_index(level)
            row_allow = allow[row_ids] if allow is not None else None
            scores, rows = index.search(q, k, row_allow)
            ids = row_ids[rows]
        return [self._hit(int(i), float(s), level) for s, i in zip(scores, ids)]

    def _hit(self, ident: int, score: float, level: str) -> Hit:
        st = self.store
        pos, slot = (ident, None) if level == "page" else divmod(ident, st.panels)  # panel and crop
        page_id = st.page_ids[pos]
        bbox = None if slot is None else tuple(float(v) for v in st.panel_bbox[pos, slot])
        return Hit(
            page_id=page_id,
            book_id=st.book_ids[pos],
            page_index=int(st.page_index[pos]),
            page_type=st.page_types[pos] or None,
            panel=slot,
            bbox=bbox,
            score=score,
            text=st.texts(page_id, slot),
        )


def search(store: str | Path | EmbeddingStore | StoreSearch, **query: Any) -> list[Hit]:
    """One query against a store (path, opened store or :class:`StoreSearch`); see
    :meth:`StoreSearch.search` for the arguments. Keep a StoreSearch for many queries."""
    searcher = store if isinstance(store, StoreSearch) else StoreSearch(store)
    return searcher.search(**query)


def search_store(
    store: str | Path | EmbeddingStore | StoreSearch,
    *,
    page: str | None = None,
    panel: int | None = None,
    vector: np.ndarray | str | Path | None = None,
    text: str | None = None,
    image: str | Path | None = None,
    model: str | Path | None = None,
    backend: str = "auto",
    **query: Any,
) -> list[Hit]:
    """One query of any kind against a store: a page id (with an optional ``panel``), a
    ``vector`` (an array or a ``.npy`` file), or a ``text`` / ``image`` query embedded by the
    Closure Lite ``model`` (a folder or a Hub id). ``query`` holds the rest of
    :meth:`StoreSearch.search` (``k``, ``level``, filters, ``ann``, ``nprobe``). An image query
    searches the ``crop`` level (image-only panel vectors, ``embed_crop``) when the store has it
    and no other level is asked for; at ``page`` / ``panel`` level it is ``embed_image``'s vector."""
    kinds = [page is not None, vector is not None, text is not None, image is not None]
    if sum(kinds) != 1:
        raise ValueError("give one query: page (with an optional panel), vector, text or image")
    if panel is not None and page is None:
        raise ValueError("panel needs page")
    searcher = store if isinstance(store, StoreSearch) else StoreSearch(store, backend=backend)
    source = None  # where the query vector comes from, for a size mismatch
    if isinstance(vector, str | Path):
        source = f"the vector file {vector}"
        vector = np.load(vector)
    elif text is not None or image is not None:
        if model is None:
            raise ValueError("text and image queries need model")
        source = f"the model {model}"
        crop = image is not None and query.get("level") in (None, "crop") and searcher.store.image_vectors
        if crop:
            query["level"] = "crop"
        vector = model_query_vector(model, text=text, image=image, crop=crop)
    try:
        return searcher.search(vector=vector, page=page, panel=panel, **query)
    except ValueError as exc:
        if source is None or "query vector has" not in str(exc):
            raise
        raise ValueError(
            f"{exc} ({source} makes {np.asarray(vector).shape[-1]}-d vectors): query the store with the "
            "model that embedded it (`store info` names it)"
        ) from None


def hits_text(hits: Sequence[Hit], as_json: bool = False) -> str:
    """Hits as a ranked table (text shortened to 100 characters) or, with ``as_json``, as JSON
    with the full text."""
    if as_json:
        return json.dumps([h.as_dict() for h in hits], indent=2, ensure_ascii=False)
    if not hits:
        return "no results"
    lines = []
    for rank, h in enumerate(hits, start=1):
        where = h.page_id if h.panel is None else f"{h.page_id} panel {h.panel}"
        box = "" if h.bbox is None else " bbox " + ",".join(f"{v:.3f}" for v in h.bbox)
        text = " | ".join(h.text)
        if len(text) > 100:  # display only; as_json gives the full text
            text = text[:97] + "..."
        lines.append(f"{rank:>3}  {h.score:.4f}  {where}  [{h.page_type or '-'}]{box}  {text}")
    return "\n".join(lines)
