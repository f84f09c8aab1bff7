"""Queries of the search evaluation, made from real pages without hand labels (seeded).

- :func:`damage_crop`: a panel cut from its page as a user would photograph, screenshot or
  re-scan it: the border trimmed (0-6% a side), rescaled (0.5-1.5), rotated (up to 3 degrees,
  white corners), tinted (per-channel gain 0.85-1.15 and a brightness shift) and saved as JPEG
  (quality 30-70). Returns the image and what was done to it.
- :func:`ocr_noise`: a lettered line as a poor OCR reads it: each letter, with probability
  ``rate`` (5-10% by default, drawn per line), is substituted (a look-alike where one is known,
  else a character of the collection's alphabet) or dropped.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence

from PIL import Image

TRIM = (0.0, 0.06)
SCALE = (0.5, 1.5)
ROTATE = 3.0
GAIN = (0.85, 1.15)
SHIFT = 20
JPEG_QUALITY = (30, 70)
ERROR_RATE = (0.05, 0.10)

# OCR look-alikes (both directions are common misreadings)
_LOOKALIKE = {
    "l": "1I|", "I": "l1|", "1": "lI", "O": "0Q", "0": "OD", "o": "0ce", "e": "co", "c": "eo",
    "S": "5$", "5": "S", "B": "8", "8": "B", "m": "n", "n": "mh", "h": "n", "u": "v", "v": "u",
    "a": "o", "t": "f", "f": "t", "G": "6C", "Z": "2", "2": "Z", ".": ",", ",": ".", "!": "l",
}  # fmt: skip


def damage_crop(
    image: Image.Image, bbox: Sequence[float], rng: random.Random
) -> tuple[Image.Image, dict[str, float]]:
    """The ``[x, y, w, h]`` region of ``image`` damaged as in the module docstring."""
    x, y, w, h = (float(v) for v in bbox)
    left, right, top, bottom = (rng.uniform(*TRIM) for _ in range(4))
    box = (
        max(0, round(x + left * w)),
        max(0, round(y + top * h)),
        min(image.width, round(x + w - right * w)),
        min(image.height, round(y + h - bottom * h)),
    )
    if box[2] - box[0] < 4 or box[3] - box[1] < 4:
        box = (
            max(0, round(x)),
            max(0, round(y)),
            min(image.width, round(x + w)),
            min(image.height, round(y + h)),
        )
    crop = image.crop(box).convert("RGB")
    scale = rng.uniform(*SCALE)
    crop = crop.resize(
        (max(8, round(crop.width * scale)), max(8, round(crop.height * scale))), Image.Resampling.BILINEAR
    )
    angle = rng.uniform(-ROTATE, ROTATE)
    crop = crop.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    gains = [rng.uniform(*GAIN) for _ in range(3)]
    shift = rng.uniform(-SHIFT, SHIFT)
    channels = [
        c.point(lambda v, g=g: max(0, min(255, round(v * g + shift)))) for c, g in zip(crop.split(), gains)
    ]
    crop = Image.merge("RGB", channels)
    quality = rng.randint(*JPEG_QUALITY)
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    out = Image.open(buffer).convert("RGB")
    info = {
        "trim": round(max(left, right, top, bottom), 4),
        "scale": round(scale, 4),
        "angle": round(angle, 3),
        "gain_min": round(min(gains), 3),
        "gain_max": round(max(gains), 3),
        "shift": round(shift, 2),
        "jpeg_quality": quality,
    }
    return out, info


def ocr_noise(text: str, rng: random.Random, alphabet: str, rate: float | None = None) -> str:
    """``text`` with OCR errors (module docstring); spaces are kept, ``alphabet`` supplies the
    substitutes of letters that have no known look-alike."""
    rate = rng.uniform(*ERROR_RATE) if rate is None else rate
    out = []
    for ch in text:
        if ch.isspace() or rng.random() >= rate:
            out.append(ch)
        elif rng.random() < 0.5:
            continue  # dropped
        else:
            choices = _LOOKALIKE.get(ch) or alphabet.replace(ch, "") or ch
            out.append(choices[rng.randrange(len(choices))])
    return "".join(out)


__all__ = ["ERROR_RATE", "damage_crop", "ocr_noise"]
