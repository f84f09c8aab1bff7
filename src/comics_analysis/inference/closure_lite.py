"""Closure Lite inference: the one loader, page / panel embedding, query vectors, text tower.

:func:`load_closure_lite` loads a model folder written by ``save_pretrained`` or a Hub repository
id with ``AutoModel.from_pretrained(path, trust_remote_code=True)`` (the model's own remote code,
DESIGN 4.3) and its processor with ``type(model).processor_class.from_pretrained``.
:class:`LoadedModel` also carries what a store records about the model: its id, a revision (the
Hub commit for a Hub name, the SHA-256 of the weights for a local folder) and the config used in
the config hash.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .prose import prose_lines

MODEL_PACKAGE = "comics_analysis.modeling.closure_lite"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# config keys that do not change the vectors (and differ between transformers releases)
_VOLATILE_CONFIG_KEYS = ("transformers_version", "_name_or_path", "auto_map", "architectures", "dtype")
_METHODS = ("embed_text", "embed_image", "embed_pages")

__all__ = [
    "MODEL_PACKAGE",
    "LoadedModel",
    "ModelEmbedder",
    "closure_lite_text_encoder",
    "embed_crop",
    "load_closure_lite",
    "load_lora",
    "model_query_vector",
    "query_vector",
    "text_vectors",
    "weights_digest",
]


@dataclass
class LoadedModel:
    model: Any  # ClosureLiteModel (from the folder's remote code), in eval mode
    processor: Any  # its ClosureLiteProcessor
    model_id: str
    revision: str | None
    config: dict[str, Any]

    @property
    def dim(self) -> int:
        return int(self.model.config.embed_dim)

    @property
    def max_panels(self) -> int:
        return int(self.processor.max_panels)


def _check_ml_installed() -> None:
    try:
        found = importlib.util.find_spec(MODEL_PACKAGE) is not None
        found = found and importlib.util.find_spec("torch") is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise RuntimeError(
            "loading a Closure Lite model (embedding, text / image queries) needs the model code and "
            'torch: install the ml extra (pip install -e ".[ml]")'
        )


def weights_digest(folder: Path) -> str | None:
    """``sha256:<first 16 hex>`` of the folder's weights file (a content revision), or None."""
    for name in WEIGHT_FILES:
        path = Path(folder) / name
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            return "sha256:" + digest.hexdigest()[:16]
    return None


def _hub_commit(repo_id: str) -> str | None:
    """The commit of the cached snapshot a Hub id was just loaded from (transformers 5 configs
    no longer carry ``_commit_hash``); None when it cannot be told."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json")
    if not isinstance(cached, str):
        return None
    match = re.search(r"snapshots/([0-9a-f]{40})/", Path(cached).as_posix())
    return match.group(1) if match else None


def load_closure_lite(
    model: str | Path, *, revision: str | None = None, model_id: str | None = None, device: Any = None
) -> LoadedModel:
    """A Closure Lite model (eval mode) and its processor from a folder written by
    ``save_pretrained`` or a Hub repository id (at ``revision``). The recorded revision is
    ``revision`` when given, else the Hub commit for a Hub id, the weights' SHA-256 for a folder.
    ``model_id`` overrides the id recorded in stores (default: the folder's name for an absolute
    path, else ``model`` as given)."""
    _check_ml_installed()
    from transformers import AutoModel

    path = Path(model)
    local = path.is_dir()
    if local and not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: not a Closure Lite model folder (no config.json)")
    if not local and (path.is_absolute() or str(model).startswith(".") or path.exists()):
        raise FileNotFoundError(f"{path}: not a Closure Lite model folder")
    kwargs = {} if revision is None else {"revision": revision}
    try:
        loaded = AutoModel.from_pretrained(str(model), trust_remote_code=True, **kwargs)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{model}: not a Closure Lite model folder: {exc}") from None
    for method in _METHODS:
        if not hasattr(loaded, method):
            raise ValueError(f"{model}: the model has no {method}() method; is it a Closure Lite model?")
    loaded.eval()
    if device is not None:
        loaded.to(device)
    # the processor saved beside the model turns pages and queries into the model's inputs
    processor = type(loaded).processor_class.from_pretrained(str(model), **kwargs)
    config = {k: v for k, v in loaded.config.to_dict().items() if k not in _VOLATILE_CONFIG_KEYS}
    config["processor"] = processor.to_dict()
    if local:
        rev = revision or weights_digest(path)
    else:
        rev = revision or _hub_commit(str(model)) or getattr(loaded.config, "_commit_hash", None)
    return LoadedModel(
        model=loaded,
        processor=processor,
        model_id=model_id or (path.name if path.is_absolute() else str(model)),
        revision=rev,
        config=config,
    )


class ModelEmbedder:
    """``embed_fn(items) -> (page [B, D], panel [B, P, D], panel_mask [B, P])`` with a model, for
    ``store.write_store``: each item has ``page`` (a DataSpec record) and ``load_image()``. A batch
    goes through the processor (panel crops, text, layout) and one forward pass under
    ``torch.no_grad``; the mask marks the page's real panels. ``image_vectors``: a 4th array, the
    image-only panel vectors [B, P, D] (the forward pass's ``vision_embeds``: what ``embed_crop``
    gives for a crop query), for a store that keeps them. ``max_panels``: most panels read per
    page (default: the processor's training cap); P is at most that, the store's panel axis.
    ``prose_lines``: then a dict ``{"prose_lines": [B]}``, the lines of body text counted on each
    page image (:func:`~.prose.prose_lines`), for a store that keeps them."""

    def __init__(
        self,
        loaded: LoadedModel,
        device: Any = None,
        image_vectors: bool = False,
        max_panels: int | None = None,
        prose_lines: bool = False,
    ):
        self.image_vectors = image_vectors
        self.prose_lines = prose_lines
        self.max_panels = max_panels
        import torch

        self.loaded = loaded
        self.model = loaded.model
        self.processor = loaded.processor
        self.device = torch.device(device) if device is not None else next(self.model.parameters()).device
        self.model.to(self.device)
        self.model.eval()
        self.pages = 0
        self.panels = 0

    def __call__(self, items) -> tuple[Any, ...]:
        import torch

        images = [item.load_image() for item in items]
        prose = [prose_lines(image).lines for image in images] if self.prose_lines else None
        processed = [
            self.processor.process_page(image, item.page, max_panels=self.max_panels)
            for image, item in zip(images, items)
        ]
        batch = self.processor.collate(processed)
        batch.pop("order", None)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with torch.no_grad():
            out = self.model(**batch, return_loss=False)
        page = out.page_embeddings.float().cpu().numpy()
        panel = out.panel_embeddings.float().cpu().numpy()
        mask = out.panel_mask.cpu().numpy().astype(bool)
        # a page without panels is one whole-page panel for the model: it has no panel to store
        for r, item in enumerate(items):
            mask[r, len(item.page.panels) :] = False
        self.pages += len(items)
        self.panels += int(mask.sum())
        arrays = [page, panel, mask]
        if self.image_vectors:
            arrays.append(out.vision_embeds.float().cpu().numpy())
        if prose is not None:
            arrays.append({"prose_lines": np.array(prose, np.int16)})
        return tuple(arrays)


def query_vector(
    loaded: LoadedModel, *, text: str | None = None, image: Any = None, crop: bool = False
) -> np.ndarray:
    """The query vector [D] (panel-embedding space) of a text or an image (a PIL image or a path)
    with a loaded model; the store should have been embedded with the same model. ``crop``: the
    image's image-only vector (``embed_crop``), compared with a store's image-only panel vectors
    ("where does this crop come from")."""
    if (text is None) == (image is None):
        raise ValueError("give exactly one of text or image")
    model, processor = loaded.model, loaded.processor
    device = next(model.parameters()).device
    if text is not None:
        if not text.strip():
            raise ValueError("the text query is empty")
        inputs = processor.text_queries([text])
        out = model.embed_text(**{k: v.to(device) for k, v in inputs.items()})
    else:
        from PIL import Image

        if isinstance(image, Image.Image):
            picture = image.convert("RGB")
        else:
            with Image.open(image) as opened:
                picture = opened.convert("RGB")
        pixels = processor.image_queries([picture])["pixel_values"].to(device)
        out = embed_crop(model, pixels) if crop else model.embed_image(pixel_values=pixels)
    return np.asarray(out.detach().float().cpu().numpy(), dtype=np.float32).reshape(-1)


def embed_crop(model: Any, pixel_values: Any) -> Any:
    """Image-only vectors of letterboxed crops: ``model.embed_crop``, or for a model folder saved
    before that method existed the same computation (projected, L2-normalised tower output)."""
    import torch

    if hasattr(model, "embed_crop"):
        return model.embed_crop(pixel_values)
    with torch.no_grad():
        return torch.nn.functional.normalize(model._vision_vectors(pixel_values), dim=-1)


def model_query_vector(
    model: str | Path, *, text: str | None = None, image: str | Path | None = None, crop: bool = False
) -> np.ndarray:
    """:func:`query_vector` with the model loaded from ``model`` (a folder or a Hub id)."""
    if (text is None) == (image is None):
        raise ValueError("give exactly one of text or image")
    return query_vector(load_closure_lite(model), text=text, image=image, crop=crop)


def text_vectors(loaded: LoadedModel, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Text-tower vectors [N, D] (``embed_text``, L2-normalised) of ``texts``, in batches."""
    import torch

    model, processor = loaded.model, loaded.processor
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            inputs = processor.text_queries(list(texts[start : start + batch_size]))
            out.append(model.embed_text(**{k: v.to(device) for k, v in inputs.items()}).float().cpu().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)


def closure_lite_text_encoder(
    model: str | Path | LoadedModel, batch_size: int = 64
) -> Callable[[Sequence[str]], np.ndarray]:
    """``texts -> [N, D]`` with the text tower of a Closure Lite model (a folder, a Hub id or a
    loaded model)."""
    loaded = model if isinstance(model, LoadedModel) else load_closure_lite(model)

    def encode(texts: Sequence[str]) -> np.ndarray:
        return text_vectors(loaded, texts, batch_size)

    return encode


def load_lora(folder: str | Path):
    """The PEFT model saved by ``training.closure_lite.save_lora`` (base loaded as remote code)."""
    from peft import PeftModel
    from transformers import AutoModel

    folder = Path(folder)
    for sub in ("base", "adapter"):
        if not (folder / sub).is_dir():
            raise FileNotFoundError(
                f"{folder}: no {sub}/ folder (written by training.closure_lite.save_lora)"
            )
    base = AutoModel.from_pretrained(str(folder / "base"), trust_remote_code=True)
    return PeftModel.from_pretrained(base, str(folder / "adapter"))
