"""Held-out evaluation of Closure Lite during training (DESIGN 4.1 metrics; split from
``training.closure_lite``, which re-exports these names)."""

from __future__ import annotations

import numpy as np
import torch

from ..metrics.closure_lite import next_panel_accuracy, reading_order_scores, recall_at_k, true_order
from ..modeling.closure_lite import ClosureLiteModel, ClosureLiteProcessor, decode_reading_order, panel_text
from .data import PageData


# --- data ----------------------------------------------------------------------------------------
def process(
    processor: ClosureLiteProcessor, data: PageData, positions
) -> tuple[dict[str, torch.Tensor], list]:
    """A collated batch of the pages at ``positions`` and their Page records."""
    items, pages = [], []
    for i in positions:
        page, image = data.item(int(i))
        items.append(processor.process_page(image, page))
        pages.append(page)
    return processor.collate(items), pages


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator).tolist()


# --- evaluation ----------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(
    model: ClosureLiteModel,
    processor: ClosureLiteProcessor,
    data: PageData,
    batch_size: int = 32,
    max_pages: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Held-out metrics of DESIGN 4.1 over ``data`` (the first ``max_pages`` pages):

    - ``next_panel_accuracy``: panels whose successor is their row's argmax (panels that have one);
    - ``reading_order_exact`` / ``reading_order_kendall_tau``: greedy ``decode_reading_order``
      against the truth, pages with >= 2 panels;
    - ``panel_page_recall@1/10``: each panel embedding against every page embedding (own page);
    - ``text_panel_recall@10``: ``embed_text`` of each panel's lettered text against every panel
      embedding (the panel, or any panel with the same text, counts);
    - ``image_panel_recall@10``: ``embed_image`` of each panel crop against every panel embedding;
    - ``loss``: the training loss in eval mode (masking drawn from ``seed``; RNG state restored).

    Runs in eval mode under a forked RNG, so training resumes with the same random stream."""
    was_training = model.training
    model.eval()
    n = len(data) if max_pages is None else min(len(data), max_pages)
    panels, pages_vec, page_of, texts = [], [], [], []
    text_queries, text_rows, image_queries = [], [], []
    predicted, truth, losses, weights = [], [], [], []
    acc_correct = acc_total = 0
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for start in range(0, n, batch_size):
            batch, records = process(processor, data, range(start, min(n, start + batch_size)))
            batch = {k: v.to(device) for k, v in batch.items()}
            out = model(**batch, return_loss=True)
            mask = batch["panel_mask"]
            losses.append(float(out.loss))
            weights.append(int(mask.any(-1).sum()))
            logits = out.reading_order_logits.float().cpu().numpy()
            order, mask_np = batch["order"].cpu().numpy(), mask.cpu().numpy()
            acc, count = next_panel_accuracy(logits, order, mask_np)
            if count:
                acc_correct += acc * count
                acc_total += count
            predicted += decode_reading_order(out.reading_order_logits, mask)
            truth += [true_order(o, m) for o, m in zip(order, mask_np)]
            offset = len(page_of)  # panels gathered so far
            base_page = sum(len(v) for v in pages_vec)  # pages gathered so far
            emb = out.panel_embeddings.float()
            for b, record in enumerate(records):
                real = int(mask[b].sum())
                panels.append(emb[b, :real].cpu())
                page_of += [base_page + b] * real
                page_texts = [panel_text(p) for p in record.panels[: processor.max_panels]] or [""]
                texts += page_texts[:real]
            pages_vec.append(out.page_embeddings.float().cpu())
            has_text = batch["text_mask"] & mask
            if has_text.any():
                text_queries.append(
                    model.embed_text(batch["input_ids"][has_text], batch["attention_mask"][has_text])
                    .float()
                    .cpu()
                )
                flat = torch.cumsum(mask.flatten(), 0).view_as(mask) - 1 + offset
                text_rows += flat[has_text].tolist()
            image_queries.append(model.embed_image(batch["pixel_values"][mask]).float().cpu())
    model.train(was_training)
    panel_emb = torch.cat(panels).numpy()
    page_emb = torch.cat(pages_vec).numpy()
    page_of = np.asarray(page_of)
    metrics: dict[str, float] = {
        "next_panel_accuracy": float(acc_correct / acc_total) if acc_total else float("nan"),
        "loss": float(np.average(losses, weights=weights)) if sum(weights) else float("nan"),
    }
    order_scores = reading_order_scores(predicted, truth)
    metrics["reading_order_exact"] = order_scores["exact"]
    metrics["reading_order_kendall_tau"] = order_scores["kendall_tau"]
    relevant = page_of[:, None] == np.arange(len(page_emb))[None, :]
    for k, value in recall_at_k(panel_emb @ page_emb.T, relevant, (1, 10)).items():
        metrics[f"panel_page_recall@{k}"] = value
    if text_queries:
        queries = torch.cat(text_queries).numpy()
        text_arr = np.asarray(texts, dtype=object)
        same = text_arr[np.asarray(text_rows)][:, None] == text_arr[None, :]
        same[np.arange(len(text_rows)), text_rows] = True
        metrics["text_panel_recall@10"] = recall_at_k(queries @ panel_emb.T, same, (10,))[10]
    else:
        metrics["text_panel_recall@10"] = float("nan")
    image = torch.cat(image_queries).numpy()
    metrics["image_panel_recall@10"] = recall_at_k(
        image @ panel_emb.T, np.eye(len(panel_emb), dtype=bool), (10,)
    )[10]
    metrics["counts"] = {
        "pages": len(page_emb),
        "panels": len(panel_emb),
        "text_queries": len(text_rows),
        "next_panel_scored": int(acc_total),
        "reading_order_pages": int(order_scores["pages"]),
    }
    return metrics


__all__ = ["epoch_order", "evaluate", "process"]
