"""`pss features / convert-v4`, `train pss` and `segment`: page stream segmentation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..training.configs import PssTrainConfig
from ._common import Commands, add_engine_args, engine_options, page_range
from ._config_args import add_config_arguments, add_resume_argument, run_training


def cmd_pss_features(args: argparse.Namespace) -> int:
    from ..inference.features import extract_features
    from ..inference.features_engine import SHARDS_SUFFIX, extract_features_engine
    from ..store import open_store
    from ..training.pss_features import dataset_pages

    engine = engine_options(args)
    store_path = args.vision[len("store:") :] if args.vision.startswith("store:") else None
    sharded = args.num_shards > 1 or Path(f"{args.out}{SHARDS_SUFFIX}").is_dir()  # a shard, or the merge
    if engine is not None or sharded:
        from functools import partial

        from ..engine import EngineOptions

        summary = extract_features_engine(
            args.dataset,
            args.out,
            engine or EngineOptions(),
            num_shards=args.num_shards,
            shard_index=args.shard_index,
            vision=args.vision,
            text=args.text,
            device=args.device,
            image_root=args.image_root,
            page_store=partial(open_store, store_path) if store_path else None,
            with_page_stats=args.page_stats,
        )
        print(json.dumps(summary, indent=2))
        return 0
    # vision store:PATH reads an embedding store, opened here (the store layer is after inference)
    page_store = open_store(store_path) if store_path else None
    summary = extract_features(
        dataset_pages(args.dataset, image_root=args.image_root),
        args.out,
        vision=args.vision,
        text=args.text,
        device=args.device,
        show_progress=not args.quiet,
        page_store=page_store,
        with_page_stats=args.page_stats,
    )
    print(json.dumps(summary, indent=2))
    return 0


def cmd_pss_convert_v4(args: argparse.Namespace) -> int:
    from ..modeling.cosmo_pss.convert import convert_cosmo_v4

    model = convert_cosmo_v4(args.checkpoint, heads=args.heads)
    model.save_pretrained(args.out)
    c, bert = model.config, model.config.bert_config
    print(
        f"converted {args.checkpoint} -> {args.out}: text {c.text_dim}-d + vision {c.vision_dim}-d "
        f"features, BERT {bert['num_hidden_layers']} x {c.hidden_size} ({bert['num_attention_heads']} "
        f"heads), {len(c.labels)} legacy classes ({', '.join(c.labels)}); "
        f"{sum(p.numel() for p in model.parameters()):,} parameters"
    )
    return 0


def cmd_train_pss(args: argparse.Namespace) -> int:
    from ..training.cosmo_pss import train_pss

    return run_training(train_pss, PssTrainConfig, args)


def cmd_segment(args: argparse.Namespace) -> int:
    from ..store import segment_into_store

    result = segment_into_store(
        args.model,
        args.features,
        args.books,
        store=args.store,
        window=args.window,
        stride=args.stride,
        json_path=args.json,
        dataspec=args.dataspec,
    )
    print(result.summary_text())
    return 0


def register(commands: Commands) -> None:
    ps_sub = commands.group(
        "pss",
        help="page stream segmentation: page features, cosmo-v4 conversion",
        dest="pss_command",
        metavar="ACTION",
    )
    p = ps_sub.add_parser("features", help="vision + text vector per page, cached in Zarr by page_id")
    p.add_argument(
        "dataset",
        help="synthetic:N_BOOKS[:SEED][:real], an annotate output, DataSpec files, a dataset export, ...",
    )
    p.add_argument("--out", type=Path, required=True, help="feature store folder (appended to if it exists)")
    p.add_argument(
        "--vision",
        default="pixels",
        help="pixels (offline), efficientnet-lite0|1|2 (offline, pretrained), store:PATH, or a HF model",
    )
    p.add_argument("--text", default="minilm", help="minilm (offline package) or a HF text model")
    p.add_argument(
        "--image-root", help="root of the image paths (default: as recorded, else the records' folder)"
    )
    p.add_argument(
        "--page-stats",
        action="store_true",
        help="also cache layout/text statistics and the VLM summary vector per page (the zero-shot "
        "segmenter's inputs; inference.page_stats)",
    )
    p.add_argument("--device", default="cpu", help="torch device of the encoders, e.g. cpu or cuda")
    p.add_argument(
        "--num-shards",
        type=int,
        default=1,
        help="split the batches into K shards (e.g. Slurm), each into OUT.shards/III-of-KKK; "
        "the same command without shard flags merges them into OUT",
    )
    p.add_argument("--shard-index", type=int, default=0, help="which shard this process computes (0..K-1)")
    add_engine_args(p)
    p.set_defaults(func=cmd_pss_features)
    p = ps_sub.add_parser(
        "convert-v4",
        help="a published cosmo-v4 checkpoint -> a CosmoPssForPageClassification folder",
        description="Reads the checkpoint weights-only (.pt with model_state_dict, or .safetensors), checks "
        "every tensor against the cosmo-v4 layout and writes save_pretrained output (config, weights, "
        "remote code). Predictions keep the 9 legacy labels.",
    )
    p.add_argument("checkpoint", type=Path, help="checkpoint.pt or model.safetensors")
    p.add_argument("--out", type=Path, required=True, help="model folder to write")
    p.add_argument("--heads", type=int, default=4, help="attention heads (not in the shapes; published: 4)")
    p.set_defaults(func=cmd_pss_convert_v4)

    tr_sub = commands.group(
        "train",
        help="train models (Closure Lite, CoSMo PSS) with Accelerate",
        description="Training loops over an Accelerate Accelerator; launch with `accelerate launch` for "
        "several processes or GPUs.",
        dest="train_command",
        metavar="MODEL",
    )
    p = tr_sub.add_parser(
        "pss",
        help="CoSMo PSS on a feature store (Accelerate)",
        description="Writes OUT/best (best validation macro-F1) and OUT/final (save_pretrained; load with "
        "AutoModel.from_pretrained(DIR, trust_remote_code=True)), OUT/metrics.jsonl, OUT/run_info.json, "
        "OUT/train_config.json and resumable checkpoints in OUT/checkpoints. Every PssTrainConfig field "
        "has a flag.",
    )
    add_config_arguments(p, PssTrainConfig, types={"window_range": page_range}, positional=("features",))
    add_resume_argument(p)
    p.set_defaults(func=cmd_train_pss)

    p = commands.sub.add_parser(
        "segment",
        help="page types and segments of books (a trained model, or the zero-shot segmenter by default)",
        description="Without --model the zero-shot segmenter (rules and position priors over page "
        "statistics, MiniLM similarity to class descriptions, Viterbi decoding) labels the books; it needs "
        "features made with `pss features --page-stats`.",
    )
    p.add_argument("books", nargs="+", help="book ids in the feature store, or 'all'")
    p.add_argument("--features", type=Path, required=True, help="feature store of the books (`pss features`)")
    p.add_argument(
        "--model", help="CoSMo PSS model folder or Hub id (default: zero-shot, needs no training data)"
    )
    p.add_argument("--window", type=int, default=32, help="pages per window (0: the whole book)")
    p.add_argument("--stride", type=int, default=16, help="pages between window starts")
    p.add_argument("--json", type=Path, help="write per-page labels and segments here")
    p.add_argument("--dataspec", type=Path, help="DataSpec folder whose records get page_type/story_start")
    p.add_argument("--store", type=Path, help="embedding store whose page_type column gets the predictions")
    p.set_defaults(func=cmd_segment)
