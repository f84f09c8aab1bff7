"""VLM readings from disk, in every schema we meet, as :class:`VlmPage` objects.

- ``run``: the files ``comics-analysis vlm`` writes (``{"page_id", "model", "prompt_version",
  "page": {...} | null, "error", ...}``), found by page id;
- ``v2``: grounded JSON, ``{"panels": [{"box_2d": [ymin, xmin, ymax, xmax] (0-1000), "text":
  [{"label", "text", "speaker"}], "description", "characters"}], "summary"}``;
- ``v1``: the earlier schema without boxes, ``{"overall_summary", "panels": [{"panel_number",
  "caption", "description", "speakers": [{"character", "dialogue", "speech_type"}],
  "key_elements", "actions"}]}``. Its ``caption`` and ``description`` are scene descriptions
  written by the model, so they become the panel description, never lettered text;
- ``v0.3``: DataSpec v0.3 page files (``{"page_image_path", "panels": [{"panel_coords": [x, y,
  w, h], "text": {"dialogue", "narration", "sfx"}}]}``): their boxes come from the earlier
  detector, their text from the earlier VLM, so re-aligning them to new detections is possible.

Foreign files are matched to pages by path: the JSON file's path inside the folder (or v0.3's
``page_image_path``), without extension, against the page's container path and entry.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from ...dataspec.paths import TailIndex
from .repair import parse_vlm_json
from .schema import VlmPage

log = logging.getLogger(__name__)

V1_SPEECH = {
    "dialogue": "dialogue",
    "speech": "dialogue",
    "thought": "thought",
    "narration": "caption",
    "caption": "caption",
    "sfx": "sfx",
    "sound": "sfx",
    "sound_effect": "sfx",
    "onomatopoeia": "sfx",
}


@dataclass
class Reading:
    """One page's VLM reading as found on disk (``page`` is None when the model's answer was
    unusable; ``error`` says why)."""

    schema: str
    data: dict
    source: str  # file it came from
    model: str | None = None
    prompt_version: str | None = None

    def page(self, width: int, height: int) -> tuple[VlmPage | None, str | None]:
        try:
            if self.schema == "run":
                if self.data.get("page") is None:
                    return None, self.data.get("error") or "the model's answer was not a page"
                return VlmPage.model_validate(self.data["page"]), None
            if self.schema == "v1":
                return from_v1(self.data), None
            if self.schema == "v0.3":
                return from_v03(self.data, width, height), None
            parsed = parse_vlm_json(json.dumps(self.data))
            return parsed.page, parsed.error
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            return None, f"{self.source}: {exc}"


def detect_schema(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    if "page" in data and "prompt_version" in data and "page_id" in data:
        return "run"
    panels = data.get("panels")
    if not isinstance(panels, list):
        return None
    if "page_image_path" in data or any(isinstance(p, dict) and "panel_coords" in p for p in panels):
        return "v0.3"
    v1_keys = {"speakers", "panel_number", "caption", "key_elements", "actions"}
    v1 = "overall_summary" in data or any(isinstance(p, dict) and v1_keys & p.keys() for p in panels)
    if v1 and not any(isinstance(p, dict) and "box_2d" in p for p in panels):
        return "v1"
    return "v2"


def from_v1(data: dict) -> VlmPage:
    panels = []
    for panel in data.get("panels") or []:
        if not isinstance(panel, dict):
            raise ValueError(f"a panel must be an object, got {type(panel).__name__}")
        texts = []
        for speaker in panel.get("speakers") or []:
            words = (speaker.get("dialogue") or speaker.get("text") or "").strip()
            if words:
                label = V1_SPEECH.get(
                    str(speaker.get("speech_type") or "dialogue").strip().lower(), "dialogue"
                )
                texts.append({"label": label, "text": words, "speaker": speaker.get("character")})
        scene = [s for s in (panel.get("caption"), panel.get("description")) if s]
        characters = [s["character"] for s in panel.get("speakers") or [] if s.get("character")]
        panels.append(
            {
                "text": texts,
                "description": " ".join(scene) or None,
                "characters": list(dict.fromkeys(characters)),
            }
        )
    summary = data.get("overall_summary") or data.get("summary")
    return VlmPage.model_validate(
        {"panels": panels, "summary": summary if isinstance(summary, str) else None}
    )


def from_v03(data: dict, width: int, height: int) -> VlmPage:
    panels = []
    for k, panel in enumerate(data.get("panels") or []):
        x, y, w, h = (float(v) for v in panel["panel_coords"])
        box = [y / height * 1000, x / width * 1000, (y + h) / height * 1000, (x + w) / width * 1000]
        text = panel.get("text") or {}
        items = [
            {"label": label, "text": words}
            for kind, label in (("narration", "caption"), ("dialogue", "dialogue"), ("sfx", "sfx"))
            for words in text.get(kind) or []
            if isinstance(words, str) and words.strip()
        ]
        try:
            panels.append(
                {"box_2d": [min(1000.0, max(0.0, v)) for v in box], "text": items, "description": None}
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"panels[{k}]: {exc}") from None
    return VlmPage.model_validate({"panels": panels})


class VlmFolder:
    """Every reading in a folder, found by page id or by image path."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"VLM folder not found: {self.folder}")
        self.by_id: dict[str, Reading] = {}
        self.by_path: TailIndex[Reading] = TailIndex()
        self.skipped: list[str] = []
        self.count = 0
        run_state = self.folder / "run.json"
        if not run_state.is_file():  # a sharded `vlm` run has run-shard-III-of-KKK.json instead
            run_state = next(iter(sorted(self.folder.glob("run-shard-*.json"))), run_state)
        self.run = run_state.is_file()
        if self.run:  # `comics-analysis vlm` output: one file per page id, read when asked for
            self.config = json.loads(run_state.read_text(encoding="utf-8"))["config"]
            self.count = sum(1 for _ in (self.folder / "pages").rglob("*.json"))
            return
        for path in sorted(self.folder.rglob("*.json")):
            if path == run_state:
                continue
            relative = path.relative_to(self.folder).as_posix()
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                self.skipped.append(f"{relative}: {exc}")
                continue
            schema = detect_schema(data)
            if schema is None:
                self.skipped.append(f"{relative}: not a VLM reading (no 'panels' list)")
                continue
            reading = Reading(
                schema,
                data,
                relative,
                model=data.get("model"),
                prompt_version=data.get("prompt_version"),
            )
            self.count += 1
            if isinstance(data.get("page_id"), str):
                self.by_id[data["page_id"]] = reading
            image_path = data.get("page_image_path") if schema == "v0.3" else None
            key = image_path.replace("\\", "/") if isinstance(image_path, str) else relative
            self.by_path.add(str(PurePosixPath(key).with_suffix("")), reading)
        if self.skipped:
            log.warning("%s: %d files skipped, e.g. %s", self.folder, len(self.skipped), self.skipped[0])

    def __len__(self) -> int:
        return self.count

    def find(
        self, page_id: str, source_path: str | None = None, source_entry: str | None = None
    ) -> Reading | None:
        if self.run:
            path = self.folder / "pages" / f"{page_id}.json"
            if not path.is_file():
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
            model = data.get("model") or self.config.get("model")
            prompt = data.get("prompt_version") or self.config.get("prompt_version")
            return Reading("run", data, path.relative_to(self.folder).as_posix(), model, prompt)
        if page_id in self.by_id:
            return self.by_id[page_id]
        if source_entry:
            # "books/a.cbz" + "001.jpg" -> "books/a/001": found as bookA/001.json or 001.json
            container = str(PurePosixPath(source_path).with_suffix("")) if source_path else ""
            name = f"{container}/{PurePosixPath(source_entry).with_suffix('')}".lstrip("/")
            # an entry alone may be ambiguous (every book has a 001.jpg): the index skips ambiguous
            # tails, so a folder of several books needs container/entry names
            return self.by_path.find(name, min_parts=lambda stored: min(2, len(stored.split("/"))))
        return None


@lru_cache(maxsize=2)
def vlm_folder(folder: str) -> VlmFolder:
    """One index per process and folder (annotate workers look up every page in it)."""
    return VlmFolder(folder)
