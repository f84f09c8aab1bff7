"""Damaged embedding stores: a missing or truncated chunk is found, named and repairable; the
next `embed` rewrites exactly the damaged chunks and the store equals an undamaged one."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from comics_analysis.store import StoreError, open_store, verify_store, write_store
from comics_analysis.synth.records import make_page_records
from store_embedder import embed_pages  # tests/: on the path through tests/conftest.py


def _write(pages, out):
    return write_store(pages, out, embed_pages, model_id="test-embedder", chunk_pages=16, show_progress=False)


@pytest.fixture
def store(tmp_path):
    pages = make_page_records(3, 20, seed=4)  # 60 pages: chunks 0..3
    _write(pages, tmp_path / "store")
    return pages, tmp_path / "store"


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "comics_analysis", "--quiet", *map(str, args)], capture_output=True, text=True
    )


def test_every_chunk_is_a_file_and_a_clean_store_verifies(store):
    _, path = store
    assert verify_store(path) == []
    # fill-only chunks are written too (page_type is all "" here, reading order partly -1)
    assert sorted(p.name for p in (path / "page_type" / "c").iterdir()) == ["0", "1", "2", "3"]
    result = _cli("store", "verify", path)
    assert result.returncode == 0 and "every finished chunk is present" in result.stdout


def test_a_deleted_vector_chunk_is_refused_on_open_then_repaired_and_rewritten(store, tmp_path):
    pages, path = store
    reference = open_store(path).page_vectors()
    (path / "page_embedding" / "c" / "2" / "0").unlink()
    with pytest.raises(StoreError, match=r"missing, e\.g\. .*page_embedding/c/2/0.*store verify"):
        open_store(path)  # before: searches scored those 16 pages 0.0 and `store info` said complete
    result = _cli("store", "verify", path)
    assert result.returncode == 1
    assert "chunk 2 page_embedding: missing" in result.stdout and "--repair" in result.stdout
    result = _cli("store", "verify", path, "--repair")
    assert result.returncode == 1 and "no longer marked finished" in result.stdout
    damaged = open_store(path)
    assert len(damaged) == 60 - 16 and not damaged.complete
    _write(pages, path)  # the same embed again: only chunk 2 is redone
    repaired = open_store(path)
    assert repaired.complete and verify_store(path) == []
    np.testing.assert_array_equal(repaired.page_vectors(), reference)


def test_a_truncated_chunk_names_its_array_and_chunk(store):
    _, path = store
    chunk = path / "panel_embedding" / "c" / "1" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:40])
    problems = verify_store(path)
    assert [(p["chunk"], p["array"]) for p in problems] == [(1, "panel_embedding")]
    assert "cannot be read" in problems[0]["problem"]
    store = open_store(path)  # vector and id files exist: opens; reading the chunk names it
    with pytest.raises(StoreError, match=r"chunk 1 of array panel_embedding"):
        store.panel_vectors()


def test_a_missing_text_file_is_reported(store):
    _, path = store
    (path / "text" / "chunk-000003.parquet").unlink()
    assert [(p["chunk"], p["array"], p["problem"]) for p in verify_store(path)] == [(3, "text", "missing")]
