"""Convert a published cosmo-v4 checkpoint (CoSMo PSS, "BookBERTMultimodal2") into
:class:`CosmoPssForPageClassification` with ``CosmoPssConfig.cosmo_v4`` shapes (DESIGN 4.2).

The module names of the published model are ours (``textual_projection``, ``visual_projection``,
``norm``, ``bert_encoder``, ``classifier``), so conversion is a checked copy of tensors: the
dimensions are read from the tensor shapes, the checkpoint's unused parts (``projection.*``,
the BERT pooler and word embeddings: the model feeds embeddings) are dropped, and anything else
that does not fit is an error naming the keys. The number of attention heads cannot be read from
shapes: pass ``heads`` (the published model has 4). Predictions keep the 9 legacy labels;
``dataspec.taxonomy`` maps them to ours.

    model = convert_cosmo_v4("checkpoint.pt")            # or a .safetensors file
    model.save_pretrained("cosmo-v4-converted")          # loads with AutoModel + trust_remote_code
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from .configuration_cosmo_pss import CosmoPssConfig
from .modeling_cosmo_pss import CosmoPssForPageClassification

# not used by the forward computation (in the checkpoint, or in ours: the inputs are embeddings)
UNUSED = re.compile(
    r"^(projection\.|bert_encoder\.pooler\.|bert_encoder\.embeddings\.word_embeddings\.|"
    r"bert_encoder\.embeddings\.position_ids$)"
)
# ours only: kept at their initial values (all pages have text; no Viterbi; no class weights)
OURS_ONLY = ("empty_text", "transitions", "start_transitions", "class_weights")


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a cosmo-v4 checkpoint: ``torch.save({"model_state_dict": ...})`` (read with
    ``weights_only=True``, never full pickle), a bare state dict, or a .safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors come in many types
        raise ValueError(f"{path}: not a weights-only torch checkpoint ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("model_state_dict"), dict):
        data = data["model_state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ValueError(f"{path}: expected a state dict (or {{'model_state_dict': ...}}) of tensors")
    return data


def _shape(state: dict[str, torch.Tensor], key: str, source: str) -> tuple[int, ...]:
    if key not in state:
        raise ValueError(f"{source}: missing {key!r}; is this a cosmo-v4 (BookBERTMultimodal2) checkpoint?")
    return tuple(state[key].shape)


def config_from_state(
    state: dict[str, torch.Tensor],
    heads: int = 4,
    labels: list[str] | None = None,
    source: str = "checkpoint",
) -> CosmoPssConfig:
    """The ``cosmo_v4`` config whose shapes are those of ``state``."""
    textual = _shape(state, "textual_projection.0.weight", source)[1]
    visual = _shape(state, "visual_projection.0.weight", source)[1]
    positions, width = _shape(state, "bert_encoder.embeddings.position_embeddings.weight", source)
    layers = len(
        {int(m.group(1)) for k in state if (m := re.match(r"bert_encoder\.encoder\.layer\.(\d+)\.", k))}
    )
    intermediate = _shape(state, "bert_encoder.encoder.layer.0.intermediate.dense.weight", source)[0]
    head_hidden = _shape(state, "classifier.1.weight", source)[0]
    classes = _shape(state, "classifier.9.weight", source)[0]
    types = _shape(state, "bert_encoder.embeddings.token_type_embeddings.weight", source)[0]
    if width % heads:
        raise ValueError(f"{source}: BERT width {width} is not divisible by heads={heads}")
    config = CosmoPssConfig.cosmo_v4(
        textual_dim=textual,
        visual_dim=visual,
        width=width,
        layers=layers,
        heads=heads,
        head_hidden=head_hidden,
        labels=labels,
    )
    if len(config.labels) != classes:
        raise ValueError(f"{source}: {classes} classes, but {len(config.labels)} labels were given")
    config.bert_config.update(
        intermediate_size=intermediate, max_position_embeddings=positions, type_vocab_size=types
    )
    return config


def convert_cosmo_v4(
    checkpoint: str | Path | dict[str, torch.Tensor], heads: int = 4, labels: list[str] | None = None
) -> CosmoPssForPageClassification:
    """A :class:`CosmoPssForPageClassification` (eval mode) holding the checkpoint's weights."""
    source = "state dict" if isinstance(checkpoint, dict) else str(checkpoint)
    state = checkpoint if isinstance(checkpoint, dict) else load_state_dict(checkpoint)
    config = config_from_state(state, heads, labels, source)
    model = CosmoPssForPageClassification(config)
    ours = model.state_dict()
    used = {k: v for k, v in state.items() if not UNUSED.match(k)}
    unknown = sorted(set(used) - set(ours))
    missing = sorted(
        k for k in set(ours) - set(used) if k.split(".")[0] not in OURS_ONLY and not UNUSED.match(k)
    )
    if unknown or missing:
        raise ValueError(
            f"{source}: not the cosmo-v4 layout: "
            + "; ".join(
                part
                for part in (
                    f"unexpected {', '.join(unknown[:5])}" if unknown else "",
                    f"missing {', '.join(missing[:5])}" if missing else "",
                )
                if part
            )
        )
    wrong = [
        f"{k} {tuple(v.shape)} != {tuple(ours[k].shape)}" for k, v in used.items() if v.shape != ours[k].shape
    ]
    if wrong:
        raise ValueError(f"{source}: tensor shapes do not fit: {'; '.join(wrong[:5])}")
    model.load_state_dict({k: v.to(ours[k].dtype) for k, v in used.items()}, strict=False)
    return model.eval()
