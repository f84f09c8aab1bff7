"""A cache of the frozen vision tower's outputs per panel crop (issue 17.2), so that only the
first epoch pays for the tower: with the ``lite`` preset (EfficientNet-Lite0, frozen, 224 px) the
tower is most of a training step's time on CPU, and a frozen tower gives the same vector for the
same crop in every epoch.

Key: the tower (:func:`tower_key`: SHA-256 of its weights and config and of the processor's crop
settings: size, normalisation, letterbox fill), the page image (:func:`image_digest`: SHA-256
of its pixels) and the crop box in image pixels. Values: the tower's pooled output (float32), as
``ClosureLiteModel._vision_vectors`` reads it before the projection.

While training, :meth:`TowerFeatureCache.features_in` puts a :class:`FeatureTower` in the
model's place (it passes the cached vectors through as the tower's pooled output), so the model's
own code runs unchanged on them; the real tower is back outside the ``with`` block (checkpoints
and saved models hold it). ``folder``: the vectors also go to ``folder/<tower key>/<digest>.npz``
and later runs (another seed, another held-out book) read them from there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers.modeling_outputs import BaseModelOutputWithPooling

from ..modeling.closure_lite.processing_closure_lite import letterbox

log = logging.getLogger(__name__)


def image_digest(image) -> str:
    """SHA-256 (hex) of an RGB image's size and pixels."""
    rgb = image.convert("RGB")
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


def tower_key(tower: torch.nn.Module, processor: Any) -> str:
    """First 16 hex of a SHA-256 over the tower's weights (and buffers), its config and the
    processor's crop settings."""
    digest = hashlib.sha256()
    for name, tensor in sorted(tower.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    config = getattr(tower, "config", None)
    settings = {
        "config": config.to_dict() if hasattr(config, "to_dict") else None,
        "image_size": processor.image_size,
        "mean": [float(v) for v in processor.image_mean],
        "std": [float(v) for v in processor.image_std],
        "fill": list(processor.letterbox_fill),
    }
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


class FeatureTower(torch.nn.Module):
    """Stands in for the vision tower: its input rows are the tower's pooled outputs already."""

    def forward(self, pixel_values: torch.Tensor, **kwargs: Any) -> BaseModelOutputWithPooling:
        return BaseModelOutputWithPooling(
            last_hidden_state=pixel_values[:, :, None, None], pooler_output=pixel_values
        )


def cacheable(model: torch.nn.Module) -> str | None:
    """None when the vision tower's outputs can be cached, else why not."""
    tower = model.vision_tower
    if any(p.requires_grad for p in tower.parameters()):
        return "the vision tower trains (not frozen)"
    if model.config.vision_pooling == "cls":
        return "vision_pooling is cls (the cache holds pooled vectors)"
    return None


def _box_key(box) -> tuple[float, ...]:
    return tuple(round(float(v), 2) for v in box)


class TowerFeatureCache:
    """Frozen-tower vectors per (image, crop) (module docstring). ``tower_images`` counts the
    crops that went through the tower, ``hits`` those read from the cache."""

    def __init__(self, model: torch.nn.Module, processor: Any, folder: str | Path | None = None):
        why = cacheable(model)
        if why is not None:
            raise ValueError(f"the vision tower's outputs cannot be cached: {why}")
        self.tower = model.vision_tower
        self.tower.eval()  # a frozen tower: batch norms and dropout as at inference
        self.processor = processor
        self.key = tower_key(self.tower, processor)
        self.folder = None if folder is None else Path(folder) / self.key
        self.vectors: dict[str, dict[tuple[float, ...], np.ndarray]] = {}  # digest -> box -> vector
        self.pages: dict[tuple[int, int], tuple[str, tuple[int, int]]] = {}  # (data, position) -> image
        self.tower_images = 0
        self.hits = 0

    # --- storage ------------------------------------------------------------------------------
    def _file(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.npz"

    def _entry(self, digest: str) -> dict[tuple[float, ...], np.ndarray]:
        if digest not in self.vectors:
            entry: dict[tuple[float, ...], np.ndarray] = {}
            if self.folder is not None and self._file(digest).is_file():
                with np.load(self._file(digest)) as data:
                    entry = {_box_key(b): v for b, v in zip(data["boxes"], data["vectors"])}
            self.vectors[digest] = entry
        return self.vectors[digest]

    def _save(self, digest: str) -> None:
        if self.folder is None:
            return
        entry = self.vectors[digest]
        path = self._file(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as handle:
            np.savez(handle, boxes=np.array(list(entry), np.float64), vectors=np.stack(list(entry.values())))
        os.replace(tmp, path)

    # --- lookups ------------------------------------------------------------------------------
    @torch.no_grad()
    def _encode(self, image, boxes) -> np.ndarray:
        p = self.processor
        crops = [letterbox(image, b, p.image_size, p.letterbox_fill) for b in boxes]
        device = next(self.tower.parameters()).device
        out = self.tower(pixel_values=p.normalise(crops).to(device))
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            hidden = out.last_hidden_state
            pooled = hidden.mean(1) if hidden.dim() == 3 else hidden.flatten(2).mean(-1)
        self.tower_images += len(boxes)
        return pooled.float().cpu().numpy()

    def features(self, data: Any, position: int):
        """(the processor's item for page ``position`` of ``data`` with cached tower vectors as its
        ``pixel_values``, the page record). The image is read only while a crop is missing."""
        page = data.page(position)
        key = (id(data), int(position))
        known = self.pages.get(key)
        if known is not None:
            digest, size = known
            entry = self._entry(digest)
            boxes = [_box_key(b) for b in self.processor.crop_boxes(page, size)]
            if all(b in entry for b in boxes):
                self.hits += len(boxes)
                rows = torch.from_numpy(np.stack([entry[b] for b in boxes]))
                return self.processor.process_page(size, page, pixel_values=rows), page
        image = data.image(position)
        digest, size = image_digest(image), image.size
        self.pages[key] = (digest, size)
        entry = self._entry(digest)
        boxes = self.processor.crop_boxes(page, size)
        missing = [b for b in boxes if _box_key(b) not in entry]
        self.hits += len(boxes) - len(missing)
        if missing:
            for box, vector in zip(missing, self._encode(image, missing)):
                entry[_box_key(box)] = vector
            self._save(digest)
        rows = torch.from_numpy(np.stack([entry[_box_key(b)] for b in boxes]))
        return self.processor.process_page(size, page, pixel_values=rows), page

    @contextlib.contextmanager
    def features_in(self, model: torch.nn.Module):
        """``model`` (the ClosureLiteModel itself) with a :class:`FeatureTower` as its vision tower."""
        real = model.vision_tower
        model.vision_tower = FeatureTower()
        try:
            yield model
        finally:
            model.vision_tower = real

    def stats(self) -> dict[str, Any]:
        return {
            "tower_key": self.key,
            "folder": None if self.folder is None else str(self.folder),
            "tower_images": self.tower_images,
            "hits": self.hits,
        }


class FeatureTextTower(torch.nn.Module):
    """Stands in for a frozen text tower: token ``i`` of its input is row ``i`` of the cache's table."""

    def __init__(self, cache: TextFeatureCache, device: torch.device):
        super().__init__()
        self.cache, self.device = cache, device

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: Any):
        hidden = self.cache.table.to(self.device)[input_ids]
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=hidden[:, 0])


class TextFeatureCache:
    """The frozen text tower's pooled output per distinct panel text (token ids), in memory:
    :meth:`rows` replaces a batch's token ids by one token per text, its row in a table, and
    :meth:`features_in` puts a :class:`FeatureTextTower` over that table in the model's place.
    Panels with the same text get the same row, so the losses' same-text checks are unchanged.
    ``tower_texts`` counts the texts that went through the tower."""

    def __init__(self, model: torch.nn.Module):
        if any(p.requires_grad for p in model.text_tower.parameters()):
            raise ValueError("the text tower's outputs cannot be cached: it trains (not frozen)")
        self.tower = model.text_tower
        self.tower.eval()  # frozen: no dropout
        self.pooling = model.config.text_pooling
        self.index: dict[tuple[int, ...], int] = {}
        self.vectors: list[torch.Tensor] = []
        self.table: torch.Tensor | None = None
        self.tower_texts = 0

    @torch.no_grad()
    def _encode(self, keys: list[tuple[int, ...]], device) -> None:
        for start in range(0, len(keys), 64):
            chunk = keys[start : start + 64]
            length = max(len(k) for k in chunk)
            ids = torch.zeros(len(chunk), length, dtype=torch.long)
            mask = torch.zeros(len(chunk), length, dtype=torch.long)
            for r, key in enumerate(chunk):
                ids[r, : len(key)], mask[r, : len(key)] = torch.tensor(key), 1
            ids, mask = ids.to(device), mask.to(device)
            out = self.tower(input_ids=ids, attention_mask=mask)
            if self.pooling == "pooler" and getattr(out, "pooler_output", None) is not None:
                pooled = out.pooler_output
            elif self.pooling == "cls":
                pooled = out.last_hidden_state[:, 0]
            else:  # masked mean, as ClosureLiteModel._text_vectors
                m = mask.to(out.last_hidden_state.dtype).unsqueeze(-1)
                pooled = (out.last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1.0)
            for key, vector in zip(chunk, pooled.float()):
                self.index[key] = len(self.vectors) + 1  # row 0: no text
                self.vectors.append(vector)
            self.tower_texts += len(chunk)
        self.table = torch.stack([torch.zeros_like(self.vectors[0]), *self.vectors])

    def rows(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``batch`` with ``input_ids`` [B, P, 1] = table rows and ``attention_mask`` marking them."""
        ids, mask = batch["input_ids"], batch["attention_mask"].bool()
        has = batch["text_mask"].bool() & batch["panel_mask"].bool()
        keys = [tuple(ids[b, p][mask[b, p]].tolist()) for b, p in has.nonzero().tolist()]
        missing = list(dict.fromkeys(k for k in keys if k not in self.index))
        if missing:
            self._encode(missing, next(self.tower.parameters()).device)
        new_ids = torch.zeros(*has.shape, 1, dtype=torch.long)
        new_ids[has] = torch.tensor([[self.index[k]] for k in keys], dtype=torch.long).reshape(-1, 1)
        return {**batch, "input_ids": new_ids, "attention_mask": has.long().unsqueeze(-1)}

    @contextlib.contextmanager
    def features_in(self, model: torch.nn.Module):
        real = model.text_tower
        model.text_tower = FeatureTextTower(self, next(real.parameters()).device)
        try:
            yield model
        finally:
            model.text_tower = real


@contextlib.contextmanager
def cached_towers(model: torch.nn.Module, *caches: Any) -> Iterator[torch.nn.Module]:
    """``model`` with the towers of the given caches (None: left alone) replaced by their stand-ins."""
    with contextlib.ExitStack() as stack:
        for cache in caches:
            if cache is not None:
                stack.enter_context(cache.features_in(model))
        yield model


__all__ = [
    "FeatureTextTower",
    "FeatureTower",
    "TextFeatureCache",
    "TowerFeatureCache",
    "cacheable",
    "cached_towers",
    "image_digest",
    "tower_key",
]
