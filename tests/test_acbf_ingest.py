"""ACBF books through ingest: an .acbf with its images beside it, and a CBZ with an .acbf inside
(ACBF page order, embedded images, metadata, the cover's page type, frames and text-areas as
DataSpec ground truth); malformed parts skipped with a warning; schema problems of ACBF and
ComicInfo files are warnings naming the file and the element, and the files are read anyway."""

from __future__ import annotations

import base64
import io
import json
import logging
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from comics_analysis.dataspec import read_jsonl
from comics_analysis.dataspec.acbf import pages_from_acbf
from comics_analysis.ingest import ingest
from comics_analysis.ingest.comicinfo import parse
from comics_analysis.sources import open_pages

SMALL = """<?xml version="1.0" encoding="UTF-8"?>
<ACBF xmlns="http://www.acbf.info/xml/acbf/1.1">
 <meta-data>
  <book-info>
   <author activity="Writer"><first-name>Ann</first-name><last-name>Artist</last-name></author>
   <book-title lang="en">Small Book</book-title>
   <genre>{genre}</genre>
   <coverpage><image href="{cover}"/></coverpage>
   <languages><text-layer lang="en" show="false"/></languages>
   <sequence title="Small Series" volume="2">7</sequence>
  </book-info>
  <publish-info>
   <publisher>Nobody</publisher><publish-date value="1999-04-01">1999</publish-date>
  </publish-info>
 </meta-data>
 <body>
  <page>
   <image href="{page}"/>
   <text-layer lang="en">
    <text-area points="20,20 80,20 80,40 20,40"><p>HELLO <emphasis>THERE</emphasis>!</p></text-area>
    <text-area points="110,10 190,10 190,30 110,30" type="commentary"><p>MEANWHILE...</p></text-area>
   </text-layer>
   <frame points="5,5 95,5 95,95 5,95"/>
   <frame points="105,5 195,5 195,95 105,95"/>
  </page>
  {extra}
 </body>
 {data}
</ACBF>
"""


def small(genre="humor", cover="cover.png", page="p1.png", extra="", data="") -> str:
    return SMALL.format(genre=genre, cover=cover, page=page, extra=extra, data=data)


def png(colour, size=(200, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def schemas(shared_data, monkeypatch):
    monkeypatch.setenv("COMICS_ANALYSIS_SCHEMAS", str(shared_data / "schemas"))
    return shared_data / "schemas"


def test_an_acbf_with_its_images_is_one_book_with_metadata_and_ground_truth(tmp_path):
    book = tmp_path / "lib" / "small"
    book.mkdir(parents=True)
    (book / "cover.png").write_bytes(png("red"))
    (book / "p1.png").write_bytes(png("white"))
    (book / "Small Book.acbf").write_text(small(), encoding="utf-8")
    manifest = ingest([tmp_path / "lib"], tmp_path / "ing", show_progress=False)
    rows = manifest.rows()  # one book: the folder of images is the ACBF's, not a second book
    assert [(r["source_entry"], r["container_format"], r["status"]) for r in rows] == [
        ("cover.png", "acbf", "ok"),
        ("p1.png", "acbf", "ok"),
    ]
    first = rows[0]
    assert (first["title"], first["series"], first["number"]) == ("Small Book", "Small Series", "7")
    assert (first["publisher"], first["year"]) == ("Nobody", 1999)
    assert [(r["page_type"], r["page_type_source"]) for r in rows] == [("cover", "acbf"), (None, None)]
    meta = json.loads(first["book_metadata"])["acbf"]
    assert meta["authors"] == [{"activity": "Writer", "first-name": "Ann", "last-name": "Artist"}]
    assert meta["genres"] == [{"genre": "humor"}] and meta["sequences"][0]["volume"] == "2"
    # ground truth: the reader's pages, under the ingested ids and images
    truth = read_jsonl(tmp_path / "ing" / "groundtruth" / f"{first['book_id']}.jsonl")
    direct = pages_from_acbf(book / "Small Book.acbf")
    assert [p.page_id for p in truth] == [r["page_id"] for r in rows] == [p.page_id for p in direct]
    assert [p.image for p in truth] == [r["path"] for r in rows]
    page = truth[1]
    assert [(p.bbox, p.source, p.order) for p in page.panels] == [
        (p.bbox, "gt", p.order) for p in direct[1].panels
    ]
    assert page.panels[0].polygon == [(5, 5), (95, 5), (95, 95), (5, 95)]
    assert [(t.text, t.kind, t.panel, t.source) for t in page.texts] == [
        ("HELLO THERE!", "dialogue", 0, "gt"),
        ("MEANWHILE...", "narration", 1, "gt"),
    ]
    assert page.texts[1].polygon == [(110, 10), (190, 10), (190, 30), (110, 30)]
    assert truth[0].page_type == "cover" and truth[0].provenance.page_type_source == "acbf"
    source = open_pages(tmp_path / "ing" / "groundtruth")  # reads like an annotate output
    assert len(source) == 2 and source.image_root == (tmp_path / "ing").resolve()


def test_a_changed_image_beside_the_acbf_is_read_again(tmp_path):
    book = tmp_path / "lib"
    book.mkdir()
    (book / "cover.png").write_bytes(png("red"))
    (book / "p1.png").write_bytes(png("white"))
    (book / "b.acbf").write_text(small(), encoding="utf-8")
    before = ingest([book], tmp_path / "ing", show_progress=False).rows()
    (book / "p1.png").write_bytes(png("black"))
    after = ingest([book], tmp_path / "ing", show_progress=False).rows()
    assert before[0]["book_id"] == after[0]["book_id"]  # the ACBF's bytes name the book
    assert before[1]["sha256"] != after[1]["sha256"] and before[0]["sha256"] == after[0]["sha256"]


def test_a_cbz_with_an_acbf_inside_follows_its_order_with_embedded_images(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    embedded = base64.b64encode(png("blue", (300, 400))).decode()
    extra = '<page><image href="#emb"/><frame points="10,10 290,10 290,390 10,390"/></page>'
    data = f'<data><binary id="emb" content-type="image/png">{embedded}</binary></data>'
    with zipfile.ZipFile(lib / "mixed.cbz", "w") as archive:
        archive.writestr("ComicInfo.xml", "<ComicInfo><Title>From ComicInfo</Title></ComicInfo>")
        archive.writestr("book/a.png", png("white"))  # natural order would put a before b
        archive.writestr("book/b.png", png("red"))
        archive.writestr("book/unused.png", png("green"))
        archive.writestr("book/story.acbf", small(cover="b.png", page="a.png", extra=extra, data=data))
    manifest = ingest([lib], tmp_path / "ing", show_progress=False)
    rows = manifest.rows()
    assert [r["source_entry"] for r in rows] == ["book/b.png", "book/a.png", "#emb"]
    assert [(r["width"], r["height"]) for r in rows] == [(200, 200), (200, 200), (300, 400)]
    assert rows[0]["title"] == "From ComicInfo"  # ComicInfo wins, the ACBF fills the rest
    assert rows[0]["series"] == "Small Series" and rows[0]["container_format"] == "cbz"
    metadata = json.loads(rows[0]["book_metadata"])
    assert set(metadata) == {"comicinfo", "acbf"}
    errors = [(e["entry"], e["kind"]) for e in manifest.error_rows()]
    assert errors == [("book/unused.png", "not_in_acbf")]
    truth = read_jsonl(tmp_path / "ing" / "groundtruth" / f"{rows[0]['book_id']}.jsonl")
    assert [len(p.panels) for p in truth] == [0, 2, 1]
    assert truth[2].panels[0].bbox == (10, 10, 280, 380) and truth[2].provenance.source_entry == "#emb"


def test_malformed_parts_are_skipped_and_hostile_acbf_refused(tmp_path, caplog):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "cover.png").write_bytes(png("red"))
    (lib / "p1.png").write_bytes(png("white"))
    bad = small(page="../p1.png").replace('points="105,5 195,5 195,95 105,95"', 'points="105,5 oops"')
    bad = bad.replace("<coverpage>", '<coverpage><frame points="1,1 2"/>')
    (lib / "bad.acbf").write_text(bad, encoding="utf-8")
    (lib / "bomb.acbf").write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ACBF>&a;</ACBF>', encoding="utf-8"
    )
    with caplog.at_level(logging.WARNING):
        manifest = ingest([lib], tmp_path / "ing", show_progress=False)
    rows = manifest.rows()
    assert [(r["source_entry"], r["status"]) for r in rows] == [
        ("cover.png", "ok"),
        ("../p1.png", "unsafe_path"),
    ]
    errors = {(e["source_path"], e["kind"]) for e in manifest.error_rows()}
    assert ("bomb.acbf", "unreadable") in errors and ("bad.acbf", "unsafe_path") in errors
    reason = next(e["reason"] for e in manifest.error_rows() if e["source_path"] == "bomb.acbf")
    assert "safe ACBF" in reason and "bomb.acbf" in reason
    truth = read_jsonl(tmp_path / "ing" / "groundtruth" / f"{rows[0]['book_id']}.jsonl")
    assert len(truth) == 1 and truth[0].panels == []  # the cover's broken frame is skipped
    assert "bad.acbf: meta-data/book-info/coverpage/frame[1]: point '2' is not 'x,y'" in caplog.text


def test_files_that_do_not_validate_are_read_with_a_warning_naming_file_and_field(tmp_path, schemas, caplog):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "cover.png").write_bytes(png("red"))
    (lib / "p1.png").write_bytes(png("white"))
    (lib / "odd.acbf").write_text(small(genre="space_opera"), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        rows = ingest([lib], tmp_path / "ing", show_progress=False).rows()
    assert len(rows) == 2 and rows[0]["title"] == "Small Book"  # read all the same
    warnings = [r.getMessage() for r in caplog.records if "does not validate" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("odd.acbf: does not validate against acbf-1.1.xsd (line 7: ")
    assert (
        "/ACBF/meta-data/book-info/genre: Element 'genre': [facet 'enumeration'] The value 'space_opera'"
        in warnings[0]
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        info = parse(b"<ComicInfo><Title>T</Title><Year>MCMXC</Year><Series>S</Series></ComicInfo>", "x.cbz")
    assert info.fields == {"Title": "T", "Series": "S"}  # read where possible
    warnings = [r.getMessage() for r in caplog.records]
    assert any(
        "x.cbz: does not validate against ComicInfo-v2.0.xsd" in w and "/ComicInfo/Year" in w
        for w in warnings
    )
    assert any("/ComicInfo/Series" in w and "not expected" in w for w in warnings)  # out of schema order
    caplog.clear()
    valid = Path(schemas / "..").resolve() / "craphound-acbf" / "Doctorow, Cory - Craphound-1.1.acbf"
    with caplog.at_level(logging.WARNING):
        ingest([valid], tmp_path / "ing2", show_progress=False)
    assert "does not validate" not in caplog.text


def _write_7z(path, members: dict[str, bytes]) -> None:
    import py7zr

    with py7zr.SevenZipFile(path, "w") as archive:  # solid LZMA2, as 7-Zip writes by default
        for name, data in members.items():
            archive.writestr(data, name)


def _write_tar(path, members: dict[str, bytes], mode: str) -> None:
    import tarfile

    with tarfile.open(path, mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("kind", ["cb7", "cbt", "tar.gz"])
def test_cb7_and_cbt_with_an_acbf_inside_read_like_a_cbz(tmp_path, kind):
    """Before: only a CBZ's ACBF was read; in a CB7 or CBT the .acbf was ignored and the images
    came in name order, the cover last, with no metadata and no ground truth."""
    members = {
        "book/z-cover.png": png("red"),  # name order would put it last; the ACBF puts it first
        "book/a.png": png("white"),
        "book/unused.png": png("green"),
        "book/story.acbf": small(cover="z-cover.png", page="a.png").encode(),
    }
    lib = tmp_path / "lib"
    lib.mkdir()
    if kind == "cb7":
        _write_7z(lib / "story.cb7", members)
    else:
        _write_tar(lib / f"story.{kind}", members, "w:gz" if kind == "tar.gz" else "w")
    zipped = tmp_path / "zip"
    zipped.mkdir()
    with zipfile.ZipFile(zipped / "story.cbz", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    manifest = ingest([lib], tmp_path / "ing", show_progress=False)
    reference = ingest([zipped], tmp_path / "ref", show_progress=False)
    rows, ref = manifest.rows(), reference.rows()
    assert (
        [r["source_entry"] for r in rows]
        == [r["source_entry"] for r in ref]
        == ["book/z-cover.png", "book/a.png"]
    )
    assert [r["sha256"] for r in rows] == [r["sha256"] for r in ref]
    assert rows[0]["container_format"] == ("cb7" if kind == "cb7" else "cbt")
    assert (rows[0]["title"], rows[0]["series"], rows[0]["number"]) == ("Small Book", "Small Series", "7")
    assert [(r["page_type"], r["page_type_source"]) for r in rows] == [("cover", "acbf"), (None, None)]
    assert json.loads(rows[0]["book_metadata"]) == json.loads(ref[0]["book_metadata"])
    assert [(e["entry"], e["kind"]) for e in manifest.error_rows()] == [("book/unused.png", "not_in_acbf")]
    truth = read_jsonl(tmp_path / "ing" / "groundtruth" / f"{rows[0]['book_id']}.jsonl")
    expected = read_jsonl(tmp_path / "ref" / "groundtruth" / f"{ref[0]['book_id']}.jsonl")
    assert [[p.bbox for p in page.panels] for page in truth] == [
        [p.bbox for p in page.panels] for page in expected
    ]
    assert [t.text for t in truth[1].texts] == ["HELLO THERE!", "MEANWHILE..."]


def test_every_text_layer_is_kept_the_one_drawn_in_the_images_is_the_lettering(tmp_path):
    """Before: the first language listed was the lettering and the other text layers were
    dropped. The layer marked show="false" (drawn in the images) is the lettering now, wherever
    it is listed, and each other language is a DataSpec folder of its own."""
    translated = (
        '<text-layer lang="sk"><text-area points="20,20 80,20 80,40 20,40"><p>AHOJ!</p></text-area>'
        "</text-layer>"
    )
    xml = small().replace(
        '<text-layer lang="en" show="false"/>',
        '<text-layer lang="sk" show="true"/><text-layer lang="en" show="false"/>',
    )
    xml = xml.replace("<frame points", translated + "<frame points", 1)
    book = tmp_path / "lib"
    book.mkdir()
    (book / "cover.png").write_bytes(png("red"))
    (book / "p1.png").write_bytes(png("white"))
    (book / "b.acbf").write_text(xml, encoding="utf-8")
    rows = ingest([book], tmp_path / "ing", show_progress=False).rows()
    truth = tmp_path / "ing" / "groundtruth"
    english = read_jsonl(truth / f"{rows[0]['book_id']}.jsonl")
    slovak = read_jsonl(truth / "lang-sk" / f"{rows[0]['book_id']}.jsonl")
    assert [t.text for t in english[1].texts] == ["HELLO THERE!", "MEANWHILE..."]
    assert [(t.text, t.panel) for t in slovak[1].texts] == [("AHOJ!", 0)]
    assert [p.page_id for p in slovak] == [p.page_id for p in english]
    assert [p.bbox for p in slovak[1].panels] == [p.bbox for p in english[1].panels]
    source = open_pages(truth / "lang-sk")  # a DataSpec folder of its own, images from the ingest folder
    assert source.load_image(source.page(1)).size == (200, 200)
