"""Text and image query vectors from a Closure Lite model folder.

The model is loaded with ``AutoModel.from_pretrained(model_dir, trust_remote_code=True)``, its
processor from the same folder, and ``embed_text`` / ``embed_image`` give the query vector (in
the panel-embedding space). The store should have been embedded with the same model.
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
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir}: not a Closure Lite model folder (no config.json)")
    from transformers import AutoModel

    try:
        model = AutoModel.from_pretrained(str(model_dir), trust_remote_code=True)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{model_dir}: not a Closure Lite model folder: {exc}") from None
    for method in ("embed_text", "embed_image"):
        if not hasattr(model, method):
            raise ValueError(f"{model_dir}: the model has no {method}() method; is it a Closure Lite model?")
    model.eval()
    # the processor saved beside the model turns the query into the model's inputs
    processor = type(model).processor_class.from_pretrained(model_dir)
    if text is not None:
        out = model.embed_text(**processor.text_queries([text]))
    else:
        from PIL import Image

        with Image.open(image) as opened:
            out = model.embed_image(**processor.image_queries([opened.convert("RGB")]))
    vector = out.detach().cpu().numpy()
    return np.asarray(vector, dtype=np.float32).reshape(-1)
