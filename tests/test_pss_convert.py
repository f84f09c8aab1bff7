"""cosmo-v4 checkpoints -> CosmoPssForPageClassification (the reference checkpoint in
../shared/data/fixtures/cosmo_v4_reference: published layout, shrunk dimensions, random weights,
with inputs and the expected logits of the original model)."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from comics_analysis.cli import main
from comics_analysis.dataspec import PAGE_TYPES
from comics_analysis.dataspec.taxonomy import LABEL_SETS
from comics_analysis.modeling.cosmo_pss import CosmoPssConfig, CosmoPssForPageClassification
from comics_analysis.modeling.cosmo_pss.convert import config_from_state, convert_cosmo_v4, load_state_dict


@pytest.fixture(scope="module")
def reference(shared_data):
    folder = shared_data / "fixtures" / "cosmo_v4_reference"
    return folder, load_file(str(folder / "io.safetensors")), json.loads((folder / "dims.json").read_text())


def _logits(model, io):
    with torch.no_grad():
        return model(
            vision_features=io["visual_features"],
            text_features=io["textual_features"],
            page_mask=io["attention_mask"].bool(),
        ).logits


def test_converted_model_reproduces_the_reference_logits(reference):
    folder, io, dims = reference
    model = convert_cosmo_v4(folder / "checkpoint.pt", heads=dims["num_attention_heads"])
    c = model.config
    assert (c.text_dim, c.vision_dim, c.hidden_size) == (24, 32, 48)
    assert c.bert_config["num_hidden_layers"] == 2 and c.bert_config["intermediate_size"] == 192
    assert c.classifier_hidden == dims["hidden_dim"] and c.labels == dims["label_order"]
    assert c.labels == list(LABEL_SETS["cosmo_v4"])  # the taxonomy maps them to ours
    assert not c.use_scalars and not c.modality_embeddings and c.story_start_head is False
    torch.testing.assert_close(_logits(model, io), io["logits"], rtol=1e-5, atol=1e-5)
    # with the wrong head count the weights still load, but the computation differs
    wrong = convert_cosmo_v4(folder / "checkpoint.pt", heads=2)
    assert not torch.allclose(_logits(wrong, io), io["logits"], atol=1e-3)


def test_cli_writes_a_folder_that_loads_with_auto_model(reference, tmp_path, capsys):
    from transformers import AutoModel

    folder, io, _ = reference
    assert main(["pss", "convert-v4", str(folder / "checkpoint.pt"), "--out", str(tmp_path / "m")]) == 0
    assert "9 legacy classes" in capsys.readouterr().out
    assert {"config.json", "model.safetensors", "modeling_cosmo_pss.py"} <= {
        p.name for p in (tmp_path / "m").iterdir()
    }
    loaded = AutoModel.from_pretrained(tmp_path / "m", trust_remote_code=True).eval()
    torch.testing.assert_close(_logits(loaded, io), io["logits"], rtol=1e-5, atol=1e-5)


def test_safetensors_input_and_layout_errors(reference, tmp_path):
    folder, io, _ = reference
    state = load_state_dict(folder / "checkpoint.pt")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "v4.safetensors"))
    model = convert_cosmo_v4(tmp_path / "v4.safetensors")
    torch.testing.assert_close(_logits(model, io), io["logits"], rtol=1e-5, atol=1e-5)

    extra = {**state, "crf.transitions": torch.zeros(9, 9)}
    with pytest.raises(ValueError, match=r"unexpected crf\.transitions"):
        convert_cosmo_v4(extra)
    partial = {k: v for k, v in state.items() if not k.startswith("norm.")}
    with pytest.raises(ValueError, match=r"missing norm\.bias, norm\.weight"):
        convert_cosmo_v4(partial)
    with pytest.raises(ValueError, match="not divisible by heads=5"):
        config_from_state(state, heads=5)
    # one of our own models (linear projectors, scalars) is not a cosmo-v4 checkpoint
    ours = CosmoPssForPageClassification(
        CosmoPssConfig(labels=list(PAGE_TYPES), bert_config={"hidden_size": 32, "intermediate_size": 64})
    )
    with pytest.raises(ValueError, match=r"missing 'classifier\.9\.weight'; is this a cosmo-v4"):
        convert_cosmo_v4(ours.state_dict())
    torch.save({"model_state_dict": state, "note": object()}, tmp_path / "pickled.pt")
    with pytest.raises(ValueError, match="weights-only"):
        load_state_dict(tmp_path / "pickled.pt")
    with pytest.raises(FileNotFoundError):
        load_state_dict(tmp_path / "absent.pt")
