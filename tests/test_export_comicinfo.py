"""`export comicinfo`: ComicInfo.xml that validates against the real schemas, reads back through
ingest with the same page types, and rewrites a CBZ only atomically."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.cli import main
from comics_analysis.dataspec import write_page_types
from comics_analysis.ingest import ingest
from comics_analysis.ingest.comicinfo import parse
from comics_analysis.interop import TYPE_OF_PAGE, comicinfo_xml
from zip_helpers import zipcrypto  # tests/: on the path through tests/conftest.py

etree = pytest.importorskip("lxml.etree")

SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "schemas"
TAGGED = """<ComicInfo><Title>Night Tram</Title><Series>Night Tram</Series><Number>3</Number>
<Writer>A. Writer</Writer><Translator>T. Lator</Translator><Manga>No</Manga></ComicInfo>"""


def _valid(xml: bytes, version: str) -> None:
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / f"ComicInfo-{version}.xsd")))
    document = etree.fromstring(xml)
    assert schema.validate(document), schema.error_log


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 450), colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def library(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "tram.cbz", "w") as archive:
        archive.writestr("ComicInfo.xml", TAGGED)
        for i, colour in enumerate(["red", "white", "white", "blue"]):
            archive.writestr(f"p{i + 1}.png", _png(colour))
    with zipfile.ZipFile(lib / "plain.cbz", "w") as archive:
        archive.writestr("a.png", _png("green"))
    ingest([lib], tmp_path / "ingest", show_progress=False)
    annotate(tmp_path / "ingest", tmp_path / "ann", ocr="none", show_progress=False)
    types = {}
    for page in read_annotations(tmp_path / "ann"):
        kinds = (
            ["cover", "story", "advertisement", "back_cover"]
            if page.book_id.startswith("tram")
            else ["cover"]
        )
        types[page.page_id] = (kinds[page.page_index], page.page_index == 1)
    write_page_types(tmp_path / "ann", types, source="test")
    return lib, tmp_path


def test_the_document_validates_against_v20_and_v21(tmp_path):
    pages = [
        {"image": 0, "type": "FrontCover", "size": 10, "width": 3, "height": 4},
        {"image": 1, "double_page": True},
    ]
    _valid(comicinfo_xml({"Title": "A & <B>", "Year": 1990, "Manga": "No"}, pages), "v2.0")
    v21 = comicinfo_xml({"Title": "x", "Translator": "y", "GTIN": "123"}, pages)
    _valid(v21, "v2.1-draft")
    assert b"<Translator>y</Translator>" in v21
    assert set(TYPE_OF_PAGE) == {
        "cover", "cover_internal", "credits_indicia", "story", "advertisement", "preview",
        "text_backmatter", "art_backmatter", "back_cover", "other",
    }  # fmt: skip


def test_sidecar_keeps_the_books_fields_and_reads_back_the_same_page_types(library):
    _, root = library
    assert main(["--quiet", "export", "comicinfo", str(root / "ann"), "--out", str(root / "side")]) == 0
    xml = (root / "side" / "tram.cbz.ComicInfo.xml").read_bytes()
    _valid(xml, "v2.1-draft")  # the book's Translator is a v2.1 field
    info = parse(xml)
    assert info.fields["Writer"] == "A. Writer" and info.fields["Translator"] == "T. Lator"
    assert info.fields["PageCount"] == 4
    assert [(p.image, p.page_type) for p in info.pages] == [
        (0, "cover"), (1, "story"), (2, "advertisement"), (3, "back_cover")
    ]  # fmt: skip
    assert (info.pages[0].width, info.pages[0].height) == (320, 450)
    _valid((root / "side" / "plain.cbz.ComicInfo.xml").read_bytes(), "v2.0")


def test_copy_and_in_place_rewrite_keep_every_page_byte_identical(library, tmp_path):
    lib, root = library
    before = {
        i.filename: zipfile.ZipFile(lib / "tram.cbz").read(i)
        for i in zipfile.ZipFile(lib / "tram.cbz").infolist()
    }
    original = (lib / "tram.cbz").read_bytes()
    assert main(["--quiet", "export", "comicinfo", str(root / "ann"), "--out", str(tmp_path / "copy"),
                 "--mode", "copy", "--library", str(lib)]) == 0  # fmt: skip
    assert (lib / "tram.cbz").read_bytes() == original  # copy mode never touches the library
    for target in (tmp_path / "copy" / "tram.cbz",):
        with zipfile.ZipFile(target) as archive:
            assert {n: archive.read(n) for n in archive.namelist() if n != "ComicInfo.xml"} == {
                n: b for n, b in before.items() if n != "ComicInfo.xml"
            }
            assert [p.page_type for p in parse(archive.read("ComicInfo.xml")).pages][:2] == ["cover", "story"]
    assert (
        main(
            ["--quiet", "export", "comicinfo", str(root / "ann"), "--mode", "in-place", "--library", str(lib)]
        )
        == 0
    )
    with zipfile.ZipFile(lib / "tram.cbz") as archive:
        assert parse(archive.read("ComicInfo.xml")).pages[3].page_type == "back_cover"
        assert archive.read("p1.png") == before["p1.png"]
    assert not list(lib.glob(".*.tmp"))


def test_an_archive_that_cannot_be_rewritten_is_left_byte_identical_and_reported(library, capsys):
    lib, root = library
    data = (lib / "tram.cbz").read_bytes()
    broken = data[: len(data) - 30] + b"\0" * 30  # the central directory's tail is damaged
    (lib / "tram.cbz").write_bytes(broken)
    code = main(["export", "comicinfo", str(root / "ann"), "--mode", "in-place", "--library", str(lib)])
    assert code == 1 and "tram.cbz" in capsys.readouterr().out
    assert hashlib.sha256((lib / "tram.cbz").read_bytes()).digest() == hashlib.sha256(broken).digest()
    assert not list(lib.glob(".*.tmp"))


@pytest.mark.parametrize("case", ["encrypted", "read-only"])
def test_an_encrypted_or_read_only_archive_is_left_byte_identical_and_reported(library, case, capsys):
    """In place, the ComicInfo export rewrites the zip: an encrypted one (ZipCrypto; Python
    cannot write one, so it is written by the test) or a read-only one (refused by its mode,
    even for root, who could write it) is reported and left as it was. A copy of a read-only
    book is fine."""
    lib, root = library
    target = lib / "tram.cbz"
    data = target.read_bytes()
    if case == "encrypted":
        payload = zipcrypto("p1.png", _png("red"), b"secret")
        with zipfile.ZipFile(io.BytesIO(payload)) as check:  # a real encrypted zip
            assert check.infolist()[0].flag_bits & 1 and check.read("p1.png", pwd=b"secret") == _png("red")
    else:
        payload = data
    target.write_bytes(payload)
    target.chmod(0o444 if case == "read-only" else 0o644)
    try:
        code = main(["export", "comicinfo", str(root / "ann"), "--mode", "in-place", "--library", str(lib)])
        printed = capsys.readouterr().out
        assert code == 1 and "error: tram.cbz" in printed, printed
        assert case != "read-only" or "read-only" in printed
        assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(payload).digest()
        assert not list(lib.glob(".*.tmp"))
        if case == "read-only":
            out = root / "copy"
            args = ["export", "comicinfo", str(root / "ann"), "--mode", "copy", "--library", str(lib)]
            assert main([*args, "--out", str(out)]) == 0
            with zipfile.ZipFile(out / "tram.cbz") as archive:
                assert archive.read("p1.png") == zipfile.ZipFile(target).read("p1.png")
    finally:
        target.chmod(0o644)
