"""Closure Lite training (training/closure_lite.py): exact resume, LoRA save/load/merge, a real
two-process CPU run, the CLI (train -> AutoModel folder, push model --dry-run) and clear errors."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

torch = pytest.importorskip("torch", reason="the 'ml' extra (torch, transformers) is not installed")
pytest.importorskip("accelerate", reason="the 'ml' extra (accelerate) is not installed")

from closure_lite_helpers import synth_pages, tiny_batch, tiny_config, tiny_model  # noqa: E402
from comics_analysis.cli import main  # noqa: E402
from comics_analysis.inference.closure_lite import load_lora  # noqa: E402
from comics_analysis.training.closure_lite import (  # noqa: E402
    TrainConfig,
    apply_lora,
    evaluate,
    merged_copy,
    save_lora,
    train_closure_lite,
)
from comics_analysis.training.data import split_by_book  # noqa: E402
from comics_analysis.training.utils import parameter_groups, read_metrics, warmup_cosine  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
SMALL = {
    "dataset": "synthetic",
    "synthetic_pages": 16,
    "synthetic_val_pages": 6,
    "synthetic_size": (330, 500),
    "batch_size": 4,
    "eval_batch_size": 8,
    "warmup_steps": 2,
    "log_every": 1,
    "show_progress": False,
    "report_to": "none",
    "mixed_precision": "no",
}


def small(tmp_path, name="run", **overrides) -> TrainConfig:
    return TrainConfig(out=str(tmp_path / name), **{**SMALL, **overrides})


def train_losses(out) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_metrics(Path(out) / "metrics.jsonl") if r["split"] == "train"}


@pytest.fixture(autouse=True)
def _two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same kernels in every run that is compared bit for bit
    yield
    torch.set_num_threads(threads)


# --- utilities -----------------------------------------------------------------------------------
def test_warmup_cosine_by_hand():
    f = warmup_cosine(warmup_steps=2, total_steps=6)
    assert [f(s) for s in range(2)] == [0.5, 1.0]
    assert f(2) == pytest.approx(1.0)
    assert f(4) == pytest.approx(0.5)  # halfway through the cosine
    assert f(6) == pytest.approx(0.0) and f(9) == pytest.approx(0.0)


def test_parameter_groups_backbone_multiplier_no_decay_and_frozen():
    model = tiny_model()
    for p in model.text_tower.parameters():
        p.requires_grad_(False)
    groups = parameter_groups(
        model.named_parameters(), 1e-3, 0.01, lambda n: n.startswith(("vision_tower", "text_tower")), 0.1
    )
    by_name = {g["name"]: g for g in groups}
    assert set(by_name) == {"backbone", "backbone_no_decay", "head", "head_no_decay"}
    assert by_name["backbone"]["lr"] == pytest.approx(1e-4) and by_name["head"]["lr"] == 1e-3
    assert by_name["head_no_decay"]["weight_decay"] == 0.0 and by_name["head"]["weight_decay"] == 0.01
    grouped = {id(p) for g in groups for p in g["params"]}
    assert not any(id(p) in grouped for p in model.text_tower.parameters())  # frozen: left out
    assert all(id(p) in grouped for p in model.vision_tower.parameters())


def test_split_by_book_holds_out_whole_books():
    books = ["a", "a", "b", "b", "b", "c", "d", "d"]
    train, val, how = split_by_book(books, 0.25)
    assert how == "book" and sorted(train + val) == list(range(8))
    assert {books[i] for i in train}.isdisjoint({books[i] for i in val})
    assert len({books[i] for i in val}) == 1  # ceil(0.25 * 4 books)
    train, val, how = split_by_book(["x"] * 10, 0.2)
    assert how == "page" and len(val) == 2 and len(train) == 8


# --- resume, evaluation --------------------------------------------------------------------------
def test_resume_gives_the_same_next_steps_as_an_uninterrupted_run(tmp_path):
    common = {"steps": 5, "eval_every": 3, "save_every": 2}
    whole = train_closure_lite(small(tmp_path, "whole", **common))
    cut = small(tmp_path, "cut", **common, stop_after=2)
    paused = train_closure_lite(cut)
    assert paused.step == 2 and not paused.metrics
    resumed = train_closure_lite(small(tmp_path, "cut", **common), resume=True)
    assert resumed.step == 5
    a, b = train_losses(tmp_path / "whole"), train_losses(tmp_path / "cut")
    assert sorted(b) == [1, 2, 3, 4, 5]  # the log continues where it stopped
    for step in (3, 4, 5):
        assert b[step] == pytest.approx(a[step], abs=1e-6), step
    assert resumed.metrics["next_panel_accuracy"] == pytest.approx(whole.metrics["next_panel_accuracy"])
    from safetensors.torch import load_file

    wa = load_file(tmp_path / "whole" / "final" / "model.safetensors")
    wb = load_file(tmp_path / "cut" / "final" / "model.safetensors")
    assert max(float((wa[k] - wb[k]).abs().max()) for k in wa) <= 1e-6


def test_evaluate_reports_every_metric_and_restores_the_rng():
    from comics_analysis.modeling.closure_lite import ClosureLiteProcessor
    from comics_analysis.training.data import PageData

    config = tiny_config()
    model = tiny_model()
    pages = synth_pages(range(5))
    for i, page in enumerate(pages):
        page.record.image = f"p{i}.png"

    class Images(PageData):  # pages held in memory
        def item(self, i):
            return pages[i].record, pages[i].image

    processor = ClosureLiteProcessor.from_config(config, max_text_length=32)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    metrics = evaluate(model, processor, Images(pages=[p.record for p in pages]), batch_size=2)
    assert torch.equal(torch.rand(3), expected)
    for key in ("next_panel_accuracy", "reading_order_exact", "panel_page_recall@1", "text_panel_recall@10"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["counts"]["pages"] == 5
    assert metrics["counts"]["panels"] == sum(max(1, len(p.record.panels)) for p in pages)
    one_batch = evaluate(model, processor, Images(pages=[p.record for p in pages]), batch_size=5)
    for key in (
        "panel_page_recall@1",
        "panel_page_recall@10",
        "text_panel_recall@10",
        "image_panel_recall@10",
    ):
        assert metrics[key] == pytest.approx(one_batch[key]), key  # batching does not change retrieval
    assert metrics["panel_page_recall@10"] == 1.0  # 5 pages: every page is in the top 10


# --- LoRA ----------------------------------------------------------------------------------------
def test_lora_save_load_and_merge_give_the_same_outputs(tmp_path):
    from transformers import AutoModel

    config = tiny_config()
    pages = synth_pages(range(3))
    batch = tiny_batch(config, pages)
    peft_model = apply_lora(tiny_model(), ("vision", "text"), r=4, alpha=8)
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert any("lora_A" in n and "vision_tower" in n for n in trainable)
    assert any("lora_B" in n and "text_tower" in n for n in trainable)
    assert not any("tower" in n and "lora_" not in n for n in trainable)  # tower weights frozen
    assert any(n.endswith("fusion.gate.0.weight") for n in trainable)  # the rest trains
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():  # an adapter that really changes the towers (B starts at zero)
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    peft_model.eval()
    with torch.no_grad():
        reference = peft_model(**batch, return_loss=False).panel_embeddings
        base_only = peft_model.get_base_model()
        with peft_model.disable_adapter():
            without = base_only(**batch, return_loss=False).panel_embeddings
    assert not torch.allclose(reference, without, atol=1e-3)

    save_lora(peft_model, tmp_path / "lora")
    loaded = load_lora(tmp_path / "lora").eval()
    merged = merged_copy(peft_model).eval()
    assert "lora" not in " ".join(n for n, _ in merged.named_parameters())
    merged.save_pretrained(tmp_path / "merged")
    reloaded = AutoModel.from_pretrained(str(tmp_path / "merged"), trust_remote_code=True).eval()
    with torch.no_grad():
        for other in (loaded, merged, reloaded):
            got = other(**batch, return_loss=False).panel_embeddings
            assert torch.allclose(got, reference, atol=1e-5), type(other).__name__


def test_training_with_lora_exports_a_merged_model(tmp_path):
    from transformers import AutoModel

    result = train_closure_lite(small(tmp_path, steps=2, eval_every=2, lora="both", lora_r=4))
    info = json.loads((result.final_dir / "training_info.json").read_text())
    assert info["train_config"]["lora"] == "both"
    assert 0 < info["parameters"]["trainable"] < info["parameters"]["total"]
    model = AutoModel.from_pretrained(str(result.final_dir), trust_remote_code=True)
    assert not any("lora" in n for n, _ in model.named_parameters())
    assert (tmp_path / "run" / "lora" / "adapter" / "adapter_config.json").is_file()


# --- two processes -------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_cpu_run_really_runs_two_processes(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SRC)}
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()), "-m", "comics_analysis", "-q",
        "train", "closure-lite", "--dataset", "synthetic", "--synthetic-pages", "16",
        "--synthetic-val-pages", "4", "--synthetic-size", "330x500", "--batch-size", "2", "--steps", "2",
        "--eval-every", "2", "--log-every", "1", "--report-to", "none", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((out / "run_info.json").read_text())
    assert info["num_processes"] == 2
    assert sorted(p["rank"] for p in info["processes"]) == [0, 1]
    assert len({p["pid"] for p in info["processes"]}) == 2
    assert "MULTI_CPU" in info["distributed_type"]
    state = json.loads(next((out / "checkpoints").glob("step-*/trainer_state.json")).read_text())
    assert state["step"] == 2 and state["cursor"] == 2 * 2 * 2  # 2 steps x 2 processes x 2 pages
    assert (out / "checkpoints" / "step-0000002" / "random_states_1.pkl").is_file()


# --- CLI -----------------------------------------------------------------------------------------
def _cli_train(tmp_path, *extra) -> Path:
    out = tmp_path / "cli"
    args = ["-q", "train", "closure-lite", "--dataset", "synthetic", "--synthetic-pages", "12",
            "--synthetic-val-pages", "4", "--synthetic-size", "330x500", "--batch-size", "4",
            "--steps", "2", "--eval-every", "1", "--report-to", "none", "--mixed-precision", "no",
            "--out", str(out), *extra]  # fmt: skip
    assert main(args) == 0
    return out


def test_cli_train_writes_folders_that_load_with_automodel(tmp_path, capsys):
    from transformers import AutoModel

    out = _cli_train(tmp_path, "--variant", "context", "--best-metric", "panel_page_recall@1")
    printed = capsys.readouterr().out
    assert "trained 2 steps" in printed and "panel_page_recall@1" in printed
    for folder in (out / "final", out / "best"):
        model = AutoModel.from_pretrained(str(folder), trust_remote_code=True)
        assert type(model).__module__.startswith("transformers_modules.")
        assert model.config.variant == "context" and model.config.loss_masked_panel
        processor = type(model).processor_class.from_pretrained(str(folder))
        assert processor.max_panels == model.config.max_panels
    records = read_metrics(out / "metrics.jsonl")
    assert {r["split"] for r in records} == {"train", "validation"}
    assert sum(r["split"] == "validation" for r in records) == 2  # --eval-every 1, 2 steps
    best = json.loads((out / "best" / "training_info.json").read_text())
    assert best["best_metric"] == "panel_page_recall@1"


def test_cli_no_layout_and_freeze(tmp_path):
    out = _cli_train(tmp_path, "--no-layout", "--freeze-backbones")
    info = json.loads((out / "final" / "training_info.json").read_text())
    config = json.loads((out / "final" / "config.json").read_text())
    assert config["use_layout"] is False
    assert info["parameters"]["trainable"] == (
        info["parameters"]["total"] - info["parameters"]["vision_tower"] - info["parameters"]["text_tower"]
    )


def test_push_model_dry_run_stages_card_and_files(tmp_path, capsys, monkeypatch):
    out = _cli_train(tmp_path)
    capsys.readouterr()
    assert (
        main(["push", "model", str(out / "final"), "--repo-id", "someone/closure-lite-test", "--dry-run"])
        == 0
    )
    staged = capsys.readouterr().out.split()
    assert staged[0] == "README.md"
    expected = [
        "config.json",
        "model.safetensors",
        "modeling_closure_lite.py",
        "configuration_closure_lite.py",
    ]
    expected += [
        "processor_config.json",
        "processing_closure_lite.py",
        "training_info.json",
        "tokenizer_config.json",
    ]
    for name in expected:
        assert name in staged, name
    card = (out / "final" / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: transformers" in card
    assert "someone/closure-lite-test" in card and "## Intended use" in card and "## Limitations" in card
    info = json.loads((out / "final" / "training_info.json").read_text())
    accuracy = info["metrics"]["next_panel_accuracy"]
    assert f"| next-panel accuracy | {accuracy:.4f} |" in card
    assert "synthetic" in card and "{{" not in card and "}}" not in card  # every placeholder filled
    data = ModelCard.load(out / "final" / "README.md").data  # the Hub's own reading of the card
    assert data.license == "apache-2.0" and data.eval_results[0].dataset_name == "validation pages"
    assert {r.metric_type: r.metric_value for r in data.eval_results}["next_panel_accuracy"] == round(
        accuracy, 4
    )

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "no-login"))
    monkeypatch.setenv("CL_TEST_TOKEN", "")
    args = ["push", "model", str(out / "final"), "--repo-id", "someone/x", "--token-env", "CL_TEST_TOKEN"]
    assert main(args) == 2
    assert "no Hugging Face token" in capsys.readouterr().err
    monkeypatch.setenv("CL_TEST_TOKEN", "hf_fake")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(args) == 2
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().err


def test_errors_are_clear(tmp_path, capsys):
    assert main(["push", "model", str(tmp_path / "missing"), "--repo-id", "a/b", "--dry-run"]) == 2
    assert "model folder not found" in capsys.readouterr().err
    base = ["-q", "train", "closure-lite", "--out", str(tmp_path / "x"), "--report-to", "none"]
    assert main([*base, "--dataset", str(tmp_path / "nowhere")]) == 2
    assert f"dataset: {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    assert main([*base, "--dataset", "synthetic", "--model-config", "huge"]) == 2
    assert "neither a preset" in capsys.readouterr().err
    assert main([*base, "--dataset", "synthetic", "--best-metric", "accuracy"]) == 2
    assert "best_metric: expected one of" in capsys.readouterr().err
    assert main([*base, "--dataset", "synthetic", "--resume"]) == 2
    assert "no finished checkpoint" in capsys.readouterr().err
    assert main([*base, "--dataset", "synthetic", "--synthetic-pages", "2", "--batch-size", "4"]) == 2
    assert "fewer than one batch" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"^variant: expected"):
        TrainConfig(variant="fancy")
