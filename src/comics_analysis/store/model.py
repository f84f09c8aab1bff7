"""Loading a Closure Lite model folder (or Hub repository) with its processor, for embedding and
for text / image queries.

The model is loaded with ``AutoModel.from_pretrained(path, trust_remote_code=True)`` (the folder's
own remote code, DESIGN 4.3) and its processor with ``type(model).processor_class.from_pretrained``.
:class:`LoadedModel` also carries what a store records about the model: its id, a revision (the
Hub commit, or for a local folder the SHA-256 of its weights) and the config used in the config hash.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_PACKAGE = "comics_analysis.modeling.closure_lite"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# config keys that do not change the vectors (and differ between transformers releases)
_VOLATILE_CONFIG_KEYS = ("transformers_version", "_name_or_path", "auto_map", "architectures", "dtype")


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
            "embedding and --text/--image queries need the Closure Lite model and torch: "
            'install the ml extra (pip install -e ".[ml]")'
        )


def weights_digest(folder: Path) -> str | None:
    """``sha256:<first 16 hex>`` of the folder's weights file (a content revision), or None."""
    for name in WEIGHT_FILES:
        path = folder / name
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            return "sha256:" + digest.hexdigest()[:16]
    return None


def load_model(
    model: str | Path, *, revision: str | None = None, model_id: str | None = None, device: Any = None
) -> LoadedModel:
    """A Closure Lite model and its processor from a folder written by ``save_pretrained`` (or a
    Hub repository id, with ``revision``). ``model_id`` overrides the id recorded in stores."""
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
    for method in ("embed_text", "embed_image", "embed_pages"):
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
        rev = revision or getattr(loaded.config, "_commit_hash", None)
    return LoadedModel(
        model=loaded,
        processor=processor,
        model_id=model_id or (path.name if path.is_absolute() else str(model)),
        revision=rev,
        config=config,
    )
