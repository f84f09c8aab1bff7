"""Closure Lite processor: a page image + its DataSpec panels -> model tensors (DESIGN 4.1).

Crops are cut from the page, resized with their aspect kept and letterboxed onto a square of the
vision tower's size, then normalised with the backbone's mean and std (Pillow + numpy; no
torchvision, DESIGN 6). Each panel's lettered text is tokenised with the text tower's tokenizer;
a panel without text gets ``text_mask = False`` and an all-padding row, never the empty string.

Pages and panels are duck-typed (DataSpec ``Page`` objects or their JSON dicts), because this
file is uploaded as remote code and imports only numpy, Pillow, torch and transformers.

``ClosureLiteProcessor`` is a ``transformers.ProcessorMixin`` with one sub-processor, the
``tokenizer``; the image settings (size, mean, std, letterbox fill) are its own fields, because
crops are cut from the page by panel box before any image processing. ``save_pretrained``
writes the tokenizer files and ``processor_config.json`` (with ``auto_map`` when the class is
registered for ``AutoProcessor``, as ``comics_analysis.modeling.closure_lite`` does), so
``AutoProcessor.from_pretrained(folder, trust_remote_code=True)`` returns it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers import ProcessorMixin

from .configuration_closure_lite import CHAR_VOCAB, LAYOUT_FEATURES, ClosureLiteConfig, resolve_backbone

# settings file of processors saved before ClosureLiteProcessor was a ProcessorMixin (still read)
LEGACY_PROCESSOR_FILE = "closure_lite_processor.json"


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def panel_text(panel: Any) -> str:
    """The lettered text of a panel as one string: narration, dialogue, then sound effects (the
    order of ``PanelText.all``). The VLM scene description is never included."""
    text = _get(panel, "text") or {}
    parts = [*(_get(text, "narration") or []), *(_get(text, "dialogue") or []), *(_get(text, "sfx") or [])]
    return " ".join(str(part).strip() for part in parts if str(part).strip())


def letterbox(image: Image.Image, box: Sequence[float], size: int, fill: tuple[int, int, int]) -> Image.Image:
    """The ``[x, y, w, h]`` region of ``image``, scaled to fit ``size`` x ``size`` with its aspect
    kept, centred on a ``fill`` canvas."""
    x, y, w, h = box
    left, top = max(0, math.floor(x)), max(0, math.floor(y))
    right = min(image.width, max(left + 1, math.ceil(x + w)))
    bottom = min(image.height, max(top + 1, math.ceil(y + h)))
    crop = image.crop((left, top, right, bottom))
    scale = size / max(crop.width, crop.height)
    new = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
    crop = crop.resize(new, Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (size, size), fill)
    canvas.paste(crop, ((size - new[0]) // 2, (size - new[1]) // 2))
    return canvas


def char_tokenizer():
    """The offline tokenizer of text towers built from a small config (``CHAR_VOCAB``)."""
    from transformers import BertTokenizer

    return BertTokenizer(vocab={token: i for i, token in enumerate(CHAR_VOCAB)}, do_lower_case=True)


class ClosureLiteProcessor(ProcessorMixin):
    """Turns pages into the batch format of ``ClosureLiteModel`` (see its module docstring).

    Args:
        tokenizer: the text tower's tokenizer (any transformers tokenizer).
        image_size: side of the square, letterboxed panel crops (the vision tower's input size).
        image_mean, image_std: per-channel normalisation of pixels in [0, 1].
        max_panels: most panels per page (the first ones in reading order are kept).
        max_text_length: most tokens of a panel's text.
        letterbox_fill: RGB colour around a letterboxed crop (white, like a gutter).
    """

    def __init__(
        self,
        tokenizer,
        image_size: int,
        image_mean: Sequence[float] = (0.5, 0.5, 0.5),
        image_std: Sequence[float] = (0.5, 0.5, 0.5),
        max_panels: int = 16,
        max_text_length: int = 64,
        letterbox_fill: Sequence[int] = (255, 255, 255),
        **kwargs: Any,
    ):
        self.image_size = int(image_size)
        self.image_mean = np.asarray(image_mean, dtype=np.float32)
        self.image_std = np.asarray(image_std, dtype=np.float32)
        self.max_panels = int(max_panels)
        self.max_text_length = int(max_text_length)
        self.letterbox_fill = tuple(int(v) for v in letterbox_fill)  # white, like a gutter
        super().__init__(tokenizer, **kwargs)

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: ClosureLiteConfig, **kwargs: Any) -> ClosureLiteProcessor:
        """The processor a model of ``config`` expects: the text backbone's tokenizer (or the
        character tokenizer), the vision tower's input size and the vision backbone's normalisation."""
        from transformers import AutoTokenizer

        if config.text_backbone:
            tokenizer = AutoTokenizer.from_pretrained(resolve_backbone(config.text_backbone))
        else:
            tokenizer = char_tokenizer()
        size = config.vision_config.get("image_size", 224)
        size = (
            size if isinstance(size, int) else max(size) if isinstance(size, list | tuple) else size["height"]
        )
        mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
        if "image_mean" in config.vision_config:  # a tower that records its input normalisation
            mean, std = config.vision_config["image_mean"], config.vision_config["image_std"]
        elif config.vision_backbone:
            mean, std = _backbone_normalisation(resolve_backbone(config.vision_backbone), mean, std)
        if config.text_backbone is None:
            kwargs.setdefault(
                "max_text_length", min(96, config.text_config.get("max_position_embeddings", 96))
            )
        kwargs.setdefault("max_panels", config.max_panels)
        return cls(tokenizer, size, mean, std, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The settings saved in ``processor_config.json`` (the tokenizer has its own files)."""
        data = super().to_dict()
        data["letterbox_fill"] = list(self.letterbox_fill)
        return data

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> list[str]:
        """Tokenizer files + ``processor_config.json`` (+ the remote code, when registered)."""
        try:
            return super().save_pretrained(str(save_directory), **kwargs)
        finally:  # saving records auto_map on the instance; the processor itself is unchanged
            self.__dict__.pop("auto_map", None)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """From a folder written by ``save_pretrained`` or a Hub repository holding one (also the
        ``closure_lite_processor.json`` folders of earlier versions)."""
        # the folder's config.json names the model's remote code (auto_map), so AutoTokenizer would
        # stop and ask on stdin; the tokenizer itself is a stock class named in tokenizer_config.json
        kwargs.setdefault("trust_remote_code", True)
        settings = _legacy_settings(str(pretrained_model_name_or_path), kwargs)
        if settings is None:
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(str(pretrained_model_name_or_path), **kwargs), **settings)

    # --- pieces --------------------------------------------------------------------------------
    def normalise(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """[N, 3, S, S] float32 from RGB images of size S (already letterboxed)."""
        if not images:
            return torch.zeros(0, 3, self.image_size, self.image_size)
        arrays = np.stack([np.asarray(im, dtype=np.float32) / 255.0 for im in images])
        arrays = (arrays - self.image_mean) / self.image_std
        return torch.from_numpy(np.ascontiguousarray(arrays.transpose(0, 3, 1, 2)))

    def tokenize(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """input_ids and attention_mask [N, L] for non-empty texts."""
        enc = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_text_length, return_tensors="pt"
        )
        return enc["input_ids"], enc["attention_mask"]

    def text_queries(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Inputs of ``ClosureLiteModel.embed_text``."""
        input_ids, attention_mask = self.tokenize(texts)
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def image_queries(self, images: Sequence[Image.Image]) -> dict[str, torch.Tensor]:
        """Inputs of ``ClosureLiteModel.embed_image``: whole images, letterboxed like panel crops."""
        crops = [
            letterbox(im.convert("RGB"), (0, 0, im.width, im.height), self.image_size, self.letterbox_fill)
            for im in images
        ]
        return {"pixel_values": self.normalise(crops)}

    # --- pages --------------------------------------------------------------------------------
    def crop_boxes(
        self, page: Any, image_size: tuple[int, int], max_panels: int | None = None
    ) -> list[tuple[float, float, float, float]]:
        """The boxes ``process_page`` crops, in the pixels of an image of ``image_size`` (width,
        height): the first ``max_panels`` panels (default: the processor's), or the whole page when
        it has none."""
        width, height = int(_get(page, "width") or image_size[0]), int(_get(page, "height") or image_size[1])
        sx, sy = image_size[0] / width, image_size[1] / height  # records may describe a larger scan
        panels = list(_get(page, "panels") or [])[: self._cap(max_panels)]
        boxes = [tuple(float(v) for v in _get(panel, "bbox")) for panel in panels] or [
            (0.0, 0.0, width, height)
        ]
        return [(x * sx, y * sy, w * sx, h * sy) for x, y, w, h in boxes]

    def process_page(
        self,
        image: Image.Image | str | Path | tuple[int, int],
        page: Any,
        pixel_values: Any = None,
        max_panels: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """One page (unbatched tensors, P = its panel count, at most ``max_panels``: default the
        processor's, the training cap; inference may pass more, since the model has no panel
        positions and the layout features keep the processor's scale, e.g. ``n_panels`` 20 / 16
        for a 20-panel page). Panels are taken in their stored (reading) order; ``order`` holds
        that rank. A page without panels is one panel covering the page, so it still gets an
        embedding. ``pixel_values``: rows given for the crops (e.g. cached tower features, one per
        ``crop_boxes`` box); then ``image`` may be the image's (width, height) and nothing is
        cropped."""
        if pixel_values is None:
            if not isinstance(image, Image.Image):
                image = Image.open(image)
            image = image.convert("RGB")
        size = tuple(image) if isinstance(image, tuple) else image.size
        width, height = int(_get(page, "width") or size[0]), int(_get(page, "height") or size[1])
        panels = list(_get(page, "panels") or [])[: self._cap(max_panels)]
        boxes = [tuple(float(v) for v in _get(panel, "bbox")) for panel in panels] or [
            (0.0, 0.0, width, height)
        ]
        texts = [panel_text(panel) for panel in panels] or [""]
        n = len(boxes)
        if pixel_values is None:
            crops = [
                letterbox(image, b, self.image_size, self.letterbox_fill)
                for b in self.crop_boxes(page, size, max_panels)
            ]
            pixel_values = self.normalise(crops)
        rtl = 1.0 if _get(page, "reading_direction", "ltr") == "rtl" else 0.0
        layout = torch.tensor(
            [self._layout(box, i, n, width, height, rtl) for i, box in enumerate(boxes)], dtype=torch.float32
        )
        has_text = torch.tensor([bool(t) for t in texts])
        length = 1
        input_ids = torch.full((n, 1), self.tokenizer.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((n, 1), dtype=torch.long)
        if has_text.any():
            ids, mask = self.tokenize([t for t in texts if t])
            length = ids.shape[1]
            input_ids = torch.full((n, length), self.tokenizer.pad_token_id, dtype=torch.long)
            attention_mask = torch.zeros((n, length), dtype=torch.long)
            input_ids[has_text], attention_mask[has_text] = ids, mask
        return {
            "pixel_values": torch.as_tensor(pixel_values),
            "panel_mask": torch.ones(n, dtype=torch.bool),
            "image_mask": torch.ones(n, dtype=torch.bool),
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "text_mask": has_text,
            "layout": layout,
            "order": torch.arange(n, dtype=torch.long),
        }

    def _cap(self, max_panels: int | None) -> int:
        if max_panels is None:
            return self.max_panels
        if int(max_panels) < 1:
            raise ValueError(f"max_panels must be >= 1, got {max_panels}")
        return int(max_panels)

    def _layout(self, box, index: int, count: int, width: float, height: float, rtl: float) -> list[float]:
        x, y, w, h = box
        x, y, w, h = x / width, y / height, w / width, h / height
        values = {
            "x": x,
            "y": y,
            "w": w,
            "h": h,
            "cx": x + w / 2,
            "cy": y + h / 2,
            "area": w * h,
            "log_aspect": math.log(height / width),
            "rtl": rtl,
            "n_panels": count / self.max_panels,
            "panel_index": index / self.max_panels,
        }
        return [values[name] for name in LAYOUT_FEATURES]

    def collate(self, items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Pads pages to the largest panel count and text length in the batch. Padding rows have
        ``panel_mask = False``, zero pixels and layout, pad tokens and ``order = -100``."""
        p = max(item["panel_mask"].shape[0] for item in items)
        length = max(item["input_ids"].shape[1] for item in items)
        fill = {"order": -100, "input_ids": self.tokenizer.pad_token_id}
        batch = {}
        for key in items[0]:
            first = items[0][key]
            shape = (len(items), p, *first.shape[1:])
            if key in ("input_ids", "attention_mask"):
                shape = (len(items), p, length)
            out = torch.full(shape, fill.get(key, 0), dtype=first.dtype)
            for i, item in enumerate(items):
                value = item[key]
                out[(i, slice(0, value.shape[0]), *(slice(0, s) for s in value.shape[1:]))] = value
            batch[key] = out
        return batch

    def __call__(self, images: Sequence[Any], pages: Sequence[Any]) -> dict[str, torch.Tensor]:
        """A batch from page images and their DataSpec records."""
        if len(images) != len(pages):
            raise ValueError(f"got {len(images)} images for {len(pages)} pages")
        return self.collate([self.process_page(image, page) for image, page in zip(images, pages)])


def _legacy_settings(path: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The settings of a processor saved as ``closure_lite_processor.json`` (before it was a
    ProcessorMixin), or None when ``processor_config.json`` is there (or neither is)."""
    from transformers.utils import cached_file

    hub = {
        k: kwargs[k]
        for k in ("revision", "token", "cache_dir", "local_files_only", "subfolder")
        if k in kwargs
    }
    found = {}
    for name in ("processor_config.json", LEGACY_PROCESSOR_FILE):
        local = Path(path) / name
        if local.is_file():
            found[name] = str(local)
        elif not Path(path).is_dir():
            found[name] = cached_file(path, name, _raise_exceptions_for_missing_entries=False, **hub)
    if found.get("processor_config.json") or not found.get(LEGACY_PROCESSOR_FILE):
        return None
    settings = json.loads(Path(found[LEGACY_PROCESSOR_FILE]).read_text())
    settings.pop("processor_class", None)
    return settings


def _backbone_normalisation(path: str, mean, std):
    """Mean and std of a vision backbone's own image processor, when it publishes one."""
    try:
        from transformers import AutoImageProcessor

        processor = AutoImageProcessor.from_pretrained(path)
    except (OSError, ValueError, ImportError):  # no preprocessor_config.json: keep the defaults
        return mean, std
    return getattr(processor, "image_mean", mean) or mean, getattr(processor, "image_std", std) or std


__all__ = ["ClosureLiteProcessor", "letterbox", "panel_text"]
