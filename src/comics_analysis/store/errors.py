"""The errors table of an engine run of ``embed``: the pages of the chunks that have no vectors,
with the reason (``STORE/progress/errors-shard-I-of-K.parquet``, beside the shard's progress
file; removed by a run of that shard that fails nothing)."""

from __future__ import annotations

from pathlib import Path

from ..dataspec import atomic_write
from .layout import PROGRESS_DIR


def chunk_errors_path(store: str | Path, shard_index: int, num_shards: int) -> Path:
    return Path(store) / PROGRESS_DIR / f"errors-shard-{shard_index:03d}-of-{num_shards:03d}.parquet"


def write_chunk_errors(plan, failed: dict[int, str], path: Path) -> int:
    """One row per page of each failed chunk (page_id, chunk, kind, reason); no file when none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not failed:
        path.unlink(missing_ok=True)
        return 0
    rows = []
    for chunk, reason in sorted(failed.items()):
        start = chunk * plan.chunk_pages
        for page_id in plan.source.page_ids[start : start + plan.chunk_rows(chunk)]:
            rows.append({"page_id": page_id, "chunk": chunk, "kind": reason.split(":")[0], "reason": reason})
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [("page_id", pa.string()), ("chunk", pa.int32()), ("kind", pa.string()), ("reason", pa.string())]
        ),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
    return table.num_rows
