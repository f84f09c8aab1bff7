"""Training Closure Lite with Accelerate (issue 7; DESIGN 4.1).

A readable loop over the shared harness (:mod:`comics_analysis.training.harness`: Accelerator, run
folder, checkpoints with exact resume, metrics log, best model): mixed precision when the device
has it, gradient accumulation, gradient clipping, a warm-up + cosine schedule stepped once per
optimiser step, AdamW parameter groups (backbone towers at ``learning_rate * backbone_lr_mult``),
frozen towers or PEFT LoRA adapters on the towers, evaluation on held-out pages every
``eval_every`` steps with the metrics of DESIGN 4.1, the best model by a named metric.

Output folder: the harness's (``OUT/train_config.json``, ``OUT/metrics.jsonl``,
``OUT/run_info.json``, ``OUT/checkpoints/step-NNNNNNN``, ``OUT/best/``, ``OUT/final/``; the model
folders hold save_pretrained model + processor + training_info.json), and with LoRA
``OUT/lora/{base,adapter}/`` (the un-merged base model and the PEFT adapter).

Batches are formed here, not by a DataLoader: the pages of epoch ``e`` are visited in a
permutation drawn from ``seed + e``, and each optimiser micro-step takes the next
``batch_size * num_processes`` of them (rank ``r`` takes its slice). The data position is
therefore two integers, which a checkpoint stores, and a resumed run reads exactly the batches
the uninterrupted run would have read.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..metrics.closure_lite import next_panel_accuracy, reading_order_scores, recall_at_k, true_order
from ..modeling.closure_lite import (
    PRESETS,
    VARIANTS,
    ClosureLiteConfig,
    ClosureLiteModel,
    ClosureLiteProcessor,
    decode_reading_order,
    panel_text,
)
from .configs import METRICS, TrainConfig
from .data import MixedPageData, PageData, load_page_splits, real_page_data
from .feature_cache import TextFeatureCache, TowerFeatureCache, cacheable, cached_towers
from .harness import TRAINING_INFO, TrainingRun, TrainResult
from .utils import parameter_groups, warmup_cosine

log = logging.getLogger(__name__)

TOWERS = ("vision", "text")
RESUME_KEYS = ("batch_size", "grad_accum", "seed", "dataset", "model_config", "variant", "use_layout", "lora")


# --- model ---------------------------------------------------------------------------------------
def resolve_model_config(name_or_path: str, variant: str, use_layout: bool, **overrides) -> ClosureLiteConfig:
    """A preset (tiny / lite / lite-vit / base) or a config.json file / model folder, with the variant and
    layout switch applied."""
    kwargs = {"variant": variant, "use_layout": use_layout, **overrides}
    if variant in VARIANTS:  # the variant decides these unless overridden explicitly
        kwargs = {**VARIANTS[variant], **kwargs}
    if name_or_path in PRESETS:
        return ClosureLiteConfig.from_preset(name_or_path, **kwargs)
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"model_config: {name_or_path!r} is neither a preset ({', '.join(PRESETS)}) nor a config file"
        )
    data = json.loads(path.read_text())
    for key in ("auto_map", "architectures", "transformers_version", "model_type"):
        data.pop(key, None)
    return ClosureLiteConfig.with_backbones(**{**data, **kwargs})


def _tower_of(name: str) -> str | None:
    for tower in TOWERS:
        if f"{tower}_tower." in name:
            return tower
    return None


def lora_towers(config: ClosureLiteConfig, which: str) -> tuple[str, ...]:
    """``auto``: the towers loaded from a pretrained backbone (both when neither is)."""
    if which == "both":
        return TOWERS
    if which in TOWERS:
        return (which,)
    named = tuple(t for t in TOWERS if getattr(config, f"{t}_backbone"))
    return named or TOWERS


def apply_lora(
    model: ClosureLiteModel, towers: tuple[str, ...], r: int = 8, alpha: int = 16, dropout: float = 0.0
):
    """A PEFT model with LoRA adapters on the attention and MLP projections of ``towers``. Those
    towers' own weights are frozen; everything outside the towers stays trainable (fusion,
    context, heads), and a tower without adapters keeps training fully."""
    from peft import LoraConfig, get_peft_model

    targets = [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and _tower_of(name + ".") in towers
    ]  # every linear layer of the towers (attention and MLP projections, whatever their names)
    if not targets:
        raise ValueError(f"LoRA: no linear layers in the {' and '.join(towers)} tower(s)")
    peft_model = get_peft_model(
        model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, bias="none")
    )
    for name, param in peft_model.named_parameters():
        tower = _tower_of(name)
        if tower is None or tower not in towers:
            param.requires_grad_(True)
    return peft_model


def merged_copy(model) -> ClosureLiteModel:
    """A plain ClosureLiteModel with the LoRA weights folded in (the model itself when it has none)."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        return copy.deepcopy(model).merge_and_unload()
    return model


def save_lora(peft_model, folder: str | Path, processor: ClosureLiteProcessor | None = None) -> Path:
    """``folder/base`` (the model without adapters: original tower weights, trained heads) and
    ``folder/adapter`` (PEFT adapter); ``inference.closure_lite.load_lora`` reads them back."""
    folder = Path(folder)
    base = copy.deepcopy(peft_model).unload()
    base.save_pretrained(folder / "base")
    if processor is not None:
        processor.save_pretrained(folder / "base")
    peft_model.save_pretrained(folder / "adapter")
    return folder


def _core(model) -> ClosureLiteModel:
    """The ClosureLiteModel inside a PEFT wrapper (LoRA layers active), or the model itself."""
    get = getattr(model, "get_base_model", None)
    return get() if get is not None else model


def parameter_counts(model) -> dict[str, int]:
    params = list(model.named_parameters())
    counts = {
        "total": sum(p.numel() for _, p in params),
        "trainable": sum(p.numel() for _, p in params if p.requires_grad),
    }
    for tower in TOWERS:
        counts[f"{tower}_tower"] = sum(p.numel() for n, p in params if _tower_of(n) == tower)
    return counts


# --- data ----------------------------------------------------------------------------------------
def process(
    processor: ClosureLiteProcessor,
    data: PageData,
    positions,
    cache: TowerFeatureCache | None = None,
    text_cache: TextFeatureCache | None = None,
) -> tuple[dict[str, torch.Tensor], list]:
    """A collated batch of the pages at ``positions`` and their Page records; with a ``cache``,
    ``pixel_values`` holds the frozen vision tower's cached outputs, with a ``text_cache`` the
    token ids are rows of the frozen text tower's table (run the model under ``cached_towers``)."""
    items, pages = [], []
    for i in positions:
        if cache is not None:
            item, page = cache.features(data, int(i))
        else:
            page, image = data.item(int(i))
            item = processor.process_page(image, page)
        items.append(item)
        pages.append(page)
    batch = processor.collate(items)
    return (batch if text_cache is None else text_cache.rows(batch)), pages


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator).tolist()


# --- evaluation ----------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(
    model: ClosureLiteModel,
    processor: ClosureLiteProcessor,
    data: PageData,
    batch_size: int = 32,
    max_pages: int | None = None,
    seed: int = 0,
    cache: TowerFeatureCache | None = None,
    text_cache: TextFeatureCache | None = None,
) -> dict[str, float]:
    """Held-out metrics of DESIGN 4.1 over ``data`` (the first ``max_pages`` pages):

    - ``next_panel_accuracy``: panels whose successor is their row's argmax (panels that have one);
    - ``reading_order_exact`` / ``reading_order_kendall_tau``: greedy ``decode_reading_order``
      against the truth, pages with >= 2 panels;
    - ``panel_page_recall@1/10``: each panel embedding against every page embedding (own page);
    - ``text_panel_recall@10``: ``embed_text`` of each panel's lettered text against every panel
      embedding (the panel, or any panel with the same text, counts);
    - ``image_panel_recall@10``: ``embed_image`` of each panel crop against every panel embedding;
    - ``loss``: the training loss in eval mode (masking drawn from ``seed``; RNG state restored).

    Runs in eval mode under a forked RNG, so training resumes with the same random stream. With
    a ``cache`` / ``text_cache``, crops / texts are read from the frozen towers' caches."""
    was_training = model.training
    model.eval()
    n = len(data) if max_pages is None else min(len(data), max_pages)
    panels, pages_vec, page_of, texts = [], [], [], []
    text_queries, text_rows, image_queries = [], [], []
    predicted, truth, losses, weights = [], [], [], []
    acc_correct = acc_total = 0
    device = next(model.parameters()).device
    forked = torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])
    with forked, cached_towers(model, cache, text_cache):
        torch.manual_seed(seed)
        for start in range(0, n, batch_size):
            positions = range(start, min(n, start + batch_size))
            batch, records = process(processor, data, positions, cache, text_cache)
            batch = {k: v.to(device) for k, v in batch.items()}
            out = model(**batch, return_loss=True)
            mask = batch["panel_mask"]
            losses.append(float(out.loss))
            weights.append(int(mask.any(-1).sum()))
            logits = out.reading_order_logits.float().cpu().numpy()
            order, mask_np = batch["order"].cpu().numpy(), mask.cpu().numpy()
            acc, count = next_panel_accuracy(logits, order, mask_np)
            if count:
                acc_correct += acc * count
                acc_total += count
            predicted += decode_reading_order(out.reading_order_logits, mask)
            truth += [true_order(o, m) for o, m in zip(order, mask_np)]
            offset = len(page_of)  # panels gathered so far
            base_page = sum(len(v) for v in pages_vec)  # pages gathered so far
            emb = out.panel_embeddings.float()
            for b, record in enumerate(records):
                real = int(mask[b].sum())
                panels.append(emb[b, :real].cpu())
                page_of += [base_page + b] * real
                page_texts = [panel_text(p) for p in record.panels[: processor.max_panels]] or [""]
                texts += page_texts[:real]
            pages_vec.append(out.page_embeddings.float().cpu())
            has_text = batch["text_mask"] & mask
            if has_text.any():
                text_queries.append(
                    model.embed_text(batch["input_ids"][has_text], batch["attention_mask"][has_text])
                    .float()
                    .cpu()
                )
                flat = torch.cumsum(mask.flatten(), 0).view_as(mask) - 1 + offset
                text_rows += flat[has_text].tolist()
            image_queries.append(model.embed_image(batch["pixel_values"][mask]).float().cpu())
    model.train(was_training)
    panel_emb = torch.cat(panels).numpy()
    page_emb = torch.cat(pages_vec).numpy()
    page_of = np.asarray(page_of)
    metrics: dict[str, float] = {
        "next_panel_accuracy": float(acc_correct / acc_total) if acc_total else float("nan"),
        "loss": float(np.average(losses, weights=weights)) if sum(weights) else float("nan"),
    }
    order_scores = reading_order_scores(predicted, truth)
    metrics["reading_order_exact"] = order_scores["exact"]
    metrics["reading_order_kendall_tau"] = order_scores["kendall_tau"]
    relevant = page_of[:, None] == np.arange(len(page_emb))[None, :]
    for k, value in recall_at_k(panel_emb @ page_emb.T, relevant, (1, 10)).items():
        metrics[f"panel_page_recall@{k}"] = value
    if text_queries:
        queries = torch.cat(text_queries).numpy()
        text_arr = np.asarray(texts, dtype=object)
        same = text_arr[np.asarray(text_rows)][:, None] == text_arr[None, :]
        same[np.arange(len(text_rows)), text_rows] = True
        metrics["text_panel_recall@10"] = recall_at_k(queries @ panel_emb.T, same, (10,))[10]
    else:
        metrics["text_panel_recall@10"] = float("nan")
    image = torch.cat(image_queries).numpy()
    metrics["image_panel_recall@10"] = recall_at_k(
        image @ panel_emb.T, np.eye(len(panel_emb), dtype=bool), (10,)
    )[10]
    metrics["counts"] = {
        "pages": len(page_emb),
        "panels": len(panel_emb),
        "text_queries": len(text_rows),
        "next_panel_scored": int(acc_total),
        "reading_order_pages": int(order_scores["pages"]),
    }
    return metrics


# --- the loop ------------------------------------------------------------------------------------
def train_closure_lite(cfg: TrainConfig, resume: str | bool | None = None) -> TrainResult:
    """Train per ``cfg``; ``resume``: True (the latest checkpoint in ``OUT/checkpoints``) or a
    checkpoint folder. Returns where the models went and the final metrics."""
    from accelerate.utils import set_seed

    run = TrainingRun(
        cfg, name="closure-lite", resume=resume, resume_keys=RESUME_KEYS, best_metric=cfg.best_metric
    )
    accelerator, world, rank = run.accelerator, run.world, run.rank

    set_seed(cfg.seed)
    config = resolve_model_config(cfg.model_config, cfg.variant, cfg.use_layout, **cfg.model_overrides)
    splits = load_page_splits(
        cfg.dataset,
        config=cfg.data_config,
        image_root=cfg.image_root,
        val_fraction=cfg.val_fraction,
        synthetic_pages=cfg.synthetic_pages,
        synthetic_val_pages=cfg.synthetic_val_pages,
        synthetic_size=cfg.synthetic_size,
        seed=cfg.seed,
    )
    if cfg.real_pages:
        real, real_info = real_page_data(cfg.real_pages, cfg.hold_out_books, cfg.image_root)
        splits.info["real_pages"] = {**real_info, "repeat": cfg.real_repeat}
        if real is not None:
            splits.train = MixedPageData([(splits.train, 1), (real, cfg.real_repeat)])
            splits.info["pages"]["train"] = len(splits.train)
    elif cfg.hold_out_books:
        raise ValueError("hold_out_books: it leaves books out of real_pages, and no real_pages are given")
    global_batch = cfg.batch_size * world
    if len(splits.train) < global_batch:
        raise ValueError(
            f"{len(splits.train)} training pages are fewer than one batch "
            f"(batch_size {cfg.batch_size} x {world} processes)"
        )
    model = ClosureLiteModel.from_backbones(config)
    processor_kwargs = {} if cfg.max_text_length is None else {"max_text_length": cfg.max_text_length}
    processor = ClosureLiteProcessor.from_config(config, **processor_kwargs)
    frozen = (
        TOWERS
        if cfg.freeze_backbones == "both"
        else ()
        if cfg.freeze_backbones == "none"
        else (cfg.freeze_backbones,)
    )
    for name, param in model.named_parameters():
        if _tower_of(name) in frozen:
            param.requires_grad_(False)
    if cfg.lora:
        towers = tuple(t for t in lora_towers(config, cfg.lora) if t not in frozen)
        if not towers:
            raise ValueError("lora: every tower it would adapt is frozen (freeze_backbones)")
        model = apply_lora(model, towers, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout)
    counts = parameter_counts(model)
    groups = parameter_groups(
        model.named_parameters(),
        cfg.learning_rate,
        cfg.weight_decay,
        lambda n: _tower_of(n) is not None,
        cfg.backbone_lr_mult,
    )
    optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate)
    # stepped by hand once per optimiser step (an accelerate-prepared scheduler steps once per process)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)
    )
    model, optimizer = run.prepare(model, optimizer, checkpointed=(scheduler,))
    core = _core(accelerator.unwrap_model(model))
    cache, why = None, cacheable(core) if cfg.cache_features else "cache_features is off"
    if why is None:
        cache = TowerFeatureCache(core, processor, cfg.feature_cache_dir)
    else:
        log.info("vision tower outputs not cached: %s", why)
    text_cache = None
    if cfg.cache_features and not any(p.requires_grad for p in core.text_tower.parameters()):
        text_cache = TextFeatureCache(core)  # a frozen text tower: each distinct text once
    state = run.begin({"cursor": 0}, run_info={"parameters": counts, "data": splits.info})
    model_info = {
        "preset": cfg.model_config,
        "variant": cfg.variant,
        "use_layout": cfg.use_layout,
        "embed_dim": config.embed_dim,
        "vision_backbone": config.vision_backbone or "small ViT from scratch",
        "text_backbone": config.text_backbone or "small BERT from scratch (character vocabulary)",
        "enabled_losses": list(config.enabled_losses),
    }

    def export(name: str, metrics: dict[str, Any]) -> None:
        def save(folder: Path) -> None:
            merged_copy(accelerator.unwrap_model(model)).save_pretrained(folder)
            processor.save_pretrained(folder)

        info = run.training_info(metrics, model_config=model_info, data=splits.info, parameters=counts)
        run.export(name, save, info)

    def run_eval() -> dict[str, Any]:
        metrics = evaluate(
            core,
            processor,
            splits.validation,
            cfg.eval_batch_size,
            cfg.max_eval_pages,
            cfg.seed,
            cache,
            text_cache,
        )
        run.log({"split": "validation", **metrics})
        run.update_best(metrics, lambda m: export("best", m))
        return metrics

    order = epoch_order(len(splits.train), cfg.seed, state["epoch"])

    def next_batch():
        nonlocal order
        if state["cursor"] + global_batch > len(order):  # drop the remainder; new permutation
            state["epoch"] += 1
            state["cursor"] = 0
            order = epoch_order(len(splits.train), cfg.seed, state["epoch"])
        start = state["cursor"] + rank * cfg.batch_size
        state["cursor"] += global_batch
        batch, _ = process(processor, splits.train, order[start : start + cfg.batch_size], cache, text_cache)
        return {k: v.to(accelerator.device) for k, v in batch.items()}

    bar = run.progress(cfg.steps, initial=state["step"])
    model.train()
    running: dict[str, list[float]] = {}
    last_metrics = None
    step_time = time.time()
    while state["step"] < cfg.steps:
        with accelerator.accumulate(model), cached_towers(core, cache, text_cache):
            out_ = model(**next_batch())
            accelerator.backward(out_.loss)
            grad_norm = None
            if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                grad_norm = accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        running.setdefault("loss", []).append(float(out_.loss.detach()))
        for name, value in out_.losses.items():
            running.setdefault(name, []).append(float(value))
        if not accelerator.sync_gradients:
            continue
        lr_used = scheduler.get_last_lr()[0]  # the head group's LR of this optimiser step
        if not accelerator.optimizer_step_was_skipped:
            scheduler.step()
        run.step_done()
        if state["step"] % cfg.log_every == 0 or state["step"] == cfg.steps:
            record = {"split": "train", **run.mean_across_processes(running), "learning_rate": lr_used}
            if grad_norm is not None:
                record["grad_norm"] = float(grad_norm)
            record["steps_per_s"] = cfg.log_every / max(1e-9, time.time() - step_time)
            step_time = time.time()
            run.log(record)
            bar.set_postfix(loss=f"{record['loss']:.3f}")
        running = {}
        stop, paused = run.should_stop()
        if state["step"] % cfg.eval_every == 0 or state["step"] == cfg.steps or stop:
            last_metrics = run_eval()
        if state["step"] % cfg.checkpoint_every == 0 or state["step"] == cfg.steps or stop or paused:
            run.save_checkpoint()
        if stop:
            break
        if paused:
            return run.finish({}, paused=True)
    if last_metrics is None:  # resumed after the last step: evaluate the restored model
        last_metrics = run_eval()
    export("final", last_metrics)
    if cfg.lora and run.main:
        save_lora(accelerator.unwrap_model(model), run.out / "lora", processor)
    info = {"feature_cache": cache.stats()} if cache is not None else {}
    if text_cache is not None:
        info["text_cache"] = {"texts": len(text_cache.index), "tower_texts": text_cache.tower_texts}
    return run.finish(last_metrics, info=info)


__all__ = [
    "METRICS",
    "TRAINING_INFO",
    "TrainConfig",
    "TrainResult",
    "apply_lora",
    "evaluate",
    "merged_copy",
    "parameter_counts",
    "resolve_model_config",
    "save_lora",
    "train_closure_lite",
]
