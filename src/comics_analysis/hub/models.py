"""Publishing trained models to the Hugging Face Hub (DESIGN 4.3).

:func:`stage_model_upload` decides, without any network, which files of a model folder (written
by ``comics-analysis train closure-lite``: ``save_pretrained`` + processor + ``training_info.json``)
a push uploads, after rendering the model card (``README.md``): a ``huggingface_hub.ModelCard``
from the Jinja template ``model_cards/model_card.md`` with the training data, configuration,
held-out metrics (also as ``EvalResult`` entries of the card's ``model-index``), intended use and
limits. :func:`push_model` checks the token and offline mode before touching the network
(:mod:`.api`, as the dataset push does), then uploads exactly those files.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .. import __version__
from ..dataset_builders.cards import md_table, render_card
from .api import check_repo_id, upload, warn_left_local

log = logging.getLogger(__name__)

CARD = "README.md"
TRAINING_INFO = "training_info.json"
MODEL_FILES = ("config.json", "processor_config.json", "closure_lite_processor.json", TRAINING_INFO)
MODEL_PATTERNS = (
    "*.safetensors",
    "model.safetensors.index.json",
    "*.py",
    "tokenizer*",
    "vocab.txt",
    "special_tokens_map.json",
)
METRIC_ROWS = (
    ("next_panel_accuracy", "next-panel accuracy"),
    ("reading_order_exact", "reading order, exact match"),
    ("reading_order_kendall_tau", "reading order, Kendall tau"),
    ("panel_page_recall@1", "panel -> page recall@1"),
    ("panel_page_recall@10", "panel -> page recall@10"),
    ("text_panel_recall@10", "text -> panel recall@10"),
    ("image_panel_recall@10", "image -> panel recall@10"),
    ("loss", "training loss on validation pages"),
)


def _read_model_folder(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder not found: {folder}")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path}: no config.json (is {folder} a save_pretrained folder?)")
    config = json.loads(config_path.read_text())
    if config.get("model_type") != "closure_lite":
        raise ValueError(
            f"{config_path}: field model_type is {config.get('model_type')!r}, expected 'closure_lite'"
        )
    if not config.get("auto_map"):
        raise ValueError(
            f"{config_path}: field auto_map is missing, so the Hub could not load the remote code"
        )
    if not list(folder.glob("*.safetensors")):
        raise FileNotFoundError(f"{folder}: no model weights (*.safetensors)")
    info_path = folder / TRAINING_INFO
    if not info_path.is_file():
        raise FileNotFoundError(
            f"{info_path}: missing; the card is rendered from it (folders written by "
            "`comics-analysis train closure-lite` have one)"
        )
    return config, json.loads(info_path.read_text())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


def render_model_card(folder: str | Path, repo_id: str, license: str = "apache-2.0") -> str:
    """The model card of a trained Closure Lite folder (``model_cards/model_card.md``)."""
    folder = Path(folder)
    config, info = _read_model_folder(folder)
    model = info.get("model_config", {})
    train = info.get("train_config", {})
    data = info.get("data", {})
    metrics = info.get("metrics") or {}
    counts = metrics.get("counts", {})
    params = info.get("parameters", {})
    eval_results = [
        EvalResult(
            task_type="feature-extraction",
            task_name="panel and page embeddings",
            dataset_type=str(data.get("source", "unknown")),
            dataset_name="validation pages",
            metric_type=key,
            metric_name=label,
            metric_value=round(float(metrics[key]), 4),
        )
        for key, label in METRIC_ROWS
        if isinstance(metrics.get(key), int | float)
    ]
    card_data = ModelCardData(
        license=license,
        library_name="transformers",
        pipeline_tag="feature-extraction",
        tags=["comics", "manga", "closure-lite", "embeddings", "reading-order", "custom_code"],
        model_name=repo_id.split("/")[-1] if eval_results else None,
        eval_results=eval_results or None,
    )
    model_rows = [
        ["variant", config.get("variant")],
        ["embedding size", config.get("embed_dim")],
        ["max panels per page", config.get("max_panels")],
        ["vision tower", model.get("vision_backbone", config.get("vision_backbone") or "from config")],
        ["text tower", model.get("text_backbone", config.get("text_backbone") or "from config")],
        ["layout features (use_layout)", config.get("use_layout")],
        ["context layers / heads", f"{config.get('context_layers')} / {config.get('context_heads')}"],
        ["parameters", f"{params.get('total', 0):,}" if params else "-"],
        ["trainable parameters", f"{params.get('trainable', 0):,}" if params else "-"],
    ]
    data_rows = [[k, v] for k, v in (data.get("pages") or {}).items()]
    training_rows = [
        [key, _fmt(train.get(key, train.get("lr") if key == "learning_rate" else None))]  # lr: older runs
        for key in (
            "steps",
            "batch_size",
            "grad_accum",
            "learning_rate",
            "backbone_lr_mult",
            "weight_decay",
            "warmup_steps",
            "max_grad_norm",
            "freeze_backbones",
            "lora",
            "seed",
        )
    ]
    training_rows += [
        ["optimiser steps done", info.get("step")],
        ["processes", info.get("num_processes")],
        ["mixed precision", info.get("mixed_precision")],
        ["wall time (s)", info.get("wall_time_s")],
    ]
    metric_rows = [[label, _fmt(metrics.get(key))] for key, label in METRIC_ROWS if key in metrics]
    use_layout = bool(config.get("use_layout", True))
    values = {
        "title": repo_id.split("/")[-1],
        "repo_id": repo_id,
        "version": info.get("comics_analysis_version", __version__),
        "embed_dim": config.get("embed_dim"),
        "model_table": md_table(["setting", "value"], model_rows),
        "losses": ", ".join(model.get("enabled_losses", [])) or "-",
        "data_text": f"Source: `{data.get('source', 'unknown')}`. {data.get('description', '')} "
        f"Validation: {data.get('validation', 'unknown')}.".strip(),
        "data_table": md_table(["split", "pages"], data_rows) if data_rows else "",
        "training_table": md_table(["setting", "value"], training_rows),
        "metrics_step": info.get("step"),
        "metric_pages": counts.get("pages", "-"),
        "metric_panels": counts.get("panels", "-"),
        "metric_text_queries": counts.get("text_queries", "-"),
        "metrics_table": md_table(["metric", "value"], metric_rows)
        if metric_rows
        else "No evaluation was run.",
        "max_panels": config.get("max_panels"),
        "use_layout": use_layout,
        "layout_note": " the model sees panel positions; panels listed out of reading order are fine."
        if use_layout
        else " (an ablation) the model does not see panel positions, so its reading order is weak.",
        "text_backbone": model.get("text_backbone", config.get("text_backbone") or "from config"),
    }
    return render_card(ModelCard, card_data, "model_card.md", **values)


def stage_model_upload(folder: str | Path, repo_id: str, license: str = "apache-2.0") -> list[str]:
    """Render ``README.md`` into ``folder`` and return the files a push uploads (card first)."""
    folder = Path(folder)
    card = render_model_card(folder, repo_id, license)
    (folder / CARD).write_text(card, encoding="utf-8")
    staged = [CARD, *(name for name in MODEL_FILES if (folder / name).is_file())]
    for pattern in MODEL_PATTERNS:
        staged += sorted(p.name for p in folder.glob(pattern) if p.is_file() and p.name not in staged)
    others = sorted(p.name for p in folder.iterdir() if p.name not in staged)
    warn_left_local(folder, others, "model")
    return staged


def push_model(
    folder: str | Path,
    repo_id: str,
    private: bool = False,
    token_env: str = "HF_TOKEN",
    license: str = "apache-2.0",
    commit_message: str | None = None,
) -> str:
    """Upload the staged files of ``folder`` to the model repo ``repo_id`` (created if needed).
    Returns the commit URL. Refuses without a token or when HF_HUB_OFFLINE is set."""
    check_repo_id(repo_id)
    files = stage_model_upload(folder, repo_id, license)
    return upload(
        folder,
        repo_id,
        "model",
        files,
        private=private,
        token_env=token_env,
        commit_message=commit_message or f"Upload Closure Lite ({len(files)} files) with its model card",
    )
