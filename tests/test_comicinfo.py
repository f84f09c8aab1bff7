"""ComicInfo.xml: every field, plain or namespaced, page types from <Pages> mapped to the
DataSpec taxonomy and carried through ingest -> annotate -> DataSpec with their source."""

from __future__ import annotations

import io
import json
import logging
import zipfile

import pytest
from PIL import Image

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.ingest import ingest, parse_comic_info
from comics_analysis.ingest.comicinfo import PAGE_TYPE_MAP, parse

FULL = """<?xml version="1.0" encoding="utf-8"?>
<ComicInfo {ns}>
  <Title>The Lost Page</Title><Series>Night Tram</Series><Number>3</Number><Count>12</Count>
  <Volume>2</Volume><Summary>A tram that never arrives.</Summary><Year>1987</Year><Month>6</Month>
  <Day>31</Day><Writer>A. Writer</Writer><Penciller>B. Pencil</Penciller><Letterer>C. Letter</Letterer>
  <Publisher>Small Press</Publisher><Genre>Mystery, Drama</Genre><PageCount>4</PageCount>
  <LanguageISO>fr</LanguageISO><Manga>{manga}</Manga><Translator>D. Trans</Translator>
  <Tags>trains</Tags><GTIN>9780000000000</GTIN><CommunityRating>4.5</CommunityRating>
  <Pages>
    <Page Image="0" Type="FrontCover" ImageWidth="300" ImageHeight="420"/>
    <Page Image="1" Type="InnerCover Advertisement"/>
    <Page Image="2" DoublePage="true"/>
    <Page Image="3" Type="Letters"/>
  </Pages>
</ComicInfo>"""
NS = 'xmlns="http://www.anansi-project.org/schemas/comicinfo/2.1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 420), colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("ns", ["", NS], ids=["plain", "namespaced"])
def test_every_field_and_the_pages(ns, caplog):
    with caplog.at_level(logging.WARNING):
        info = parse(FULL.format(ns=ns, manga="YesAndRightToLeft").encode(), "book.cbz")
    fields = info.fields
    assert fields["Title"] == "The Lost Page" and fields["Series"] == "Night Tram"
    assert (fields["Count"], fields["Volume"], fields["Year"], fields["Month"]) == (12, 2, 1987, 6)
    assert fields["Day"] == 31 and "ignoring" not in caplog.text  # every value in range
    assert fields["Writer"] == "A. Writer" and fields["Letterer"] == "C. Letter"
    assert fields["Translator"] == "D. Trans" and fields["GTIN"] == "9780000000000"  # v2.1 draft
    assert fields["CommunityRating"] == 4.5 and fields["LanguageISO"] == "fr"
    assert info.reading_direction == "rtl"
    assert [(p.image, p.type, p.page_type, p.double_page) for p in info.pages] == [
        (0, "FrontCover", "cover", False),
        (1, "InnerCover", "cover_internal", False),  # a list: the first known value
        (2, "Story", "story", True),  # the schema's default type
        (3, "Letters", "text_backmatter", False),
    ]
    assert (info.pages[0].width, info.pages[0].height) == (300, 420)


def test_day_31_is_kept_and_out_of_range_values_are_dropped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        info = parse(
            b"<ComicInfo><Day>31</Day><Month>13</Month><Year>99999999999</Year></ComicInfo>", "x.cbz"
        )
    assert info.fields == {"Day": 31}
    assert "x.cbz: ignoring Month '13'" in caplog.text and "ignoring Year" in caplog.text


@pytest.mark.parametrize(
    ("manga", "direction"),
    [("YesAndRightToLeft", "rtl"), ("No", "ltr"), ("Yes", None), ("Unknown", None)],
)
def test_manga_values(manga, direction):
    """`Yes` says the book is manga, not which way it reads: before, it became left-to-right."""
    meta = parse_comic_info(FULL.format(ns="", manga=manga).encode())
    assert meta["reading_direction"] == direction


def test_every_comicinfo_type_has_a_dataspec_page_type():
    from comics_analysis.dataspec import PAGE_TYPES

    assert set(PAGE_TYPE_MAP) == {
        "FrontCover", "InnerCover", "Roundup", "Story", "Advertisement", "Editorial",
        "Letters", "Preview", "BackCover", "Other", "Deleted",
    }  # fmt: skip
    assert set(PAGE_TYPE_MAP.values()) <= set(PAGE_TYPES)


@pytest.mark.parametrize(
    "xml",
    [
        b"<ComicInfo><Title>unclosed</ComicInfo>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<ComicInfo><Title>&b;</Title></ComicInfo>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<ComicInfo><Title>&e;</Title></ComicInfo>",
    ],
    ids=["malformed", "entity-expansion", "external-entity"],
)
def test_bad_or_hostile_xml_is_refused_with_a_warning(xml, caplog):
    with caplog.at_level(logging.WARNING):
        assert parse(xml, "evil.cbz: ComicInfo.xml") is None
    assert "evil.cbz: ComicInfo.xml: ComicInfo not read" in caplog.text
    assert parse_comic_info(xml) == {}


def test_page_types_flow_from_comicinfo_to_dataspec(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "tagged.cbz", "w") as archive:
        archive.writestr("ComicInfo.xml", FULL.format(ns=NS, manga="No"))
        for i, colour in enumerate(["red", "green", "blue", "white", "black"]):
            archive.writestr(f"p{i + 1}.png", _png(colour))
    manifest = ingest([lib], tmp_path / "ingest", show_progress=False)
    rows = sorted(manifest.rows(), key=lambda r: r["page_index"])
    assert [r["page_type"] for r in rows] == ["cover", "cover_internal", "story", "text_backmatter", None]
    assert [r["page_type_source"] for r in rows] == ["comicinfo"] * 4 + [None]  # page 5 is not listed
    assert [r["double_page"] for r in rows] == [False, False, True, False, None]
    comicinfo = json.loads(rows[0]["book_metadata"])["comicinfo"]
    assert comicinfo["Writer"] == "A. Writer" and comicinfo["Genre"] == "Mystery, Drama"
    assert rows[0]["reading_direction"] == "ltr" and rows[0]["year"] == 1987
    annotate(tmp_path / "ingest", tmp_path / "ann", ocr="none", show_progress=False)
    pages = sorted(read_annotations(tmp_path / "ann"), key=lambda p: p.page_index)
    assert [p.page_type for p in pages] == ["cover", "cover_internal", "story", "text_backmatter", None]
    assert [p.provenance.page_type_source for p in pages] == ["comicinfo"] * 4 + [None]


OPF = """<?xml version='1.0' encoding='utf-8'?>
<package xmlns="http://www.idpf.org/2007/opf" unique-identifier="uuid_id" version="2.0">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
    <dc:identifier opf:scheme="calibre" id="calibre_id">7</dc:identifier>
    <dc:title>Night Tram #3: The Depot</dc:title>
    <dc:creator opf:file-as="Writer, A." opf:role="aut">A. Writer</dc:creator>
    <dc:creator opf:role="aut">B. Pencil</dc:creator>
    <dc:date>1988-03-01T00:00:00+00:00</dc:date>
    <dc:publisher>Calibre Press</dc:publisher>
    <dc:subject>trains</dc:subject><dc:subject>mystery</dc:subject>
    <dc:language>fra</dc:language>
    <meta name="calibre:series" content="Night Tram"/>
    <meta name="calibre:series_index" content="3.0"/>
  </metadata>
  <guide><reference type="cover" title="Cover" href="cover.jpg"/></guide>
</package>"""


def test_a_calibre_library_is_one_book_per_folder_with_its_opf_metadata(tmp_path):
    """Before: every book folder's cover.jpg became a phantom one-page book (and the real cover
    its duplicate), metadata.opf was ignored, and the CBZ and PDF of one issue were two books."""
    from comics_analysis.synth import make_book, write_cbz, write_pdf

    library = tmp_path / "Calibre Library"
    folder = library / "A. Writer" / "Night Tram #3_ The Depot (7)"
    folder.mkdir(parents=True)
    (library / "metadata.db").write_bytes(b"SQLite format 3\0")  # calibre's database: not a book
    book = make_book(71, kind="issue", size=(300, 420), story_pages=(3, 3))
    write_cbz(book, folder / "Night Tram #3_ The Depot - A. Writer.cbz")
    write_pdf(book, folder / "Night Tram #3_ The Depot - A. Writer.pdf")
    book.pages[0].image.save(folder / "cover.jpg")
    (folder / "metadata.opf").write_text(OPF)
    other = library / "B. Other" / "Loose Pages (8)"  # a second book, with a fractional index
    other.mkdir(parents=True)
    (other / "metadata.opf").write_text(OPF.replace("Night Tram", "Loose").replace("3.0", "1.5"))
    write_cbz(make_book(72, kind="issue", size=(300, 420), story_pages=(2, 2)), other / "Loose.cbz")
    (other / "cover.jpg").write_bytes((folder / "cover.jpg").read_bytes())

    manifest = ingest([library], tmp_path / "out", show_progress=False)
    rows = manifest.rows()
    assert {r["source_path"] for r in rows} == {
        "A. Writer/Night Tram #3_ The Depot (7)/Night Tram #3_ The Depot - A. Writer.cbz",
        "B. Other/Loose Pages (8)/Loose.cbz",
    }  # no cover.jpg book, no second format
    assert not any(r["duplicate_of"] for r in rows if r["page_index"] == 0)  # the cover is no duplicate
    errors = [(e["source_path"].rsplit("/", 1)[-1], e["kind"]) for e in manifest.error_rows()]
    assert errors == [("Night Tram #3_ The Depot - A. Writer.pdf", "duplicate_format")]
    night = next(r for r in rows if "Night" in r["source_path"])
    assert (night["title"], night["series"], night["number"]) == (
        "Night Tram #3: The Depot",
        "Night Tram",
        "3",
    )
    assert (night["publisher"], night["year"]) == ("Calibre Press", 1988)
    calibre = json.loads(night["book_metadata"])["calibre"]
    assert calibre["authors"] == ["A. Writer", "B. Pencil"] and calibre["tags"] == ["trains", "mystery"]
    assert calibre["languages"] == ["fra"]
    assert json.loads(night["book_metadata"])["comicinfo"]  # the CBZ's own ComicInfo is kept beside
    loose = next(r for r in rows if "Loose" in r["source_path"])
    assert loose["number"] == "1.5"

    (folder / "metadata.opf").write_text(OPF.replace("Calibre Press", "Edited Press"))
    again = ingest([library], tmp_path / "out", show_progress=False)  # resumed, metadata re-read
    assert {r["publisher"] for r in again.rows() if "Night" in r["source_path"]} == {"Edited Press"}
