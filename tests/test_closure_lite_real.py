"""Closure Lite on real pages (issue 17.2): `train closure-lite --real-pages` mixes real books into
the synthetic training pages (and leaves held-out books out), the frozen vision tower's outputs
are cached per panel crop (a second epoch and a second evaluation call the tower for nothing:
counted at the tower itself), the exported model keeps the real tower, and a store written with
the trained model answers "where does this crop come from" at the crop level (image-only panel
vectors) with the crop's own page and panel."""

import json

import pytest

torch = pytest.importorskip("torch", reason="the 'ml' extra (torch, transformers) is not installed")
pytest.importorskip("accelerate", reason="the 'ml' extra (accelerate) is not installed")
pytest.importorskip("zarr")

from comics_analysis.cli import main  # noqa: E402
from comics_analysis.dataspec.io import write_jsonl  # noqa: E402
from comics_analysis.dataspec.legacy import pages_from_openmantra  # noqa: E402
from comics_analysis.training.data import real_page_data  # noqa: E402

TRAIN = [
    "train", "closure-lite", "--dataset", "synthetic", "--model-config", "tiny",
    "--freeze-backbones", "vision", "--synthetic-pages", "4", "--synthetic-val-pages", "2",
    "--synthetic-size", "330x500", "--batch-size", "3", "--eval-every", "2", "--warmup-steps", "1",
    "--report-to", "none", "--mixed-precision", "no", "--no-show-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def two_real_pages(tmp_path_factory, shared_data_module):
    """The first 2 pages of OpenMantra's balloon_dream as a DataSpec file beside copies of their images."""
    import shutil

    root = shared_data_module / "open-mantra"
    pages = pages_from_openmantra(root / "annotation.json")[:2]
    folder = tmp_path_factory.mktemp("real")
    for page in pages:
        (folder / page.image).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / page.image, folder / page.image)
    path = folder / "two.jsonl"
    write_jsonl(pages, path)
    return path, pages


@pytest.fixture(scope="module")
def shared_data_module():
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="module")
def runs(tmp_path_factory, two_real_pages):
    """Two runs on 4 synthetic + 2 real pages (an epoch is 2 steps of 3): one epoch, and two
    epochs; each evaluates every 2 steps. Rows through the vision tower are counted at the tower."""
    from transformers import ViTModel

    real, _pages = two_real_pages
    root = tmp_path_factory.mktemp("runs")
    counts = {}
    forward = ViTModel.forward

    def counting(self, pixel_values=None, **kwargs):
        counts[current] = counts.get(current, 0) + int(pixel_values.shape[0])
        return forward(self, pixel_values=pixel_values, **kwargs)

    torch.set_num_threads(1)
    mp = pytest.MonkeyPatch()
    mp.setattr(ViTModel, "forward", counting)
    try:
        for current, steps in (("one", "2"), ("two", "4")):
            out = root / current
            args = [*TRAIN, "--out", str(out), "--steps", steps, "--real-pages", str(real)]
            assert main(args) == 0
    finally:
        mp.undo()
    return root, counts


def test_training_takes_real_pages_beside_synthetic(runs, two_real_pages):
    root, _counts = runs
    _real, pages = two_real_pages
    info = json.loads((root / "one" / "run_info.json").read_text())["data"]
    assert info["pages"]["train"] == 4 + 2
    assert info["real_pages"]["pages_by_book"] == {pages[0].book_id: 2}
    config = json.loads((root / "one" / "train_config.json").read_text())
    assert config["real_pages"] == [str(_real)] and config["cache_features"] is True


def test_hold_out_books_leave_a_real_book_out(shared_data_module):
    annotation = shared_data_module / "open-mantra" / "annotation.json"
    data, info = real_page_data([str(annotation)], ["tencho-isoro"])
    assert len(data) == 38 and {b.split("-")[0] for b in data.book_ids()} == {"balloon"}
    assert list(info["held_out_books"].values()) == [40]
    with pytest.raises(ValueError, match="no real book matches nope"):
        real_page_data([str(annotation)], ["nope"])


def test_second_epoch_and_second_evaluation_skip_the_tower(runs):
    root, counts = runs
    # run "one": every crop of the 6 training pages and of the 2 validation pages once
    assert counts["one"] > 6
    # run "two" reads the same crops twice (2 epochs, 2 evaluations): the tower sees each once
    assert counts["two"] == counts["one"]
    result_one = json.loads((root / "one" / "final" / "training_info.json").read_text())
    assert result_one  # the model folder was exported with the real tower in place
    from safetensors.torch import load_file

    weights = load_file(str(root / "two" / "final" / "model.safetensors"))
    assert any(k.startswith("vision_tower.") for k in weights)


def test_crop_query_finds_its_page_and_panel(runs, tmp_path):
    from PIL import Image

    from comics_analysis.sources import open_pages
    from comics_analysis.store import open_store, search_store, verify_store
    from comics_analysis.store.embed import embed_store

    root, _counts = runs
    model = root / "two" / "final"
    store = tmp_path / "s.zarr"
    embed_store("synthetic:1", model, store, batch_size=4, show_progress=False, use_accelerate=False)
    st = open_store(store)
    assert st.image_vectors and verify_store(store) == []
    source = open_pages("synthetic:1")
    pos = next(i for i in range(len(source)) if len(source.page(i).panels) >= 3)
    page = source.page(pos)
    x, y, w, h = page.panels[1].bbox
    crop = source.load_image(page).crop((round(x), round(y), round(x + w), round(y + h)))
    crop = crop.resize((round(crop.width * 0.75), round(crop.height * 0.75)))
    query = tmp_path / "crop.jpg"
    crop.save(query, quality=85)
    Image.open(query).load()
    hits = search_store(store, image=query, model=model, k=3)
    assert (hits[0].page_id, hits[0].panel) == (page.page_id, 1)
    # the crop level answers a stored panel's own image vector too (the panel itself left out)
    again = search_store(store, page=page.page_id, panel=1, level="crop", k=3)
    assert all((h.page_id, h.panel) != (page.page_id, 1) for h in again)


def test_text_cache_gives_the_text_towers_vectors():
    """A frozen text tower's cached pooled outputs (one row per distinct text) give the model the
    same vectors as the tower itself (eval mode), and the tower is not called again."""
    from closure_lite_helpers import synth_pages, tiny_batch, tiny_config
    from comics_analysis.modeling.closure_lite import ClosureLiteModel
    from comics_analysis.training.feature_cache import TextFeatureCache, cached_towers

    torch.manual_seed(0)
    config = tiny_config()
    model = ClosureLiteModel(config).eval()
    model.text_tower.requires_grad_(False)
    batch = tiny_batch(config, synth_pages(range(3)))
    batch.pop("order")
    with torch.no_grad():
        ref = model(**batch, return_loss=False)
        cache = TextFeatureCache(model)
        rows = cache.rows(batch)
        calls = []
        hook = model.text_tower.register_forward_hook(lambda *a: calls.append(1))
        with cached_towers(model, None, cache):
            got = model(**rows, return_loss=False)
        hook.remove()
    texts = int(batch["text_mask"].sum())
    assert texts >= 3 and cache.tower_texts <= texts and rows["input_ids"].shape[-1] == 1
    assert not calls
    torch.testing.assert_close(got.text_embeds, ref.text_embeds, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.panel_embeddings, ref.panel_embeddings, atol=1e-5, rtol=0)
