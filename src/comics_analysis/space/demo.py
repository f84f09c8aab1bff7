"""The tail of ``make demo`` (issue 8): embed -> analyze -> (serve), once a model is trained.

``cmd_demo`` calls :func:`run_demo_tail` after training Closure Lite::

    tail = run_demo_tail(out / "annotated", out / "model", out)
    # embeds into out/store.zarr, analyses into out/analysis, prints a sample query, and unless
    # DEMO_NO_SERVE=1 (or serve=False) serves the Space on 127.0.0.1 and prints its URL
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class DemoTail:
    store: Path
    analysis: Path
    pages: int
    panels: int
    pages_per_second: float
    store_bytes: int
    clusters: int
    outliers: int
    sample_query: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    app: Any = None  # the running gradio app when served with block=False (call app.close())
    seconds: float = 0.0


def _no_serve_from_env() -> bool:
    return os.environ.get("DEMO_NO_SERVE", "").lower() in ("1", "true", "yes")


def run_demo_tail(
    annotated_dir: str | Path,
    model_dir: str | Path,
    out: str | Path,
    *,
    serve: bool | None = None,
    block: bool = True,
    batch_size: int = 16,
    show_progress: bool = True,
    step: tuple[int, int] | None = None,
) -> DemoTail:
    """Embed ``annotated_dir`` with the model in ``model_dir`` into ``out/store.zarr``, analyse it
    into ``out/analysis``, run a sample text and page query, then serve the Space on 127.0.0.1
    (``serve=None``: unless ``DEMO_NO_SERVE=1``). ``step`` = (first step number, total) for the
    "[i/n]" headings of the demo."""
    from ..analysis import analyze_store
    from ..store import StoreSearch, open_store
    from ..store.embed import embed_store
    from ..store.model import load_model
    from ..store.query import query_vector

    begin = time.perf_counter()
    out = Path(out)
    first, total = step or (1, 3)
    serve = (not _no_serve_from_env()) if serve is None else serve
    store_path, analysis_path = out / "store.zarr", out / "analysis"

    print(f"\n[{first}/{total}] embedding {annotated_dir} with {model_dir} into {store_path}")
    loaded = load_model(model_dir)
    result = embed_store(
        annotated_dir, loaded, store_path, batch_size=batch_size, show_progress=show_progress
    )
    store = open_store(store_path)
    info = store.info()
    print(
        f"  {result.pages} pages, {result.panels} panels in {result.seconds:.1f} s "
        f"({result.pages_per_second:.2f} pages/s); store {info['bytes_on_disk']:,} bytes "
        f"({info['bytes_on_disk'] / max(1, len(store)):.0f} B/page)"
    )

    print(f"\n[{first + 1}/{total}] UMAP map, clusters and outliers into {analysis_path}")
    analysis = analyze_store(store, analysis_path)
    print(analysis.summary_text())

    searcher = StoreSearch(store)
    words = next(
        (t for pid in store.page_ids for t in store.texts(pid) if len(t.split()) >= 3), "a city at night"
    )
    hits = searcher.search(vector=query_vector(loaded, text=words), level="panel", k=3)
    sample = {"text": words, "hits": [h.as_dict() for h in hits]}
    print(f"  sample text query {words!r}:")
    for rank, h in enumerate(hits, start=1):
        text = " | ".join(h.text)[:80]
        print(f"    {rank}. {h.page_id} panel {h.panel} [{h.page_type or '-'}] {h.score:.3f} {text}")
    like = searcher.search(page=store.page_ids[0], k=3)
    print(f"  pages like {store.page_ids[0]}: " + ", ".join(f"{h.page_id} ({h.score:.3f})" for h in like))

    tail = DemoTail(
        store=store_path,
        analysis=analysis_path,
        pages=len(store),
        panels=info["real_panels"],
        pages_per_second=result.pages_per_second,
        store_bytes=info["bytes_on_disk"],
        clusters=len(analysis.clusters),
        outliers=len(analysis.outliers),
        sample_query=sample,
    )
    if serve:
        from . import SpaceConfig, launch

        print(f"\n[{first + 2}/{total}] serving the comics-search Space (Ctrl-C stops it)")
        config = SpaceConfig.from_env(store=store_path, model=Path(model_dir), analysis=analysis_path)
        tail.app, tail.url = launch(config, host="127.0.0.1", port=0, block=block)
    tail.seconds = time.perf_counter() - begin
    return tail
