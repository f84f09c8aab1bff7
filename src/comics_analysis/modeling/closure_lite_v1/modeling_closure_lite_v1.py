"""Loader for the published Closure Lite v1 model ("ClosureLiteSimple", context-denoise variant).

WHY: v1 checkpoints (Hub ``RichardScottOZ/comics-analysis-closure-lite-simple``, trained with
transformers 4.x) and the embeddings already computed with them stay in use. ``ClosureLiteModel``
has another architecture, so this separate, inference-only class reproduces the v1 forward
exactly, so that v1 users can keep computing the same embeddings. Nothing here is shared with,
or changes, the new model.

Checkpoint layout (``best_checkpoint.pth``: ``{"epoch", "model_state_dict", "loss"}``):
  atom.vision.{vit (ViTModel), proj}   atom.text.{lm (RobertaModel), proj}
  atom.comp.mlp (Linear 7->256, ReLU, Linear 256->d)   atom.fuse.gate (Linear 3d->3)
  han.attention.{pos_bias [1,1,d], heads[h] (d->d/4), content_scorers[h] (d/4->1), out_proj}
  next_head.scorer (Bilinear(d, d, 1)); training-only heads pop_classifier, denoise_head,
  context_head (dropped on load). Inputs: images [B,N,3,S,S] in [0,1] (no normalisation),
  input_ids / attention_mask [B,N,L], comp_feats [B,N,7], panel_mask [B,N] bool.
"""

from __future__ import annotations

import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import RobertaConfig, RobertaModel, ViTConfig, ViTModel

#: Training-only heads of the v1 file, unused at inference: dropped by name on load.
UNUSED_PREFIXES = ("pop_classifier.", "denoise_head.", "context_head.")

#: transformers 4.x -> 5.x renames inside the ViT (RoBERTa kept its 4.x names). transformers 5
#: flattened ``encoder.layer.N`` to ``layers.N``, fused the ``attention.attention`` /
#: ``attention.output`` pair into one attention module with q/k/v/o projections and moved
#: ``intermediate`` / ``output`` into ``mlp.fc1`` / ``mlp.fc2``. Applied in order, and only to
#: keys the installed ViTModel does not already have (so a transformers 4 install loads as is).
VIT_RENAMES = (
    (r"\.vit\.encoder\.layer\.(\d+)\.", r".vit.layers.\1."),
    (r"(\.vit\.layers\.\d+)\.attention\.attention\.query\.", r"\1.attention.q_proj."),
    (r"(\.vit\.layers\.\d+)\.attention\.attention\.key\.", r"\1.attention.k_proj."),
    (r"(\.vit\.layers\.\d+)\.attention\.attention\.value\.", r"\1.attention.v_proj."),
    (r"(\.vit\.layers\.\d+)\.attention\.output\.dense\.", r"\1.attention.o_proj."),
    (r"(\.vit\.layers\.\d+)\.intermediate\.dense\.", r"\1.mlp.fc1."),
    (r"(\.vit\.layers\.\d+)\.output\.dense\.", r"\1.mlp.fc2."),
)


@dataclass
class ClosureLiteV1Output:
    panel_embeddings: torch.Tensor  # P [B, N, d], computed for every slot (padding included)
    page_embedding: torch.Tensor  # E_page [B, d]
    attention: torch.Tensor  # [B, N] pooling weights (mean over heads), 0 on padding
    next_logits: torch.Tensor  # [B, N, N] next_head.scorer(P_i, P_j)


def _holder(name: str, child: nn.Module) -> nn.Module:
    """A bare container so that ``child`` sits at ``<parent>.<name>`` as in the v1 file."""
    holder = nn.Module()
    holder.add_module(name, child)
    return holder


class _Tower(nn.Module):
    """``atom.vision`` / ``atom.text``: a transformers backbone plus a CLS projection to d."""

    def __init__(self, name: str, backbone: nn.Module, d: int):
        super().__init__()
        self.name = name
        setattr(self, name, backbone)
        self.proj = nn.Linear(backbone.config.hidden_size, d)

    def forward(self, **inputs) -> torch.Tensor:
        return self.proj(getattr(self, self.name)(**inputs).last_hidden_state[:, 0])


class _PagePool(nn.Module):
    """``han.attention``: multi-head attention pooling of the panels into the page embedding."""

    def __init__(self, d: int, num_heads: int, temperature: float):
        super().__init__()
        self.temperature = temperature
        self.pos_bias = nn.Parameter(torch.zeros(1, 1, d))
        self.heads = nn.ModuleList(nn.Linear(d, d // 4) for _ in range(num_heads))
        self.content_scorers = nn.ModuleList(nn.Linear(d // 4, 1) for _ in range(num_heads))
        self.out_proj = nn.Linear(d, d)

    def forward(self, p: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # v1 quirk kept on purpose: pos_bias[:, :N] of a [1,1,d] tensor is its single row, and its
        # mean is one scalar added to every score (it shifts nothing after the softmax).
        pos = self.pos_bias[:, : p.shape[1]].mean(-1)
        outs, weights = [], []
        for head, scorer in zip(self.heads, self.content_scorers):
            s = scorer(head(p)).squeeze(-1) + pos
            s = s.masked_fill(~mask, float("-inf"))
            w = torch.softmax(s / self.temperature, dim=-1)
            outs.append(torch.einsum("bn,bnd->bd", w, p))
            weights.append(w)
        return self.out_proj(torch.stack(outs).mean(0)), torch.stack(weights).mean(0)


class ClosureLiteV1(nn.Module):
    """Inference-only v1 model. Build with :meth:`from_checkpoint`; module names mirror the file."""

    def __init__(self, dims: dict, vision_pooler: bool = False, text_pooler: bool = False):
        super().__init__()
        d = int(dims["d"])
        vit = ViTModel(ViTConfig(**dims["vision_config"]), add_pooling_layer=vision_pooler)
        lm = RobertaModel(RobertaConfig(**dims["text_config"]), add_pooling_layer=text_pooler)
        self.atom = nn.Module()
        self.atom.vision = _Tower("vit", vit, d)
        self.atom.text = _Tower("lm", lm, d)
        self.atom.comp = _holder("mlp", nn.Sequential(nn.Linear(7, 256), nn.ReLU(), nn.Linear(256, d)))
        self.atom.fuse = _holder("gate", nn.Linear(3 * d, 3))
        self.han = _holder("attention", _PagePool(d, int(dims["num_heads"]), float(dims["temperature"])))
        self.next_head = _holder("scorer", nn.Bilinear(d, d, 1))
        self.eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path, dims: dict | str | Path) -> ClosureLiteV1:
        """Load ``best_checkpoint.pth`` (weights only, never a full unpickle) with dims.json."""
        if not isinstance(dims, dict):
            dims = json.loads(Path(dims).read_text())
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise ValueError(
                f"{path}: refused to load, the file holds more than tensors and plain containers "
                f"(only weights-only checkpoints are loaded; arbitrary pickles can run code): {err}"
            ) from err
        state = ckpt.get("model_state_dict", ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError(f"{path}: no state dict of tensors (expected a 'model_state_dict' entry)")
        state = {k: v for k, v in state.items() if not k.startswith(UNUSED_PREFIXES)}
        model = cls(
            dims,
            vision_pooler=any(k.startswith("atom.vision.vit.pooler.") for k in state),
            text_pooler=any(k.startswith("atom.text.lm.pooler.") for k in state),
        )
        target = model.state_dict()
        renamed = {}
        for key, value in state.items():
            new = key
            if new not in target:
                for pattern, repl in VIT_RENAMES:
                    new = re.sub(pattern, repl, new)
            if new in renamed:
                raise ValueError(f"{path}: two checkpoint tensors map to {new!r} (one is {key!r})")
            renamed[new] = value
        missing = sorted(set(target) - set(renamed))
        unexpected = sorted(set(renamed) - set(target))
        shapes = [
            f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(target[k].shape)}"
            for k, v in renamed.items()
            if k in target and v.shape != target[k].shape
        ]
        if missing or unexpected or shapes:
            raise ValueError(
                f"{path} does not match the Closure Lite v1 layout: missing {missing}, "
                f"unexpected {unexpected}, shape mismatches {shapes}"
            )
        model.load_state_dict(renamed, strict=True)
        return model.eval()

    def forward(
        self,
        images: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        comp_feats: torch.Tensor,
        panel_mask: torch.Tensor,
    ) -> ClosureLiteV1Output:
        b, n = panel_mask.shape
        empty = torch.nonzero(~panel_mask.bool().any(dim=1)).flatten()
        if len(empty):  # v1 pools over real panels only: a page without one has no embedding
            raise ValueError(f"batch row(s) {empty.tolist()} have no real panel (panel_mask all False)")
        v = self.atom.vision(pixel_values=images.flatten(0, 1))
        t = self.atom.text(input_ids=input_ids.flatten(0, 1), attention_mask=attention_mask.flatten(0, 1))
        c = self.atom.comp.mlp(comp_feats.flatten(0, 1))
        alpha = torch.softmax(self.atom.fuse.gate(torch.cat([v, t, c], dim=-1)), dim=-1)
        p = (alpha[:, 0:1] * v + alpha[:, 1:2] * t + alpha[:, 2:3] * c).view(b, n, -1)
        page, attention = self.han.attention(p, panel_mask.bool())
        left = p.unsqueeze(2).expand(b, n, n, p.shape[-1]).contiguous()
        right = p.unsqueeze(1).expand(b, n, n, p.shape[-1]).contiguous()
        next_logits = self.next_head.scorer(left, right).squeeze(-1)
        return ClosureLiteV1Output(p, page, attention, next_logits)
