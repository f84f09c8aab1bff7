"""Hostile and unlucky inputs to `ingest`: each case is made here, run for real, and must neither
lose nor corrupt data, nor abort the run without naming the file.

Extend by adding a case: build the input in ``tmp_path``, run `ingest` (in-process or through
the CLI), assert on the manifest, the errors table and the files on disk.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest
from PIL import Image

from comics_analysis.dataspec import book_id_for_file
from comics_analysis.ingest import ingest, merge_shards, parse_comic_info, read_manifest
from comics_analysis.ingest.pipeline import STATE_DIR, discover, sniff_container
from comics_analysis.synth import make_book, write_cbz

SIZE = (300, 420)


@pytest.fixture(scope="module")
def book():
    return make_book(33, kind="issue", size=SIZE, story_pages=(3, 3))


def _cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "comics_analysis", "--quiet", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
    )


def _png(colour=(200, 40, 40), size=(64, 90)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


# --- transient failures are never cached ------------------------------------------------------------


def test_a_write_failure_is_not_cached_and_a_rerun_recovers_every_page(tmp_path, book):
    """The disk-full case: pages cannot be written (here: the book's page folder is blocked by a
    file, a real OSError on the write path). The run says so and exits non-zero; the re-run, once
    the cause is gone, ingests the book whole instead of reusing a cached failure."""
    lib, out = tmp_path / "lib", tmp_path / "out"
    write_cbz(book, lib / "a.cbz")
    write_cbz(make_book(34, kind="issue", size=SIZE, story_pages=(2, 2)), lib / "b.cbz")
    blocked = out / "pages" / book_id_for_file(lib / "a.cbz")
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a folder")

    first = _cli("ingest", lib, "--out", out)
    assert first.returncode == 1, first.stderr
    assert "a.cbz: io_error" in first.stderr and "run the same command again" in first.stderr
    manifest = read_manifest(out)
    assert {e["kind"] for e in manifest.error_rows() if e["source_path"] == "a.cbz"} == {"io_error"}
    assert not (out / STATE_DIR / "books" / f"{blocked.name}.json").exists()  # nothing cached

    blocked.unlink()
    second = _cli("ingest", lib, "--out", out)
    assert second.returncode == 0, second.stderr
    rows = read_manifest(out).rows()
    assert sum(r["source_path"] == "a.cbz" and r["status"] == "ok" for r in rows) == len(book.pages)
    assert not read_manifest(out).error_rows()
    for row in rows:
        assert (out / row["path"]).is_file()


# --- the bytes decide the reader ----------------------------------------------------------------


def test_same_bytes_under_two_extensions_lose_nothing(tmp_path, book):
    """`book.cbz` and a copy named `book.cbr` (a zip, as misnamed comics often are): both read as
    zips, one kept, the other reported as its duplicate; before, the .cbr's failure was cached
    under the shared book id and the valid CBZ was lost."""
    lib = tmp_path / "lib"
    write_cbz(book, lib / "book.cbz")
    (lib / "book.cbr").write_bytes((lib / "book.cbz").read_bytes())
    assert sniff_container(lib / "book.cbr").__name__ == "CbzBook"
    for run in range(2):  # a fresh run, then a resumed one
        manifest = ingest([lib], tmp_path / "out", show_progress=False)
        ok = [r for r in manifest.rows() if r["status"] == "ok"]
        assert len(ok) == len(book.pages), run
        assert [(e["source_path"], e["kind"]) for e in manifest.error_rows()] == [
            ("book.cbz", "duplicate_container")
        ]


def test_a_truncated_archive_is_a_final_named_error(tmp_path, book):
    lib = tmp_path / "lib"
    write_cbz(book, lib / "whole.cbz")
    data = (lib / "whole.cbz").read_bytes()
    (lib / "cut.cbz").write_bytes(data[: len(data) // 3])
    result = _cli("ingest", lib, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr  # final outcomes are reported, not retried
    errors = read_manifest(tmp_path / "out").error_rows()
    assert [(e["source_path"], e["kind"]) for e in errors] == [("cut.cbz", "unreadable")]
    assert "0x" not in errors[0]["reason"]  # no object reprs: identical runs, identical tables


# --- concurrent shards -------------------------------------------------------------------------


def test_concurrent_shards_never_touch_each_others_files(tmp_path):
    """The Slurm recipe: every shard starts at once on one output folder; before, a shard's
    start-up clean-up removed the others' in-flight temporary page files."""
    lib, out = tmp_path / "lib", tmp_path / "out"
    total = 0
    for i in range(6):
        b = make_book(40 + i, kind="issue", size=(200, 280), story_pages=(3, 5))
        write_cbz(b, lib / f"book{i}.cbz", image_format="png")
        total += len(b.pages)
    procs = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "comics_analysis", "--quiet", "ingest", str(lib), "--out", str(out)),
                *("--num-shards", "3", "--shard-index", str(k), "--image-format", "png"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    manifest = merge_shards(out)
    assert sum(r["status"] == "ok" for r in manifest.rows()) == total
    assert not manifest.error_rows()
    assert not list(out.rglob("*.tmp"))


def test_a_stale_temp_file_goes_only_with_its_own_book(tmp_path, book):
    """A killed run's temporary file is removed when its book is processed again; the in-flight
    temporary file of a book this run does not process is left alone."""
    lib, out = tmp_path / "lib", tmp_path / "out"
    write_cbz(book, lib / "a.cbz")
    ours = out / "pages" / book_id_for_file(lib / "a.cbz") / ".p0001.png.abc123.tmp"
    theirs = out / "pages" / "someone-else-0123456789ab" / ".p0004.png.def456.tmp"
    for tmp in (ours, theirs):
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(b"half a page")
    manifest = ingest([lib], out, show_progress=False)
    assert sum(r["status"] == "ok" for r in manifest.rows()) == len(book.pages)
    assert not ours.exists() and theirs.exists()


# --- bad metadata and names ----------------------------------------------------------------------


def test_an_out_of_range_comicinfo_year_is_dropped_with_a_warning(tmp_path, caplog):
    xml = b"<ComicInfo><Series>S</Series><Year>99999999999</Year></ComicInfo>"
    with caplog.at_level("WARNING"):
        meta = parse_comic_info(xml, source="x.cbz: ComicInfo.xml")
    assert meta["year"] is None and meta["series"] == "S"
    assert "x.cbz: ComicInfo.xml" in caplog.text and "99999999999" in caplog.text
    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "big-year.cbz", "w") as archive:
        archive.writestr("ComicInfo.xml", xml)
        archive.writestr("p1.png", _png())
    manifest = ingest([lib], tmp_path / "out", show_progress=False)  # before: aborted the run
    rows = manifest.rows()
    assert len(rows) == 1 and rows[0]["status"] == "ok" and rows[0]["year"] is None
    assert rows[0]["series"] == "S"


def test_names_that_are_not_utf8_are_kept_and_shown_with_escapes(tmp_path):
    """A latin-1 folder name and a latin-1 tar entry name (surrogates in Python) used to abort the
    run with 'surrogates not allowed'."""
    lib = tmp_path / "lib"
    lib.mkdir()
    folder = bytes(lib) + b"/Caf\xe9"
    os.mkdir(folder)
    with open(folder + b"/p1.png", "wb") as handle:
        handle.write(_png((10, 200, 10)))
    with tarfile.open(lib / "latin.cbt", "w", format=tarfile.GNU_FORMAT) as archive:
        for name, colour in ((b"\xe9t\xe9-1.png", (1, 2, 3)), (b"\xe9t\xe9-2.png", (200, 200, 9))):
            data = _png(colour)
            info = tarfile.TarInfo(name.decode("utf-8", "surrogateescape"))
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    tasks = discover([lib])
    assert sorted(t.rel for t in tasks) == ["Caf\\xe9", "latin.cbt"]
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    rows = sorted(manifest.rows(), key=lambda r: (r["source_path"], r["page_index"]))
    assert [(r["source_path"], r["source_entry"], r["status"]) for r in rows] == [
        ("Caf\\xe9", "p1.png", "ok"),
        ("latin.cbt", "\\xe9t\\xe9-1.png", "ok"),
        ("latin.cbt", "\\xe9t\\xe9-2.png", "ok"),
    ]
    record = next((tmp_path / "out" / STATE_DIR / "books").glob("*.json"))
    json.loads(record.read_text(encoding="utf-8"))  # records are valid UTF-8 JSON


# --- special files, repeated names, PDFs -------------------------------------------------------


def test_a_fifo_named_like_a_comic_is_reported_not_opened(tmp_path, book):
    """Opening a FIFO blocks until a writer comes: ingest used to hang on one."""
    lib = tmp_path / "lib"
    write_cbz(book, lib / "real.cbz")
    os.mkfifo(lib / "pipe.cbz")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "comics_analysis",
            "--quiet",
            "ingest",
            str(lib),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    manifest = read_manifest(tmp_path / "o")
    assert [(e["source_path"], e["kind"]) for e in manifest.error_rows()] == [("pipe.cbz", "not_a_file")]
    assert sum(r["status"] == "ok" for r in manifest.rows()) == len(book.pages)


def test_a_zip_holding_one_name_twice_keeps_both_pages(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "twice.cbz", "w") as archive:
        archive.writestr("p1.png", _png((255, 0, 0)))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("p1.png", _png((0, 0, 255)))
        archive.writestr("p2.png", _png((0, 255, 0)))
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    rows = sorted(manifest.rows(), key=lambda r: r["page_index"])
    assert [r["source_entry"] for r in rows] == ["p1.png", "p1.png", "p2.png"]
    colours = []
    for row in rows:
        with Image.open(tmp_path / "out" / row["path"]) as img:
            colours.append(img.convert("RGB").getpixel((0, 0)))
    assert colours == [(255, 0, 0), (0, 0, 255), (0, 255, 0)]  # archive order for equal names


def _pdf(path, width: int, height: int, title: bytes | None = None) -> None:
    """A one-page PDF whose page is one grey FlateDecode image of ``width`` x ``height`` zeros
    (compressed ~1000:1, so a huge image is a small file), optionally with an /Info /Title."""
    import zlib

    comp, zeros, left, parts = zlib.compressobj(9), bytes(1 << 20), width * height, []
    while left > 0:
        parts.append(comp.compress(zeros[: min(left, len(zeros))]))
        left -= len(zeros)
    data = b"".join([*parts, comp.flush()])
    content = b"q 612 0 0 792 0 0 cm /Im0 Do Q"
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]"
        b"/Resources<</XObject<</Im0 4 0 R>>>>/Contents 5 0 R>>",
        b"<</Type/XObject/Subtype/Image/Width %d/Height %d/ColorSpace/DeviceGray/BitsPerComponent 8"
        b"/Filter/FlateDecode/Length %d>>stream\n" % (width, height, len(data)) + data + b"\nendstream",
        b"<</Length %d>>stream\n" % len(content) + content + b"\nendstream",
    ]
    if title is not None:
        objects.append(b"<</Title " + title + b">>")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objects):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    info = b"/Info %d 0 R" % len(objects) if title is not None else b""
    out += b"trailer\n<</Size %d/Root 1 0 R%s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    path.write_bytes(bytes(out))


def test_a_pdf_image_past_the_pixel_cap_is_refused_before_decoding(tmp_path):
    """A 400 KB PDF holding a 20000 x 20000 image: refused from its header (before: 400 MB
    decoded, then refused). Measured as the peak memory of a process that ingests it."""
    lib = tmp_path / "lib"
    lib.mkdir()
    _pdf(lib / "bomb.pdf", 20000, 20000)
    assert (lib / "bomb.pdf").stat().st_size < 1 << 20
    # VmHWM: this process's own peak (ru_maxrss would carry the forking test process's peak)
    script = (
        "import re, sys; from comics_analysis.ingest import ingest; "
        "m = ingest([sys.argv[1]], sys.argv[2], show_progress=False); "
        "print([(e['entry'], e['kind']) for e in m.error_rows()]); "
        "print(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(lib), str(tmp_path / "out")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    errors, peak_kb = result.stdout.strip().splitlines()
    assert errors == "[('page 1', 'pixel_cap')]"
    assert int(peak_kb) < 300_000, f"peak RSS {int(peak_kb) // 1024} MB: the image was decoded"


def test_a_pdf_with_a_broken_title_keeps_its_pages(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    _pdf(lib / "title.pdf", 200, 300, title=b"<FEFFD800>")  # a lone UTF-16 surrogate
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    rows = manifest.rows()
    assert len(rows) == 1 and rows[0]["status"] == "ok" and rows[0]["title"] is None


# --- archive bombs and slow streams ------------------------------------------------------------


class _Zeros(io.RawIOBase):
    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def test_a_container_declaring_far_more_than_it_holds_is_refused_before_reading(tmp_path):
    """70 MB of zeros deflate to ~70 KB: the container's declared size against its size on disk
    (1000:1) refuses it from the listing, whatever the format."""
    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "bomb.cbz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("p1.png", _png())
        with archive.open("p2.png", "w", force_zip64=True) as handle:
            for _ in range(70):
                handle.write(bytes(1 << 20))
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    assert not manifest.rows()
    [error] = manifest.error_rows()
    assert (error["source_path"], error["kind"]) == ("bomb.cbz", "zip_bomb")
    assert "uncompressed bytes from" in error["reason"]


def test_a_compressed_tar_that_inflates_past_its_budget_is_refused(tmp_path):
    """A .tar.gz whose one member is 200 MB of zeros (~200 KB on disk): listing a compressed
    tar inflates the stream, so the stream itself is metered (a .tar.bz2 of this kind, 65 KB,
    used to burn a minute of CPU before any refusal)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    with tarfile.open(lib / "bomb.tar.gz", "w:gz", compresslevel=9) as archive:
        info = tarfile.TarInfo("p1.png")
        info.size = 200 << 20
        archive.addfile(info, io.BufferedReader(_Zeros(info.size)))
    assert (lib / "bomb.tar.gz").stat().st_size < 400_000  # 1000:1
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    [error] = manifest.error_rows()
    assert (error["source_path"], error["kind"]) == ("bomb.tar.gz", "zip_bomb")
    assert "inflates past" in error["reason"]


def test_a_reverse_ordered_compressed_tar_reads_in_reading_order(tmp_path):
    """Members stored last page first: read in one pass in stream order, yielded in reading
    order (before: each page rewound the gzip stream)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    colours = [(i * 20, 255 - i * 20, 90) for i in range(12)]
    with tarfile.open(lib / "rev.cbt", "w:gz") as archive:
        for i in reversed(range(12)):
            data = _png(colours[i])
            info = tarfile.TarInfo(f"page{i + 1}.png")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    manifest = ingest([lib], tmp_path / "out", show_progress=False)
    rows = sorted(manifest.rows(), key=lambda r: r["page_index"])
    assert [r["source_entry"] for r in rows] == [f"page{i + 1}.png" for i in range(12)]
    for row, colour in zip(rows, colours):
        with Image.open(tmp_path / "out" / row["path"]) as img:
            assert img.convert("RGB").getpixel((0, 0)) == colour


def test_error_reasons_are_the_same_on_every_run(tmp_path):
    """Pillow names an undecodable entry by its buffer's address (``<_io.BytesIO object at
    0x7f..>``): identical runs wrote different errors tables."""
    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "bad.cbz", "w") as archive:
        archive.writestr("p1.png", b"\x89PNG\r\n\x1a\n but not really")
        archive.writestr("p2.png", _png())
    one = ingest([lib], tmp_path / "a", show_progress=False)
    two = ingest([lib], tmp_path / "b", show_progress=False)
    assert one.errors.equals(two.errors)
    [error] = one.error_rows()
    assert error["kind"] == "corrupt_image" and " at 0x" not in error["reason"]
    assert "<_io.BytesIO>" in error["reason"]


@pytest.fixture
def small_disk(tmp_path):
    """A 12 MB tmpfs (needs root and mount; skipped with the reason otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_then_space_freed_rerun_gets_every_page(tmp_path, small_disk):
    """The reported case: ENOSPC on some books, exit 0, and the re-run after freeing space kept
    the failures. Now the run exits 1 naming them, and the re-run ingests everything."""
    lib = tmp_path / "lib"
    total = 0
    for i in range(6):
        b = make_book(60 + i, kind="issue", size=(500, 700), story_pages=(3, 3))
        write_cbz(b, lib / f"book{i}.cbz", image_format="png")
        total += len(b.pages)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (9 << 20))  # leaves ~3 MB: a few books fit
    out = small_disk / "out"
    first = _cli("ingest", lib, "--out", out)
    if first.returncode == 0:
        pytest.fail(f"the library fitted on the small disk; make it larger\n{first.stdout}")
    assert first.returncode == 1, first.stderr
    assert "no_space" in first.stderr and "run the same command again" in first.stderr, first.stderr
    filler.unlink()
    second = _cli("ingest", lib, "--out", out)
    assert second.returncode == 0, second.stderr
    manifest = read_manifest(out)
    assert sum(r["status"] == "ok" for r in manifest.rows()) == total and not manifest.error_rows()
    for row in manifest.rows():
        with Image.open(out / row["path"]) as img:
            img.load()  # every page file whole
