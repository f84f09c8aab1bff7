"""Parse what a VLM returned into the page schema, repairing the ways real models break JSON.

Steps, each recorded in ``repairs`` when it changed something: code fences and prose around the
object are cut; bare ``NaN`` / ``None`` / ``undefined`` / ``Infinity`` become ``null``; the rest
(trailing or missing commas, single quotes, comments, invalid escapes, unescaped inner quotes,
truncation: open strings, arrays and objects closed in nesting order) goes to the maintained
``json-repair`` library. Two concatenated objects keep the first that fits the schema; the panel
a truncated response was cut in is dropped when it cannot be validated. The result is validated
with pydantic; failure is a clear reason, never an exception.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .schema import VlmPage

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)(?:```|$)", re.S)
_BARE = re.compile(r"(?<=[:\[,])(\s*)(NaN|None|undefined|-?Infinity)(?=\s*[,\]\}]|\s*$)")


@dataclass
class ParseResult:
    page: VlmPage | None
    data: Any = None
    repairs: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.page is not None


def _balance(text: str) -> int:
    """Open brackets left at the end, ignoring those inside strings (>0 means truncated)."""
    depth, in_string, escape = 0, False, False
    for char in text:
        if in_string:
            if escape:
                escape = False
            elif char == "\\":
                escape = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return depth + (1 if in_string else 0)


def _strip(text: str, repairs: list[str]) -> str:
    fenced = _FENCE.search(text)
    if fenced:
        repairs.append("code_fence")
        text = fenced.group(1)
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start > 0 and text[:start].strip():
        repairs.append("leading_prose")
    if start >= 0:
        text = text[start:]
    return text.strip()


def _validate(data: Any, repairs: list[str]) -> tuple[VlmPage | None, str | None]:
    if isinstance(data, list) and data and all(isinstance(p, dict) for p in data) and "panels" not in data[0]:
        data = {"panels": data}  # a bare list of panels
        repairs.append("bare_panel_list")
    if not isinstance(data, dict):
        return None, f"expected a JSON object with 'panels', got {type(data).__name__}"
    if "panels" not in data:
        return None, "the object has no 'panels' key"
    data = _clip_boxes(data, repairs)
    try:
        return VlmPage.model_validate(data), None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, f"schema: {where}: {first['msg']}"


def _clip_boxes(data: dict, repairs: list[str]) -> dict:
    """Models draw boxes a little past the page edge (e.g. 1012): clip to 0-1000, within 5%."""
    panels = data.get("panels")
    if not isinstance(panels, list):
        return data
    clipped = []
    for panel in panels:
        box = panel.get("box_2d") if isinstance(panel, dict) else None
        if (
            isinstance(box, list)
            and len(box) == 4
            and all(isinstance(v, (int, float)) and -50 <= v <= 1050 for v in box)
            and any(v < 0 or v > 1000 for v in box)
        ):
            panel = {**panel, "box_2d": [min(1000, max(0, v)) for v in box]}
            if "box_clipped" not in repairs:
                repairs.append("box_clipped")
        clipped.append(panel)
    return {**data, "panels": clipped}


def _objects(body: str, repairs: list[str]) -> list[Any] | None:
    """Strict parse of one or more JSON values written back to back; None when not valid JSON.
    Bare NaN / Infinity (which Python's json accepts) become null."""
    decoder = json.JSONDecoder(parse_constant=lambda _: None)
    values, pos = [], 0
    while pos < len(body):
        try:
            value, end = decoder.raw_decode(body, pos)
        except json.JSONDecodeError:
            if not values:
                return None
            repairs.append("trailing_prose")
            break
        values.append(value)
        pos = end
        while pos < len(body) and body[pos].isspace():
            pos += 1
    if re.search(r"(?<![\w\"])(NaN|-?Infinity)(?![\w\"])", body):
        repairs.append("bare_literals")
    return values


def parse_vlm_json(text: str | None) -> ParseResult:
    """Best-effort parse of one VLM response into a :class:`VlmPage`."""
    repairs: list[str] = []
    if text is None or not text.strip():
        return ParseResult(None, repairs=repairs, error="empty response")
    body = _strip(text, repairs)
    if not body:
        return ParseResult(None, repairs=repairs, error="no JSON object in the response")
    candidates = _objects(body, repairs)
    truncated = False
    if candidates is None:
        from json_repair import repair_json

        truncated = _balance(body) > 0
        if truncated:
            repairs.append("truncated")
        fixed = _BARE.sub(r"\1null", body)
        if fixed != body:
            repairs.append("bare_literals")
        data = repair_json(fixed, return_objects=True)
        repairs.append("json_repair")
        if data in ("", None, [], {}):
            return ParseResult(None, repairs=repairs, error="unparseable JSON")
        candidates = [data]
    if len(candidates) > 1:
        repairs.append(f"concatenated_objects:{len(candidates)}")
    error, data = None, candidates[0]
    for candidate in candidates:
        page, error = _validate(candidate, repairs)
        if page is None and truncated and isinstance(candidate, dict) and candidate.get("panels"):
            # the panel being written when the output was cut may be unusable: drop it, keep the rest
            shorter = {**candidate, "panels": candidate["panels"][:-1]}
            page, _ = _validate(shorter, repairs)
            if page is not None:
                repairs.append("dropped_incomplete_panel")
                candidate = shorter
        if page is not None:
            return ParseResult(page, candidate, repairs)
    return ParseResult(None, data, repairs, error)
