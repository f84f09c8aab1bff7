"""Versioned prompts. A prompt's version is part of the cache key and of every record's provenance,
so changing the text means adding a new version, never editing an old one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


PROMPTS: dict[str, Prompt] = {
    "v2-grounded-1": Prompt(
        system=(
            "You read comic book pages. You answer with one JSON object and nothing else. "
            "You transcribe only text that is printed on the page; you never invent text."
        ),
        user=(
            "List the panels of this page in reading order. For each panel give:\n"
            '- "box_2d": [ymin, xmin, ymax, xmax] of the panel on a 0-1000 scale of the page;\n'
            '- "text": the lettered text items in reading order, each {"label": "dialogue" | "caption" | '
            '"thought" | "sfx", "text": the exact words, "speaker": a name or null};\n'
            '- "description": one sentence about what the panel shows (not a transcription);\n'
            '- "characters": names or short descriptions of the people shown.\n'
            'Answer as {"panels": [...], "summary": one sentence about the page}. '
            "A page without panels (a cover, a text page) has an empty panel list."
        ),
    ),
}
