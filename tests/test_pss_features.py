"""PSS page features from the other vision sources: a Hugging Face vision model folder and the
page embeddings of an embedding store (both offline: a tiny model saved in the test, a store
written in the test)."""

import numpy as np
import pytest

from comics_analysis.inference.features import PageInput
from comics_analysis.inference.vision import VisionEncoder
from comics_analysis.store import open_store, write_store
from comics_analysis.training.pss_features import synthetic_pages


@pytest.fixture(scope="module")
def pages():
    return list(synthetic_pages(1, seed=3, size=(120, 180), story_pages=(2, 2)))[:5]


def test_hf_vision_model_by_folder(tmp_path, pages):
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    config = ViTConfig(
        image_size=32, patch_size=8, hidden_size=24, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32,
    )  # fmt: skip
    ViTModel(config).save_pretrained(tmp_path / "vit")
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path / "vit")
    encoder = VisionEncoder(str(tmp_path / "vit"), batch_size=2)  # batches of 2 over 5 pages
    vectors = encoder(pages)
    assert encoder.dim == 24 and vectors.shape == (5, 24) and np.isfinite(vectors).all()
    one_by_one = np.concatenate([encoder([p]) for p in pages])
    np.testing.assert_allclose(vectors, one_by_one, rtol=1e-5, atol=1e-6)
    assert not np.allclose(vectors[0], vectors[1])  # different pages, different vectors


def test_closure_lite_page_embeddings_from_a_store(tmp_path, pages):
    from comics_analysis.dataspec import Page

    records = [
        Page(page_id=p.page_id, book_id=p.book_id, page_index=p.page_index, width=120, height=180)
        for p in pages
    ]
    rng = np.random.default_rng(0)
    planted = rng.standard_normal((len(records), 384)).astype(np.float32)
    planted /= np.linalg.norm(planted, axis=1, keepdims=True)
    by_id = {r.page_id: v for r, v in zip(records, planted)}

    def embed(items):  # a test embedder: planted vectors by page id, no panels
        page = np.stack([by_id[it.page.page_id] for it in items])
        return page, np.zeros((len(items), 16, 384), np.float32), np.zeros((len(items), 16), bool)

    write_store(records, tmp_path / "s.zarr", embed, model_id="test-embedder", show_progress=False)
    name = f"store:{tmp_path / 's.zarr'}"
    with pytest.raises(ValueError, match="pass page_store"):  # inference does not open stores itself
        VisionEncoder(name)
    encoder = VisionEncoder(name, page_store=open_store(tmp_path / "s.zarr"))
    got = encoder(list(reversed(pages)))
    assert encoder.dim == 384
    np.testing.assert_allclose(got, planted[::-1], atol=2e-3)  # float16 storage
    assert open_store(tmp_path / "s.zarr").page_ids[0] == pages[0].page_id
    stranger = PageInput("nobody-00000000/p0000", "nobody-00000000", 0, None, "")
    with pytest.raises(KeyError, match="not in the embedding store"):
        encoder([stranger])


def test_pretrained_efficientnet_lite_page_features_offline(pages):
    """The offline ImageNet tower as PSS page features: 1,280 values, batch-independent, robust
    to the page's scale (letterboxed), and a cover is nearer another page of its kind than to
    a story page."""
    from PIL import Image

    from comics_analysis.synth import make_page

    encoder = VisionEncoder("efficientnet-lite0", batch_size=2)
    vectors = encoder(pages)
    assert encoder.dim == 1280 and vectors.shape == (5, 1280) and np.isfinite(vectors).all()
    np.testing.assert_allclose(vectors, np.concatenate([encoder([p]) for p in pages]), rtol=1e-4, atol=1e-5)

    def cos(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    page = pages[1]
    big = page.image.resize((page.image.width * 3, page.image.height * 3), Image.BICUBIC)
    bigger = PageInput(page.page_id, page.book_id, page.page_index, big, page.text)
    assert cos(encoder([page])[0], encoder([bigger])[0]) > 0.97  # scale barely matters
    covers = [make_page((7, i), page_type="cover", size=(300, 450)) for i in range(2)]
    story = make_page((7, 9), page_type="story", size=(300, 450))
    inputs = [PageInput(f"b/p{i}", "b", i, sp.image, "") for i, sp in enumerate([*covers, story])]
    cover_a, cover_b, story_v = encoder(inputs)
    assert cos(cover_a, cover_b) > cos(cover_a, story_v)


def test_a_second_run_appends_every_batch_to_an_existing_feature_store(tmp_path):
    """A store finished by one run (its metadata consolidated) and appended to by a second run in
    several batches: every batch lands after the previous one (before: the consolidated array
    shapes of the first run were reused, each batch overwrote the last, row_count ran past the
    arrays and the books came back with missing pages)."""
    import zarr
    from PIL import Image

    from comics_analysis.inference.features import FeatureStore, extract_features

    def pages(books, n=10):
        for book in books:
            for i in range(n):
                image = Image.new("RGB", (64, 96), (i * 20 % 255, 100, 100))
                yield PageInput(f"{book}/p{i:04d}", book, i, image, f"page {i}", "story", i == 0, None)

    out = tmp_path / "features"
    extract_features(pages(["a", "b"]), out, batch_pages=4, show_progress=False)
    extract_features(pages(["a", "b", "c", "d", "e"]), out, batch_pages=4, show_progress=False)
    group = zarr.open_group(str(out), mode="r", use_consolidated=False)
    assert group.attrs["row_count"] == 50
    assert {name: group[name].shape[0] for name in group.array_keys()} == dict.fromkeys(
        group.array_keys(), 50
    )
    store = FeatureStore(out)
    books = store.books()
    assert list(books) == ["a", "b", "c", "d", "e"]
    assert all(
        store.page_ids[rows].tolist() == [f"{b}/p{i:04d}" for i in range(10)] for b, rows in books.items()
    )


def test_sharded_features_merge_into_the_one_process_store(tmp_path):
    """`pss features --num-shards K --shard-index I` (a Slurm array): each shard computes every
    K-th batch into OUT.shards/III-of-KKK and leaves OUT alone; the same command without shard
    flags merges them (copying whole batches, computing what no shard has) into the files of a
    one-process run, then removes the shards' stores."""
    from comics_analysis.cli import main
    from comics_analysis.engine import EngineOptions
    from comics_analysis.inference.features import FeatureStore, extract_features
    from comics_analysis.inference.features_engine import extract_features_engine, shard_folder
    from comics_analysis.training.pss_features import dataset_pages
    from pipeline_outputs import assert_same_store

    data = "synthetic:3:5"
    one = extract_features(dataset_pages(data), tmp_path / "one", batch_pages=4, show_progress=False)
    pages = one["rows"]
    assert pages > 12  # at least 4 batches of 4: every shard has one
    ids = FeatureStore(tmp_path / "one").page_ids.tolist()
    out, local = tmp_path / "sharded", EngineOptions()
    for i in (2, 0):
        got = extract_features_engine(data, out, local, batch_pages=4, num_shards=3, shard_index=i)
        batches = [ids[b : b + 4] for b in range(4 * i, pages, 12)]
        assert got["written"] == sum(map(len, batches)) and got["store"] == str(shard_folder(out, 3, i))
        assert FeatureStore(shard_folder(out, 3, i)).page_ids.tolist() == [p for b in batches for p in b]
    assert not out.exists()  # the shards never write OUT
    again = extract_features_engine(data, out, local, batch_pages=4, num_shards=3, shard_index=0)
    assert again["written"] == 0  # resumed: its batches are there
    # shard 1 never ran: the merge copies shards 0 and 2's batches and computes shard 1's itself
    merged = extract_features_engine(data, out, local, batch_pages=4)
    assert merged["rows"] == merged["written"] == pages
    assert merged["copied"] == pages - sum(len(ids[b : b + 4]) for b in range(4, pages, 12))
    assert_same_store(tmp_path / "one", out)
    assert not (tmp_path / "sharded.shards").exists()
    # a shard made with other settings is refused by the merge, naming it
    extract_features_engine(data, tmp_path / "mixed", local, batch_pages=4, num_shards=2, shard_index=1)
    with pytest.raises(ValueError, match=r"001-of-002: a shard's feature store made with other settings"):
        extract_features_engine(data, tmp_path / "mixed", local, batch_pages=4, with_page_stats=True)
    with pytest.raises(ValueError, match=r"shard_index 2 is not in \[0, num_shards=2\)"):
        extract_features_engine(data, out, local, num_shards=2, shard_index=2)
    # the CLI: a 2-task array, then the merge, gives the one-process CLI store
    cli = ["-q", "pss", "features", data]
    assert main([*cli, "--out", str(tmp_path / "cli-one")]) == 0
    for i in range(2):
        assert main([*cli, "--out", str(tmp_path / "cli"), "--num-shards", "2", "--shard-index", str(i)]) == 0
    assert (tmp_path / "cli.shards" / "000-of-002" / "zarr.json").is_file()
    assert main([*cli, "--out", str(tmp_path / "cli")]) == 0
    assert_same_store(tmp_path / "cli-one", tmp_path / "cli")
