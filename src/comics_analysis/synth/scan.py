"""What scanning and re-encoding do to a page, with its boxes carried along: the same page as
another collection would hold it (tilted on the flatbed, at another resolution, JPEG-compressed,
grainy, soft, on aged paper, printed darker). Used to measure how much a detector's figures
depend on one collection's scans (``scripts/eval_panels_robust.py``) and by tests.

Each entry of :data:`SCANS` maps ``(image, boxes, rng) -> (image, boxes)``; boxes are
``(x, y, w, h)`` in pixels of the page they belong to; a turned box becomes the page-axis box
around it (what an annotator would draw on the tilted scan).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageFilter

from ..dataspec.geometry import turned_box
from .draw import age_paper

Box = tuple[float, float, float, float]
Scan = Callable[[Image.Image, Sequence[Box], np.random.Generator], tuple[Image.Image, list[Box]]]


def tilt(image: Image.Image, boxes: Sequence[Box], degrees: float) -> tuple[Image.Image, list[Box]]:
    """The page turned counter-clockwise (as displayed) by ``degrees`` about its centre, same size;
    the corners it uncovers take the colour of the page's corner (the scanner's lid over paper)."""
    image = image.convert("RGB")
    w, h = image.size
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=image.getpixel((1, 1)))
    return turned, [turned_box(box, degrees, w, h) for box in boxes]


def rescale(image: Image.Image, boxes: Sequence[Box], factor: float) -> tuple[Image.Image, list[Box]]:
    """The page at ``factor`` times its resolution (Lanczos)."""
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS), [
        tuple(v * factor for v in box) for box in boxes
    ]


def jpeg(image: Image.Image, boxes: Sequence[Box], quality: int) -> tuple[Image.Image, list[Box]]:
    """The page saved as a JPEG of ``quality`` and read back."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"), list(boxes)


def darker(image: Image.Image, boxes: Sequence[Box], gamma: float) -> tuple[Image.Image, list[Box]]:
    """Heavier ink and greyer paper: every tone raised to the power ``gamma`` (> 1 darkens)."""
    table = [round(255 * (v / 255) ** gamma) for v in range(256)]
    return image.convert("RGB").point(table * 3), list(boxes)


SCANS: dict[str, Scan] = {
    "tilt +1 deg": lambda im, b, rng: tilt(im, b, 1.0),
    "tilt -0.5 deg": lambda im, b, rng: tilt(im, b, -0.5),
    "half resolution": lambda im, b, rng: rescale(im, b, 0.5),
    "1.6x resolution": lambda im, b, rng: rescale(im, b, 1.6),
    "JPEG quality 30": lambda im, b, rng: jpeg(im, b, 30),
    "grain (noise 12)": lambda im, b, rng: (age_paper(im, rng, None, noise=12.0), list(b)),
    "soft (blur 1.5 px)": lambda im, b, rng: (
        im.convert("RGB").filter(ImageFilter.GaussianBlur(1.5)),
        list(b),
    ),
    "Golden-Age paper": lambda im, b, rng: (age_paper(im, rng, "golden_age", noise=4.0), list(b)),
    "darker print (gamma 1.8)": lambda im, b, rng: darker(im, b, 1.8),
}
