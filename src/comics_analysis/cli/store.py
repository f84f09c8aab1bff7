"""`embed`, `search`, `store info / index`, `analyze` and `serve`: the embedding store and what reads it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ._common import Commands, add_engine_args, emit_json, engine_options, renamed

JSON_HELP = "write JSON instead of the table: to PATH, or to standard output when PATH is - or left out"


def cmd_search(args: argparse.Namespace) -> int:
    from ..store import hits_text, search_descriptions, search_quote, search_store

    if args.describe is not None:
        if any(v is not None for v in (args.page, args.vector, args.text, args.image, args.quote)):
            raise ValueError("--describe is its own query: no --page/--vector/--text/--image/--quote")
        hits = search_descriptions(
            args.store, args.describe, k=args.k, book_id=args.book, page_type=args.page_type,
            min_panels=args.min_panels, max_panels=args.max_panels,
        )  # fmt: skip
        _print_hits(hits_text(hits, as_json=args.json is not None), args.json)
        return 0
    if args.quote is not None:
        others = [args.page, args.vector, args.text, args.image, args.ann or None, args.level, args.has_text]
        if any(v is not None for v in others):
            raise ValueError(
                "--quote searches the lettering: no --page/--vector/--text/--image/--ann/--level"
            )
        hits = search_quote(
            args.store,
            args.quote,
            k=args.k,
            mode=args.mode,
            book_id=args.book,
            page_type=args.page_type,
            hybrid=args.hybrid,
            model=args.model,
        )
        _print_hits(hits_text(hits, as_json=args.json is not None), args.json)
        return 0
    if args.hybrid:
        raise ValueError("--hybrid goes with --quote (and --model)")
    hits = search_store(
        args.store,
        page=args.page,
        panel=args.panel,
        vector=args.vector,
        text=args.text,
        image=args.image,
        model=args.model,
        backend=args.backend,
        k=args.k,
        level=args.level,
        book_id=args.book,
        page_type=args.page_type,
        min_panels=args.min_panels,
        max_panels=args.max_panels,
        has_text=args.has_text,
        ann=args.ann,
        nprobe=args.nprobe,
    )
    _print_hits(hits_text(hits, as_json=args.json is not None), args.json)
    return 0


def _print_hits(text: str, where: str | None) -> None:
    """The hits table, or their JSON to standard output or a file (``--json [PATH]``)."""
    if where is None:
        print(text)
    else:
        emit_json(text, where)


def cmd_store_info(args: argparse.Namespace) -> int:
    from ..store import open_store

    _print_hits(open_store(args.store).info_text(as_json=args.json is not None), args.json)
    return 0


def cmd_store_verify(args: argparse.Namespace) -> int:
    from ..store import verify_store

    problems = verify_store(args.store, repair=args.repair)
    for problem in problems:
        print(f"chunk {problem['chunk']} {problem['array']}: {problem['problem']} ({problem['file']})")
    if not problems:
        print(f"{args.store}: every finished chunk is present and decodes")
        return 0
    chunks = sorted({p["chunk"] for p in problems})
    print(f"{len(problems)} problem(s) in {len(chunks)} chunk(s): {chunks}")
    if args.repair:
        print("those chunks are no longer marked finished; run the same `embed` again to rewrite them")
    else:
        print("run again with --repair to unmark them, then the same `embed` to rewrite them")
    return 1


def cmd_store_index(args: argparse.Namespace) -> int:
    from ..store import StoreSearch, build_fulltext

    start = time.perf_counter()
    if args.level == "text":
        built = build_fulltext(args.store, rebuild=args.rebuild)
        what = (
            "up to date"
            if built.up_to_date
            else f"added {len(built.added_chunks)} chunk(s), removed {len(built.removed_chunks)}"
        )
        print(
            f"full-text index: {built.panels:,} panels with lettering, {built.bytes:,} bytes; {what} "
            f"in {built.seconds:.1f} s -> {built.path}"
        )
        return 0
    searcher = StoreSearch(args.store)
    index = searcher.build_ann(
        args.level, nlist=args.nlist, nprobe=args.nprobe, target_recall=args.target_recall
    )
    cal = index.meta["calibration"]
    measured = (
        f"; recall@{cal['k']} {cal['recall']:.3f} on {cal['queries']} held-out stored vectors"
        if cal["recall"] is not None
        else ""
    )
    print(
        f"built a FAISS IVF index ({index.meta['n']} {args.level} vectors, nlist {index.nlist}, "
        f"nprobe {index.nprobe}{measured}) in {time.perf_counter() - start:.1f} s "
        f"-> {searcher.index_path(args.level)}"
    )
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from ..store.embed import embed_store

    result = embed_store(
        args.dataset,
        args.model,
        args.out,
        config=args.config,
        image_root=args.images,
        num_shards=args.num_shards,
        shard_index=args.shard_index,
        batch_size=args.batch_size,
        chunk_pages=args.chunk_pages,
        dtype=args.dtype,
        model_id=args.model_id,
        revision=args.revision,
        threads=args.threads,
        show_progress=not args.quiet,
        engine=engine_options(args),
        max_panels=args.max_panels,
    )
    s = result.summary
    print(
        f"process {result.process_index}/{result.num_processes} (writer shard {result.shard_index} of "
        f"{result.num_shards}): {result.pages} pages, {result.panels} panels in {result.seconds:.1f} s "
        f"({result.pages_per_second:.2f} pages/s); chunks written {len(s.written_chunks)}, skipped "
        f"{s.skipped_chunks}; store {'complete' if s.complete else 'incomplete'}: {s.store}"
    )
    if s.panels_truncated:
        print(
            f"{s.panels_truncated} pages have more panels than the store keeps (see --max-panels; ids logged)"
        )
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from ..analysis import analyze_store

    result = analyze_store(
        args.store,
        args.out,
        clusters=args.clusters,
        neighbors=args.neighbors,
        seed=args.seed,
        outlier_threshold=args.outlier_threshold,
        outlier_reference=args.outlier_reference,
        method=args.method,
    )
    print(result.summary_text())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ..space import SpaceConfig, launch

    config = SpaceConfig.from_env(
        store=args.store,
        model=args.model,
        pages=args.pages,
        image_root=args.images,
        analysis=args.analysis,
    )
    launch(config, host=args.host, port=args.port, share=False, block=True)
    return 0


def register(commands: Commands) -> None:
    p = commands.sub.add_parser(
        "search",
        help="search an embedding store: more like a page or panel, a query vector, or a quote",
        description="Exact cosine top-k (default) or a FAISS index (--ann, built by `store index`) over page "
        "or panel vectors, with filters. --text/--image need the Closure Lite model (--model DIR). --quote "
        "finds the panels whose lettering says a line (full-text index: `store index STORE --level text`).",
    )
    p.add_argument("store", type=Path, help="embedding store folder (Zarr v3)")
    p.add_argument("--page", help="page id: pages like this one (the page itself is left out)")
    p.add_argument(
        "--panel", type=int, help="with --page: panels like this panel (its index in reading order, from 0)"
    )
    p.add_argument("--vector", type=Path, help="a query vector saved with numpy.save (.npy)")
    p.add_argument("--text", help="text query (needs --model)")
    p.add_argument("--image", type=Path, help="image query: a page or a crop (needs --model)")
    p.add_argument(
        "--quote", help="a line of lettering: the panels that say it (fuzzy: OCR errors are forgiven)"
    )
    p.add_argument(
        "--mode",
        choices=["fuzzy", "phrase", "words"],
        default="fuzzy",
        help="with --quote: fuzzy (default; trigram candidates re-ranked by similarity), phrase "
        "(the words in order, exactly), words (all words, any order); phrase and words rank by bm25",
    )
    p.add_argument(
        "--hybrid",
        action="store_true",
        help="with --quote and --model: fuse the quote's lexical and embedding rankings (RRF)",
    )
    p.add_argument(
        "--describe", help="a scene in words: the panels whose VLM description means it (offline MiniLM)"
    )
    p.add_argument("--model", type=Path, help="Closure Lite model folder for --text / --image / --hybrid")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument(
        "--level",
        choices=["page", "panel", "crop"],
        help="search pages, panels, or panels by their image only (crop; the default of --image where the "
        "store keeps those vectors); default: the query's",
    )
    p.add_argument("--book", action="append", help="only this book id (repeatable)")
    p.add_argument("--page-type", action="append", help="only this page type (repeatable)")
    p.add_argument("--min-panels", type=int, help="only pages with at least N stored panels")
    p.add_argument("--max-panels", type=int, help="only pages with at most N stored panels")
    text = p.add_mutually_exclusive_group()
    text.add_argument(
        "--has-text", dest="has_text", action="store_const", const=True, help="only hits with text"
    )
    text.add_argument(
        "--no-text", dest="has_text", action="store_const", const=False, help="only hits without"
    )
    p.add_argument("--ann", action="store_true", help="use the saved FAISS index instead of exact search")
    p.add_argument("--nprobe", type=int, help="with --ann: inverted lists scanned (default: the index's)")
    p.add_argument(
        "--backend", default="auto", choices=["auto", "faiss", "numpy"], help="exact search backend"
    )
    p.add_argument("--json", nargs="?", const="-", metavar="PATH", help=JSON_HELP + " (full text)")
    p.set_defaults(func=cmd_search)

    p = commands.sub.add_parser(
        "embed",
        help="embed pages with a Closure Lite model into an embedding store (Zarr v3)",
        description="Write page and panel embeddings in whole chunks with a progress manifest; a re-run "
        "resumes (finished chunks are skipped). DATASET: any page source (an annotate output folder, a "
        "comic_pages export folder (`dataset build`), a datasets save_to_disk folder, DataSpec files, "
        "...; see docs/datasets.md). Under "
        "`accelerate launch` every process embeds its own chunks (on CPU: ACCELERATE_USE_CPU=1 "
        "accelerate launch --multi_gpu --num_processes N -m comics_analysis embed ...).",
    )
    p.add_argument("dataset", help="annotate output, comic_pages export, DataSpec files, ...")
    p.add_argument("--model", required=True, help="Closure Lite model folder (or Hub repo id)")
    p.add_argument("--out", required=True, type=Path, help="store folder (created, or resumed)")
    p.add_argument("--config", help="comic_pages config of an export to embed (default all)")
    p.add_argument(
        "--image-root",
        dest="images",
        type=Path,
        help="root of the records' image paths (default: as recorded)",
    )
    renamed(p, "--images", "--image-root", dest="images", type=Path)
    p.add_argument("--num-shards", type=int, default=1, help="split the chunks into K shards (e.g. Slurm)")
    p.add_argument("--shard-index", type=int, default=0, help="which shard this run writes, 0..K-1")
    p.add_argument("--batch-size", type=int, default=16, help="pages per forward pass (default 16)")
    p.add_argument("--chunk-pages", type=int, default=1024, help="pages per store chunk (default 1024)")
    p.add_argument("--dtype", choices=["float16", "int8"], default="float16", help="vector storage")
    p.add_argument(
        "--max-panels",
        type=int,
        help="most panels kept per page, the store's panel axis (default: an existing store's, else 32); "
        "pages with more are logged by page id",
    )
    p.add_argument("--model-id", help="model id recorded in the store (default: the --model value)")
    p.add_argument("--revision", help="model revision (Hub commit; default: weights hash of a folder)")
    p.add_argument("--threads", type=int, help="torch CPU threads per process")
    add_engine_args(p)
    p.set_defaults(func=cmd_embed)

    p = commands.sub.add_parser(
        "analyze",
        help="UMAP map, k-means clusters, plots, a cluster report and outlier scores of a store",
        description="Writes OUT/points.csv (page_id, x, y, cluster, outlier score and flag, panel count, "
        "page type), OUT/map_*.png, OUT/clusters.json + clusters.md and OUT/outliers.json.",
    )
    p.add_argument("store", type=Path, help="embedding store folder")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--clusters", type=int, help="k of k-means (default: about sqrt(pages / 2), 2..12)")
    p.add_argument("--neighbors", type=int, default=15, help="UMAP n_neighbors (default 15)")
    p.add_argument("--method", choices=["umap", "pca"], default="umap", help="2-D map (default umap)")
    p.add_argument("--seed", type=int, default=0, help="seed of UMAP and k-means")
    p.add_argument(
        "--outlier-threshold",
        type=float,
        default=3.0,
        help="robust z-score above which a page is flagged (default 3)",
    )
    p.add_argument(
        "--outlier-reference",
        choices=["multi-panel", "all"],
        default="multi-panel",
        help="pages the outlier score measures against: those with 2+ detected panels (default; all "
        "pages when fewer than 10%% have them) or all pages",
    )
    p.set_defaults(func=cmd_analyze)

    p = commands.sub.add_parser(
        "serve",
        help="run the comics-search Gradio app on a store (what the Space runs)",
        description="Search by text / image / page id, view pages with their panels and text, browse a "
        "book, see the UMAP map. Paths default to the COMICS_STORE, COMICS_MODEL, COMICS_PAGES, "
        "COMICS_IMAGES and COMICS_ANALYSIS environment variables.",
    )
    p.add_argument("store", nargs="?", type=Path, help="embedding store folder (default $COMICS_STORE)")
    p.add_argument("--model", type=Path, help="Closure Lite model folder, for text and image queries")
    p.add_argument("--pages", type=Path, help="the pages embedded (default: as the store recorded)")
    p.add_argument(
        "--image-root", dest="images", type=Path, help="root of the page image paths (default: as recorded)"
    )
    renamed(p, "--images", "--image-root", dest="images", type=Path)
    p.add_argument("--analysis", type=Path, help="`analyze` output folder for the map tab")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: a free port)")
    p.set_defaults(func=cmd_serve)

    st_sub = commands.group(
        "store",
        help="inspect an embedding store and build its FAISS index",
        description="Embedding stores are written by `comics_analysis.store.write_store` "
        "(`comics-analysis embed`, or `comics_analysis.store.write_store` with any embedding function).",
        dest="store_command",
        metavar="ACTION",
    )
    p = st_sub.add_parser("info", help="attributes, progress and bytes on disk of a store")
    p.add_argument("store", type=Path, help="embedding store folder")
    p.add_argument("--json", nargs="?", const="-", metavar="PATH", help=JSON_HELP)
    p.set_defaults(func=cmd_store_info)
    p = st_sub.add_parser("verify", help="check that every finished chunk is present and decodes")
    p.add_argument("store", type=Path, help="embedding store folder")
    p.add_argument(
        "--repair", action="store_true", help="unmark damaged chunks so that `embed` rewrites them"
    )
    p.set_defaults(func=cmd_store_verify)
    p = st_sub.add_parser(
        "index",
        help="build a FAISS IVF index (for `search --ann`) or the full-text index (`--level text`)",
        description="--level page/panel/crop: a FAISS IVF index of those vectors (crop: the image-only "
        "panel vectors that crop queries search). --level text: "
        "STORE/fulltext.sqlite (SQLite FTS5, trigrams) over the lettering, for `search --quote`; a "
        "re-run adds the chunks finished since and is a no-op when nothing changed.",
    )
    p.add_argument("store", type=Path, help="embedding store folder")
    p.add_argument(
        "--level",
        choices=["page", "panel", "crop", "text"],
        default="page",
        help="vectors to index (crop: the image-only panel vectors of `search --image`), or the lettering",
    )
    p.add_argument("--rebuild", action="store_true", help="with --level text: rebuild from empty")
    p.add_argument("--nlist", type=int, help="inverted lists (default sqrt(n))")
    p.add_argument(
        "--nprobe", type=int, help="lists scanned per query (default: calibrated to --target-recall)"
    )
    p.add_argument(
        "--target-recall",
        type=float,
        default=0.95,
        help="without --nprobe: the smallest nprobe whose recall@10 vs exact search reaches this "
        "(measured on held-out stored vectors; default 0.95)",
    )
    p.set_defaults(func=cmd_store_index)
