"""Text and image query vectors from a Closure Lite model folder.

The model package (``comics_analysis.modeling.closure_lite``) is being written separately; until
it is installed these functions fail with a clear message. When it is, the model is loaded with
``AutoModel.from_pretrained(model_dir, trust_remote_code=True)`` and its ``embed_text`` /
``embed_image`` methods give the query vector.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

MODEL_PACKAGE = "comics_analysis.modeling.closure_lite"


def model_query_vector(
    model_dir: str | Path, *, text: str | None = None, image: str | Path | None = None
) -> np.ndarray:
    if (text is None) == (image is None):
        raise ValueError("give exactly one of text or image")
    try:
        found = importlib.util.find_spec(MODEL_PACKAGE) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise RuntimeError(
            f"--text and --image queries need the Closure Lite model ({MODEL_PACKAGE}), which is not part "
            "of this installation yet; query by --page/--panel or --vector FILE.npy meanwhile"
        )
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise FileNotFoundError(f"{model_dir}: no model folder")
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), trust_remote_code=True)
    model.eval()
    method = "embed_text" if text is not None else "embed_image"
    if not hasattr(model, method):
        raise RuntimeError(f"{model_dir}: the model has no {method}() method")
    if text is not None:
        out = model.embed_text([text])
    else:
        from PIL import Image

        with Image.open(image) as opened:
            out = model.embed_image([opened.convert("RGB")])
    vector = out.detach().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)
    return np.asarray(vector, dtype=np.float32).reshape(-1)
