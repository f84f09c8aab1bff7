"""CoSMo page stream segmentation (DESIGN 4.2). Needs the ``ml`` extra (torch, transformers).

Importing this package registers the classes for ``auto_map``, so ``save_pretrained`` writes the
remote code that ``AutoModel.from_pretrained(..., trust_remote_code=True)`` loads.
"""

from .configuration_cosmo_pss import SCALARS, CosmoPssConfig
from .modeling_cosmo_pss import CosmoPssForPageClassification, CosmoPssOutput, page_scalars

CosmoPssConfig.register_for_auto_class()
CosmoPssForPageClassification.register_for_auto_class("AutoModel")

__all__ = [
    "SCALARS",
    "CosmoPssConfig",
    "CosmoPssForPageClassification",
    "CosmoPssOutput",
    "page_scalars",
]
