"""`train closure-lite` and `push model`: Closure Lite training and publishing."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..training.configs import TrainConfig
from ._common import Commands, renamed, size
from ._config_args import add_config_arguments, add_resume_argument, run_training


def cmd_train_closure_lite(args: argparse.Namespace) -> int:
    from ..training.closure_lite import train_closure_lite

    return run_training(train_closure_lite, TrainConfig, args)


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
        "AutoModel.from_pretrained(DIR, trust_remote_code=True)), OUT/metrics.jsonl, OUT/run_info.json, "
        "OUT/train_config.json and resumable checkpoints in OUT/checkpoints. Every TrainConfig field "
        "has a flag.",
    )
    add_config_arguments(p, TrainConfig, types={"synthetic_size": size}, required=("out", "dataset"))
    renamed(p, "--images", "--image-root", dest="image_root")
    add_resume_argument(p)
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
