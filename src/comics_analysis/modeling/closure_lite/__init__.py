"""Closure Lite: panel and page embeddings (DESIGN 4.1). Needs the ``ml`` extra (torch, transformers).

Importing this package registers the classes for ``auto_map``, so ``save_pretrained`` writes the
remote code that ``AutoModel.from_pretrained(..., trust_remote_code=True)`` and
``AutoProcessor.from_pretrained(..., trust_remote_code=True)`` load.
"""

from ..closure_lite_v1 import ClosureLiteV1, ClosureLiteV1Output  # published v1 model (its own folder)
from .configuration_closure_lite import (
    LAYOUT_FEATURES,
    LOSS_NAMES,
    PRESETS,
    VARIANTS,
    ClosureLiteConfig,
    resolve_backbone,
)
from .configuration_efficientnet_lite import EfficientNetLiteConfig
from .modeling_closure_lite import ClosureLiteModel, ClosureLiteOutput, decode_reading_order
from .modeling_efficientnet_lite import EfficientNetLiteForImageClassification, EfficientNetLiteModel
from .processing_closure_lite import ClosureLiteProcessor, letterbox, panel_text

ClosureLiteConfig.register_for_auto_class()
ClosureLiteModel.register_for_auto_class("AutoModel")
ClosureLiteProcessor.register_for_auto_class("AutoProcessor")

__all__ = [
    "LAYOUT_FEATURES",
    "LOSS_NAMES",
    "PRESETS",
    "VARIANTS",
    "ClosureLiteConfig",
    "ClosureLiteModel",
    "ClosureLiteOutput",
    "ClosureLiteProcessor",
    "ClosureLiteV1",
    "ClosureLiteV1Output",
    "EfficientNetLiteConfig",
    "EfficientNetLiteForImageClassification",
    "EfficientNetLiteModel",
    "decode_reading_order",
    "letterbox",
    "panel_text",
    "resolve_backbone",
]
