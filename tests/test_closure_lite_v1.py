"""The published Closure Lite v1 model (ClosureLiteSimple) loads and reproduces its reference outputs."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
from safetensors.torch import load_file  # noqa: E402

from comics_analysis.modeling.closure_lite_v1 import ClosureLiteV1  # noqa: E402

EXPECTED = {
    "panel_embeddings": "P",
    "page_embedding": "E_page",
    "attention": "attention",
    "next_logits": "next_logits",
}


@pytest.fixture(scope="module")
def reference(shared_data):
    folder = shared_data / "fixtures" / "closure_lite_v1_reference"
    if not folder.is_dir():
        pytest.skip(f"v1 reference fixture not found at {folder}")
    return folder


@pytest.fixture(scope="module")
def model(reference):
    return ClosureLiteV1.from_checkpoint(reference / "best_checkpoint.pth", reference / "dims.json")


@pytest.fixture(scope="module")
def io(reference):
    return load_file(reference / "io.safetensors")


def _run(model, io, **overrides):
    inputs = {k: io[k] for k in ("images", "input_ids", "attention_mask", "comp_feats", "panel_mask")}
    inputs.update(overrides)
    with torch.no_grad():
        return model(**inputs)


def test_matches_reference_outputs(model, io):
    assert not model.training
    out = _run(model, io)
    for field, key in EXPECTED.items():
        got = getattr(out, field)
        assert got.shape == io[key].shape, field
        torch.testing.assert_close(got, io[key], rtol=1e-5, atol=1e-5, msg=field)


def test_padded_slots_do_not_change_the_page(model, io):
    base = _run(model, io)
    pad = ~io["panel_mask"][0]
    images, ids, comp = io["images"].clone(), io["input_ids"].clone(), io["comp_feats"].clone()
    images[0, pad] = torch.rand_like(images[0, pad])
    ids[0, pad] = torch.randint(3, 1000, ids[0, pad].shape)
    comp[0, pad] = torch.randn_like(comp[0, pad])
    out = _run(model, io, images=images, input_ids=ids, comp_feats=comp)
    torch.testing.assert_close(out.page_embedding, base.page_embedding, rtol=0, atol=0)
    torch.testing.assert_close(out.attention, base.attention, rtol=0, atol=0)
    assert torch.all(out.attention[0, pad] == 0)
    real = ~pad
    torch.testing.assert_close(out.panel_embeddings[0, real], base.panel_embeddings[0, real])


def test_a_page_without_panels_is_refused(model, io):
    with pytest.raises(ValueError, match=r"batch row\(s\) \[0\] have no real panel"):
        _run(model, io, panel_mask=torch.zeros_like(io["panel_mask"]))


def _save_variant(reference, tmp_path, edit):
    ckpt = torch.load(reference / "best_checkpoint.pth", weights_only=True)
    edit(ckpt["model_state_dict"])
    path = tmp_path / "variant.pth"
    torch.save(ckpt, path)
    return path


VIT_KEY = "atom.vision.vit.encoder.layer.0.intermediate.dense.weight"  # transformers 4.x name


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda sd: sd.__setitem__("han.attention.extra", torch.zeros(3)),
            r"unexpected \['han\.attention\.extra'\]",
        ),
        (lambda sd: sd.pop("atom.fuse.gate.bias"), r"missing \['atom\.fuse\.gate\.bias'\]"),
        (lambda sd: sd.pop(VIT_KEY), r"missing \['atom\.vision\.vit\.(encoder\.layer|layers)\.0\."),
        (
            lambda sd: sd.__setitem__("atom.fuse.gate.bias", torch.zeros(4)),
            r"atom\.fuse\.gate\.bias: checkpoint \(4,\)",
        ),
    ],
    ids=["unknown", "missing", "missing-renamed-backbone", "shape"],
)
def test_layout_errors_name_the_tensor(reference, tmp_path, edit, message):
    path = _save_variant(reference, tmp_path, edit)
    with pytest.raises(ValueError, match=message):
        ClosureLiteV1.from_checkpoint(path, reference / "dims.json")


def test_full_pickle_is_refused(reference, tmp_path):
    path = tmp_path / "pickle.pth"
    torch.save({"model_state_dict": {}, "payload": object()}, path)
    with pytest.raises(ValueError, match="weights-only"):
        ClosureLiteV1.from_checkpoint(path, reference / "dims.json")
