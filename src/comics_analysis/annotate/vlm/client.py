"""A client for any OpenAI-compatible chat endpoint (OpenRouter, vLLM, Ollama, LM Studio, Hugging
Face Inference Providers, Gemini's compatible endpoint) that reads comic pages.

- the page goes as a JPEG data URI, resized to ``max_side``;
- JSON response format when ``json_mode`` (servers that refuse it: turn it off);
- retries with jittered exponential backoff on 429, 5xx, timeouts, connection errors and empty
  200 responses; never on other 4xx; a response cut by the token limit is retried once with
  twice the limit;
- the API key comes from an environment variable and is never logged;
- a disk cache keyed by (image SHA-256, model, prompt version) makes re-runs free;
- usage (tokens in/out) and cost per call from a configurable price table.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import logging
import os
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

from PIL import Image

from ...dataspec import atomic_write
from ...dataspec.io import remove_orphans
from .prompts import PROMPTS
from .repair import ParseResult, parse_vlm_json

log = logging.getLogger(__name__)


@dataclass
class VlmConfig:
    model: str
    base_url: str
    api_key_env: str = "OPENAI_API_KEY"
    prompt_version: str = "v2-grounded-1"
    max_side: int = 1536
    max_tokens: int = 4096
    temperature: float = 0.0
    timeout: float = 120.0
    max_retries: int = 5
    backoff: float = 1.0  # seconds before the first retry; doubles each time, with jitter
    json_mode: bool = True
    cache_dir: str | None = None
    price_in: float = 0.0  # currency per million input tokens
    price_out: float = 0.0  # currency per million output tokens


@dataclass(kw_only=True)
class VlmUsage:
    """What one request cost and how it went (shared by :class:`VlmResult` and :class:`VlmAnswer`)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    cached: bool = False
    attempts: int = 0
    finish_reason: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class VlmResult(VlmUsage):
    """A page reading of :meth:`VlmClient.read_page`: the raw text and its parsed JSON."""

    text: str | None
    parsed: ParseResult


@dataclass
class VlmAnswer(VlmUsage):
    """A free-text answer of :meth:`VlmClient.ask`."""

    text: str


class VlmError(Exception):
    """A request that cannot succeed (a 4xx other than 429, or retries exhausted). ``usage``:
    the tokens and cost its attempts were billed, which count against a budget like any other."""

    def __init__(self, message: str, usage: VlmUsage | None = None):
        super().__init__(message)
        self.usage = usage or VlmUsage()


class VlmUnreachable(RuntimeError):
    """The endpoint did not answer the preflight at all (nothing listening, a wrong host, DNS)."""


PREFLIGHT_TIMEOUT = 5.0  # seconds: a server that is up answers GET /models well within this


def check_endpoint(base_url: str, timeout: float = PREFLIGHT_TIMEOUT, api_key: str | None = None) -> int:
    """One ``GET {base_url}/models`` before a run, so that a mistyped URL or a server that is not
    running fails in seconds, naming the URL, instead of after every page's retries. Any HTTP
    answer passes (some servers refuse the listing: 401, 404): only reaching the server is checked.
    Returns the status code; raises :class:`VlmUnreachable`."""
    import httpx

    url = base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        return httpx.get(url, timeout=timeout, headers=headers, follow_redirects=True).status_code
    except httpx.TimeoutException:
        reason = f"no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        reason = redact(f"{type(exc).__name__}: {exc}", [api_key or ""])
    raise VlmUnreachable(
        f"cannot reach the VLM endpoint {base_url} ({reason}): check --base-url and that the server "
        "is running"
    )


MAX_RETRY_AFTER = 60.0  # seconds: a server's Retry-After is honoured up to this


def retry_after(exc: Exception) -> float | None:
    """Seconds a 429/5xx response asks the client to wait (``Retry-After``, seconds or an HTTP
    date, or ``retry-after-ms``), or None."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret (and any bearer token) replaced by ``***``: servers echo keys."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return re.sub(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}", r"\1***", text)


def image_data_uri(image: Image.Image, max_side: int) -> tuple[str, str]:
    """(data URI of a JPEG no larger than ``max_side``, SHA-256 of the original pixels' encoding)."""
    image = image.convert("RGB")
    scale = min(1.0, max_side / max(image.size))
    if scale < 1.0:
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
        )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii"), hashlib.sha256(
        data
    ).hexdigest()


class VlmClient:
    def __init__(self, config: VlmConfig):
        from openai import AsyncOpenAI

        if config.prompt_version not in PROMPTS:
            raise ValueError(f"unknown prompt version {config.prompt_version!r}; known: {', '.join(PROMPTS)}")
        self.config = config
        # local servers (Ollama, vLLM) accept any key; hosted ones need the variable set
        key = os.environ.get(config.api_key_env) or "not-needed"
        self._secrets = [key] if key != "not-needed" else []
        self._client = AsyncOpenAI(
            base_url=config.base_url, api_key=key, timeout=config.timeout, max_retries=0
        )
        self.cache = Path(config.cache_dir) if config.cache_dir else None
        if self.cache is not None and self.cache.is_dir():
            remove_orphans(self.cache)

    def _cache_path(self, image_sha: str, prompt_key: str | None = None) -> Path | None:
        if self.cache is None:
            return None
        prompt_key = self.config.prompt_version if prompt_key is None else prompt_key
        key = hashlib.sha256(f"{image_sha}|{self.config.model}|{prompt_key}".encode()).hexdigest()
        return self.cache / key[:2] / f"{key}.json"

    def _messages(self, uri: str, system: str | None, user: str) -> list[dict]:
        messages = [{"role": "system", "content": system}] if system else []
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": user},
                    {"type": "image_url", "image_url": {"url": uri}},
                ],
            }
        )
        return messages

    async def _call(self, messages: list[dict], max_tokens: int, json_mode: bool):
        kwargs = {}
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        return await self._client.chat.completions.create(
            model=self.config.model,
            temperature=self.config.temperature,
            max_tokens=max_tokens,
            messages=messages,
            **kwargs,
        )

    async def _complete(
        self,
        image: Image.Image,
        system: str | None,
        user: str,
        json_mode: bool,
        prompt_key: str,
        may_retry: Callable[[float], bool] | None = None,
    ) -> tuple[str, VlmUsage]:
        """(text, usage: tokens in and out, cost, cached, attempts, finish reason, errors) of one
        image + prompt: from the cache, or from the server with retries."""
        import openai

        # resizing and JPEG encoding take tens of ms: off the event loop, so requests overlap
        uri, image_sha = await asyncio.to_thread(image_data_uri, image, self.config.max_side)
        cache_path = self._cache_path(image_sha, prompt_key)
        if cache_path is not None and cache_path.is_file():
            stored = json.loads(cache_path.read_text(encoding="utf-8"))
            usage = VlmUsage(
                input_tokens=stored["input_tokens"],
                output_tokens=stored["output_tokens"],
                cached=True,
                finish_reason=stored.get("finish_reason"),
            )
            return stored["text"], usage
        messages = self._messages(uri, system, user)
        max_tokens, errors, attempts, grown = self.config.max_tokens, [], 0, False
        usage_in = usage_out = 0

        def billed() -> VlmUsage:  # what the attempts so far cost, whatever their outcome
            cost = (usage_in * self.config.price_in + usage_out * self.config.price_out) / 1e6
            return VlmUsage(input_tokens=usage_in, output_tokens=usage_out, cost=cost, attempts=attempts)

        while True:
            attempts += 1
            retry_reason, wait, response = None, None, None
            try:
                response = await self._call(messages, max_tokens, json_mode)
            except openai.RateLimitError as exc:
                retry_reason, wait = "429 rate limited", retry_after(exc)
            except openai.InternalServerError as exc:
                retry_reason, wait = f"{exc.status_code} server error", retry_after(exc)
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                retry_reason = type(exc).__name__
            except openai.APIStatusError as exc:  # other 4xx: retrying cannot help
                message = redact(
                    f"{exc.status_code} from {self.config.base_url}: {exc.message}", self._secrets
                )
                raise VlmError(message, billed()) from None
            except (openai.APIResponseValidationError, ValueError) as exc:  # a truncated envelope
                retry_reason = f"malformed 200 response ({type(exc).__name__})"
            else:
                if not hasattr(response, "choices"):  # e.g. an HTML page with status 200
                    retry_reason = "malformed 200 response (not a chat completion)"
                    response = None
            if response is not None and retry_reason is None:
                usage = getattr(response, "usage", None)
                if usage is not None:
                    usage_in += getattr(usage, "prompt_tokens", 0) or 0
                    usage_out += getattr(usage, "completion_tokens", 0) or 0
                choice = response.choices[0] if response.choices else None
                text = choice.message.content if choice is not None else None
                finish = choice.finish_reason if choice is not None else None
                if not text or not text.strip():
                    retry_reason = "empty 200 response"
                elif finish == "length" and not grown:
                    grown, max_tokens = True, max_tokens * 2
                    errors.append(f"truncated at {max_tokens // 2} tokens; retrying with {max_tokens}")
                    continue
                else:
                    cost = (usage_in * self.config.price_in + usage_out * self.config.price_out) / 1e6
                    if cache_path is not None:
                        cache_path.parent.mkdir(parents=True, exist_ok=True)
                        # a killed run leaves no half entry; its temp file is removed by the next client
                        with atomic_write(cache_path, owner=True) as handle:
                            json.dump(
                                {
                                    "text": text,
                                    "input_tokens": usage_in,
                                    "output_tokens": usage_out,
                                    "finish_reason": finish,
                                },
                                handle,
                            )
                    usage = VlmUsage(
                        input_tokens=usage_in,
                        output_tokens=usage_out,
                        cost=cost,
                        attempts=attempts,
                        finish_reason=finish,
                        errors=errors,
                    )
                    return text, usage
            errors.append(retry_reason)
            if attempts > self.config.max_retries:
                raise VlmError(f"gave up after {attempts} attempts: {'; '.join(errors)}", billed())
            if may_retry is not None and not may_retry(billed().cost):
                raise VlmError(f"budget reached after {attempts} attempts: {'; '.join(errors)}", billed())
            delay = self.config.backoff * (2 ** (attempts - 1)) * random.uniform(0.5, 1.5)
            if wait is not None:
                delay = max(delay, min(wait, MAX_RETRY_AFTER))
            log.info("retrying in %.2f s (%s)", delay, retry_reason)
            await asyncio.sleep(delay)

    async def read_page(
        self, image: Image.Image, may_retry: Callable[[float], bool] | None = None
    ) -> VlmResult:
        """One page: from the cache, or from the server with retries; never returns a half result.
        ``may_retry(cost billed for this page so far)`` is asked before each retry (a budget)."""
        prompt = PROMPTS[self.config.prompt_version]
        text, usage = await self._complete(
            image, prompt.system, prompt.user, self.config.json_mode, self.config.prompt_version, may_retry
        )
        return VlmResult(text, parse_vlm_json(text), **asdict(usage))

    async def ask(self, image: Image.Image, user: str, system: str | None = None) -> VlmAnswer:
        """Any prompt about one image, answered as free text (no JSON mode, no parsing). The
        cache key holds the SHA-256 of the prompt text instead of the prompt version."""
        prompt_key = "text:" + hashlib.sha256(f"{system or ''}\0{user}".encode()).hexdigest()
        text, usage = await self._complete(image, system, user, False, prompt_key)
        return VlmAnswer(text, **asdict(usage))

    def preflight(self, timeout: float = PREFLIGHT_TIMEOUT) -> int:
        """:func:`check_endpoint` of this client's endpoint (with its key)."""
        return check_endpoint(self.config.base_url, timeout, self._secrets[0] if self._secrets else None)

    def config_dict(self) -> dict:
        """The configuration without secrets (for provenance and logs)."""
        return {k: v for k, v in asdict(self.config).items() if k != "api_key_env"}
