"""LoRA adapters and parameter bookkeeping of Closure Lite training (split from
``training.closure_lite``, which re-exports these names)."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from ..modeling.closure_lite import ClosureLiteConfig, ClosureLiteModel, ClosureLiteProcessor

TOWERS = ("vision", "text")


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
    ``folder/adapter`` (PEFT adapter). :func:`load_lora` reads them back."""
    folder = Path(folder)
    base = copy.deepcopy(peft_model).unload()
    base.save_pretrained(folder / "base")
    if processor is not None:
        processor.save_pretrained(folder / "base")
    peft_model.save_pretrained(folder / "adapter")
    return folder


def load_lora(folder: str | Path):
    """The PEFT model saved by :func:`save_lora` (base loaded as remote code with AutoModel)."""
    from peft import PeftModel
    from transformers import AutoModel

    folder = Path(folder)
    for sub in ("base", "adapter"):
        if not (folder / sub).is_dir():
            raise FileNotFoundError(f"{folder}: no {sub}/ folder (written by save_lora)")
    base = AutoModel.from_pretrained(str(folder / "base"), trust_remote_code=True)
    return PeftModel.from_pretrained(base, str(folder / "adapter"))


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


__all__ = [
    "TOWERS",
    "apply_lora",
    "load_lora",
    "lora_towers",
    "merged_copy",
    "parameter_counts",
    "save_lora",
]
