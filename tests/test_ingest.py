"""Ingest: every container family, order, ids, pixels, safety, resumability and sharding."""

import io
import os
import shutil
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from comics_analysis.dataspec import book_id_for_file, make_page_id, read_jsonl
from comics_analysis.ingest import (
    ContainerError,
    assemble,
    discover,
    ingest,
    merge_shards,
    natural_key,
    process_image,
    read_manifest,
)
from comics_analysis.ingest.cbr import CbrBook, rar_tool
from comics_analysis.ingest.folder import folder_sha256
from comics_analysis.synth import encode_image, make_book, make_library, write_cbz, write_pdf

SIZE = (400, 600)


@pytest.fixture(scope="module")
def book():
    return make_book(21, kind="issue", size=SIZE, story_pages=(3, 4))


def pixels(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB")).astype(int)


def by_index(manifest):
    return sorted(manifest.rows(), key=lambda r: r["page_index"])


def assert_pages_equal(out, rows, book, tolerance=0.0):
    assert len(rows) == len(book.pages)
    for row, page in zip(rows, book.pages):
        assert row["status"] == "ok", row
        got = pixels(out / row["path"])
        want = np.asarray(page.image).astype(int)
        assert got.shape == want.shape
        assert np.abs(got - want).mean() <= tolerance, row["page_id"]


def _files_outside(root, allowed):
    return [p for p in root.rglob("*") if p.is_file() and not str(p).startswith(str(allowed))]


# --- containers ----------------------------------------------------------------------------


def test_cbz_pages_ids_order_and_pixels(tmp_path, book):
    lib = tmp_path / "lib"
    truth = write_cbz(book, lib / "Issue One.cbz", image_format="png", padded_names=False)
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    rows = by_index(manifest)
    book_id = book_id_for_file(lib / "Issue One.cbz")
    assert [r["page_id"] for r in rows] == [make_page_id(book_id, i) for i in range(len(book.pages))]
    assert [r["page_id"] for r in rows] == [t.page_id for t in truth]  # joins the ground truth
    assert [r["source_entry"] for r in rows] == [
        f"page{i + 1}.png" for i in range(len(rows))
    ]  # natural order
    assert rows[0]["source_path"] == "Issue One.cbz" and rows[0]["container_format"] == "cbz"
    assert rows[0]["series"] == book.meta.series and rows[0]["reading_direction"] == "ltr"
    assert rows[0]["year"] == book.meta.year
    assert all(r["format"] == "PNG" and r["fixes"] is None for r in rows)  # original bytes kept
    assert_pages_equal(tmp_path / "out", rows, book)
    entry_bytes = zipfile.ZipFile(lib / "Issue One.cbz").read("page1.png")
    assert (tmp_path / "out" / rows[0]["path"]).read_bytes() == entry_bytes


def test_cb7_and_cbt(tmp_path, book):
    import py7zr

    lib = tmp_path / "lib"
    lib.mkdir()
    with py7zr.SevenZipFile(lib / "seven.cb7", "w") as archive:
        for i, page in enumerate(book.pages):
            archive.writestr(encode_image(page.image, "png"), f"pages/{i + 1}.png")
    with tarfile.open(lib / "tarred.cbt", "w") as archive:
        for i, page in enumerate(book.pages):
            data = encode_image(page.image, "png")
            info = tarfile.TarInfo(f"scan_{i + 1}.png")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    for source, fmt in (("seven.cb7", "cb7"), ("tarred.cbt", "cbt")):
        rows = sorted(
            (r for r in manifest.rows() if r["source_path"] == source), key=lambda r: r["page_index"]
        )
        assert rows and rows[0]["container_format"] == fmt
        assert rows[0]["book_id"] == book_id_for_file(lib / source)
        assert_pages_equal(tmp_path / "out", rows, book)
    # the same pages in two containers are exact duplicates: flagged, never dropped
    assert sum(r["duplicate_of"] is not None for r in manifest.rows()) == len(book.pages)


def test_pdf_embedded_images_and_rendered_pages(tmp_path, book):
    import pypdfium2

    lib = tmp_path / "lib"
    write_pdf(book, lib / "scan.pdf", dpi=150)
    # a page whose image covers only part of it must be rendered, not extracted
    pdf = pypdfium2.PdfDocument.new()
    page = pdf.new_page(400 * 72 / 150, 600 * 72 / 150)
    image = pypdfium2.PdfImage.new(pdf)
    jpeg = io.BytesIO(encode_image(book.pages[0].image, "jpeg"))
    image.load_jpeg(jpeg, inline=True)
    image.set_matrix(pypdfium2.PdfMatrix().scale(100, 150).translate(20, 20))
    page.insert_obj(image)
    page.gen_content()
    pdf.save(str(lib / "mixed.pdf"))
    pdf.close()
    manifest = ingest([lib], tmp_path / "out", show_progress=False, dpi=150)
    scan = sorted(
        (r for r in manifest.rows() if r["source_path"] == "scan.pdf"), key=lambda r: r["page_index"]
    )
    assert [r["source_entry"] for r in scan] == [f"page {i + 1}" for i in range(len(book.pages))]
    assert all(r["format"] == "JPEG" and r["fixes"] is None for r in scan)  # embedded JPEG kept as is
    assert_pages_equal(tmp_path / "out", scan, book, tolerance=4.0)
    mixed = [r for r in manifest.rows() if r["source_path"] == "mixed.pdf"]
    assert len(mixed) == 1 and mixed[0]["fixes"] == "rendered"
    assert (mixed[0]["width"], mixed[0]["height"]) == SIZE
    rendered = pixels(tmp_path / "out" / mixed[0]["path"])
    assert (rendered[5, 5] == 255).all() and rendered[200:300, 60:100].std() > 5  # white page, drawn inset


def _epub(path, book, spine_order):
    names = [f"OEBPS/images/img{i:02d}.png" for i in range(len(book.pages))]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
            'version="1.0"><rootfiles><rootfile full-path="OEBPS/content.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>',
        )
        items, refs = [], []
        for k, i in enumerate(spine_order):
            archive.writestr(names[i], encode_image(book.pages[i].image, "png"))
            if k % 2:  # half the pages wrap the image in SVG, as fixed-layout comics do
                body = (
                    f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
                    f'<image xlink:href="../images/img{i:02d}.png"/></svg>'
                )
            else:
                body = f'<div><img src="../images/img{i:02d}.png" alt="page"/></div>'
            archive.writestr(
                f"OEBPS/text/page{k}.xhtml",
                f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{body}</body></html>',
            )
            items.append(f'<item id="p{k}" href="text/page{k}.xhtml" media-type="application/xhtml+xml"/>')
            items.append(f'<item id="i{i}" href="images/img{i:02d}.png" media-type="image/png"/>')
            refs.append(f'<itemref idref="p{k}"/>')
        archive.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Spine Book</dc:title></metadata>'
            f"<manifest>{''.join(items)}</manifest><spine>{''.join(refs)}</spine></package>",
        )


def test_epub_follows_the_spine(tmp_path, book):
    lib = tmp_path / "lib"
    lib.mkdir()
    order = list(range(len(book.pages)))[::-1]  # spine order is not file-name order
    _epub(lib / "book.epub", book, order)
    rows = by_index(ingest([lib], tmp_path / "out", show_progress=False))
    assert [r["source_entry"] for r in rows] == [f"OEBPS/images/img{i:02d}.png" for i in order]
    assert {r["title"] for r in rows} == {"Spine Book"} and rows[0]["container_format"] == "epub"
    for row, i in zip(rows, order):
        assert np.array_equal(pixels(tmp_path / "out" / row["path"]), np.asarray(book.pages[i].image))


def test_image_folder_is_a_book_in_natural_order(tmp_path, book):
    folder = tmp_path / "lib" / "My Scans"
    folder.mkdir(parents=True)
    for i, page in enumerate(book.pages):
        page.image.save(folder / f"p{i + 1}.png")
    (folder / "notes.txt").write_text("not a page")
    (folder / "Thumbs.db").write_bytes(b"\0")
    rows = by_index(ingest([tmp_path / "lib"], tmp_path / "out", show_progress=False))
    assert [r["source_entry"] for r in rows] == [f"p{i + 1}.png" for i in range(len(book.pages))]
    assert rows[0]["book_id"] == f"my-scans-{folder_sha256(folder)[:8]}"
    assert rows[0]["source_path"] == "My Scans" and rows[0]["container_format"] == "folder"
    assert_pages_equal(tmp_path / "out", rows, book)


def test_skip_rules_and_comic_info(tmp_path):
    red = encode_image(Image.new("RGB", (50, 80), (200, 0, 0)), "png")
    blue = encode_image(Image.new("RGB", (50, 80), (0, 0, 200)), "png")
    green = encode_image(Image.new("RGB", (50, 80), (0, 200, 0)), "png")
    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "manga.cbz", "w") as archive:
        for name, data in [
            ("p10.png", green),
            ("p2.png", blue),
            ("p1.png", red),
            ("__MACOSX/._p1.png", b"x"),
            ("._p2.png", b"x"),
            ("Thumbs.db", b"x"),
            ("thumbs/p1.png", red),
            ("notes.txt", b"hi"),
            ("cover_thumb.png", red),
        ]:
            archive.writestr(name, data)
        archive.writestr(
            "ComicInfo.xml",
            "<ComicInfo><Series>Tencho</Series><Number>2</Number><Year>2019</Year>"
            "<Publisher>Ex</Publisher><Manga>YesAndRightToLeft</Manga></ComicInfo>",
        )
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    rows = by_index(manifest)
    assert [r["source_entry"] for r in rows] == ["p1.png", "p2.png", "p10.png"]
    assert [pixels(tmp_path / "out" / r["path"])[0, 0].tolist() for r in rows] == [
        [200, 0, 0],
        [0, 0, 200],
        [0, 200, 0],
    ]
    assert {(r["series"], r["number"], r["year"], r["publisher"], r["reading_direction"]) for r in rows} == {
        ("Tencho", "2", 2019, "Ex", "rtl")
    }
    assert manifest.errors.num_rows == 0  # skipped non-pages are not errors


# --- damaged, hostile and unusual input ------------------------------------------------------


def test_corrupt_empty_and_encrypted_containers(tmp_path, book):
    import py7zr

    lib = tmp_path / "lib"
    lib.mkdir()
    good = encode_image(book.pages[0].image, "jpeg")
    with zipfile.ZipFile(lib / "corrupt.cbz", "w") as archive:
        archive.writestr("p1.jpg", good)
        archive.writestr("p2.jpg", good[: len(good) // 2])  # truncated
        archive.writestr("p3.jpg", b"this is not an image")
    with zipfile.ZipFile(lib / "empty.cbz", "w") as archive:
        archive.writestr("readme.txt", "no pages here")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("p1.jpg", good)
    # set the "encrypted" flag (bit 0) in the local and central headers, as a PKWARE-encrypted zip has
    data = bytearray(buffer.getvalue())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 0x1
    (lib / "locked.cbz").write_bytes(bytes(data))
    with py7zr.SevenZipFile(lib / "locked.cb7", "w", password="secret") as archive:
        archive.writestr(good, "p1.jpg")
    (lib / "garbage.cbz").write_bytes(b"PK\x03\x04 not really a zip")
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    rows = {(r["source_path"], r["page_index"]): r for r in manifest.rows()}
    assert rows[("corrupt.cbz", 0)]["status"] == "ok"
    assert rows[("corrupt.cbz", 1)]["status"] == "corrupt_image" and rows[("corrupt.cbz", 1)]["path"] is None
    assert rows[("corrupt.cbz", 2)]["status"] == "corrupt_image"
    errors = {(e["source_path"], e["entry"]): e for e in manifest.error_rows()}
    assert errors[("corrupt.cbz", "p2.jpg")]["kind"] == "corrupt_image"
    assert errors[("empty.cbz", None)]["kind"] == "empty"
    assert errors[("locked.cbz", None)]["kind"] == "encrypted"
    assert errors[("locked.cb7", None)]["kind"] == "encrypted"
    assert errors[("garbage.cbz", None)]["kind"] == "unreadable"
    assert {p for p, _ in rows} == {"corrupt.cbz"}  # failed containers contribute no pages
    assert not (tmp_path / "out" / "pages" / book_id_for_file(lib / "locked.cbz")).exists()


def test_traversal_and_symlink_entries_never_write_outside(tmp_path, book):
    lib = tmp_path / "lib"
    lib.mkdir()
    png = encode_image(book.pages[0].image, "png")
    with zipfile.ZipFile(lib / "evil.cbz", "w") as archive:
        archive.writestr("p1.png", png)
        archive.writestr("../../escape.png", png)
        archive.writestr("/abs/escape2.png", png)
        link = zipfile.ZipInfo("link.png")
        link.external_attr = 0o120777 << 16  # a symlink entry
        archive.writestr(link, "/etc/passwd")
    with tarfile.open(lib / "evil.cbt", "w") as archive:
        for name in ("p1.png", "../escape3.png"):
            info = tarfile.TarInfo(name)
            info.size = len(png)
            archive.addfile(info, io.BytesIO(png))
        link = tarfile.TarInfo("p2.png")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../../../etc/passwd"
        archive.addfile(link)
    out = tmp_path / "out"
    manifest = ingest([lib], out, show_progress=False)
    assert [(r["source_path"], r["source_entry"]) for r in manifest.rows()] == [
        ("evil.cbt", "p1.png"),
        ("evil.cbz", "p1.png"),
    ]
    kinds = {(e["source_path"], e["entry"]): e["kind"] for e in manifest.error_rows()}
    assert kinds == {
        ("evil.cbz", "../../escape.png"): "unsafe_path",
        ("evil.cbz", "/abs/escape2.png"): "unsafe_path",
        ("evil.cbz", "link.png"): "symlink",
        ("evil.cbt", "../escape3.png"): "unsafe_path",
        ("evil.cbt", "p2.png"): "symlink",
    }
    assert _files_outside(tmp_path, allowed=lib) == [
        p for p in tmp_path.rglob("*") if p.is_file() and str(p).startswith(str(out))
    ]
    assert not list(tmp_path.parent.glob("escape*")) and not list(tmp_path.glob("escape*"))


def test_entry_size_and_pixel_caps(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "bomb.cbz", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("p1.png", encode_image(Image.new("RGB", (64, 64), "white"), "png"))
        archive.writestr("p2.png", b"\0" * (3 << 20))  # 3 MiB of zeros, deflates to a few KiB
        archive.writestr("p3.png", encode_image(Image.new("L", (2000, 1500), 128), "png"))
    manifest = ingest(
        [lib], tmp_path / "out", show_progress=False, max_entry_bytes=1 << 20, max_pixels=2_000_000
    )
    status = [r["status"] for r in by_index(manifest)]
    assert status == ["ok", "too_large", "pixel_cap"]
    reasons = {e["entry"]: e["reason"] for e in manifest.error_rows()}
    assert "limit" in reasons["p2.png"] and "pixel cap" in reasons["p3.png"]


def test_image_fixes(tmp_path):
    base = Image.new("RGB", (40, 60), (10, 20, 30))
    base.paste((250, 0, 0), (0, 0, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    buf = io.BytesIO()
    base.save(buf, "JPEG", exif=exif, quality=95)
    page = process_image(buf.getvalue())
    assert (page.width, page.height) == (60, 40) and "exif orientation 6" in page.fixes
    with Image.open(io.BytesIO(page.data)) as rotated:
        assert rotated.size == (60, 40) and rotated.getpixel((55, 4))[0] > 200
    buf = io.BytesIO()
    base.convert("CMYK").save(buf, "JPEG")
    page = process_image(buf.getvalue())
    assert page.format == "JPEG" and "cmyk" in page.fixes and Image.open(io.BytesIO(page.data)).mode == "RGB"
    buf = io.BytesIO()
    base.convert("P").save(buf, "PNG")
    page = process_image(buf.getvalue())
    assert "palette" in page.fixes and Image.open(io.BytesIO(page.data)).mode == "RGB"
    buf = io.BytesIO()
    Image.fromarray(np.full((30, 20), 40000, dtype=np.uint16)).save(buf, "PNG")
    page = process_image(buf.getvalue())
    assert "16-bit" in page.fixes
    with Image.open(io.BytesIO(page.data)) as eight:
        assert eight.mode == "L" and eight.getpixel((0, 0)) == 40000 * 255 // 65535
    buf = io.BytesIO()
    base.save(buf, "GIF")
    assert process_image(buf.getvalue()).format == "PNG"
    assert process_image(buf.getvalue(), output_format="webp").format == "WEBP"


@pytest.mark.skipif(rar_tool() is None, reason="no unar/unrar/bsdtar on this machine (apt-get install unar)")
def test_real_rar_fixtures_listing_order_and_safety(tmp_path, shared_data):
    rar = shared_data / "fixtures" / "rar"
    with CbrBook(rar / "rar5-subdirs.rar") as book:
        entries = book.list_entries()
        files = [e.name for e in entries if e.kind == "file"]
        assert files[0] == "sub/dir2/file2.txt"  # stored order is not reading order
        assert sorted(files, key=natural_key) == [
            "sub/dir1/file1.txt",
            "sub/dir2/file2.txt",
            "sub/with space/long fn.txt",
            "sub/üȵĩöḋè/file.txt",
        ]
        assert {e.name for e in entries if e.kind == "dir"} >= {"sub/", "sub/empty/"}
        entry = next(e for e in entries if e.name == "sub/dir1/file1.txt")
        assert book.read_entry(entry).startswith(b"file1")
    with CbrBook(rar / "rar3-solid.rar") as book:
        data = [book.read_entry(e) for e in book.list_entries()]
        assert [len(d) for d in data] == [2048, 2048] and data[0] == data[1]
    with CbrBook(rar / "rar5-evil-symlink-traversal.rar") as book:
        kinds = {e.name: e.kind for e in book.list_entries()}
        assert kinds["up"] == "symlink"
        with pytest.raises(ContainerError) as info:
            book.plan()
        assert info.value.kind == "empty"
        assert [(s.entry, s.kind) for s in book.skipped] == [("up", "symlink")]
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("rar5-subdirs.rar", "rar5-evil-symlink-traversal.rar", "rar3-solid.rar"):
        shutil.copy(rar / name, lib / name)
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    assert len(manifest) == 0
    kinds = {(e["source_path"], e["entry"]): e["kind"] for e in manifest.error_rows()}
    assert kinds[("rar5-evil-symlink-traversal.rar", "up")] == "symlink"
    assert kinds[("rar5-subdirs.rar", None)] == "empty"
    assert not list(tmp_path.rglob("pwned.txt"))


# --- runs: determinism, duplicates, resume, shards -----------------------------------------------


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("library")
    make_library(
        root, books=4, seed=5, formats=("cbz", "pdf"), size=SIZE, story_pages=(2, 4), show_progress=False
    )
    return root


def test_runs_are_deterministic_and_shards_merge_to_the_same_manifest(tmp_path, library):
    one = ingest([library / "books"], tmp_path / "a", show_progress=False)
    two = ingest([library / "books"], tmp_path / "b", show_progress=False, workers=2)
    assert one.pages.equals(two.pages) and one.errors.equals(two.errors)
    assert (tmp_path / "a" / "manifest.parquet").read_bytes() == (
        tmp_path / "b" / "manifest.parquet"
    ).read_bytes()
    shard_out = tmp_path / "sharded"
    parts = [
        ingest([library / "books"], shard_out, num_shards=3, shard_index=i, show_progress=False)
        for i in range(3)
    ]
    assert sum(len(p) for p in parts) == len(one)
    assert not (shard_out / "manifest.parquet").exists() and not (shard_out / "books.parquet").exists()
    merged = merge_shards(shard_out)
    assert merged.pages.equals(one.pages)
    # the books table: one record per book, the same from a merge as from one run
    from comics_analysis.dataspec.books import read_books

    books = read_books(tmp_path / "a" / "books.parquet")
    assert read_books(shard_out / "books.parquet") == books and len(books) == len(
        one.pages.column("book_id").unique()
    )
    assert (shard_out / "manifest.parquet").read_bytes() == (tmp_path / "a" / "manifest.parquet").read_bytes()
    assert read_manifest(shard_out).pages.equals(one.pages)
    truth = {p.page_id for f in (library / "truth").glob("*.jsonl") for p in read_jsonl(f)}
    assert {r["page_id"] for r in one.rows()} == truth


def test_merge_names_missing_shards(tmp_path, library):
    ingest([library / "books"], tmp_path / "s", num_shards=3, shard_index=1, show_progress=False)
    with pytest.raises(ValueError, match=r"shard\(s\) \[0, 2\] of 3"):
        merge_shards(tmp_path / "s")


def test_rerun_skips_finished_containers_and_handles_moves(tmp_path, library):
    out = tmp_path / "out"
    first = ingest([library / "books"], out, show_progress=False)
    stamps = {p: p.stat().st_mtime_ns for p in (out / "pages").rglob("*") if p.is_file()}
    second = ingest([library / "books"], out, show_progress=False)
    assert second.pages.equals(first.pages)
    assert {p: p.stat().st_mtime_ns for p in (out / "pages").rglob("*") if p.is_file()} == stamps
    moved = tmp_path / "moved"
    shutil.copytree(library / "books", moved / "renamed-folder")
    third = ingest([moved], out, show_progress=False)
    assert [r["page_id"] for r in third.rows()] == [r["page_id"] for r in first.rows()]
    assert {r["source_path"].split("/")[0] for r in third.rows()} == {"renamed-folder"}


def test_duplicate_container_and_near_duplicate_pages(tmp_path, book):
    lib = tmp_path / "lib"
    write_cbz(book, lib / "a" / "x.cbz")
    (lib / "b").mkdir()
    shutil.copy(lib / "a" / "x.cbz", lib / "b" / "x.cbz")  # same bytes, same name: same book id
    shutil.copy(lib / "a" / "x.cbz", lib / "renamed.cbz")  # renamed: another book id, duplicate pages
    page = book.pages[1].image
    with zipfile.ZipFile(lib / "variants.cbz", "w") as archive:
        archive.writestr("1.png", encode_image(page, "png"))
        archive.writestr("2.jpg", encode_image(page, "jpeg", quality=60))  # same page, re-encoded
        archive.writestr("3.png", encode_image(book.pages[2].image, "png"))
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    books = {r["source_path"] for r in manifest.rows()}
    assert books == {"a/x.cbz", "renamed.cbz", "variants.cbz"}
    assert [(e["kind"], e["source_path"]) for e in manifest.error_rows()] == [
        ("duplicate_container", "b/x.cbz")
    ]
    x_rows = {r["page_index"]: r["page_id"] for r in manifest.rows() if r["source_path"] == "a/x.cbz"}
    renamed = [r for r in manifest.rows() if r["source_path"] == "renamed.cbz"]
    assert len(renamed) == len(x_rows) and all(r["duplicate_of"] == x_rows[r["page_index"]] for r in renamed)
    variants = sorted(
        (r for r in manifest.rows() if r["source_path"] == "variants.cbz"), key=lambda r: r["page_index"]
    )
    x_page1 = next(
        r["page_id"] for r in manifest.rows() if r["source_path"] == "a/x.cbz" and r["page_index"] == 1
    )
    assert variants[0]["near_duplicate_of"] == x_page1  # PNG of a page first seen as JPEG in x.cbz
    assert variants[1]["near_duplicate_of"] == x_page1
    assert variants[2]["near_duplicate_of"] is not None and variants[2]["duplicate_of"] is None


def test_killed_run_leaves_no_partial_page_and_resumes(tmp_path, library):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    big = tmp_path / "big"
    make_library(big, books=6, seed=9, size=(800, 1200), story_pages=(6, 8), show_progress=False)
    code = (
        "import sys; from comics_analysis.ingest import ingest; "
        f"ingest([{str(big / 'books')!r}], {str(out)!r}, show_progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 60
    records = out / ".ingest" / "books"
    while time.time() < deadline and len(list(records.glob("*.json"))) < 2:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list(records.glob("*.json")))
    assert 1 <= finished < 6, "the kill should land mid-run"
    for path in (out / "pages").rglob("*"):
        if path.is_file() and not path.name.endswith(".tmp"):
            with Image.open(path) as img:
                img.load()  # every visible page file is complete
    resumed = ingest([big / "books"], out, show_progress=False)
    clean = ingest([big / "books"], tmp_path / "clean", show_progress=False)
    assert resumed.pages.equals(clean.pages)
    assert not list(out.rglob("*.tmp"))


def test_output_inside_the_library_is_not_ingested_again(tmp_path, book):
    lib = tmp_path / "lib"
    write_cbz(book, lib / "x.cbz")
    first = ingest([lib], lib / "out", show_progress=False)
    second = ingest([lib], lib / "out", show_progress=False)
    assert second.pages.equals(first.pages)
    assert {r["source_path"] for r in second.rows()} == {"x.cbz"}


def test_discover_rejects_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="source not found"):
        discover([tmp_path / "missing"])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a supported container"):
        discover([tmp_path / "notes.txt"])
    with pytest.raises(ValueError, match="shard index"):
        ingest([tmp_path], tmp_path / "o", num_shards=2, shard_index=2)


@pytest.mark.parametrize(("orientation", "corner"), [(6, (55, 4)), (8, (4, 35)), (3, (35, 55))])
def test_an_exif_rotated_jpeg_in_a_cbz_is_ingested_upright(tmp_path, orientation, corner):
    """A camera or scanner JPEG stored sideways with an EXIF Orientation tag: the page is stored
    upright (ImageOps.exif_transpose) and its width and height are the displayed ones, in the
    manifest, in the DataSpec record and when a page source opens it."""
    from comics_analysis.annotate import annotate, read_annotations
    from comics_analysis.sources import open_pages

    stored = Image.new("RGB", (40, 60), (10, 20, 30))
    stored.paste((250, 0, 0), (0, 0, 10, 10))  # a red mark in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    stored.save(buf, "JPEG", exif=exif, quality=95)
    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "rotated.cbz", "w") as archive:
        archive.writestr("p001.jpg", buf.getvalue())
    row = ingest([lib], tmp_path / "out", show_progress=False).rows()[0]
    size = (40, 60) if orientation == 3 else (60, 40)
    assert row["status"] == "ok" and (row["width"], row["height"]) == size
    assert f"exif orientation {orientation}" in row["fixes"]
    with Image.open(tmp_path / "out" / row["path"]) as page:
        assert page.size == size and page.getexif().get(0x0112, 1) == 1  # no tag left to apply twice
        assert page.convert("RGB").getpixel(corner)[0] > 200  # the mark where a viewer shows it
    annotate(tmp_path / "out", tmp_path / "ann", ocr="none", show_progress=False)
    record = read_annotations(tmp_path / "ann")[0]
    assert (record.width, record.height) == size
    source = open_pages(tmp_path / "ann")
    assert source.load_image(source.page(0)).size == size


def test_manifest_writer_over_row_groups_matches_the_definition(tmp_path):
    """17,000 pages (two row groups) given container by container: written as they come, the
    file holds every row in order with the exact and near duplicates the definition gives (first
    earlier page with the same SHA-256; else first earlier page within 4 bits of phash), and the
    in-memory assemble of the same rows gives the same table."""
    import pyarrow.parquet as pq

    from comics_analysis.ingest.manifest import ROW_GROUP_ROWS, ManifestWriter

    rng = np.random.default_rng(0)
    n, per_book = 17_000, 100
    assert n > ROW_GROUP_ROWS
    phash = rng.integers(0, 2**63, size=n, dtype=np.uint64)
    sha = np.array([f"{i:064x}" for i in range(n)], dtype=object)
    for i in rng.choice(np.arange(1000, n), size=300, replace=False):  # near: flip 1-4 bits of an earlier one
        j = int(rng.integers(0, i))
        bits = rng.choice(64, size=int(rng.integers(1, 5)), replace=False)
        phash[i] = phash[j] ^ np.uint64(sum(1 << int(b) for b in bits))
    for i in rng.choice(np.arange(1000, n), size=300, replace=False):  # exact: an earlier page's bytes
        j = int(rng.integers(0, i))
        sha[i], phash[i] = sha[j], phash[j]
    failed = set(rng.choice(n, size=50, replace=False).tolist())
    rows = []
    for i in range(n):
        book = f"book{i // per_book:04d}-0123456789abcdef"
        ok = i not in failed
        rows.append(
            {
                "page_id": f"{book}/p{i % per_book:04d}",
                "book_id": book,
                "page_index": i % per_book,
                "status": "ok" if ok else "corrupt",
                "sha256": sha[i] if ok else None,
                "phash": f"{int(phash[i]):016x}" if ok else None,
                "source_path": f"c/{i // per_book:05d}.cbz",
            }
        )
    # the definition, by brute force over every earlier page
    expected_dup, expected_near = [None] * n, [None] * n
    first: dict[str, int] = {}
    seen = np.zeros(n, dtype=bool)
    for i in range(n):
        if i in failed:
            continue
        j = first.setdefault(sha[i], i)
        if j != i:
            expected_dup[i] = rows[j]["page_id"]
        else:
            close = np.flatnonzero(seen[:i] & (np.bitwise_count(phash[:i] ^ phash[i]) <= 4))
            expected_near[i] = rows[int(close[0])]["page_id"] if close.size else None
        seen[i] = True
    with ManifestWriter(tmp_path, near_duplicate_distance=4) as writer:
        for b in range(n // per_book):
            book_rows = rows[b * per_book : (b + 1) * per_book]
            writer.add([dict(r) for r in reversed(book_rows)])  # page order is the writer's job
        manifest = writer.finish([])
    assert len(manifest) == n
    assert manifest.counts()["duplicates"] == sum(d is not None for d in expected_dup) >= 250
    assert manifest.counts()["near_duplicates"] == sum(d is not None for d in expected_near) >= 250
    table = pq.read_table(tmp_path / "manifest.parquet")
    assert pq.ParquetFile(tmp_path / "manifest.parquet").metadata.num_row_groups == 2
    assert table["page_id"].to_pylist() == [r["page_id"] for r in rows]
    assert table["duplicate_of"].to_pylist() == expected_dup
    assert table["near_duplicate_of"].to_pylist() == expected_near
    assert assemble([dict(r) for r in reversed(rows)], []).pages.equals(table)
    with pytest.raises(ValueError, match="out of order"), ManifestWriter(tmp_path / "x") as writer:
        writer.add(rows[per_book : 2 * per_book])
        writer.add(rows[:per_book])
    assert not list((tmp_path / "x").glob("*manifest*"))  # a failed write leaves no file, no temp


def test_a_killed_manifest_writer_leaves_no_temp_file_after_the_next_run(tmp_path, library):
    import subprocess

    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = out / f".manifest.parquet.pid{dead.pid}.x1y2.tmp"  # a writer killed mid-manifest
    stale.write_bytes(b"PAR1 half")
    alive = out / f".manifest.parquet.pid{os.getppid()}.z3.tmp"  # a live process's, in flight
    alive.write_bytes(b"PAR1 busy")
    ingest([library / "books"], out, show_progress=False)
    assert not stale.exists() and alive.exists()
    assert (out / "manifest.parquet").is_file()
