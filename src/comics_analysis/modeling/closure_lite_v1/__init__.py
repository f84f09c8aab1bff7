"""The published Closure Lite v1 model ("ClosureLiteSimple"): an inference-only loader of its
checkpoints, separate from the new ``closure_lite`` model (DESIGN 4.1). Needs the ``ml`` extra
(torch, transformers). Not remote code: v1 checkpoints are plain state dicts."""

from .modeling_closure_lite_v1 import UNUSED_PREFIXES, VIT_RENAMES, ClosureLiteV1, ClosureLiteV1Output

__all__ = ["UNUSED_PREFIXES", "VIT_RENAMES", "ClosureLiteV1", "ClosureLiteV1Output"]
