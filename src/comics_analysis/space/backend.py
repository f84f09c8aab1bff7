"""What the comics-search Space does, as plain functions over a store (no Gradio here).

:class:`SpaceConfig` names the inputs (arguments, else the ``COMICS_*`` environment variables,
else what the store recorded when it was embedded); :class:`SpaceBackend` answers the Space's
questions: searches (text, image, page id, panel), result thumbnails and panel crops, a page
drawn with its panel boxes and reading-order numbers, a book strip, and the UMAP map.

Page images come from the pages the store was embedded from (an annotate output, a comic_pages
export, DataSpec files). Without them the Space still works: pages are drawn as their panel
layout from the store (boxes on a blank page).
"""

from __future__ import annotations

import base64
import io
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ..dataset_builders.books import find_books
from ..sources import open_pages
from ..store.describe import ENCODER, description_index, search_descriptions
from ..store.fulltext import open_fulltext, search_quote
from ..store.reader import EmbeddingStore
from ..store.search import Hit, StoreSearch
from .pages import plain, render_page

__all__ = ["ENV", "MAX_QUERY_CHARS", "SpaceBackend", "SpaceConfig", "plain"]

log = logging.getLogger(__name__)

ENV = {
    "store": "COMICS_STORE",
    "model": "COMICS_MODEL",
    "pages": "COMICS_PAGES",
    "image_root": "COMICS_IMAGES",
    "analysis": "COMICS_ANALYSIS",
}
THUMB_HEIGHT = 320


@dataclass(frozen=True)
class SpaceConfig:
    store: Path
    model: Path | None = None
    pages: Path | None = None
    image_root: Path | None = None
    analysis: Path | None = None

    def __post_init__(self) -> None:
        for name in ("store", "model", "pages", "image_root", "analysis"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))

    @classmethod
    def from_env(cls, **given: Any) -> SpaceConfig:
        """Arguments that are not None win; the rest come from ``COMICS_STORE``, ``COMICS_MODEL``,
        ``COMICS_PAGES``, ``COMICS_IMAGES`` and ``COMICS_ANALYSIS``."""
        values: dict[str, Path | None] = {}
        for name, env in ENV.items():
            value = given.get(name)
            if value is None:
                value = os.environ.get(env) or None
            values[name] = Path(value) if value is not None else None
        if values["store"] is None:
            raise ValueError(f"no embedding store: pass STORE or set {ENV['store']}")
        return cls(**values)  # type: ignore[arg-type]


def _resolve_recorded(store: EmbeddingStore, key: str) -> Path | None:
    """A path the store recorded (relative to the store folder), if it still exists."""
    value = store.attrs.get(key)
    if not value:
        return None
    path = (store.path / value).resolve()
    return path if path.exists() else None


def _books(pages: Path | None, image_root: Path | None) -> dict:
    """The books table of the pages the store was embedded from (``dataset_builders.books``);
    ``{}`` when there is none or it cannot be read (the Space then shows book ids only)."""
    if pages is None or not pages.is_dir():
        return {}
    try:
        return find_books(pages, image_root)
    except (OSError, ValueError) as exc:
        log.warning("%s: books table not read (%s)", pages, exc)
        return {}


MAX_QUERY_CHARS = 1000  # a longer text query is refused (it cost seconds of CPU per request)


class SpaceBackend:
    """The store, its search, the model (for text / image queries) and the page images."""

    def __init__(self, config: SpaceConfig, cache_pages: int = 256):
        self.store = EmbeddingStore(config.store)
        pages = config.pages or _resolve_recorded(self.store, "source")
        image_root = config.image_root or _resolve_recorded(self.store, "image_root")
        analysis = config.analysis
        if analysis is None and (config.store.parent / f"{config.store.name}.analysis").is_dir():
            analysis = config.store.parent / f"{config.store.name}.analysis"
        self.config = replace(config, pages=pages, image_root=image_root, analysis=analysis)
        self.search_index = StoreSearch(self.store)
        self._model = None
        self._fulltext = None  # the full-text index, opened by the first quote query
        self._describer = None  # the MiniLM text encoder, loaded by the first description query
        self._images: OrderedDict[str, Image.Image] = OrderedDict()
        self._cache_pages = cache_pages
        self._source = None
        self._rows: dict[str, int] = {}
        self._page_types: list[str] | None = None
        self.books = _books(pages, image_root)  # book id -> DataSpec book record (title, credits...)
        if pages is not None:
            self._source = open_pages(pages, image_root=image_root, argument="pages")
            self._rows = {pid: i for i, pid in enumerate(self._source.page_ids)}
        else:
            log.warning("no page images for %s: pages are drawn from the stored panel layout", config.store)

    # --- store facts ---------------------------------------------------------------------------
    @property
    def page_types(self) -> list[str]:
        return sorted({t for t in self.page_types_all if t})

    @property
    def book_ids(self) -> list[str]:
        return sorted(set(self.store.book_ids))

    def book_pages(self, book_id: str) -> list[str]:
        """Page ids of a book, in page order."""
        st = self.store
        rows = [i for i, b in enumerate(st.book_ids) if b == book_id]
        if not rows:
            raise KeyError(f"book {book_id!r} is not in the store")
        return [st.page_ids[i] for i in sorted(rows, key=lambda i: int(st.page_index[i]))]

    def example_page(self) -> str:
        return str(self.store.page_ids[0])

    # --- model ---------------------------------------------------------------------------------
    @property
    def has_model(self) -> bool:
        return self.config.model is not None

    def model(self):
        if self.config.model is None:
            raise ValueError("text and image queries need the Closure Lite model (SpaceConfig.model)")
        if self._model is None:
            # lazy: torch + transformers, only with a model
            from ..inference.closure_lite import load_closure_lite

            self._model = load_closure_lite(self.config.model)
            dim = self._model.dim
            if dim != self.store.dim:
                raise ValueError(
                    f"the model gives {dim}-d vectors but the store holds {self.store.dim}-d ones; "
                    "serve the store with the model that embedded it"
                )
        return self._model

    # --- search --------------------------------------------------------------------------------
    def search(
        self,
        *,
        text: str | None = None,
        image: Any = None,
        page_id: str | None = None,
        panel: int | None = None,
        quote: str | None = None,
        mode: str = "fuzzy",
        hybrid: bool = False,
        describe: str | None = None,
        k: int = 12,
        level: str | None = None,
        page_type: str | None = None,
        book_id: str | None = None,
    ) -> list[Hit]:
        """One query: exactly one of ``text``, ``image`` (PIL image or path), ``page_id`` (with an
        optional ``panel``), ``quote`` (a line of lettering: the full-text index, ``mode`` fuzzy,
        phrase or words; panels only; ``hybrid``: fused by reciprocal rank with the embedding search
        of the quote, embedded by the model's text tower), ``describe`` (what a panel shows: the
        panels' VLM descriptions, by meaning; panels only). Empty filter values mean no filter."""
        given = [text is not None and text.strip() != "", image is not None, bool(page_id), bool(quote)]
        given.append(bool(describe))
        if sum(given) != 1:
            raise ValueError("give one query: a text, an image, a page id, a quote or a description")
        for name, value in (("text", text), ("quote", quote), ("description", describe)):
            if value is not None and len(value) > MAX_QUERY_CHARS:
                raise ValueError(
                    f"a {name} query is at most {MAX_QUERY_CHARS} characters (got {len(value):,})"
                )
        if quote:
            if hybrid and not self.has_model:
                raise ValueError(
                    "hybrid quote search embeds the quote with the Closure Lite model: serve the "
                    "Space with one (SpaceConfig.model, --model), or untick hybrid"
                )
            if self._fulltext is None:
                self._fulltext = open_fulltext(self.store)
            vector = None
            if hybrid:
                from ..inference.closure_lite import query_vector  # lazy: torch, only with a model

                vector = query_vector(self.model(), text=quote)
            return search_quote(
                self.search_index,
                quote,
                k=int(k),
                mode=mode,
                book_id=book_id or None,
                page_type=page_type or None,
                hybrid=hybrid,
                vector=vector,
                index=self._fulltext,
            )
        if describe:
            return self.search_descriptions(describe, k=int(k), page_type=page_type, book_id=book_id)
        if page_id is not None and len(page_id) > 200:
            raise ValueError("a page id is at most 200 characters")
        filters = {"page_type": page_type or None, "book_id": book_id or None, "level": level or None}
        if page_id:
            return self.search_index.search(page=page_id.strip(), panel=panel, k=int(k), **filters)
        from ..inference.closure_lite import query_vector  # lazy: torch + transformers, only with a model

        # an image query at panel level compares crop with crop where the store keeps image-only vectors
        crop = (
            image is not None
            and filters["level"] in (None, "panel")
            and self.search_index.store.image_vectors
        )
        vector = query_vector(self.model(), text=text, image=image, crop=crop)
        filters["level"] = "crop" if crop else filters["level"] or "panel"  # query vectors: panel space
        return self.search_index.search(vector=vector, k=int(k), **filters)

    def search_descriptions(
        self, text: str, *, k: int = 12, page_type: str | None = None, book_id: str | None = None
    ) -> list[Hit]:
        """The panels whose VLM description is nearest in meaning to ``text`` (see
        :func:`..store.describe.search_descriptions`); a store without descriptions raises its
        ValueError (embed again) before the encoder is loaded."""
        if self.store.panel_descriptions is None:
            description_index(self.store)  # raises: the store keeps no panel descriptions
        if self._describer is None:
            from ..inference.text import TextEncoder  # lazy: torch + transformers, only when asked

            self._describer = TextEncoder(ENCODER)
        return search_descriptions(
            self.search_index,
            text,
            k=int(k),
            book_id=book_id or None,
            page_type=page_type or None,
            encoder=self._describer,
        )

    # --- images --------------------------------------------------------------------------------
    def page_image(self, page_id: str) -> Image.Image:
        """The page image (RGB), from the pages source, else its stored layout drawn on blank paper."""
        if page_id in self._images:
            self._images.move_to_end(page_id)
            return self._images[page_id]
        row = self._rows.get(page_id)
        if row is not None and self._source is not None:
            image = self._source.load_image(self._source.page(row))
        else:
            image = self._layout_sketch(page_id)
        self._images[page_id] = image
        if len(self._images) > self._cache_pages:
            self._images.popitem(last=False)
        return image

    def _layout_sketch(self, page_id: str, height: int = 800) -> Image.Image:
        pos = self.store.locate(page_id)
        width = int(height * 0.66)
        image = Image.new("RGB", (width, height), (250, 250, 245))
        draw = ImageDraw.Draw(image)
        for slot in np.flatnonzero(self.store.panel_mask[pos]):
            x, y, w, h = self.store.panel_bbox[pos, slot]
            draw.rectangle(
                [x * width, y * height, (x + w) * width, (y + h) * height], outline=(90, 90, 90), width=3
            )
        draw.text((10, 10), f"{page_id}\n(no page image; stored layout)", fill=(40, 40, 40))
        return image

    @staticmethod
    def thumbnail(image: Image.Image, height: int = THUMB_HEIGHT) -> Image.Image:
        scale = height / image.height
        return image.resize((max(1, round(image.width * scale)), height), Image.Resampling.LANCZOS)

    def hit_image(self, hit: Hit) -> Image.Image:
        """A page thumbnail for a page hit; the panel crop for a panel hit."""
        page = self.page_image(hit.page_id)
        if hit.bbox is None:
            return self.thumbnail(page)
        x, y, w, h = hit.bbox
        box = (x * page.width, y * page.height, (x + w) * page.width, (y + h) * page.height)
        crop = page.crop(tuple(round(v) for v in box))
        return self.thumbnail(crop, min(THUMB_HEIGHT, max(64, crop.height)))

    def page_type_of(self, page_id: str) -> str:
        return self.page_type_at(self.store.locate(page_id))

    def caption(self, rank: int, hit: Hit) -> str:
        where = hit.page_id if hit.panel is None else f"{hit.page_id} #{hit.panel}"
        return f"{rank}. {where} [{self.page_type_of(hit.page_id) or '-'}] {hit.score:.3f}"

    def gallery(self, hits: list[Hit]) -> list[tuple[Image.Image, str]]:
        return [(self.hit_image(h), self.caption(i, h)) for i, h in enumerate(hits, start=1)]

    def table(self, hits: list[Hit]) -> list[list[Any]]:
        """Rows of the results table (:attr:`TABLE_HEADERS`); panels are numbered from 0 in
        reading order, as in the CLI, the JSON outputs and the datasets."""
        return [
            [
                i,
                h.page_id,
                "" if h.panel is None else h.panel,
                self.page_type_of(h.page_id),
                round(h.score, 4),
                " | ".join(h.text)[:300],
            ]
            for i, h in enumerate(hits, start=1)
        ]

    def thumbnail_uri(self, page_id: str, height: int = 200) -> str:
        """A small JPEG of the page as a ``data:`` URI (the map's hover preview); "" for an unknown id."""
        try:
            self.store.locate(str(page_id)[:300])
        except KeyError:
            return ""
        buffer = io.BytesIO()
        self.thumbnail(self.page_image(str(page_id)), height).save(buffer, "JPEG", quality=80)
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    def lettering_line(self, page_id: str, limit: int = 160) -> str:
        """The page's lettered text on one line, cut at ``limit`` characters (the map's hover line;
        shown as text); "" for an unknown id or a page without lettering."""
        try:
            self.store.locate(str(page_id)[:300])
        except KeyError:
            return ""
        text = " | ".join(" ".join(t.split()) for t in self.store.texts(str(page_id)) if t.strip())
        return text if len(text) <= limit else text[: limit - 1] + "\u2026"

    TABLE_HEADERS = ("rank", "page_id", "panel", "page type", "score", "text")

    # --- page viewer (space/pages.py draws it) -------------------------------------------------
    def render_page(self, page_id: str, *, lettering: bool = True) -> tuple[Image.Image, str]:
        """The page with its panel boxes numbered in reading order (from 0), the lettering boxes
        when the page records have them, and a Markdown description (see :func:`.pages.render_page`)."""
        return render_page(self, page_id, lettering=lettering)

    def record(self, page_id: str):
        """The page's DataSpec record from the pages source (panels, text boxes, page type), or None."""
        row = self._rows.get(page_id)
        return self._source.page(row) if row is not None and self._source is not None else None

    def page_type_at(self, pos: int) -> str:
        """The page type of the store row ``pos``: the store's, else the page record's, else ""."""
        return self.page_types_all[pos]

    @property
    def page_types_all(self) -> list[str]:
        """Page types of every store row (store order): what the store holds, and for pages it
        holds none for, what their records say (a store embedded before ``segment`` ran)."""
        if self._page_types is None:
            types = [str(t) if t else "" for t in self.store.page_types]
            if self._source is not None and not all(types):
                for pos, pid in enumerate(self.store.page_ids):
                    if not types[pos]:
                        record = self.record(str(pid))
                        types[pos] = (record.page_type or "") if record is not None else ""
            self._page_types = types
        return self._page_types

    # --- book strip ----------------------------------------------------------------------------
    def book_strip(self, book_id: str, height: int = 200) -> list[tuple[Image.Image, str]]:
        st = self.store
        out = []
        for pid in self.book_pages(book_id):
            pos = st.locate(pid)
            caption = f"p{int(st.page_index[pos])} · {self.page_type_at(pos) or '-'}"
            out.append((self.thumbnail(self.page_image(pid), height), caption))
        return out

    def book_of(self, page_id: str) -> str:
        return str(self.store.book_ids[self.store.locate(page_id.strip())])

    # --- map -----------------------------------------------------------------------------------
    def ensure_map(self, folder: str | Path | None = None, method: str = "umap") -> Path:
        """The analysis folder, computing it (``analyze_store``) when there is none yet: the map
        needs its ``points.csv`` (an analysis written without plots is used as it is)."""
        from ..analysis import POINTS_FILE, analyze_store  # lazy: umap / scikit-learn / matplotlib

        if self.config.analysis is not None and (self.config.analysis / POINTS_FILE).is_file():
            return self.config.analysis

        folder = (
            Path(folder)
            if folder is not None
            else self.store.path.parent / f"{self.store.path.name}.analysis"
        )
        analyze_store(self.store, folder, method=method)
        self.config = replace(self.config, analysis=folder)
        return folder

    def cluster_report(self) -> str:
        folder = self.config.analysis
        path = folder / "clusters.md" if folder is not None else None
        if path is None or not path.is_file():
            return "_no analysis yet: run `comics-analysis analyze STORE --out DIR` or press the button_"
        return path.read_text(encoding="utf-8")
