"""Progress manifests: one JSON file per writer shard listing the chunks it has finished."""

from __future__ import annotations

import json
from pathlib import Path

from ..dataspec import atomic_write
from .layout import PROGRESS_DIR


def progress_path(store: str | Path, shard_index: int, num_shards: int) -> Path:
    return Path(store) / PROGRESS_DIR / f"shard-{shard_index:03d}-of-{num_shards:03d}.json"


def read_progress(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable progress manifest ({exc})") from None
    if not isinstance(data.get("chunks"), list):
        raise ValueError(f"{path}: progress manifest has no 'chunks' list")
    return data


def finished_chunks(store: str | Path) -> set[int]:
    """Chunks finished by any shard (the union of the progress files)."""
    folder = Path(store) / PROGRESS_DIR
    done: set[int] = set()
    if folder.is_dir():
        for path in sorted(folder.glob("shard-*.json")):
            done.update(int(c) for c in read_progress(path)["chunks"])
    return done


def record_chunk(path: Path, chunk: int, shard_index: int, num_shards: int, plan: str) -> None:
    """Add ``chunk`` to a shard's manifest (atomic rename: the file is old or new, never half)."""
    chunks = set(read_progress(path)["chunks"]) if path.is_file() else set()
    chunks.add(chunk)
    payload = {
        "shard_index": shard_index,
        "num_shards": num_shards,
        "plan_hash": plan,
        "chunks": sorted(chunks),
    }
    with atomic_write(path) as handle:
        json.dump(payload, handle)
