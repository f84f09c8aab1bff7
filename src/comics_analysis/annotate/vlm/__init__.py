"""VLM text extraction: OpenAI-compatible client, versioned prompts, response schema, JSON repair."""

from .client import VlmClient, VlmConfig, VlmError, VlmResult, image_data_uri
from .prompts import PROMPTS, Prompt
from .repair import ParseResult, parse_vlm_json
from .schema import PROMPT_VERSION, VlmPage, VlmPanel, VlmText

__all__ = [
    "PROMPTS",
    "PROMPT_VERSION",
    "ParseResult",
    "Prompt",
    "VlmClient",
    "VlmConfig",
    "VlmError",
    "VlmPage",
    "VlmPanel",
    "VlmResult",
    "VlmText",
    "image_data_uri",
    "parse_vlm_json",
]
