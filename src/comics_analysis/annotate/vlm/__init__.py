"""VLM text extraction: OpenAI-compatible client, versioned prompts, response schema, JSON repair."""

from .client import (
    VlmAnswer,
    VlmClient,
    VlmConfig,
    VlmError,
    VlmResult,
    VlmUnreachable,
    check_endpoint,
    image_data_uri,
)
from .prompts import PROMPTS, Prompt
from .repair import ParseResult, parse_vlm_json
from .run import RunTotals, load_prices, page_file, read_pages, resolve_prices, run_vlm
from .schema import PROMPT_VERSION, VlmPage, VlmPanel, VlmText

__all__ = [
    "PROMPTS",
    "PROMPT_VERSION",
    "ParseResult",
    "Prompt",
    "RunTotals",
    "VlmAnswer",
    "VlmClient",
    "VlmConfig",
    "VlmError",
    "VlmPage",
    "VlmPanel",
    "VlmResult",
    "VlmText",
    "VlmUnreachable",
    "check_endpoint",
    "image_data_uri",
    "load_prices",
    "page_file",
    "parse_vlm_json",
    "read_pages",
    "resolve_prices",
    "run_vlm",
]
