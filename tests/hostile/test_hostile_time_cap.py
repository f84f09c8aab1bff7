"""The per-entry time cap (``ingest --entry-timeout``) on a PDF page's rendering and on a zip and
a RAR entry's decoding: past the cap the page or entry is refused as a final ``time_cap`` naming
the file and the entry, and the other pages are kept. Every input is built here: a PDF page that
is slow to render is a few hundred bytes of full-page fills; a slow zip or RAR entry is a large
entry of random bytes (compression ratio 1, so no bomb guard refuses it first).
"""

from __future__ import annotations

import io
import random
import time
import zipfile
import zlib

import pypdfium2
import pytest
from PIL import Image

from comics_analysis.ingest import ingest
from comics_analysis.ingest.base import ContainerError, EntryClock
from rar_helpers import write_stored_rar5  # tests/: on the path through tests/conftest.py

SCALE = 150 / 72  # ingest's default 150 dpi


def _write_pdf(path, pages: list[tuple[bytes, bytes]], images: dict[bytes, bytes] | None = None) -> None:
    """A PDF of letter pages, each (content stream, extra page dictionary entries). Fonts F1
    (Helvetica) and F2 (Times-Italic), graphics state G (50% fill opacity) and the 8-bit RGB
    images given (name: 64x48 pixels of raw RGB) are in every page's resources."""
    images = images or {}
    objects = [b"<</Type/Catalog/Pages 2 0 R>>", b""]
    first_image = 3
    for data in images.values():
        packed = zlib.compress(data)
        objects.append(
            b"<</Type/XObject/Subtype/Image/Width 64/Height 48/ColorSpace/DeviceRGB/BitsPerComponent 8"
            b"/Filter/FlateDecode/Length %d>>stream\n" % len(packed) + packed + b"\nendstream"
        )
    xobjects = b"".join(b"/%s %d 0 R" % (name, first_image + i) for i, name in enumerate(images))
    resources = (
        b"<</Font<</F1<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>"
        b"/F2<</Type/Font/Subtype/Type1/BaseFont/Times-Italic>>>>"
        b"/ExtGState<</G<</ca 0.5>>>>/XObject<<" + xobjects + b">>>>"
    )
    kids = []
    for content, extra in pages:
        packed = zlib.compress(content)
        objects.append(b"<</Length %d/Filter/FlateDecode>>stream\n" % len(packed) + packed + b"\nendstream")
        objects.append(
            b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Resources "
            + resources
            + b"/Contents %d 0 R" % len(objects)
            + extra
            + b">>"
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<</Type/Pages/Kids[" + b" ".join(kids) + b"]/Count %d>>" % len(kids)
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for i, obj in enumerate(objects):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))


# Text in two standard fonts, a dashed stroked curve, a half-transparent even-odd fill, a
# rectangle and a scaled (interpolated) image; a Square annotation whose appearance pdfium draws.
_RICH = (
    b"BT /F1 28 Tf 40 720 Td (Nothing lost, nothing leaked: 0123) Tj ET\n"
    b"BT /F2 16 Tf 40 680 Td (The quick brown fox jumps over the lazy dog.) Tj ET\n"
    b"1 0 0 RG 3 w [6 3] 0 d 40 600 m 300 640 l 560 560 420 480 c S\n"
    b"/G gs 0 0 1 rg 90 300 m 420 520 180 90 520 200 c 100 100 l h f*\n"
    b"0.2 0.6 0.3 rg 50 40 211.5 133.3 re f\n"
    b"q 251 0 0 177 330 60 cm /Im0 Do Q\n",
    b"/Annots[<</Type/Annot/Subtype/Square/Rect[300 640 560 760]/C[1 0 0]/IC[1 1 0]/BS<</W 4>>>>]",
)


def _gradient() -> bytes:
    return bytes(v for y in range(48) for x in range(64) for v in (x * 4, y * 5, (x * y) % 256))


def _slow_page(fills: int) -> tuple[bytes, bytes]:
    """A page of ``fills`` full-page rectangles, alternately black and white: a few hundred bytes
    of content, parsed at once, whose rendering fills every pixel ``fills`` times."""
    return b"".join(b"%d g 0 0 612 792 re f\n" % (i % 2) for i in range(fills)), b""


def test_a_rendered_pdf_page_is_pixel_identical_to_pdfiums_own_render(tmp_path):
    """The capped (progressive) render gives the same pixels as ``PdfPage.render``, which ingest
    used before: text, paths, transparency, an image and an annotation, at two scales; and the
    page ingest writes is that render."""

    from comics_analysis.ingest.pdf import render  # lazy: new here; the zip/RAR tests run on old code too

    _write_pdf(tmp_path / "rich.pdf", [_RICH], {b"Im0": _gradient()})
    document = pypdfium2.PdfDocument(str(tmp_path / "rich.pdf"))
    page = document[0]
    try:
        for scale in (SCALE, 97 / 72):
            clock = EntryClock(60.0)
            clock.begin("page 1")
            expected = page.render(scale=scale).to_pil()
            got = render(page, scale, clock).to_pil()
            assert (got.mode, got.size) == (expected.mode, expected.size)
            assert got.tobytes() == expected.tobytes(), f"pixels differ at scale {scale}"
        # the annotation is drawn (FPDF_ANNOT, as render passes by default): without it, it differs
        no_annots = page.render(scale=SCALE, draw_annots=False).to_pil()
        assert no_annots.tobytes() != page.render(scale=SCALE).to_pil().tobytes()
        expected = page.render(scale=SCALE).to_pil()
    finally:
        page.close()
        document.close()
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "rich.pdf").write_bytes((tmp_path / "rich.pdf").read_bytes())
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    [row] = manifest.rows()
    assert row["fixes"] == "rendered" and not manifest.error_rows()
    with Image.open(tmp_path / "out" / row["path"]) as written:
        assert written.convert("RGB").tobytes() == expected.convert("RGB").tobytes()


def test_a_pdf_page_slow_to_render_is_refused_past_the_time_cap_the_others_kept(tmp_path):
    """A 3-page PDF whose middle page is 1,500 full-page fills (a few seconds of rendering for a
    few KB of file). Before, rendering was one pdfium call that no cap could stop: the page
    was rendered however long it took. Now pdfium renders progressively and stops once the
    page's time is spent: under a 50 ms cap the page is a time_cap naming the file and the page,
    its neighbours are kept, and the capped render stops long before the uncapped one (both
    measured here); under the default cap (60 s) the same page renders."""
    lib = tmp_path / "lib"
    lib.mkdir()
    light = (b"0 0 1 rg 100 100 200 300 re f\n", b"")
    _write_pdf(lib / "slow.pdf", [light, _slow_page(1500), light])
    assert (lib / "slow.pdf").stat().st_size < 10_000

    run = ingest([lib], tmp_path / "capped", show_progress=False, entry_timeout=0.05)
    [error] = run.error_rows()
    assert (error["source_path"], error["entry"], error["kind"]) == ("slow.pdf", "page 2", "time_cap")
    assert error["reason"] == "rendering 'page 2' took longer than the cap of 0.05 s per entry"
    assert [r["status"] for r in run.rows()] == ["ok", "time_cap", "ok"]

    from comics_analysis.ingest.pdf import render  # lazy: new here; the zip/RAR tests run on old code too

    document = pypdfium2.PdfDocument(str(lib / "slow.pdf"))
    page = document[1]
    try:
        started = time.monotonic()
        page.render(scale=SCALE)
        uncapped = time.monotonic() - started
        clock = EntryClock(0.05)
        clock.begin("page 2")
        with pytest.raises(ContainerError) as refused:
            render(page, SCALE, clock)
        capped = time.monotonic() - clock.started
    finally:
        page.close()
        document.close()
    assert refused.value.kind == "time_cap"
    # stopped early: pdfium asks whether to pause every 100 objects (here ~0.2 s of 1,500 fills)
    assert capped < uncapped / 4, f"capped render {capped:.2f} s, uncapped {uncapped:.2f} s"

    default = ingest([lib], tmp_path / "default", show_progress=False)
    assert not default.error_rows()
    assert [r["status"] for r in default.rows()] == ["ok", "ok", "ok"]


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 64), colour).save(buf, "PNG")
    return buf.getvalue()


# 128 MB of random bytes: at ratio 1 no bomb guard refuses it, and reading it takes a few
# tenths of a second (deflate, or a RAR's stored data through rarfile), far past a 5 ms cap (a 50 ms
# cap was passed by a RAR read on an idle machine)
_SLOW_BYTES = 128 << 20


def _assert_slow_entry_capped(lib, name: str, tmp_path) -> None:
    capped = ingest([lib], tmp_path / "capped", show_progress=False, entry_timeout=0.005)
    [error] = capped.error_rows()
    assert (error["source_path"], error["entry"], error["kind"]) == (name, "p2.png", "time_cap")
    assert error["reason"] == "decoding 'p2.png' took longer than the cap of 0.005 s per entry"
    assert [r["source_entry"] for r in capped.rows() if r["status"] == "ok"] == ["p1.png", "p3.png"]
    default = ingest([lib], tmp_path / "default", show_progress=False)  # read through: not an image
    assert [(e["entry"], e["kind"]) for e in default.error_rows()] == [("p2.png", "corrupt_image")]
    assert [r["source_entry"] for r in default.rows() if r["status"] == "ok"] == ["p1.png", "p3.png"]


def test_a_zip_entry_slow_to_inflate_is_refused_past_the_time_cap_the_others_kept(tmp_path):
    """A CBZ whose middle entry is 128 MB of random bytes, deflated (ratio 1: the ratio guard
    lets it through, as it should): under a 50 ms cap it is a time_cap naming the file and the
    entry, and the pages before and after it are kept."""
    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "slow.cbz", "w") as archive:
        archive.writestr("p1.png", _png((200, 30, 30)))
        archive.writestr("p2.png", random.Random(0).randbytes(_SLOW_BYTES), zipfile.ZIP_DEFLATED, 0)
        archive.writestr("p3.png", _png((30, 30, 200)))
    info = zipfile.ZipFile(lib / "slow.cbz").getinfo("p2.png")
    assert info.compress_type == zipfile.ZIP_DEFLATED and info.file_size / info.compress_size < 1.01
    _assert_slow_entry_capped(lib, "slow.cbz", tmp_path)


def test_a_rar_entry_slow_to_read_is_refused_past_the_time_cap_the_others_kept(tmp_path):
    """The same for a CBR (RAR5, stored entries: no free software writes compressed RAR; rarfile
    reads stored data itself, through the same capped read as a tool's output)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    pages = [("p1.png", _png((200, 30, 30))), ("p2.png", random.Random(0).randbytes(_SLOW_BYTES))]
    write_stored_rar5(lib / "slow.cbr", [*pages, ("p3.png", _png((30, 30, 200)))])
    _assert_slow_entry_capped(lib, "slow.cbr", tmp_path)
