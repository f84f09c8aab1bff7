"""PDF via pypdfium2 (BSD/Apache; PyMuPDF is AGPL). A page that is one image yields that image's
own bytes (a scanned comic's JPEG stays bit-exact); any other page is rendered at ``limits.dpi``,
progressively, within the per-entry time cap (``limits.entry_seconds``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c

from .base import Book, ContainerError, EntryClock, Limits, RawPage

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


def render(page, scale: float, clock: EntryClock) -> pypdfium2.PdfBitmap:
    """``page.render(scale=scale)``, pixel for pixel, but stopped once ``clock`` has expired.

    ``PdfPage.render`` makes one uninterruptible pdfium call, so a page of many heavy vector
    objects (a 600-byte PDF of 2,000 full-page fills renders for seconds) could not be capped.
    This is the same render made progressively: the same bitmap (BGR, filled white, packed),
    flags (``FPDF_ANNOT``: what ``render`` passes by default) and page box; pdfium asks
    ``NeedToPauseNow`` between steps of its object list (every 100 objects) and the pause is
    taken only once the page's time is spent, which raises the final ``time_cap``. Forms are not
    drawn: ingest never calls ``init_forms``, so ``render`` draws none either.
    """
    width = math.ceil(page.get_width() * scale)
    height = math.ceil(page.get_height() * scale)
    if width < 1 or height < 1:
        raise ValueError(f"page renders to {width}x{height} pixels")
    bitmap = pypdfium2.PdfBitmap.new_native(width, height, pdfium_c.FPDFBitmap_BGR)
    bitmap.fill_rect((255, 255, 255, 255), 0, 0, width, height)
    pause = pdfium_c.IFSDK_PAUSE(version=1)
    # a C callback: it must not raise, so it only reads the clock; the ctypes object stays
    # referenced by ``pause`` for the whole render
    pause.NeedToPauseNow = type(pause.NeedToPauseNow)(lambda _this: clock.expired())
    status = pdfium_c.FPDF_RenderPageBitmap_Start(
        bitmap, page, 0, 0, width, height, 0, pdfium_c.FPDF_ANNOT, pause
    )
    try:
        while status == pdfium_c.FPDF_RENDER_TOBECONTINUED:
            clock.check("rendering")  # paused: the time is spent (time_cap)
            status = pdfium_c.FPDF_RenderPage_Continue(page, pause)
    finally:
        pdfium_c.FPDF_RenderPage_Close(page)
    if status != pdfium_c.FPDF_RENDER_DONE:
        raise pypdfium2.PdfiumError(f"rendering failed (status {status})")
    return bitmap


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
            self.clock.begin(name)  # loading parses the page's content: part of its time
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
                yield RawPage(name, image=render(page, scale, self.clock).to_pil())
            except ContainerError as exc:  # time_cap: this page is refused, the others are kept
                yield RawPage(name, error_kind=exc.kind, error=exc.reason)
            except pypdfium2.PdfiumError as exc:
                yield RawPage(name, error_kind="unreadable_entry", error=f"pdfium: {exc}")
            finally:
                page.close()

    def close(self) -> None:
        self.document.close()
