"""The DejaVu fonts that ship inside matplotlib's wheel, found on disk without importing it."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FACES = {
    "sans": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "bold_italic": "DejaVuSans-BoldOblique.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif_italic": "DejaVuSerif-Italic.ttf",
    "mono": "DejaVuSansMono.ttf",
}


@lru_cache(maxsize=1)
def font_dir() -> Path:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the synthetic generator needs the DejaVu fonts from the 'matplotlib' package")
    folder = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
    if not (folder / FACES["sans"]).is_file():
        raise RuntimeError(f"DejaVu fonts not found in {folder}; reinstall matplotlib")
    return folder


@lru_cache(maxsize=256)
def font(face: str, size: int) -> ImageFont.FreeTypeFont:
    if face not in FACES:
        raise ValueError(f"unknown font face {face!r}; expected one of {', '.join(FACES)}")
    return ImageFont.truetype(str(font_dir() / FACES[face]), size=max(6, int(size)))
