"""Compare two runs of a per-page stage file by file (Slurm shards, the Ray engine, the local
engine): same file names, same bytes, except the wall-clock times a record carries."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

TIMES = {"created_utc", "completed_utc"}
# the store's note of where its pages came from names the (absolute) folders of the run
WHERE = {"source_description"}


def _files(folder: Path, skip=()) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not any(p.relative_to(folder).as_posix().startswith(s) for s in skip)
    )


def _timeless(value, ignore=frozenset(TIMES)):
    if isinstance(value, dict):
        return {k: None if k in ignore else _timeless(v, ignore) for k, v in value.items()}
    if isinstance(value, list):
        return [_timeless(v, ignore) for v in value]
    return value


def _jsonl(path: Path) -> list:
    return [_timeless(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]


def _parquet(path: Path):
    table = pq.read_table(path)
    return table.schema, _timeless(table.to_pylist())


def assert_same_annotate(a: Path, b: Path, skip=()) -> list[str]:
    """Two annotate outputs hold the same files; records equal but for their creation time."""
    files = _files(a, skip)
    assert files == _files(b, skip)
    assert any(f.endswith(".jsonl") for f in files)
    for name in files:
        if name.endswith(".jsonl"):
            assert _jsonl(a / name) == _jsonl(b / name), name
        elif name.endswith(".parquet"):
            assert _parquet(a / name) == _parquet(b / name), name
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    return files


def assert_same_store(a: Path, b: Path, skip=()) -> list[str]:
    """Two stores hold the same files, byte for byte (Zarr chunks, text tables, progress), but for
    the creation and completion times in the group's attributes."""
    files = _files(a, skip)
    assert files == _files(b, skip)
    assert any("/c/" in f for f in files)
    for name in files:
        if name.endswith("zarr.json"):
            left, right = (json.loads((x / name).read_text()) for x in (a, b))
            assert _timeless(left, TIMES | WHERE) == _timeless(right, TIMES | WHERE), name
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    return files
