"""`comics-analysis embed`: a real (tiny, untrained) Closure Lite model fills a store from an
annotate-style folder and from a comic_pages export; resume, CLI shards and a real 2-process
Accelerate run on CPU write the same vectors as one process."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("zarr")
pytest.importorskip("torch")

from comics_analysis.annotate import read_annotations
from comics_analysis.cli import main
from comics_analysis.inference.closure_lite import load_closure_lite, weights_digest
from comics_analysis.store import open_store
from space_helpers import save_tiny_model, write_collection

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("embed")
    write_collection(root / "coll", books=2, story=8, prose=2, noise=1)
    pages = read_annotations(root / "coll")  # the store's row order: books by file name
    model = save_tiny_model(root / "model")
    out = root / "one.zarr"
    args = ["-q", "embed", str(root / "coll"), "--model", str(model), "--out", str(out)]
    assert main([*args, "--chunk-pages", "4", "--batch-size", "3"]) == 0
    return root, pages, model, out


def _arrays(path):
    st = open_store(path)
    return {
        "page_id": list(st.page_ids),
        "page": st.page_vectors(),
        "panel": st.panel_vectors(),
        "mask": st.panel_mask,
        "bbox": st.panel_bbox,
        "order": st.reading_order,
        "type": list(st.page_types),
    }


def test_embed_writes_model_vectors_and_attributes(corpus):
    import torch
    import xarray as xr

    root, pages, model_dir, out = corpus
    st = open_store(out)
    assert st.complete and len(st) == len(pages) == 19
    assert list(st.page_ids) == [p.page_id for p in pages]
    attrs = st.attrs
    assert attrs["model_id"] == "model"  # an absolute folder is recorded by its name (no absolute paths)
    assert attrs["model_revision"] == weights_digest(model_dir) and attrs["model_revision"].startswith(
        "sha256:"
    )
    # the panel axis is EMBED_PANELS (32), more than the model's training cap of 16
    assert len(attrs["config_hash"]) == 16 and attrs["dim"] == 64 and attrs["panels"] == 32
    assert attrs["source"] == os.path.relpath(root / "coll", out)
    # the source's description names its folders relative to the store too, never absolutely
    assert attrs["source"] in attrs["source_description"] and str(root) not in attrs["source_description"]
    # one stored panel per real panel; panel-less pages (prose, noise) store none
    assert st.panel_mask.sum(axis=1).tolist() == [min(len(p.panels), 16) for p in pages]
    # the stored vectors are the model's own (float16 rounding), for a page embedded alone
    loaded = load_closure_lite(model_dir)
    page = pages[3]
    assert len(page.panels) >= 2
    from PIL import Image

    image = Image.open(root / "coll" / "images" / page.image)
    batch = loaded.processor.collate([loaded.processor.process_page(image, page)])
    batch.pop("order")
    with torch.no_grad():
        ref = loaded.model(**batch, return_loss=False)
    n = len(page.panels)
    np.testing.assert_allclose(st.page_vectors(np.array([3]))[0], ref.page_embeddings[0].numpy(), atol=2e-3)
    np.testing.assert_allclose(
        st.panel_vectors(np.array([3]))[0, :n], ref.panel_embeddings[0, :n].numpy(), atol=2e-3
    )
    ds = xr.open_zarr(str(out))
    assert ds["panel_embedding"].dims == ("page", "panel", "dim") and ds.attrs["model_revision"]


def test_embed_cli_shards_resume_and_equal_rows(corpus, capsys):
    root, _pages, model_dir, one = corpus
    out = root / "sharded.zarr"
    args = ["embed", str(root / "coll"), "--model", str(model_dir), "--out", str(out)]
    args += ["--chunk-pages", "4", "--batch-size", "3"]
    assert main(["-q", *args, "--num-shards", "2", "--shard-index", "1"]) == 0
    assert "incomplete" in capsys.readouterr().out
    st = open_store(out)
    assert not st.complete and st.finished == [1, 3]  # 5 chunks of 4 pages; shard 1 of 2 owns 1 and 3
    assert main(["-q", *args, "--num-shards", "2", "--shard-index", "0"]) == 0
    assert "store complete" in capsys.readouterr().out
    # resume after completion: nothing left to do
    assert main(["-q", *args]) == 0
    assert "chunks written 0, skipped 5" in capsys.readouterr().out
    a, b = _arrays(one), _arrays(out)
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)
    # another model into the same store is refused, naming the attribute
    other = save_tiny_model(root / "other-model", seed=1)
    assert main(["-q", "embed", str(root / "coll"), "--model", str(other), "--out", str(out)]) == 2
    assert "config_hash" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_embed_with_two_accelerate_processes_on_cpu(corpus):
    """`accelerate launch --multi_gpu --num_processes 2` with ACCELERATE_USE_CPU=1 (DESIGN 6: `--cpu`
    alone silently runs one process): both processes write chunks, and the store equals one run."""
    root, _pages, model_dir, one = corpus
    out = root / "two-procs.zarr"
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "1",
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "PYTHONWARNINGS": "ignore",
    }
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    cmd += ["--main_process_port", str(_free_port()), "-m", "comics_analysis", "-q", "embed"]
    cmd += [str(root / "coll"), "--model", str(model_dir), "--out", str(out), "--chunk-pages", "4"]
    cmd += ["--batch-size", "3"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = sorted(line for line in result.stdout.splitlines() if line.startswith("process "))
    assert len(lines) == 2 and lines[0].startswith("process 0/2") and lines[1].startswith("process 1/2")
    progress = sorted((out / "progress").glob("*.json"))
    assert [p.name for p in progress] == ["shard-000-of-002.json", "shard-001-of-002.json"]
    chunks = [set(json.loads(p.read_text())["chunks"]) for p in progress]
    assert chunks == [{0, 2, 4}, {1, 3}]  # each process wrote its own chunks
    st = open_store(out)
    assert st.complete and st.attrs["complete"]
    a, b = _arrays(one), _arrays(out)
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)


def test_embed_from_a_comic_pages_export(corpus, tmp_path):
    from comics_analysis.dataset_builders.comic_pages import export_comic_pages

    root, _pages, model_dir, one = corpus
    export_comic_pages(root / "coll", tmp_path / "ds", configs=["all"], show_progress=False)
    out = tmp_path / "from-ds.zarr"
    args = ["-q", "embed", str(tmp_path / "ds"), "--model", str(model_dir), "--out", str(out)]
    assert main([*args, "--batch-size", "3"]) == 0
    a, b = _arrays(one), _arrays(out)
    assert sorted(a["page_id"]) == sorted(b["page_id"])
    where = {pid: i for i, pid in enumerate(b["page_id"])}
    rows = [where[pid] for pid in a["page_id"]]
    assert [b["type"][r] for r in rows] == a["type"]
    np.testing.assert_array_equal(a["mask"], b["mask"][rows])
    # images come from the Parquet rows (embedded bytes), not from the folder: same pixels, same vectors
    np.testing.assert_allclose(a["page"], b["page"][rows], atol=2e-3)
    assert "comic_pages export" in open_store(out).attrs["source_description"]


def _grid_page(folder: Path, rows: int = 5, cols: int = 4):
    """One page of rows x cols panels (20 by default), each a flat colour with a numbered label,
    written like an annotate folder; returns the record and the image."""
    from PIL import Image, ImageDraw

    from comics_analysis.dataspec import Page, Panel, write_jsonl

    width, height, gutter = 400, 600, 8
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(20)
    w, h = (width - gutter * (cols + 1)) / cols, (height - gutter * (rows + 1)) / rows
    panels = []
    for i in range(rows * cols):
        x, y = gutter + (i % cols) * (w + gutter), gutter + (i // cols) * (h + gutter)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        draw.rectangle([x, y, x + w, y + h], fill=colour, outline="black", width=2)
        draw.ellipse([x + w * 0.2, y + h * 0.2, x + w * (0.3 + 0.04 * i), y + h * 0.8], fill="black")
        draw.text((x + 6, y + 6), f"PANEL {i}", fill="white")
        panels.append(
            Panel(bbox=[x, y, w, h], score=1.0, source="gt", order=i, text={"dialogue": [f"line {i}"]})
        )
    book = "grid-book-0000cafe"
    (folder / "images" / book).mkdir(parents=True, exist_ok=True)
    image.save(folder / "images" / book / "p0000.png")
    page = Page(
        page_id=f"{book}/p0000", book_id=book, page_index=0, width=width, height=height, panels=panels,
        image=f"{book}/p0000.png",
    )  # fmt: skip
    (folder / "dataspec").mkdir(parents=True, exist_ok=True)
    (folder / "images-root.txt").write_text("images\n")
    write_jsonl([page], folder / "dataspec" / f"{book}.jsonl")
    return page, image


def test_a_page_with_more_than_16_panels_keeps_them_all(tmp_path, caplog):
    """The model's training cap is 16 panels; a 20-panel page is stored whole (store panel axis 32)
    and a crop of its 19th panel finds that panel; a store made with max_panels 18 keeps 18 and
    names the page in the log."""
    from comics_analysis.inference.closure_lite import query_vector
    from comics_analysis.store import StoreSearch
    from comics_analysis.store.embed import embed_store

    page, image = _grid_page(tmp_path / "coll")
    model = load_closure_lite(save_tiny_model(tmp_path / "model"))
    assert model.max_panels == 16
    result = embed_store(tmp_path / "coll", model, tmp_path / "all.zarr", show_progress=False)
    st = open_store(tmp_path / "all.zarr")
    assert st.panels == 32 and result.panels == 20 and result.summary.panels_truncated == 0
    assert st.panel_mask[0].sum() == 20 and st.panel_mask[0, :20].all()
    assert st.reading_order[0, :20].tolist() == list(range(20))
    assert np.allclose(st.panel_bbox[0, 19] * [400, 600, 400, 600], page.panels[19].bbox, atol=0.01)
    image_vectors = st.panel_vectors(image=True)[0, :20]
    assert len({tuple(np.round(v, 3)) for v in image_vectors}) == 20  # 20 different panels
    x, y, w, h = page.panels[18].bbox
    crop = image.crop((round(x), round(y), round(x + w), round(y + h)))
    hits = StoreSearch(st).search(vector=query_vector(model, image=crop, crop=True), level="crop", k=1)
    assert (hits[0].page_id, hits[0].panel) == (page.page_id, 18)

    with caplog.at_level("WARNING", logger="comics_analysis.store.writer"):
        capped = embed_store(
            tmp_path / "coll", model, tmp_path / "18.zarr", max_panels=18, show_progress=False
        )
    assert capped.summary.panels_truncated == 1 and open_store(tmp_path / "18.zarr").panel_mask[0].sum() == 18
    assert f"{page.page_id}: 20 panels; the store keeps the first 18" in caplog.text
    with pytest.raises(ValueError, match="max_panels"):
        embed_store(tmp_path / "coll", model, tmp_path / "x.zarr", max_panels=0, show_progress=False)


def test_crop_level_ann_index_and_an_old_store_without_image_vectors(corpus, tmp_path, capsys):
    """`store index --level crop` builds the FAISS index of the image-only panel vectors and
    `search --image --ann` uses it (all lists scanned: the exact answer); a store written before
    image-only vectors were kept says so when re-embedded, crop-searched or crop-indexed."""
    import shutil

    from PIL import Image

    from comics_analysis.inference.closure_lite import ModelEmbedder
    from comics_analysis.store import write_store

    root, pages, model_dir, out = corpus
    store = tmp_path / "copy.zarr"
    shutil.copytree(out, store)
    page = next(p for p in pages if len(p.panels) >= 3)
    x, y, w, h = page.panels[2].bbox
    with Image.open(root / "coll" / "images" / page.image) as opened:
        opened.convert("RGB").crop((round(x), round(y), round(x + w), round(y + h))).save(
            tmp_path / "crop.png"
        )
    assert main(["-q", "store", "index", str(store), "--level", "crop", "--nlist", "4", "--nprobe", "4"]) == 0
    assert "crop vectors" in capsys.readouterr().out and (store / "index" / "crop-ivf.faiss").is_file()
    query = ["-q", "search", str(store), "--image", str(tmp_path / "crop.png"), "--model", str(model_dir)]
    hits = {}
    for extra in ([], ["--ann"]):
        assert main([*query, *extra, "-k", "3", "--json"]) == 0
        hits[bool(extra)] = [(h["page_id"], h["panel"]) for h in json.loads(capsys.readouterr().out)]
    assert hits[True] == hits[False] and hits[True][0] == (page.page_id, 2)

    # an old store: the same pages and model, written without image-only panel vectors
    loaded = load_closure_lite(model_dir)
    old = tmp_path / "old.zarr"
    write_store(
        root / "coll", old, ModelEmbedder(loaded), model_id=loaded.model_id, model_revision=loaded.revision,
        config=loaded.config, panels=16, dim=loaded.dim, show_progress=False,
    )  # fmt: skip
    assert main(["-q", "embed", str(root / "coll"), "--model", str(model_dir), "--out", str(old)]) == 2
    err = capsys.readouterr().err
    assert "has no image-only panel vectors" in err and "embed into a new folder" in err, err
    assert main([*query[:2], str(old), *query[3:], "--level", "crop"]) == 2
    assert "embed the pages again into a new folder" in capsys.readouterr().err
    assert main(["-q", "store", "index", str(old), "--level", "crop"]) == 2
    assert "no image-only panel vectors" in capsys.readouterr().err
