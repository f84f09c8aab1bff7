"""Shared plumbing of the builders: run a builder class into a DatasetDict or Parquet shards.

datasets 5 runs no loading scripts (DESIGN 6), so each builder is a plain
``datasets.GeneratorBasedBuilder`` subclass in this package, prepared here. The cache key of a
preparation is a fingerprint of the input files (path, size, mtime), the builder options and the
package version, so editing an input never returns stale rows.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import datasets
from datasets.exceptions import DatasetGenerationError

from .. import __version__
from ..dataspec import DataSpecError
from ..ingest.entries import natural_key

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})


def fingerprint(files: Iterable[str | Path], *extra: Any) -> str:
    """A short hash of files (path, size, mtime) and extra values, for the builder cache key."""
    digest = hashlib.sha256(f"comics-analysis {__version__}\n".encode())
    for path in sorted(Path(f) for f in files):
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    digest.update(repr(extra).encode())
    return digest.hexdigest()[:16]


SPLIT_ORDER = ("train", "validation", "val", "dev", "test")


def split_key(name: str) -> tuple[int, str]:
    """Sort key for split names: train, validation/val/dev, test, then others by name."""
    return (SPLIT_ORDER.index(name) if name in SPLIT_ORDER else len(SPLIT_ORDER), name)


def find_split_files(data_dir: str | Path, pattern: re.Pattern, missing: str) -> dict[str, Path]:
    """``{split: path}`` of the files in ``data_dir`` whose name ``pattern`` matches (its group
    ``split``), in split order; FileNotFoundError ``"{missing} in {data_dir}"`` when there is none."""
    found = {}
    for path in sorted(Path(data_dir).iterdir()):
        match = pattern.match(path.name)
        if match and path.is_file():
            found[match["split"]] = path
    if not found:
        raise FileNotFoundError(f"{missing} in {data_dir}")
    return {split: found[split] for split in sorted(found, key=split_key)}


def split_generators(files: dict[str, Path]) -> list[datasets.SplitGenerator]:
    """One split per file, its path passed to ``_generate_examples(path=...)``."""
    return [
        datasets.SplitGenerator(name=split, gen_kwargs={"path": str(path)}) for split, path in files.items()
    ]


def image_files(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, in natural order of their names."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: natural_key(p.name))


def make_builder(builder_cls, config: str | None, data_dir: str | Path, cache_dir=None, **options: Any):
    """An instance of ``builder_cls`` for ``config`` over ``data_dir``, keyed by its inputs."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{builder_cls.__name__}: data folder not found: {data_dir}")
    config = config or builder_cls.DEFAULT_CONFIG_NAME
    files = builder_cls.input_files(data_dir, config=config, **options)
    key = fingerprint(files, builder_cls.__name__, config, sorted(options.items()))
    return builder_cls(config_name=config, data_dir=str(data_dir), cache_dir=cache_dir, hash=key, **options)


def build(builder_cls, config: str | None, data_dir: str | Path, cache_dir=None, split=None, **options: Any):
    """Prepare ``builder_cls`` and return its ``DatasetDict`` (or one ``Dataset`` for ``split``)."""
    builder = make_builder(builder_cls, config, data_dir, cache_dir=cache_dir, **options)
    try:
        builder.download_and_prepare()
    except DatasetGenerationError as exc:
        # datasets wraps every error of a generator; ours name the file and field: show them
        if isinstance(exc.__cause__, (DataSpecError, OSError)):
            raise exc.__cause__ from None
        raise
    return builder.as_dataset(split=split)


def export_parquet(
    builder_cls,
    out_dir: str | Path,
    config: str | None,
    data_dir: str | Path,
    max_shard_bytes: int = 500 * 2**20,
    cache_dir=None,
    **options: Any,
) -> list[Path]:
    """Write the prepared dataset as ``<split>-NNNNN-of-NNNNN.parquet`` shards into ``out_dir``
    and return their paths. The builders embed image bytes while generating, so the shards are
    self-contained; image paths stay as generated (``datasets``' own Parquet writer would cut
    them to the file name). Reload with ``datasets.load_dataset("parquet", data_files=...)``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for split, ds in build(builder_cls, config, data_dir, cache_dir=cache_dir, **options).items():
        shards = max(1, math.ceil(ds.data.nbytes / max_shard_bytes))
        for i in range(shards):
            path = out_dir / f"{split}-{i:05d}-of-{shards:05d}.parquet"
            ds.shard(shards, i, contiguous=True).to_parquet(str(path))
            written.append(path)
    return written
