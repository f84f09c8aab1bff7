"""``datasets`` builders for our data and the benchmark datasets (issue 6; DESIGN 2).

datasets 5 runs no loading scripts, so each builder is a ``datasets.GeneratorBasedBuilder``
subclass in this package, prepared locally and published as Parquet. Each module documents its
row schema and offers a plain ``load_<name>()`` function; :func:`load` dispatches by name:

    from comics_analysis.dataset_builders import load
    closure = load("comics_closure", data_dir="shared/data/comics-closure")          # DatasetDict
    pss = load("cosmo_pss", data_dir="shared/data/cosmo-pss-splits", image_dir=None)
    pap = load("comicspap", data_dir="ComicsPAP", config="text_closure")
    comix = load("comix", data_dir="comix.coco/DCM", image_dir="images/DCM")
    export("cosmo_pss", "out/cosmo", data_dir=..., image_dir="pages/")   # Parquet shards
    pages = load("comic_pages", data_dir="annotated", config="aligned")    # our annotate output
    export("comic_pages", "out/pages", data_dir="annotated")  # shards + stats.json + README.md card
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import __version__
from ..dataspec import atomic_write
from ._common import export_parquet, make_builder
from .cards import benchmark_card, md_table
from .comic_pages import ComicPages, export_comic_pages, load_comic_pages
from .comics_closure import ComicsClosure, load_comics_closure
from .comicspap import ComicsPap, load_comicspap
from .comix import Comix, load_comix
from .cosmo_pss import CosmoPss, book_counts, counts_markdown, load_cosmo_pss, page_counts
from .open_mantra import OpenMantra, load_open_mantra
from .synthetic import Synthetic, load_synthetic

BUILDERS = {
    "comic_pages": ComicPages,
    "comicspap": ComicsPap,
    "comix": Comix,
    "cosmo_pss": CosmoPss,
    "comics_closure": ComicsClosure,
    "open_mantra": OpenMantra,
}
# `synthetic` has no data_dir (rows come from a seed), so it is loaded apart from BUILDERS
NAMES = (*BUILDERS, "synthetic")


def load(name: str, data_dir: str | Path | None = None, config: str | None = None, **kwargs: Any):
    """The dataset ``name`` (a key of :data:`BUILDERS`) as a ``DatasetDict`` keyed by split.

    ``config``: the ComicsPAP skill or the COMICS cloze difficulty (ignored by builders with one
    config; comic_pages: all / aligned / perfect_match). Other keyword arguments go to the
    builder's ``load_<name>`` function."""
    if name == "comicspap":
        return load_comicspap(config or ComicsPap.DEFAULT_CONFIG_NAME, data_dir=data_dir, **kwargs)
    if name == "synthetic":
        return load_synthetic(config or "pages", **kwargs)
    if name not in BUILDERS:
        raise ValueError(f"unknown dataset builder {name!r}; expected one of {', '.join(NAMES)}")
    if data_dir is None:
        raise ValueError(f"{name}: data_dir is required")
    if name == "comic_pages":
        return load_comic_pages(data_dir, config=config or ComicPages.DEFAULT_CONFIG_NAME, **kwargs)
    if name == "comics_closure":
        return load_comics_closure(data_dir, difficulty=config or ComicsClosure.DEFAULT_CONFIG_NAME, **kwargs)
    if name == "comix":
        return load_comix(data_dir, **kwargs)
    if name == "open_mantra":
        return load_open_mantra(data_dir, lang=config or OpenMantra.DEFAULT_CONFIG_NAME, **kwargs)
    return load_cosmo_pss(data_dir, **kwargs)


def export(
    name: str, out_dir: str | Path, data_dir: str | Path, config: str | None = None, **options: Any
) -> list[Path]:
    """Build ``name`` from ``data_dir`` and write ``<split>-NNNNN-of-NNNNN.parquet`` shards
    (images embedded) into ``out_dir``; ``options`` are the builder's config fields (e.g.
    ``image_dir``, ``max_shard_bytes``). Returns the shard paths.

    ``comic_pages`` writes a whole dataset folder instead (``<config>/<split>-*.parquet``, the card
    and ``stats.json``; see :func:`export_comic_pages`, which takes the same options)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown dataset builder {name!r}; expected one of {', '.join(BUILDERS)}")
    if name == "comic_pages":
        result = export_comic_pages(data_dir, out_dir, configs=[config] if config else None, **options)
        return [
            result.folder / f for splits in result.files.values() for files in splits.values() for f in files
        ]
    options = {k: str(v) if isinstance(v, Path) else v for k, v in options.items()}
    shards = export_parquet(BUILDERS[name], out_dir, config, data_dir, **options)
    _write_benchmark_card(name, config, data_dir, out_dir, shards, options)
    return shards


def _write_benchmark_card(name, config, data_dir, out_dir, shards: list[Path], options: dict) -> None:
    """README.md beside the shards: what the data is, rows per split, and for CoSMo PSS the
    per-class page counts (issue 6)."""
    from datetime import datetime, timezone

    import pyarrow.parquet as pq

    by_split: dict[str, list[str]] = {}
    rows: dict[str, int] = {}
    for path in shards:
        split = path.name.split("-")[0]
        by_split.setdefault(split, []).append(path.name)
        rows[split] = rows.get(split, 0) + pq.ParquetFile(path).metadata.num_rows
    statistics = ""
    if name == "cosmo_pss":
        books = book_counts(data_dir)
        statistics = (
            "## Statistics\n\nBooks per split:\n\n"
            + md_table(["split", "books"], [[s, n] for s, n in books.items()])
            + "\n\nPages per class, our taxonomy (DESIGN 4.2):\n\n"
            + counts_markdown(page_counts(data_dir))
            + "\n\nPages per class, the CoSMo 5-class set:\n\n"
            + counts_markdown(page_counts(data_dir, "cosmo5"))
            + "\n\n"
        )
    info = make_builder(BUILDERS[name], config, data_dir, **options).info
    card = benchmark_card(
        name,
        info,
        by_split,
        rows,
        statistics,
        tool=f"comics-analysis {__version__}",
        created=datetime.now(timezone.utc).date().isoformat(),
    )
    with atomic_write(Path(out_dir) / "README.md") as handle:
        handle.write(card)


__all__ = [
    "BUILDERS",
    "ComicPages",
    "ComicsClosure",
    "ComicsPap",
    "Comix",
    "CosmoPss",
    "OpenMantra",
    "Synthetic",
    "export",
    "export_comic_pages",
    "load",
    "load_comic_pages",
    "load_comics_closure",
    "load_comicspap",
    "load_comix",
    "load_cosmo_pss",
    "load_open_mantra",
    "load_synthetic",
]
