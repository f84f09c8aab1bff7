"""The grounded (v2) VLM response schema: panels with ``box_2d`` = [ymin, xmin, ymax, xmax] on a
0-1000 scale, literal text items kept apart from the scene description (DESIGN 3.2)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PROMPT_VERSION = "v2-grounded-1"  # the default prompt (prompts.PROMPTS)


class VlmText(BaseModel):
    model_config = ConfigDict(extra="ignore")

    label: Literal["dialogue", "caption", "thought", "sfx"] = "dialogue"
    text: str
    speaker: str | None = None

    @field_validator("label", mode="before")
    @classmethod
    def _label(cls, value):
        value = str(value or "dialogue").strip().lower()
        aliases = {"narration": "caption", "speech": "dialogue", "onomatopoeia": "sfx", "sound": "sfx"}
        return aliases.get(value, value)


class VlmPanel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    box_2d: list[float] | None = None
    text: list[VlmText] = Field(default_factory=list)
    description: str | None = None
    characters: list[str] = Field(default_factory=list)

    @field_validator("box_2d")
    @classmethod
    def _box(cls, value):
        if value is None:
            return None
        if len(value) != 4:
            raise ValueError(f"box_2d needs 4 numbers [ymin, xmin, ymax, xmax], got {len(value)}")
        ymin, xmin, ymax, xmax = value
        if not (0 <= ymin < ymax <= 1000 and 0 <= xmin < xmax <= 1000):
            raise ValueError(f"box_2d {value} is not an ordered box on the 0-1000 scale")
        return value

    def bbox(self, width: int, height: int) -> tuple[float, float, float, float] | None:
        """[x, y, w, h] in page pixels."""
        if self.box_2d is None:
            return None
        ymin, xmin, ymax, xmax = self.box_2d
        return (
            xmin * width / 1000,
            ymin * height / 1000,
            (xmax - xmin) * width / 1000,
            (ymax - ymin) * height / 1000,
        )


class VlmPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    panels: list[VlmPanel] = Field(default_factory=list)
    summary: str | None = None
