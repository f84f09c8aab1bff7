"""VLM text extraction: response schema, JSON repair (client and prompts: issue 5, in progress)."""

from .repair import ParseResult, parse_vlm_json
from .schema import PROMPT_VERSION, VlmPage, VlmPanel, VlmText

__all__ = ["PROMPT_VERSION", "ParseResult", "VlmPage", "VlmPanel", "VlmText", "parse_vlm_json"]
