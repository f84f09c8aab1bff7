"""Embedding store (DESIGN 3.4): layout, xarray, resume after SIGKILL, shards, int8, sources.

Vectors come from ``store_embedder.embed_pages``, a deterministic content-dependent TEST
embedder (hashed words + box), not a model.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from comics_analysis.dataspec import DataSpecError, Page, write_jsonl
from comics_analysis.store import open_store, write_store
from comics_analysis.synth.records import make_page_records
from store_embedder import embed_pages

pytest.importorskip("zarr")
xr = pytest.importorskip("xarray")

ARRAYS = (
    "page_embedding",
    "panel_embedding",
    "panel_mask",
    "panel_bbox",
    "reading_order",
    "page_id",
    "book_id",
    "page_index",
    "page_type",
)
LONG = "This caption goes on and on " * 40  # > 1,000 characters: never truncated


def _pages(books=6, per_book=20, seed=0):
    pages = make_page_records(books, per_book, seed=seed)
    data = pages[3].to_dict()
    data["texts"].append({"bbox": [10, 10, 50, 20], "text": LONG, "kind": "narration", "panel": 0})
    pages[3] = Page.from_dict(data)
    return pages


def _write(pages, out, **kwargs):
    kwargs.setdefault("model_id", "test-embedder")
    kwargs.setdefault("chunk_pages", 32)
    kwargs.setdefault("show_progress", False)
    return write_store(pages, out, embed_pages, **kwargs)


def _arrays(path):
    ds = xr.open_zarr(path)
    return {name: ds[name].values for name in ds.data_vars}


def _texts(path):
    files = sorted((Path(path) / "text").glob("chunk-*.parquet"))
    return [pq.read_table(f).to_pylist() for f in files]


def assert_same_store(a, b):
    arrays_a, arrays_b = _arrays(a), _arrays(b)
    assert arrays_a.keys() == arrays_b.keys()
    for name in arrays_a:
        assert arrays_a[name].dtype == arrays_b[name].dtype, name
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name], err_msg=name)
    assert _texts(a) == _texts(b)
    attrs_a, attrs_b = open_store(a).attrs, open_store(b).attrs
    for key in ("config_hash", "plan_hash", "row_count", "model_id", "schema_version", "complete"):
        assert attrs_a[key] == attrs_b[key], key


def test_layout_xarray_named_dims_and_attributes(tmp_path):
    pages = _pages(books=3)
    folder = tmp_path / "dataspec"
    write_jsonl(pages[:30], folder / "a.jsonl")
    write_jsonl(pages[30:], folder / "b.jsonl")
    summary = _write(folder, tmp_path / "s.zarr", model_revision="abc123", config={"hidden": 384})
    assert summary.complete and summary.rows == 60 and summary.chunks == 2

    ds = xr.open_zarr(tmp_path / "s.zarr")
    assert ds.sizes == {"page": 60, "panel": 16, "dim": 384, "coord": 4}
    expected_dims = {
        "page_embedding": ("page", "dim"),
        "panel_embedding": ("page", "panel", "dim"),
        "panel_mask": ("page", "panel"),
        "panel_bbox": ("page", "panel", "coord"),
        "reading_order": ("page", "panel"),
        "page_id": ("page",),
        "book_id": ("page",),
        "page_index": ("page",),
        "page_type": ("page",),
    }
    assert {name: ds[name].dims for name in ds.data_vars} == expected_dims
    assert ds.page_embedding.dtype == np.float16 and ds.panel_embedding.dtype == np.float16
    assert ds.panel_bbox.dtype == np.float32 and ds.reading_order.dtype == np.int8
    assert ds.page_index.dtype == np.int32 and ds.panel_mask.dtype == bool
    for key in ("model_id", "model_revision", "config_hash", "created_utc", "schema_version", "row_count"):
        assert key in ds.attrs, key
    assert ds.attrs["model_revision"] == "abc123" and ds.attrs["row_count"] == 60
    assert ds.attrs["complete"] is True
    assert ds.page_embedding.encoding["chunks"] == (32, 384)

    # rows in source order, vectors L2-normalised, panels as in the records
    assert list(ds.page_id.values) == [p.page_id for p in pages]
    assert list(ds.page_type.values) == [p.page_type for p in pages]
    norms = np.linalg.norm(ds.page_embedding.values.astype(np.float32), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=2e-3)
    mask = ds.panel_mask.values
    assert mask.sum(axis=1).tolist() == [len(p.panels) for p in pages]
    panel_norms = np.linalg.norm(ds.panel_embedding.values.astype(np.float32), axis=2)
    np.testing.assert_allclose(panel_norms[mask], 1.0, atol=2e-3)
    assert (panel_norms[~mask] == 0).all()
    page = pages[5]
    x, y, w, h = page.panels[1].bbox
    np.testing.assert_allclose(
        ds.panel_bbox.values[5, 1],
        [x / page.width, y / page.height, w / page.width, h / page.height],
        rtol=1e-6,
    )
    assert ds.reading_order.values[5].tolist() == [*range(len(page.panels)), *[-1] * (16 - len(page.panels))]

    store = open_store(tmp_path / "s.zarr")
    assert LONG in store.texts(pages[3].page_id)  # variable length, not truncated
    assert store.texts(page.page_id, 1) == page.panel_texts(1)


def test_kill_mid_run_then_resume_equals_uninterrupted(tmp_path):
    """A writer process is SIGKILLed mid-run; readers see only finished chunks; resuming gives
    the same store as one uninterrupted run."""
    pages = _pages(books=8)  # 160 pages, chunks of 16 -> 10 chunks
    write_jsonl(pages, tmp_path / "pages.jsonl")
    script = tmp_path / "writer.py"
    script.write_text(
        "import sys, time\n"
        "from store_embedder import embed_pages\n"
        "from comics_analysis.store import write_store\n"
        "def slow(items):\n"
        "    time.sleep(float(sys.argv[3]))\n"
        "    return embed_pages(items)\n"
        "write_store(sys.argv[1], sys.argv[2], slow, model_id='test-embedder', chunk_pages=16,\n"
        "            batch_size=8, show_progress=False)\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root / "tests")])}
    out = tmp_path / "killed.zarr"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "pages.jsonl"), str(out), "0.15"], env=env
    )
    progress = out / "progress" / "shard-000-of-001.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if progress.is_file() and len(open_store(out).finished) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the writer finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    partial = open_store(out)
    assert 3 <= len(partial.finished) < 10 and not partial.complete
    visible = partial.page_ids.tolist()
    assert visible == [p.page_id for p in pages][: len(visible)]  # whole chunks, in order, no gaps
    assert len(visible) == 16 * len(partial.finished)
    assert len(partial.to_xarray().page) == len(visible)

    resumed = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "pages.jsonl"), str(out), "0"], env=env, timeout=120
    )
    assert resumed.returncode == 0
    reference = tmp_path / "reference.zarr"
    _write(pages, reference, chunk_pages=16, batch_size=8)
    assert_same_store(out, reference)
    assert len(open_store(out)) == 160


def test_shards_write_disjoint_chunks_of_one_store(tmp_path):
    pages = _pages(books=5)  # 100 pages, chunks of 16 -> 7 chunks
    one = tmp_path / "one.zarr"
    _write(pages, one, chunk_pages=16)
    sharded = tmp_path / "sharded.zarr"
    first = _write(pages, sharded, chunk_pages=16, num_shards=3, shard_index=1)
    assert first.written_chunks == [1, 4] and not first.complete
    assert open_store(sharded).page_ids.tolist() == [p.page_id for p in pages[16:32] + pages[64:80]]
    _write(pages, sharded, chunk_pages=16, num_shards=3, shard_index=0)
    last = _write(pages, sharded, chunk_pages=16, num_shards=3, shard_index=2)
    assert last.complete
    assert sorted(p.name for p in (sharded / "progress").iterdir()) == [
        f"shard-00{i}-of-003.json" for i in range(3)
    ]
    assert_same_store(sharded, one)
    again = _write(pages, sharded, chunk_pages=16, num_shards=3, shard_index=2)
    assert again.written_chunks == [] and again.complete  # nothing redone


def test_resume_refuses_other_settings_or_pages(tmp_path):
    pages = _pages(books=2)
    _write(pages, tmp_path / "s.zarr")
    with pytest.raises(ValueError, match="config_hash"):
        _write(pages, tmp_path / "s.zarr", model_id="another-model")
    with pytest.raises(ValueError, match=r"plan_hash|row_count"):
        _write(pages[:-1], tmp_path / "s.zarr")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="not an embedding store"):
        _write(pages, tmp_path / "other")


def test_dataset_source_equals_dataspec_source(tmp_path):
    datasets = pytest.importorskip("datasets")
    from comics_analysis.dataspec import hf_features, to_hf_row

    pages = _pages(books=2)
    dataset = datasets.Dataset.from_list([to_hf_row(p) for p in pages], features=hf_features())
    _write(dataset, tmp_path / "from-dataset.zarr")
    _write(pages, tmp_path / "from-pages.zarr")
    assert_same_store(tmp_path / "from-dataset.zarr", tmp_path / "from-pages.zarr")


def test_int8_variant_per_vector_scale(tmp_path):
    pages = _pages(books=3)
    _write(pages, tmp_path / "f16.zarr")
    _write(pages, tmp_path / "i8.zarr", dtype="int8")
    ds = xr.open_zarr(tmp_path / "i8.zarr")
    assert ds.page_embedding.dtype == np.int8 and ds.page_scale.dims == ("page",)
    assert ds.panel_scale.dims == ("page", "panel") and ds.attrs["embedding_dtype"] == "int8"
    f16, i8 = open_store(tmp_path / "f16.zarr"), open_store(tmp_path / "i8.zarr")
    a, b = f16.page_vectors(), i8.page_vectors()
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert (np.sum(a * b, axis=1) > 0.9995).all()
    mask = f16.panel_mask
    cos = np.sum(f16.panel_vectors() * i8.panel_vectors(), axis=2)[mask]
    assert (cos > 0.9995).all()
    assert (i8.panel_vectors()[~mask] == 0).all()


def test_embed_fn_errors_name_the_page(tmp_path):
    pages = _pages(books=1)

    def nan_on_page_4(items):
        page, panel, mask = embed_pages(items)
        for r, item in enumerate(items):
            if item.page.page_index == 4:
                page[r, 0] = np.nan
        return page, panel, mask

    with pytest.raises(DataSpecError, match=r"p0004.*non-finite"):
        write_store(pages, tmp_path / "s.zarr", nan_on_page_4, model_id="t", show_progress=False)
    with pytest.raises(ValueError, match="shape"):
        write_store(
            pages,
            tmp_path / "t.zarr",
            lambda items: embed_pages(items, dim=8),
            model_id="t",
            show_progress=False,
        )
    twice = [pages[0], pages[1], pages[0]]
    with pytest.raises(DataSpecError, match="appears twice"):
        write_store(twice, tmp_path / "u.zarr", embed_pages, model_id="t", show_progress=False)


def test_content_hash_of_store_is_deterministic(tmp_path):
    pages = _pages(books=1)
    _write(pages, tmp_path / "a.zarr")
    _write(pages, tmp_path / "b.zarr")
    digest = [
        hashlib.sha256(open_store(p).page_vectors().tobytes()).hexdigest()
        for p in (tmp_path / "a.zarr", tmp_path / "b.zarr")
    ]
    assert digest[0] == digest[1]


def test_set_page_types_updates_only_the_named_pages(tmp_path):
    from comics_analysis.store import set_page_types

    pages = _pages(books=2)
    _write(pages, tmp_path / "s.zarr")
    before = open_store(tmp_path / "s.zarr").page_types.copy()
    vectors = open_store(tmp_path / "s.zarr").page_vectors()
    target = {pages[0].page_id: "cover", pages[33].page_id: "advertisement", "nope-00000000/p0000": "story"}
    changed = set_page_types(tmp_path / "s.zarr", target)
    store = open_store(tmp_path / "s.zarr")
    after = store.page_types
    assert after[store.locate(pages[0].page_id)] == "cover"
    assert after[store.locate(pages[33].page_id)] == "advertisement"
    others = [i for i, pid in enumerate(store.page_ids) if pid not in target]
    assert list(after[others]) == list(before[others])
    assert changed == sum(
        before[store.locate(pid)] != t for pid, t in target.items() if pid in store.position
    )
    np.testing.assert_array_equal(store.page_vectors(), vectors)  # vectors untouched
    with pytest.raises(FileNotFoundError, match="not an embedding store"):
        set_page_types(tmp_path, {})
