"""Decode and validate one page image; decide which bytes to store.

Validation decodes every image fully (JPEGs through libjpeg's DCT scaling, which still walks
all of the entropy-coded data, so truncation is caught at a fraction of the cost). The original
bytes are kept when they are JPEG/PNG/WebP that need no fixing; otherwise the page is
re-encoded: EXIF orientation applied, CMYK / palette / 16-bit converted to RGB or L.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import imagehash
import numpy as np
from PIL import Image, ImageFile, ImageOps

KEEP_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
KEEP_MODES = {"L", "LA", "RGB", "RGBA"}  # stored pages never need a palette or 16-bit decoder
OUTPUT_FORMATS = ("keep", "png", "jpeg", "webp")
_ORIENTATION = 0x0112


class PageImageError(Exception):
    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


@dataclass
class PageImage:
    data: bytes  # what gets written
    ext: str
    format: str  # JPEG / PNG / WEBP of ``data``
    width: int  # after EXIF orientation
    height: int
    phash: str  # 64-bit perceptual hash, 16 hex digits
    fixes: list[str] = field(default_factory=list)  # why the bytes were re-encoded


def _normalise_mode(image: Image.Image) -> tuple[Image.Image, list[str]]:
    fixes = []
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.uint32)
        peak = 65535 if image.mode.startswith("I;16") or array.max() > 255 else 255
        image = Image.fromarray((array * 255 // peak).astype(np.uint8), "L")
        fixes.append("16-bit")
    elif image.mode == "CMYK":
        image = image.convert("RGB")
        fixes.append("cmyk")
    elif image.mode in ("P", "PA"):
        image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
        fixes.append("palette")
    elif image.mode not in ("L", "RGB", "RGBA", "LA"):
        image = image.convert("RGB")
        fixes.append(f"mode {image.mode}")
    return image, fixes


def _encode(image: Image.Image, fmt: str, quality: int) -> tuple[bytes, str, str]:
    buffer = io.BytesIO()
    if fmt == "jpeg":
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        image.save(buffer, "JPEG", quality=quality)
        return buffer.getvalue(), "jpg", "JPEG"
    if fmt == "webp":
        image.save(buffer, "WEBP", quality=quality)
        return buffer.getvalue(), "webp", "WEBP"
    # Fast deflate: 3x quicker than the default for ~10% more bytes; scans stay JPEG anyway.
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue(), "png", "PNG"


def _load(data: bytes, max_pixels: int, fast: bool) -> tuple[Image.Image, str, int, tuple[int, int]]:
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise PageImageError("pixel_cap", str(exc)) from None
    except Exception as exc:
        raise PageImageError("corrupt_image", f"not a decodable image: {exc}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise PageImageError("pixel_cap", f"{width}x{height} exceeds the pixel cap of {max_pixels}")
    fmt = image.format or "unknown"
    try:
        orientation = int(image.getexif().get(_ORIENTATION, 1))
    except Exception:
        orientation = 1
    if fast and fmt == "JPEG":
        image.draft(
            image.mode if image.mode in ("L", "RGB") else None, (max(1, width // 8), max(1, height // 8))
        )
    try:
        image.load()
    except Exception as exc:
        raise PageImageError("corrupt_image", f"image data is damaged: {exc}") from None
    return image, fmt, orientation, (width, height)


def process_image(
    data: bytes | None = None,
    *,
    image: Image.Image | None = None,
    output_format: str = "keep",
    max_pixels: int = 200_000_000,
    quality: int = 95,
) -> PageImage:
    """Validate ``data`` (encoded bytes) or take ``image`` (already decoded, e.g. a rendered PDF page)."""
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"unknown output format {output_format!r}; expected one of {', '.join(OUTPUT_FORMATS)}"
        )
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max(max_pixels, 1) * 2
        try:
            return _process(data, image, output_format, max_pixels, quality)
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _process(data, image, output_format, max_pixels, quality) -> PageImage:
    if image is not None:
        if image.width * image.height > max_pixels:
            raise PageImageError("pixel_cap", f"{image.width}x{image.height} exceeds the pixel cap")
        decoded, fixes = _normalise_mode(image)
        fmt = "png" if output_format == "keep" else output_format
        payload, ext, stored = _encode(decoded, fmt, quality)
        return PageImage(
            payload, ext, stored, decoded.width, decoded.height, _phash(decoded), ["rendered", *fixes]
        )

    probe, fmt, orientation, (width, height) = _load(data, max_pixels, fast=True)
    if output_format == "keep" and fmt in KEEP_FORMATS and orientation == 1 and probe.mode in KEEP_MODES:
        return PageImage(data, KEEP_FORMATS[fmt], fmt, width, height, _phash(probe))
    full, fmt, orientation, _ = _load(data, max_pixels, fast=False)
    fixes = []
    if orientation != 1:
        full = ImageOps.exif_transpose(full)
        fixes.append(f"exif orientation {orientation}")
    full, mode_fixes = _normalise_mode(full)
    fixes += mode_fixes
    if fmt not in KEEP_FORMATS:
        fixes.append(f"format {fmt}")
    target = output_format
    if target == "keep":
        target = "jpeg" if fmt == "JPEG" else "png"
    payload, ext, stored = _encode(full, target, quality)
    return PageImage(payload, ext, stored, full.width, full.height, _phash(full), fixes or [f"as {target}"])


def _phash(image: Image.Image) -> str:
    return str(imagehash.phash(image.convert("L")))
