"""Closure Lite objectives (DESIGN 4.1). Each is switched by ``config.loss_<name>`` and logged by name.

Each loss is a pure function of tensors (``<name>_loss``); ``ClosureLiteModel.forward(...,
return_loss=True)`` computes what they compare (query embeddings, a corrupted view of each page
and the heads' predictions on it) and calls them. Every loss reads real panels only: padding rows
are selected away before any term is formed. Random choices of the corrupted view (masking,
noise, dropped panels and modalities, jitter; :func:`corrupt_view`) are drawn per real panel, so
padding does not even shift the random stream. Uploaded as remote code with the model: imports
only torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def _neg(t: torch.Tensor) -> float:
    return torch.finfo(t.dtype).min


def info_nce(
    query: torch.Tensor,
    keys: torch.Tensor,
    positive: torch.Tensor,
    temperature: float,
    exclude: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean cross-entropy of picking ``keys[positive[i]]`` for ``query[i]`` (both normalised).
    ``exclude`` [Q, K] removes false negatives (identical text) from the candidates."""
    logits = query @ keys.T / temperature
    if exclude is not None:
        keep = F.one_hot(positive, keys.shape[0]).bool()
        logits = logits.masked_fill(exclude & ~keep, _neg(logits))
    return F.cross_entropy(logits, positive)


def reading_order_targets(order: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, P + 1] targets of the rows of ``reading_order_logits``: the panel ranked next (END = P
    after the last), and for the START row the panel ranked 0; -100 where nothing is known."""
    b, p = order.shape
    known = mask & (order >= 0)
    follows = (order.unsqueeze(1) == order.unsqueeze(2) + 1) & known.unsqueeze(1)  # [B, i, j]
    nxt = torch.where(follows.any(-1), follows.float().argmax(-1), torch.full_like(order, p))
    targets = torch.full((b, p + 1), -100, dtype=torch.long, device=order.device)
    targets[:, :p] = torch.where(known, nxt, torch.full_like(order, -100))
    first = (order == 0) & known
    targets[:, p] = torch.where(first.any(-1), first.float().argmax(-1), torch.full_like(order[:, 0], -100))
    return targets


def select_masked(u: torch.Tensor, valid: torch.Tensor, ratio: float) -> torch.Tensor:
    """Panels to mask: those with ``u < ratio``, at least one on pages of two panels or more and
    never all of a page (the context must remain). ``u`` is uniform on real panels."""
    p = valid.shape[1]
    u = torch.where(valid, u, torch.full_like(u, 2.0))
    count = valid.sum(-1, keepdim=True)
    chosen = (u < ratio) & valid
    chosen |= F.one_hot(u.argmin(-1), p).bool() & valid
    everything = chosen.sum(-1, keepdim=True) == count
    highest = F.one_hot(torch.where(valid, u, torch.full_like(u, -1.0)).argmax(-1), p).bool()
    chosen &= ~(highest & everything)
    return chosen & (count >= 2)


def _same_text(query_ids: torch.Tensor, key_ids: torch.Tensor, key_has_text: torch.Tensor) -> torch.Tensor:
    """[Q, K]: key panel has exactly the query's text (token ids, padding included)."""
    length = min(query_ids.shape[-1], key_ids.shape[-1])
    same = (query_ids[:, None, :length] == key_ids[None, :, :length]).all(-1)
    return same & key_has_text.unsqueeze(0)


def _per_panel(values: torch.Tensor, valid: torch.Tensor, fill: float) -> torch.Tensor:
    """Scatter one value per real panel into a [B, P] tensor."""
    full = torch.full(valid.shape, fill, dtype=values.dtype, device=values.device)
    full[valid] = values
    return full


def weighted_sum(
    losses: dict[str, torch.Tensor], weights: dict[str, float], zero: torch.Tensor
) -> torch.Tensor:
    """``zero + sum(weights[name] * loss)`` in the order of ``losses``."""
    return sum((weights[name] * value for name, value in losses.items()), zero)


# --- losses on the page as given ------------------------------------------------------------------
def reading_order_loss(logits: torch.Tensor, order: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``reading_order_logits`` [B, P + 1, P + 1] against the next panel of each
    panel (END after the last; the first panel for the START row), where the order is known."""
    if order is None:
        raise ValueError("the reading-order loss needs `order` (ClosureLiteProcessor writes it)")
    targets = reading_order_targets(order, mask)
    known = targets >= 0
    return F.cross_entropy(logits[known], targets[known]) if known.any() else logits.new_zeros(())


def image_text_loss(
    vision: torch.Tensor,
    text: torch.Tensor,
    has_vision: torch.Tensor,
    has_text: torch.Tensor,
    input_ids: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """Symmetric InfoNCE between the vision and text vectors [B, P, D] of panels that have both
    (other panels with the same text are not negatives); 0 with fewer than two such panels."""
    both = has_vision & has_text
    if int(both.sum()) < 2:
        return vision.new_zeros(())
    v, t = F.normalize(vision[both], dim=-1), F.normalize(text[both], dim=-1)
    ids = input_ids[both]
    same = _same_text(ids, ids, torch.ones_like(both[both]))
    pos = torch.arange(v.shape[0], device=v.device)
    return 0.5 * (info_nce(v, t, pos, temperature, same) + info_nce(t, v, pos, temperature, same))


def query_loss(
    panel_embeddings: torch.Tensor,
    mask: torch.Tensor,
    text_queries: torch.Tensor | None,
    image_queries: torch.Tensor | None,
    has_text: torch.Tensor,
    has_vision: torch.Tensor,
    input_ids: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """InfoNCE of the text-only [T, D] and image-only [V, D] query embeddings of the panels in
    ``has_text`` / ``has_vision`` against the (detached) panel embeddings [B, P, D]: the panel
    space is the target, not moved by queries. Mean of the two terms; a term whose queries are
    None is left out (0 when both are)."""
    keys = panel_embeddings[mask].detach()
    index = torch.cumsum(mask.flatten(), 0).view_as(mask) - 1  # panel -> row among real panels
    terms = []
    if text_queries is not None:
        same = _same_text(input_ids[has_text], input_ids[mask], has_text[mask])
        terms.append(info_nce(text_queries, keys, index[has_text], temperature, same))
    if image_queries is not None:
        terms.append(info_nce(image_queries, keys, index[has_vision], temperature))
    return torch.stack(terms).mean() if terms else panel_embeddings.new_zeros(())


def panel_page_loss(
    panel_embeddings: torch.Tensor, page_embeddings: torch.Tensor, mask: torch.Tensor, temperature: float
) -> torch.Tensor:
    """InfoNCE of each real panel embedding against the page embeddings of the batch (its own
    page is the positive); 0 with fewer than two pages that have panels."""
    pages = mask.any(-1)
    if int(pages.sum()) < 2:
        return panel_embeddings.new_zeros(())
    owner = torch.cumsum(pages.long(), 0) - 1  # page -> row among pages with panels
    rows = owner.unsqueeze(1).expand_as(mask)[mask]
    return info_nce(panel_embeddings[mask], page_embeddings[pages], rows, temperature)


# --- the corrupted view and the losses read on it --------------------------------------------------
@dataclass
class CorruptedView:
    """Inputs of the second context pass (all [B, P] or [B, P, D] / [B, P, F] like the batch)."""

    masked: torch.Tensor  # panels whose image and text are removed (masked-panel task)
    keep_vision: torch.Tensor  # vision vector given to the fusion
    keep_text: torch.Tensor
    vision: torch.Tensor  # vision vectors, noisy with the denoise loss
    text: torch.Tensor
    visible: torch.Tensor  # panels left on the page (the rest are dropped from the view)
    layout: torch.Tensor  # layout, jittered with the page loss


def corrupt_view(
    vision: torch.Tensor,
    text: torch.Tensor,
    layout: torch.Tensor,
    mask: torch.Tensor,
    has_vision: torch.Tensor,
    has_text: torch.Tensor,
    config,
    masked_positions: torch.Tensor | None = None,
) -> CorruptedView:
    """A corrupted copy of each page for the masked-panel, denoise and page losses: masked panels
    (``masked_positions``, else drawn with ``config.mask_ratio``), noisy and dropped modalities,
    dropped panels and jittered layout, as far as ``config`` switches them on. Draws from the
    global torch RNG: ``torch.rand`` [real panels, 6], then the denoise noise, then the jitter."""
    cfg = config
    valid = mask
    n_valid = int(valid.sum())
    u = torch.rand(n_valid, 6, device=layout.device)

    def draw(column: int) -> torch.Tensor:
        return _per_panel(u[:, column].to(layout.dtype), valid, 2.0)

    if not cfg.loss_masked_panel:
        masked = torch.zeros_like(valid)
    elif masked_positions is not None:  # chosen by the caller (evaluation, tests)
        masked = masked_positions.bool() & valid
    else:
        masked = select_masked(draw(0), valid, cfg.mask_ratio)
    keep_vision, keep_text = has_vision & ~masked, has_text & ~masked
    noisy_vision, noisy_text = vision, text
    if cfg.loss_denoise:
        keep_vision &= ~(draw(1) < cfg.denoise_modality_drop)
        keep_text &= ~(draw(2) < cfg.denoise_modality_drop)
        noise = torch.randn(n_valid, 2, vision.shape[-1], device=vision.device, dtype=vision.dtype)
        noisy_vision, noisy_text = vision.clone(), text.clone()
        for k, (clean, noisy) in enumerate(((vision, noisy_vision), (text, noisy_text))):
            rms = clean[valid].pow(2).mean(-1, keepdim=True).sqrt()
            noisy[valid] = clean[valid] + cfg.denoise_noise_std * rms * noise[:, k]
    visible = valid.clone()
    view_layout = layout
    if cfg.loss_page:
        keep_vision &= ~(draw(4) < cfg.view_modality_drop)
        keep_text &= ~(draw(5) < cfg.view_modality_drop)
        dropped = (draw(3) < cfg.view_panel_drop) & valid & ~masked
        lost = ~(valid & ~dropped).any(-1, keepdim=True)  # keep one panel on every page
        spare = torch.where(valid & ~masked, draw(3), torch.full_like(draw(3), -1.0)).argmax(-1)
        dropped &= ~(lost & F.one_hot(spare, valid.shape[1]).bool())
        visible &= ~dropped
        jitter = torch.zeros_like(layout)
        jitter[valid] = torch.randn_like(layout[valid]) * cfg.view_layout_jitter
        jitter[..., 7:] = 0.0  # page-level columns (aspect, direction, count, index) stay exact
        view_layout = layout + jitter
    return CorruptedView(masked, keep_vision, keep_text, noisy_vision, noisy_text, visible, view_layout)


def masked_panel_content(
    vision: torch.Tensor, text: torch.Tensor, has_vision: torch.Tensor, has_text: torch.Tensor
) -> torch.Tensor:
    """[B, P, D] what each panel holds (its normalised vision + text vectors, renormalised),
    detached: the targets of the masked-panel task."""
    content = torch.where(has_vision.unsqueeze(-1), F.normalize(vision, dim=-1), 0.0)
    content = content + torch.where(has_text.unsqueeze(-1), F.normalize(text, dim=-1), 0.0)
    return F.normalize(content, dim=-1).detach()


def masked_panel_loss(
    predictions: torch.Tensor | None,
    target: torch.Tensor,
    content: torch.Tensor,
    mask: torch.Tensor,
    has_content: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """InfoNCE of the normalised predictions [T, D] for the masked panels ``target`` [B, P]
    (masked panels with content) against the content (:func:`masked_panel_content`) of every real
    panel with content in the batch; 0 when nothing is masked (``predictions`` None)."""
    if predictions is None:
        return content.new_zeros(())
    keys = content[mask & has_content]
    rows = torch.cumsum((mask & has_content).flatten(), 0).view_as(mask) - 1
    return info_nce(predictions, keys, rows[target], temperature)


def denoise_loss(
    vision_predictions: torch.Tensor | None,
    text_predictions: torch.Tensor | None,
    vision: torch.Tensor,
    text: torch.Tensor,
    vision_rows: torch.Tensor,
    text_rows: torch.Tensor,
) -> torch.Tensor:
    """Mean cosine distance of the normalised reconstructions of the vision [N, D] and text [M, D]
    vectors of the panels ``vision_rows`` / ``text_rows`` [B, P] to their detached clean vectors
    (``vision`` / ``text`` [B, P, D]); a modality whose predictions are None is left out."""
    terms = [
        1.0 - (pred * F.normalize(clean[rows], dim=-1).detach()).sum(-1)
        for pred, clean, rows in (
            (vision_predictions, vision, vision_rows),
            (text_predictions, text, text_rows),
        )
        if pred is not None
    ]
    return torch.cat(terms).mean() if terms else vision.new_zeros(())


def page_loss(
    page_embeddings: torch.Tensor, view_pooled: torch.Tensor, mask: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Symmetric InfoNCE between each page embedding [B, D] and the pooled (not yet normalised)
    vector of its corrupted view [B, D]; 0 with fewer than two pages that have panels."""
    pages = mask.any(-1)
    if int(pages.sum()) < 2:
        return page_embeddings.new_zeros(())
    a, b = page_embeddings[pages], F.normalize(view_pooled[pages], dim=-1)
    pos = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (info_nce(a, b, pos, temperature) + info_nce(b, a, pos, temperature))


__all__ = [
    "CorruptedView",
    "corrupt_view",
    "denoise_loss",
    "image_text_loss",
    "info_nce",
    "masked_panel_content",
    "masked_panel_loss",
    "page_loss",
    "panel_page_loss",
    "query_loss",
    "reading_order_loss",
    "reading_order_targets",
    "select_masked",
    "weighted_sum",
]
