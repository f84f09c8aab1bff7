"""`train closure-lite` and `push model`: Closure Lite training and publishing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._common import Commands, positive, size


def cmd_train_closure_lite(args: argparse.Namespace) -> int:
    from ..training.closure_lite import TrainConfig, train_closure_lite

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set: expected KEY=VALUE (a ClosureLiteConfig field), got {item!r}")
        try:
            overrides[key] = json.loads(value)
        except ValueError:
            overrides[key] = value
    cfg = TrainConfig(
        out=str(args.out),
        dataset=str(args.dataset),
        data_config=args.data_config,
        image_root=str(args.images) if args.images else None,
        variant=args.variant,
        model_config=args.model_config,
        model_overrides=overrides,
        use_layout=not args.no_layout,
        steps=args.steps,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        lr=args.lr,
        backbone_lr_mult=args.backbone_lr_mult,
        weight_decay=args.weight_decay,
        warmup_steps=args.warmup_steps,
        max_grad_norm=args.max_grad_norm,
        mixed_precision=args.mixed_precision,
        seed=args.seed,
        freeze_backbones=args.freeze_backbones,
        lora=args.lora,
        lora_r=args.lora_r,
        eval_every=args.eval_every,
        eval_batch_size=args.eval_batch_size,
        max_eval_pages=args.max_eval_pages,
        save_every=args.save_every,
        best_metric=args.best_metric,
        log_every=args.log_every,
        max_time_s=args.max_time,
        stop_after=args.stop_after,
        val_fraction=args.val_fraction,
        synthetic_pages=args.synthetic_pages,
        synthetic_val_pages=args.synthetic_val_pages,
        synthetic_size=args.synthetic_size,
        report_to=args.report_to,
        progress=not args.quiet,
    )
    result = train_closure_lite(cfg, resume=args.resume)
    if not result.metrics:
        print(f"paused at step {result.step}; continue with the same command and --resume")
        return 0
    print(f"trained {result.step} steps in {result.wall_time_s:.1f} s; final model: {result.final_dir}")
    if result.best_dir is not None:
        best = result.best
        print(
            f"best model ({best['metric']} = {best['value']:.4f} at step {best['step']}): {result.best_dir}"
        )
    for key, value in result.metrics.items():
        if isinstance(value, float):
            print(f"  {key:<28}{value:.4f}")
    return 0


def cmd_push_model(args: argparse.Namespace) -> int:
    from ..hub import push_model, stage_model_upload

    if args.dry_run:
        for name in stage_model_upload(args.folder, args.repo_id, args.license):
            print(name)
        return 0
    url = push_model(
        args.folder, args.repo_id, private=args.private, token_env=args.token_env, license=args.license
    )
    print(f"pushed {args.folder} to https://huggingface.co/{args.repo_id} ({url})")
    return 0


def register(commands: Commands) -> None:
    tr_sub = commands.group("train")
    p = tr_sub.add_parser(
        "closure-lite",
        help="Closure Lite panel/page embeddings: train, evaluate on held-out pages, checkpoint, resume",
        description="Writes OUT/final and OUT/best (save_pretrained + processor; load with "
        "AutoModel.from_pretrained(DIR, trust_remote_code=True)), OUT/metrics.jsonl and resumable "
        "checkpoints in OUT/checkpoints.",
    )
    p.add_argument(
        "--dataset",
        required=True,
        help="'synthetic', synthetic:N_BOOKS[:SEED], an annotate folder, DataSpec files, a comic_pages "
        "export or a save_to_disk folder",
    )
    p.add_argument("--data-config", help="comic_pages config of an export (default aligned, else all)")
    p.add_argument("--images", type=Path, help="root of the records' image paths (default: as recorded)")
    p.add_argument("--variant", default="base", choices=["base", "denoise", "context", "context-denoise"])
    p.add_argument("--model-config", default="tiny", help="tiny, lite, base or a config.json / model folder")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a ClosureLiteConfig field")
    p.add_argument("--out", required=True, type=Path, help="run folder")
    p.add_argument("--steps", type=positive, default=1000, help="optimiser steps (default 1000)")
    p.add_argument("--batch-size", type=positive, default=16, help="pages per process per micro-step")
    p.add_argument("--grad-accum", type=positive, default=1, help="micro-steps per optimiser step")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--backbone-lr-mult", type=float, default=0.1, help="LR multiplier of the towers")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-steps", type=int, default=50)
    p.add_argument("--max-grad-norm", type=float, default=1.0, help="clip gradients (0: off)")
    p.add_argument("--mixed-precision", default="auto", choices=["auto", "no", "fp16", "bf16"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--freeze-backbones",
        nargs="?",
        const="both",
        default="none",
        choices=["none", "vision", "text", "both"],
        help="freeze the towers (no value: both)",
    )
    p.add_argument(
        "--lora",
        nargs="?",
        const="auto",
        choices=["auto", "vision", "text", "both"],
        help="PEFT LoRA adapters on the towers (auto: the pretrained ones); the rest trains fully",
    )
    p.add_argument("--lora-r", type=positive, default=8)
    p.add_argument("--no-layout", action="store_true", help="ablation: no panel position / layout features")
    p.add_argument("--eval-every", type=positive, default=200)
    p.add_argument("--eval-batch-size", type=positive, default=32)
    p.add_argument("--max-eval-pages", type=positive)
    p.add_argument("--save-every", type=positive, help="checkpoint every N steps (default: --eval-every)")
    p.add_argument("--best-metric", default="next_panel_accuracy", help="validation metric of OUT/best")
    p.add_argument("--log-every", type=positive, default=10)
    p.add_argument("--max-time", type=float, help="stop (evaluate, save) after this many seconds")
    p.add_argument(
        "--stop-after", type=positive, help="pause after N steps of this invocation (then --resume)"
    )
    p.add_argument("--resume", nargs="?", const=True, help="resume from the latest checkpoint (or this one)")
    p.add_argument(
        "--val-fraction", type=float, default=0.1, help="books held out without a validation split"
    )
    p.add_argument("--synthetic-pages", type=positive, default=800)
    p.add_argument("--synthetic-val-pages", type=positive, default=100)
    p.add_argument("--synthetic-size", type=size, default=(530, 800), help="WIDTHxHEIGHT of synthetic pages")
    p.add_argument(
        "--report-to",
        default="auto",
        help="Accelerate trackers: auto (tensorboard if installed), none, names",
    )
    p.set_defaults(func=cmd_train_closure_lite)

    pu_sub = commands.group(
        "push", help="publish a trained model to the Hugging Face Hub", dest="push_command", metavar="WHAT"
    )
    p = pu_sub.add_parser(
        "model",
        help="upload a trained Closure Lite folder with a rendered model card",
        description="Render README.md (model card: data, config, metrics, intended use, limits) into DIR "
        "and upload it with the weights, remote code and processor files. Needs a write token.",
    )
    p.add_argument("folder", type=Path, help="OUT/final or OUT/best of `train closure-lite`")
    p.add_argument("--repo-id", required=True, help="USER/NAME or ORG/NAME on the Hub")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--license", default="apache-2.0", help="licence id of the card (default apache-2.0)")
    p.add_argument(
        "--token-env",
        default="HF_TOKEN",
        help="environment variable holding the token (default HF_TOKEN, else the `hf auth login` token)",
    )
    p.add_argument("--dry-run", action="store_true", help="render the card, list the files and stop")
    p.set_defaults(func=cmd_push_model)
