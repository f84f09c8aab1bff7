"""Closure Lite speed: training steps/s and embedding pages/s for the tiny, lite and lite-vit configs.

    python scripts/bench_closure_lite.py --out bench_output/closure_lite --copy docs/bench/closure_lite.json

Inputs: synthetic story pages (``synth.make_page``, ``--size`` pixels). Per config:
- parameter counts (total, vision tower, text tower, trainable in each training mode);
- training: optimiser steps/s of forward + backward + AdamW on batches of ``--batch-size`` pages
  (already processed tensors, so the processor is not counted), after ``--warmup`` steps, for
  the full model and with the text tower frozen (as in the acceptance run);
- embedding: pages/s of ``embed_pages`` in eval mode, batches of ``--embed-batch`` pages,
  processor time included (crops, letterbox, tokenisation) and reported apart too.
The machine is shared: the load average before and after each measurement is recorded.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import time
from pathlib import Path

import torch

from comics_analysis.modeling.closure_lite import ClosureLiteConfig, ClosureLiteModel, ClosureLiteProcessor
from comics_analysis.synth import make_page


def counts(model) -> dict[str, int]:
    return {
        "total": sum(p.numel() for p in model.parameters()),
        "vision_tower": sum(p.numel() for p in model.vision_tower.parameters()),
        "text_tower": sum(p.numel() for p in model.text_tower.parameters()),
    }


def train_speed(model, batch, steps: int, warmup: int, freeze_text: bool) -> dict[str, float]:
    for p in model.text_tower.parameters():
        p.requires_grad_(not freeze_text)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    model.train()
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        out = model(**batch)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    for p in model.text_tower.parameters():
        p.requires_grad_(True)
    return {
        "steps_per_s": len(times) / sum(times),
        "pages_per_s": len(times) * batch["panel_mask"].shape[0] / sum(times),
        "trainable": sum(p.numel() for p in params),
    }


@torch.no_grad()
def embed_speed(model, processor, pages, batch_size: int) -> dict[str, float]:
    model.eval()
    process_s = model_s = 0.0
    for start in range(0, len(pages), batch_size):
        chunk = pages[start : start + batch_size]
        t0 = time.perf_counter()
        batch = processor([p.image for p in chunk], [p.record for p in chunk])
        t1 = time.perf_counter()
        model.embed_pages(**batch)
        t2 = time.perf_counter()
        process_s += t1 - t0
        model_s += t2 - t1
    n = len(pages)
    return {
        "pages_per_s": n / (process_s + model_s),
        "model_pages_per_s": n / model_s,
        "processor_pages_per_s": n / process_s,
    }


def _vision(config) -> str:
    vision = config.vision_config
    if vision["model_type"] == "vit":
        return "ViT {image_size}px / patch {patch_size}".format(**vision)
    frozen = " (frozen)" if vision.get("frozen") else ""
    return f"{config.vision_backbone or vision['model_type']} {vision.get('image_size', '?')}px{frozen}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=["tiny", "lite", "lite-vit"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--embed-pages", type=int, default=64)
    parser.add_argument("--embed-batch", type=int, default=32)
    parser.add_argument("--size", default="530x800", help="WIDTHxHEIGHT of the synthetic pages")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("bench_output/closure_lite"))
    parser.add_argument(
        "--copy", type=Path, help="also write the JSON here (e.g. docs/bench/closure_lite.json)"
    )
    args = parser.parse_args()
    logging.basicConfig(level="WARNING")
    if args.threads:
        torch.set_num_threads(args.threads)
    size = tuple(int(v) for v in args.size.split("x"))
    pages = [make_page(seed, size=size) for seed in range(max(args.embed_pages, args.batch_size))]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    results = {}
    for name in args.configs:
        torch.manual_seed(0)
        config = ClosureLiteConfig.from_preset(name)
        model = ClosureLiteModel.from_backbones(config)
        processor = ClosureLiteProcessor.from_config(config)
        train_batch = processor(
            [p.image for p in pages[: args.batch_size]], [p.record for p in pages[: args.batch_size]]
        )
        load_before = os.getloadavg()[0]
        full = train_speed(model, train_batch, args.steps, args.warmup, freeze_text=False)
        frozen = train_speed(model, train_batch, args.steps, args.warmup, freeze_text=True)
        embed = embed_speed(model, processor, pages[: args.embed_pages], args.embed_batch)
        results[name] = {
            "device": "cpu",
            "parameters": counts(model),
            "train": full,
            "train_text_frozen": frozen,
            "embed": embed,
            "load_avg_1min": [load_before, os.getloadavg()[0]],
            "text_backbone": config.text_backbone or "small BERT (from scratch)",
            "vision": _vision(config),
        }
    header = (
        f"{'config':<9}{'params':>12}{'vision':>11}{'text':>11}{'train step/s':>14}{'(text frozen)':>15}"
        f"{'embed pages/s':>15}{'load':>12}"
    )
    print(
        f"Closure Lite on {device} ({platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} "
        f"torch threads), batch {args.batch_size} pages of {args.size}, {args.steps} timed steps"
    )
    print(header)
    for name, r in results.items():
        c = r["parameters"]
        load = "/".join(f"{v:.1f}" for v in r["load_avg_1min"])
        print(
            f"{name:<9}{c['total']:>12,}{c['vision_tower']:>11,}{c['text_tower']:>11,}"
            f"{r['train']['steps_per_s']:>14.2f}{r['train_text_frozen']['steps_per_s']:>15.2f}"
            f"{r['embed']['pages_per_s']:>15.1f}{load:>12}"
        )
    payload = {
        "benchmark": "closure_lite",
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "results": results,
    }
    from comics_analysis.benchmarks.report import write_results

    path = write_results(args.out / "closure_lite.json", payload)
    print(f"wrote {path}")
    if args.copy:
        args.copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, args.copy)
        print(f"copied to {args.copy}")


if __name__ == "__main__":
    main()
