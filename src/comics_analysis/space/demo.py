"""``make demo``: :func:`run_demo` runs the whole pipeline on a generated sample; its tail,
:func:`run_demo_tail`, embeds -> analyzes -> serves once a model is trained::

    tail = run_demo_tail(out / "annotated", out / "model", out)
    # embeds into out/store.zarr, analyses into out/analysis, prints a sample query and the
    # `serve` command that opens the Space on what it wrote, and unless DEMO_NO_SERVE=1 (or
    # serve=False) serves the Space on 127.0.0.1 and prints its URL
"""

from __future__ import annotations

import logging
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..annotate import annotate, read_annotations
from ..dataspec import page_summary_text, read_pages
from ..ingest import ingest
from ..ingest.manifest import summary_text
from ..metrics.panels import evaluate_panels
from ..metrics.text import evaluate_text
from ..sources import open_pages
from ..store import StoreSearch, open_store
from ..store.embed import embed_store
from ..store.fulltext import build_fulltext, search_quote
from ..synth import make_library

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
    serve_command: str = ""  # the `comics-analysis serve` line that opens the Space on these outputs
    url: str | None = None
    app: Any = None  # the running gradio app when served with block=False (call app.close())
    seconds: float = 0.0


def _no_serve_from_env() -> bool:
    return os.environ.get("DEMO_NO_SERVE", "").lower() in ("1", "true", "yes")


def serve_command(store: Path, model: Path, analysis: Path) -> str:
    """The shell line that opens the Space on a store, its model and its analysis folder."""
    parts = ["comics-analysis", "serve", str(store), "--model", str(model), "--analysis", str(analysis)]
    return " ".join(shlex.quote(p) for p in parts)


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
    from ..analysis import analyze_store  # lazy: umap / scikit-learn / matplotlib
    from ..inference.closure_lite import load_closure_lite, query_vector  # lazy: torch + transformers

    begin = time.perf_counter()
    out = Path(out)
    first, total = step or (1, 3)
    serve = (not _no_serve_from_env()) if serve is None else serve
    store_path, analysis_path = out / "store.zarr", out / "analysis"

    print(f"\n[{first}/{total}] embedding {annotated_dir} with {model_dir} into {store_path}")
    loaded = load_closure_lite(model_dir)
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
    crop_query(searcher, loaded, annotated_dir, out / "crop-query.jpg")
    like = searcher.search(page=store.page_ids[0], k=3)
    print(f"  pages like {store.page_ids[0]}: " + ", ".join(f"{h.page_id} ({h.score:.3f})" for h in like))
    built = build_fulltext(store)  # the Space's Quote tab reads it
    quoted = search_quote(store, words, k=1) if len(words) >= 3 else []
    found = f"{quoted[0].page_id} panel {quoted[0].panel}" if quoted else "no hit"
    print(f"  full-text index: {built.panels} panels with lettering; quote {words!r} -> {found}")

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
        serve_command=serve_command(store_path, Path(model_dir), analysis_path),
    )
    print(f"\n  open the Space on these outputs at any time with:\n    {tail.serve_command}")
    if serve:
        from . import SpaceConfig, launch  # lazy: gradio, only when serving

        print(f"\n[{first + 2}/{total}] serving the comics-search Space (Ctrl-C stops it)")
        config = SpaceConfig.from_env(store=store_path, model=Path(model_dir), analysis=analysis_path)
        tail.app, tail.url = launch(config, host="127.0.0.1", port=0, block=block)
    tail.seconds = time.perf_counter() - begin
    return tail


def run_demo(
    out: str | Path,
    *,
    books: int = 3,
    seed: int = 0,
    workers: int = 1,
    ocr: str = "rapidocr",
    model_config: str = "lite",
    train_steps: int = 60,
    keep_checkpoints: bool = False,
    show_progress: bool = True,
) -> DemoTail:
    """The whole pipeline on a generated sample (what ``make demo`` runs), narrated on stdout:
    synth -> ingest -> annotate (scored against the exact truth) -> page types (:func:`demo_page_types`)
    -> comic_pages dataset -> a short Closure Lite training run -> :func:`run_demo_tail` (embed,
    analyze, serve). Only the final models are kept (the Closure Lite weights as float16) unless
    ``keep_checkpoints``. ``seconds`` of the result is the whole run's wall time."""

    start = time.perf_counter()
    out = Path(out)
    total = 9
    print(f"[1/{total}] synthesising a sample library of {books} books in {out}")
    books = make_library(out, books=books, seed=seed, formats=("cbz", "pdf"), show_progress=show_progress)
    for book in books:
        print(f"  {book.file}  {book.pages} pages  {book.kind}/{book.direction}  {book.title}")
    truth = read_pages(out / "truth")
    print(f"\n[2/{total}] ingesting {out / 'books'} into {out / 'ingest'}")
    step = time.perf_counter()
    manifest = ingest([out / "books"], out / "ingest", workers=workers, show_progress=show_progress)
    print(summary_text(manifest, time.perf_counter() - step))
    joined = {r["page_id"] for r in manifest.rows()} & {p.page_id for p in truth}
    print(f"  {len(joined)} of {len(truth)} ground-truth pages join the manifest by page_id")
    if len(joined) != len(truth):
        raise RuntimeError(
            f"demo: {len(truth) - len(joined)} ground-truth pages of {out / 'truth'} are not in the ingest "
            f"manifest {out / 'ingest'} (page ids differ)"
        )
    print(f"\n[3/{total}] annotating panels, reading order and text (ocr: {ocr}) into {out / 'annotated'}")
    step = time.perf_counter()
    annotate(out / "ingest", out / "annotated", ocr=ocr, workers=workers, show_progress=show_progress)
    predicted = read_annotations(out / "annotated")
    story = [p for p in truth if p.page_type == "story"]
    panels = evaluate_panels(story, predicted)["overall"]
    print(
        f"  {len(predicted)} pages in {time.perf_counter() - step:.1f} s; on the {len(story)} story pages: "
        f"panel F1 {panels.f1:.3f}, reading order exact {panels.order_exact:.3f}"
    )
    if ocr != "none":
        text = evaluate_text(story, predicted, kinds=("dialogue",))["overall"]
        print(
            f"  balloon text: recall {text.recall:.3f}, CER {text.cer:.4f}, panel assignment "
            f"{text.panel_accuracy:.3f}"
        )
    print(f"\nground truth of {len(truth)} pages in {len(books)} books:")
    print(page_summary_text(truth))

    print(
        f"\n[4/{total}] page types: `pss features --page-stats`, then `segment` (zero-shot) into "
        f"{out / 'annotated' / 'dataspec'}"
    )
    demo_page_types(out, truth, show_progress=show_progress)

    from ..dataset_builders import export_comic_pages  # lazy: `datasets`

    print(f"\n[5/{total}] building the Hugging Face dataset (comic_pages) into {out / 'dataset'}")
    step = time.perf_counter()
    export = export_comic_pages(
        out / "annotated", out / "dataset", configs=["all"], show_progress=show_progress
    )
    splits = ", ".join(f"{split} {len(files)} shard(s)" for split, files in export.files["all"].items())
    print(f"  {len(predicted)} pages ({splits}) + card in {time.perf_counter() - step:.1f} s")

    from ..training.closure_lite import (  # lazy: torch + transformers + accelerate
        TrainConfig,
        train_closure_lite,
    )

    heads_only = model_config == "lite"
    frozen = "both towers frozen, their outputs cached: heads only" if heads_only else "text tower frozen"
    print(
        f"\n[6/{total}] training Closure Lite ({model_config}, {train_steps} steps on CPU, {frozen}) "
        f"on the dataset into {out / 'closure-lite'}"
    )
    step = time.perf_counter()
    trained = train_closure_lite(
        TrainConfig(
            out=str(out / "closure-lite"),
            dataset=str(out / "dataset"),
            data_config="all",
            model_config=model_config,
            steps=train_steps,
            batch_size=8,
            learning_rate=1e-3 if heads_only else 5e-4,  # heads only: the real-page recipe's rate
            warmup_steps=max(1, train_steps // 10),
            eval_every=train_steps,
            # lite: pretrained Lite0 + MiniLM frozen, each crop and text through a tower once (cached);
            # a from-scratch vision tower (tiny, lite-vit) keeps training
            freeze_backbones="both" if heads_only else "text",
            cache_features=True,
            show_progress=show_progress,
            report_to="none",
            overwrite=True,  # a demo re-run regenerates everything
        )
    )
    shown = ", ".join(f"{k} {v:.3f}" for k, v in trained.metrics.items() if isinstance(v, float))
    print(f"  {trained.step} steps in {time.perf_counter() - step:.1f} s; held-out: {shown}")
    if not keep_checkpoints:
        from ..training.harness import compact_run  # lazy: torch + safetensors

        freed = compact_run(out / "closure-lite", keep="final", half=True)
        print(
            f"  kept {trained.final_dir} only, its weights stored as float16 ({freed / 2**20:.0f} MiB of "
            "checkpoints and copies removed; --keep-checkpoints keeps them)"
        )

    tail = run_demo_tail(
        out / "annotated", trained.final_dir, out, step=(7, total), show_progress=show_progress
    )
    tail.seconds = time.perf_counter() - start
    return tail


def crop_query(searcher: StoreSearch, loaded: Any, pages: Any, path: Path) -> None:
    """ "Where does this crop come from": a panel of a stored page, cut out, shrunk to 80% and saved
    as JPEG quality 60, searched at the crop level (image-only panel vectors); prints the hits."""
    from PIL import Image

    from ..inference.closure_lite import query_vector  # lazy: torch + transformers

    st = searcher.store
    counts = st.panel_mask.sum(axis=1)
    if not st.image_vectors or not (counts >= 2).any():
        return
    pos = int((counts >= 2).argmax())
    source = open_pages(pages)
    page = source.page(source.page_ids.index(st.page_ids[pos]))
    x, y, w, h = page.panels[1].bbox
    crop = source.load_image(page).crop((round(x), round(y), round(x + w), round(y + h)))
    crop.resize((max(1, round(crop.width * 0.8)), max(1, round(crop.height * 0.8)))).save(path, quality=60)
    with Image.open(path) as opened:
        vector = query_vector(loaded, image=opened.convert("RGB"), crop=True)
    hits = searcher.search(vector=vector, level="crop", k=3)
    shown = ", ".join(f"{h.page_id} panel {h.panel} ({h.score:.3f})" for h in hits)
    print(f"  where does {path.name} (panel 1 of {page.page_id}, shrunk, JPEG q60) come from: {shown}")


def demo_page_types(out: Path, truth: list, *, show_progress: bool = True) -> dict[str, str]:
    """Page types of the demo's pages, so that page-type filters and the Space have them: PSS
    features with page statistics of the annotated pages (``pss features --page-stats``), then
    ``segment`` with its default, the zero-shot segmenter (no training data), which writes
    page_type / story_start into ``out/annotated/dataspec`` (the dataset and the store take them
    from there). Scored against the demo's exact ``truth``. Writes ``out/pss/`` (features,
    segments.json)."""
    from ..inference.features import extract_features  # lazy: torch + transformers
    from ..inference.pss import segment_books  # lazy: torch
    from ..training.pss_features import dataset_pages  # lazy: torch

    begin = time.perf_counter()
    pss = out / "pss"
    extract_features(
        dataset_pages(out / "annotated"), pss / "features", with_page_stats=True, show_progress=show_progress
    )
    result = segment_books(
        None,
        pss / "features",
        ["all"],
        json_path=pss / "segments.json",
        dataspec=out / "annotated" / "dataspec",
    )
    predicted = result.page_types()
    true = {p.page_id: p.page_type for p in truth if p.page_type}
    right = sum(predicted.get(pid) == t for pid, t in true.items())
    counts: dict[str, int] = {}
    for t in predicted.values():
        counts[t] = counts.get(t, 0) + 1
    print(
        f"  {len(predicted)} pages typed in {time.perf_counter() - begin:.1f} s "
        f"({', '.join(f'{t} {n}' for t, n in sorted(counts.items(), key=lambda kv: -kv[1]))}); "
        f"{right} of {len(true)} match the truth ({right / max(1, len(true)):.3f})"
    )
    return predicted
