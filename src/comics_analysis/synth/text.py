"""Readable English filler for balloons, captions, credits and prose (seeded, no corpus files)."""

from __future__ import annotations

import numpy as np
from PIL import ImageFont

SUBJECTS = [
    "the captain",
    "my sister",
    "the old robot",
    "our ship",
    "the mayor",
    "that dog",
    "the storm",
    "your brother",
    "the detective",
    "the queen",
    "this city",
    "the engine",
    "the night watch",
    "the stranger",
    "my partner",
    "the tower",
    "the river",
    "the professor",
    "the crowd",
    "nobody",
]
VERBS = [
    "found",
    "lost",
    "built",
    "fixed",
    "heard",
    "opened",
    "followed",
    "stole",
    "painted",
    "carried",
    "broke",
    "sold",
    "watched",
    "hid",
    "burned",
    "saved",
    "buried",
    "called",
    "moved",
    "locked",
]
OBJECTS = [
    "the red door",
    "a silver key",
    "the last train",
    "every map",
    "the secret plan",
    "a strange box",
    "the north gate",
    "our only boat",
    "the old lamp",
    "a broken clock",
    "the lighthouse",
    "the radio",
    "a golden coin",
    "the west bridge",
    "the garden wall",
    "a paper crane",
]
TAILS = [
    "last night",
    "before dawn",
    "again",
    "for good",
    "without a word",
    "in the rain",
    "by noon",
    "at the harbor",
    "on purpose",
    "too late",
    "just in time",
    "under the stairs",
]
EXCLAIM = ["Wait!", "Run!", "Look out!", "Over here!", "Hurry!", "Stop!", "Listen!", "Quiet!", "No way!"]
QUESTIONS = ["Where is it?", "Who did this?", "What now?", "Are you sure?", "Why here?", "How long?"]
CAPTIONS = [
    "Meanwhile, across town...",
    "Later that night.",
    "Three days earlier.",
    "The next morning.",
    "Far below the streets...",
    "At the edge of the map.",
    "Back at the station.",
    "Hours pass.",
]
SFX = ["BOOM", "KRAK", "WHAM", "ZAP", "THUD", "CRASH", "POW", "SKREE", "BLAM", "WHOOSH", "CLANG", "SPLASH"]
NAMES = [
    "Ada Brook",
    "Ben Ortega",
    "Cleo Marsh",
    "Dev Patel",
    "Eli Stone",
    "Fay Lindqvist",
    "Gus Adeyemi",
    "Hana Sato",
    "Ivo Novak",
    "Jun Park",
    "Kit Moreau",
    "Lia Rossi",
    "Max Keller",
    "Noor Haddad",
]
TITLE_WORDS = [
    "Crimson",
    "Harbor",
    "Iron",
    "Comet",
    "Silent",
    "Lantern",
    "Night",
    "Falcon",
    "Glass",
    "Garden",
    "Storm",
    "Clockwork",
    "Atlas",
    "Ember",
    "Hollow",
    "Signal",
    "Orbit",
    "Raven",
    "Tide",
    "Citadel",
]
PRODUCTS = [
    "Fizz Cola",
    "Rocket Skates",
    "Sea Monkeys",
    "Hero Gum",
    "Power Bars",
    "Astro Radio",
    "X-Ray Specs",
]


def _pick(rng: np.random.Generator, items: list[str]) -> str:
    return items[int(rng.integers(len(items)))]


def sentence(rng: np.random.Generator) -> str:
    return (
        f"{_pick(rng, SUBJECTS)} {_pick(rng, VERBS)} {_pick(rng, OBJECTS)} {_pick(rng, TAILS)}".capitalize()
        + "."
    )


def dialogue(rng: np.random.Generator) -> str:
    roll = rng.random()
    if roll < 0.2:
        return _pick(rng, EXCLAIM) + " " + sentence(rng)
    if roll < 0.35:
        return _pick(rng, QUESTIONS)
    return sentence(rng)


def caption(rng: np.random.Generator) -> str:
    return _pick(rng, CAPTIONS) if rng.random() < 0.6 else sentence(rng)


def sfx(rng: np.random.Generator) -> str:
    return _pick(rng, SFX) + ("!" if rng.random() < 0.5 else "")


def title(rng: np.random.Generator) -> str:
    first, second = rng.choice(len(TITLE_WORDS), size=2, replace=False)
    return f"The {TITLE_WORDS[first]} {TITLE_WORDS[second]}"


def name(rng: np.random.Generator) -> str:
    return _pick(rng, NAMES)


def product(rng: np.random.Generator) -> str:
    return _pick(rng, PRODUCTS)


def paragraph(rng: np.random.Generator, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


def wrap(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Greedy word wrap by rendered width; a single over-long word gets a line of its own."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and font.getlength(candidate) > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines
