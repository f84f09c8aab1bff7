"""PDF via pypdfium2 (BSD/Apache; PyMuPDF is AGPL). A page that is one image yields that image's
own bytes (a scanned comic's JPEG stays bit-exact); any other page is rendered at ``limits.dpi``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c

from .base import Book, ContainerError, Limits, RawPage

log = logging.getLogger(__name__)


def _single_image(page) -> object | None:
    objects = list(page.get_objects(max_depth=2))
    images = [o for o in objects if o.type == pdfium_c.FPDF_PAGEOBJ_IMAGE]
    if len(images) != 1 or len(objects) != 1:
        return None
    # the image must cover (almost) the whole page, or rendering is the honest answer
    left, bottom, right, top = images[0].get_bounds()
    width, height = page.get_size()
    if (right - left) < 0.95 * width or (top - bottom) < 0.95 * height:
        return None
    return images[0]


class PdfBook(Book):
    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(Path(path), limits or Limits(), format="pdf")
        try:
            self.document = pypdfium2.PdfDocument(str(self.path))
        except pypdfium2.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise ContainerError("encrypted", "PDF is password protected") from None
            raise ContainerError("unreadable", f"not a readable PDF: {exc}") from None
        if len(self.document) == 0:
            raise ContainerError("empty", "PDF has no pages")
        try:
            title = self.document.get_metadata_dict().get("Title") or None
        except Exception as exc:  # a malformed info dictionary costs the title, not the book
            log.warning("%s: PDF title not read (%s: %s)", self.path.name, type(exc).__name__, exc)
            title = None
        self.metadata = {"title": title} if title else {}

    def pages(self) -> Iterator[RawPage]:
        for index in range(len(self.document)):
            name = f"page {index + 1}"
            page = self.document[index]
            try:
                image = _single_image(page) if self.limits.pdf_mode == "auto" else None
                if image is not None and image.get_filters() == ["DCTDecode"]:
                    yield RawPage(name, data=bytes(image.get_data(decode_simple=False)))
                    continue
                if image is not None:
                    width, height = image.get_px_size()  # from the image header: nothing decoded yet
                    if width * height > self.limits.max_pixels:
                        yield RawPage(
                            name,
                            error_kind="pixel_cap",
                            error=f"{width}x{height} image exceeds the pixel cap of {self.limits.max_pixels}",
                        )
                        continue
                    yield RawPage(name, image=image.get_bitmap(render=False).to_pil())
                    continue
                scale = self.limits.dpi / 72.0
                width, height = page.get_size()
                if width * height * scale * scale > self.limits.max_pixels:
                    yield RawPage(name, error_kind="pixel_cap", error="page would render past the pixel cap")
                    continue
                yield RawPage(name, image=page.render(scale=scale).to_pil())
            except pypdfium2.PdfiumError as exc:
                yield RawPage(name, error_kind="unreadable_entry", error=f"pdfium: {exc}")
            finally:
                page.close()

    def close(self) -> None:
        self.document.close()
