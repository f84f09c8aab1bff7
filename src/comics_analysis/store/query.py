"""Text and image query vectors from a Closure Lite model folder.

The model is loaded with ``AutoModel.from_pretrained(model_dir, trust_remote_code=True)``, its
processor from the same folder (:func:`.model.load_model`), and ``embed_text`` / ``embed_image``
give the query vector (in the panel-embedding space). The store should have been embedded with
the same model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .model import MODEL_PACKAGE, LoadedModel, load_model

__all__ = ["MODEL_PACKAGE", "model_query_vector", "query_vector"]


def query_vector(loaded: LoadedModel, *, text: str | None = None, image: Any = None) -> np.ndarray:
    """The query vector [D] of a text or an image (a PIL image or a path) with a loaded model."""
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
        inputs = processor.image_queries([picture])
        out = model.embed_image(**{k: v.to(device) for k, v in inputs.items()})
    return np.asarray(out.detach().float().cpu().numpy(), dtype=np.float32).reshape(-1)


def model_query_vector(
    model_dir: str | Path, *, text: str | None = None, image: str | Path | None = None
) -> np.ndarray:
    if (text is None) == (image is None):
        raise ValueError("give exactly one of text or image")
    return query_vector(load_model(model_dir), text=text, image=image)
