"""Shared pieces of the Closure Lite tests: tiny configs and batches of synthetic pages."""

from __future__ import annotations

import torch

from comics_analysis.modeling.closure_lite import ClosureLiteConfig, ClosureLiteModel, ClosureLiteProcessor
from comics_analysis.synth import make_page

PAGE_SIZE = (330, 500)  # large enough that most panels carry lettered text


def tiny_config(**overrides) -> ClosureLiteConfig:
    """The tiny preset without dropout, so two forward passes can be compared exactly."""
    return ClosureLiteConfig.from_preset("tiny", **{"dropout": 0.0, **overrides})


def tiny_model(seed: int = 0, **overrides) -> ClosureLiteModel:
    torch.manual_seed(seed)
    return ClosureLiteModel(tiny_config(**overrides))


def synth_pages(seeds=range(4), **kwargs):
    return [make_page(seed, size=PAGE_SIZE, **kwargs) for seed in seeds]


def tiny_batch(config: ClosureLiteConfig, pages) -> dict[str, torch.Tensor]:
    processor = ClosureLiteProcessor.from_config(config, max_text_length=32)
    return processor([page.image for page in pages], [page.record for page in pages])


def pad_batch(batch: dict[str, torch.Tensor], extra: int, garbage: bool = True) -> dict[str, torch.Tensor]:
    """``extra`` more padding panels per page; padding (old and new) filled with garbage."""
    out = {}
    valid = batch["panel_mask"]
    for key, value in batch.items():
        shape = list(value.shape)
        shape[1] += extra
        new = torch.zeros(shape, dtype=value.dtype)
        new[:, : value.shape[1]] = value
        out[key] = new
    pad = torch.ones(out["panel_mask"].shape, dtype=torch.bool)
    pad[:, : valid.shape[1]] = ~valid
    out["order"][pad] = -100
    if garbage:
        gen = torch.Generator().manual_seed(123)
        out["pixel_values"][pad] = torch.randn(out["pixel_values"][pad].shape, generator=gen) * 5
        out["layout"][pad] = torch.rand(out["layout"][pad].shape, generator=gen)
        out["input_ids"][pad] = torch.randint(5, 40, out["input_ids"][pad].shape, generator=gen)
        out["attention_mask"][pad] = 1
        out["image_mask"][pad] = True  # panel_mask decides: padding is never a real panel
        out["text_mask"][pad] = True
    return out
