"""Closure Lite objectives (DESIGN 4.1). Each is switched by ``config.loss_<name>`` and logged by name.

Every loss reads real panels only: padding rows are selected away before any term is formed.
Random choices (masking, dropout, noise) are drawn per real panel, so padding does not even
shift the random stream. Uploaded as remote code with the model: imports only torch.
"""

from __future__ import annotations

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


def compute_losses(
    model, out, vision, text, layout, has_vision, has_text, input_ids, order, masked_positions
):
    """Adds ``loss``, ``losses``, ``masked_positions`` and ``masked_predictions`` to ``out``."""
    cfg = model.config
    valid = out.panel_mask
    tau = cfg.contrastive_temperature
    losses: dict[str, torch.Tensor] = {}
    zero = layout.new_zeros(())
    n_valid = int(valid.sum())
    index = torch.cumsum(valid.flatten(), 0).view_as(valid) - 1  # panel -> row among real panels

    if cfg.loss_reading_order:
        if order is None:
            raise ValueError("the reading-order loss needs `order` (ClosureLiteProcessor writes it)")
        targets = reading_order_targets(order, valid)
        logits = out.reading_order_logits
        known = targets >= 0
        losses["reading_order"] = F.cross_entropy(logits[known], targets[known]) if known.any() else zero

    if cfg.loss_image_text:
        both = has_vision & has_text
        if int(both.sum()) >= 2:
            v, t = F.normalize(vision[both], dim=-1), F.normalize(text[both], dim=-1)
            ids = input_ids[both]
            same = _same_text(ids, ids, torch.ones_like(both[both]))
            pos = torch.arange(v.shape[0], device=v.device)
            losses["image_text"] = 0.5 * (info_nce(v, t, pos, tau, same) + info_nce(t, v, pos, tau, same))
        else:
            losses["image_text"] = zero

    if cfg.loss_query:
        keys = out.panel_embeddings[valid].detach()  # the panel space is the target, not moved by queries
        terms = []
        if n_valid >= 2 and has_text.any():
            q = model._query(text=text[has_text])
            same = _same_text(input_ids[has_text], input_ids[valid], has_text[valid])
            terms.append(info_nce(q, keys, index[has_text], tau, same))
        if n_valid >= 2 and has_vision.any():
            q = model._query(vision=vision[has_vision])
            terms.append(info_nce(q, keys, index[has_vision], tau))
        losses["query"] = torch.stack(terms).mean() if terms else zero

    if cfg.loss_panel_page:
        pages = valid.any(-1)
        if int(pages.sum()) >= 2:
            owner = torch.cumsum(pages.long(), 0) - 1  # page -> row among pages with panels
            rows = owner.unsqueeze(1).expand_as(valid)[valid]
            keys = out.page_embeddings[pages]
            losses["panel_page"] = info_nce(out.panel_embeddings[valid], keys, rows, tau)
        else:
            losses["panel_page"] = zero

    if cfg.loss_masked_panel or cfg.loss_denoise or cfg.loss_page:
        losses.update(
            _corrupted_view_losses(
                model, out, vision, text, layout, has_vision, has_text, masked_positions, index
            )
        )

    weights = cfg.loss_weights
    out["loss"] = sum((weights[name] * value for name, value in losses.items()), zero)
    out["losses"] = {name: value.detach() for name, value in losses.items()}


def _corrupted_view_losses(model, out, vision, text, layout, has_vision, has_text, masked_positions, index):
    """One more pass of the context encoder over a corrupted copy of each page: masked panels
    (their image and text are not given to the fusion at all), noisy and dropped modalities,
    dropped panels and jittered layout. Serves masked-panel, denoise and page losses."""
    cfg = model.config
    valid = out.panel_mask
    tau = cfg.contrastive_temperature
    zero = layout.new_zeros(())
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
    layout_vec = model._layout_vectors(view_layout)
    has_layout = valid & cfg.use_layout & (~masked | cfg.mask_keep_layout)
    fused = model._fuse(noisy_vision, noisy_text, layout_vec, keep_vision, keep_text, has_layout)
    if model.mask_token is not None:
        fused = torch.where(masked.unsqueeze(-1), fused + model.mask_token, fused)
    hidden, _ = model._contextualise(fused, visible)

    losses: dict[str, torch.Tensor] = {}
    if cfg.loss_masked_panel:
        has_content = has_vision | has_text
        content = torch.where(has_vision.unsqueeze(-1), F.normalize(vision, dim=-1), 0.0)
        content = content + torch.where(has_text.unsqueeze(-1), F.normalize(text, dim=-1), 0.0)
        content = F.normalize(content, dim=-1).detach()  # targets: what the panel holds, detached
        target = masked & has_content
        predictions = torch.zeros_like(vision)
        if target.any():
            pred = F.normalize(model.mask_head(hidden[target]), dim=-1)
            keys = content[valid & has_content]
            rows = torch.cumsum((valid & has_content).flatten(), 0).view_as(valid) - 1
            losses["masked_panel"] = info_nce(pred, keys, rows[target], tau)
            predictions[target] = pred.to(predictions.dtype)
        else:
            losses["masked_panel"] = zero
        out["masked_positions"] = masked
        out["masked_predictions"] = predictions
    if cfg.loss_denoise:
        terms = []
        for name, clean, present in (("vision", vision, has_vision), ("text", text, has_text)):
            sel = visible & ~masked & present
            if sel.any():
                pred = F.normalize(model.recon_heads[name](hidden[sel]), dim=-1)
                terms.append(1.0 - (pred * F.normalize(clean[sel], dim=-1).detach()).sum(-1))
        losses["denoise"] = torch.cat(terms).mean() if terms else zero
    if cfg.loss_page:
        pooled, _ = model.pool(hidden, model.out_proj(hidden), view_layout[..., : cfg.layout_dim], visible)
        pages = valid.any(-1)
        if int(pages.sum()) >= 2:
            a, b = out.page_embeddings[pages], F.normalize(pooled[pages], dim=-1)
            pos = torch.arange(a.shape[0], device=a.device)
            losses["page"] = 0.5 * (info_nce(a, b, pos, tau) + info_nce(b, a, pos, tau))
        else:
            losses["page"] = zero
    return losses
